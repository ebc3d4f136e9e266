"""Speed of the shipped network's explanation path on this CPU (medians over --runs runs).

    .venv/bin/python benchmarks/bench_analyze.py [--runs 7] [--threads 2]

(1) network level: forward (labels, domain head, and the decoder on the panels the page reader
finds, found once beforehand) + the Jacobians of all 8 labels for an image already at the input
size (issue target ≤ 1.0 s); (2) end to end, as `ecg-aio analyze`
runs it, for a 1200 × 600 photo (load, page geometry, preprocessing, forward, 8 Jacobians,
overlays, .npy maps, signals.csv and result.json written; target ≤ 1.5 s).
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import cv2
import torch

from core.analyze import analyze, write_analysis
from core.explain import explain
from core.io import load_image
from core.io.records import data_dir
from core.labels import LABELS
from core.model.weights import load_model
from core.page import detect_geometry

PHOTO = "photo_red_grid_01.jpg"


def median_s(fn, runs: int) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    fn()  # warm-up
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), max(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model, weights = load_model()
    with tempfile.TemporaryDirectory() as tmp:
        photo = Path(tmp) / "photo_1200x600.jpg"
        rgb = load_image(data_dir() / "images" / PHOTO).rgb
        cv2.imwrite(str(photo), cv2.cvtColor(cv2.resize(rgb, (1200, 600), interpolation=cv2.INTER_AREA),
                                              cv2.COLOR_RGB2BGR))
        at_input = cv2.resize(rgb, (weights.input.width, weights.input.height), interpolation=cv2.INTER_AREA)

        geometry = detect_geometry(at_input).geometry
        assert geometry is not None and geometry.panels, "the page reader must find the panels to time the decoder"

        def network() -> None:
            explain(model, weights.input, at_input, list(LABELS), geometry=geometry)

        def end_to_end() -> None:
            image = load_image(photo)
            page = detect_geometry(image.rgb)
            write_analysis(analyze(image, model, weights, geometry=page.geometry), Path(tmp) / "out")

        rows = [("forward + decoder + 8 Jacobians, image at the input size "
                 f"({weights.input.width} × {weights.input.height})", *median_s(network, args.runs), 1.0),
                (f"analyze end to end, 1200 × 600 photo ({PHOTO} resized)", *median_s(end_to_end, args.runs), 1.5)]
    print(f"torch {torch.__version__}, {args.threads} threads, {args.runs} runs after one warm-up\n")
    print("| what | median (s) | max (s) | target (s) | met |\n|---|---|---|---|---|")
    for what, med, worst, target in rows:
        print(f"| {what} | {med:.2f} | {worst:.2f} | ≤ {target} | {'yes' if med <= target else 'no'} |")


if __name__ == "__main__":
    main()
