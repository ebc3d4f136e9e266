"""Reader studies, no Qt: a folder of ECGs, several readers each with their own blinded,
randomised queue, and the agreement table — the network against each reader and their
consensus, beside the readers against each other (the ECG-AIO paper's clinical comparison)."""
