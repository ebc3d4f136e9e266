"""Overlays on held-out simulated pages beside their ground-truth evidence (docs/explain.md).

    python scripts/make_explain_sim_examples.py

For each (label, domain) below: the Jacobian overlay of that label with the evidence mask's
outline in green, and the grid Pearson r and relevance mass of that page, in the caption.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from core.atomic import write_jpeg
from core.compare import compare_maps
from core.explain import explain, overlay
from core.model.weights import load_model
from core.synth.pages import SynthOptions, make_page
from core.train.evaluate import EVAL_SIM_SEED
from figures import with_caption

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "images" / "explain_sim"
CASES = (("AFL", "clean", 0), ("PVC", "clean", 0), ("AFL", "photo", 1), ("PVC", "photo", 1))


def main() -> None:
    model, weights = load_model()
    OUT.mkdir(parents=True, exist_ok=True)
    for label, domain, index in CASES:
        options = SynthOptions(n=index + 1, seed=EVAL_SIM_SEED + 7, labels=label, domain=domain, source="sim",
                               size=(weights.input.width, weights.input.height))
        page = make_page(options, index)  # the same pages as benchmarks/bench_explain.py
        ex = explain(model, weights.input, page.image, [label])
        mask = page.masks[label] > 0
        m = compare_maps(ex.saliency[label], mask, geometry=page.geometry)
        picture = overlay(page.image, ex.saliency[label])
        contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        cv2.drawContours(picture, contours, -1, (0, 160, 0), 1)
        text = (f"{label} on a {domain} page: p = {ex.probabilities[weights.labels.index(label)]:.2f}, "
                f"grid r = {m['pearson_grid']:.2f}, relevance mass = {m['relevance_mass']:.2f} (green: evidence)")
        path = OUT / f"{label}_{domain}.jpg"
        write_jpeg(path, with_caption(picture, [text]), quality=85)
        print(path.relative_to(ROOT), text)


if __name__ == "__main__":
    main()
