"""Render the bundled sample ECGs in resources/samples/ (our own renderer: no licence questions).

    python scripts/make_samples.py

Writes a scanned 150-DPI 3×4+1 page of simulated atrial flutter with PVCs, and a phone-photo
version of a sinus-rhythm page with a first-degree AV block, each with its synth sidecar JSON.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from core.atomic import OutputSet, write_jpeg, write_json
from core.synth.pages import SynthOptions, page_from_sample
from core.synth.simulator import simulate

OUT = Path(__file__).resolve().parents[1] / "resources" / "samples"
SAMPLES = (
    ("sample_scan", "scan", ("AFL", "PVC"), 11),
    ("sample_photo", "photo", ("SR", "IAVB"), 12),
)


def main() -> None:
    with OutputSet(OUT) as files:
        for name, domain, labels, seed in SAMPLES:
            rng = np.random.default_rng(seed)
            options = SynthOptions(domain=domain, layout="3x4+1", dpi=150)
            page = page_from_sample(simulate(labels, rng), options, rng, page_id=name, seed=[seed])
            ext = ".jpg"
            write_jpeg(files.path(name + ext), page.image, quality=90)
            sidecar = page.sidecar(name + ext)
            sidecar.pop("masks")
            sidecar["signals"].pop("file")
            write_json(files.path(name + ".json"), sidecar)
            print(f"{name}{ext}: {page.image.shape[1]}×{page.image.shape[0]} px, labels {', '.join(labels)}")


if __name__ == "__main__":
    main()
