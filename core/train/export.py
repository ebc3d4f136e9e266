"""From a training checkpoint to shipped weights: thresholds chosen on ``val``, card written.

``val`` = the held-out part of the train split's records (``core.synth.pages.in_split``) plus
simulated pages from a seed the training stream never uses. ``eval`` is not touched here.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from itertools import chain, islice
from pathlib import Path
from typing import Any


from core import __version__
from core.model.weights import save_weights
from core.synth.degrade import DOMAINS
from core.train.evaluate import VAL_SIM_SEED, Predictions, choose_thresholds, predict, record_pages, sim_pages
from core.train.loop import TrainConfig, load_checkpoint_model
from core.train.metrics import label_report

INTENDED_USE = (
    "Decision support and teaching for electrophysiologists reviewing a printed, scanned or "
    "photographed 12-lead ECG: which of 8 rhythm/conduction labels the network sees, and where "
    "on the page its output is most sensitive. Not a diagnostic device; a physician reads every ECG."
)
LIMITS = [
    "Trained only on pages rendered by this project's ECG studio (simulated signals and the 'fit' part "
    "of the train records), not on real printouts; accuracy on other printers and phones is unproven.",
    "The eval split has few positives for most labels: their real-record metrics have wide "
    "intervals (docs/evaluation/report.md gives them).",
    "Labels outside the 8 (ischaemia, hypertrophy, paced rhythms, AV block II/III) are not recognised.",
]


def validation_predictions(model: Any, cfg: TrainConfig, n_sim: int = 64,
                           progress: Callable[[int], None] | None = None) -> Predictions:
    """Predictions on ``val``: held-out train records in every domain plus simulated pages."""
    size = (cfg.input.width, cfg.input.height)
    pages = chain(*(record_pages("val", d, size, seed=VAL_SIM_SEED) for d in DOMAINS),
                  *(islice(sim_pages(n_sim, d, size, seed=VAL_SIM_SEED), n_sim) for d in DOMAINS))
    return predict(model, cfg.input, pages, progress=progress)


def export(checkpoint: str | Path, cfg: TrainConfig, out_dir: str | Path,
           n_val_sim: int = 64, notes: list[str] | None = None,
           limits: list[str] | None = None) -> tuple[Path, dict[str, Any]]:
    """Choose thresholds on ``val``, then write weights + model card into ``out_dir``.

    notes: lines about how the run went (e.g. a resumed run) for the card's ``training.notes``.
    limits: what this model's evaluation showed, added to the limits every model has.
    """
    import torch

    state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    steps_done, train_seconds = int(state["step"]), float(state["elapsed"])
    model = load_checkpoint_model(checkpoint, cfg.net)
    val = validation_predictions(model, cfg, n_val_sim)
    thresholds = choose_thresholds(val)
    val_report = label_report(val.truth, val.probs, thresholds)
    card = {
        "name": "ECG-AIO", "version": __version__,
        "thresholds": thresholds, "input": cfg.input.to_json(),
        "training": {
            "data": "on-the-fly pages from the ECG studio: simulated 12-lead signals and the 'fit' part of "
                    "the train records, rendered on random paper and degraded to clean/scan/shadow/photo; "
                    "unlabelled real images (shared/data/images) for the domain loss only",
            "recipe": cfg.to_json(), "pages_rendered": steps_done * cfg.batch,
            "optimiser_steps": steps_done * cfg.reuse,
            "time_s": round(train_seconds), "machine": state.get("machine", "unknown"),
            "created": time.strftime("%Y-%m-%d"), "notes": list(notes or []),
        },
        "metrics": {"val": {"macro_auroc": val_report["macro_auroc"], "n_pages": val_report["n_pages"],
                            "per_label_auroc": {k: r["auroc"] for k, r in val_report["labels"].items()},
                            "per_label_auroc_ci": {k: r["auroc_ci"] for k, r in val_report["labels"].items()}},
                    "thresholds_chosen": f"On the {val_report['n_pages']} `val` pages (held-out train records in "
                                         "every domain and simulated pages from the validation seed), the "
                                         "highest F1 per label (`ecg-aio export`).",
                    "note": "eval-split figures: docs/evaluation/report.md (ecg-aio eval)"},
        "intended_use": INTENDED_USE, "limits": [*LIMITS, *(limits or [])],
    }
    return save_weights(model, card, out_dir), val_report


