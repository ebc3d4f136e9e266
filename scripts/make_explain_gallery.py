"""Run `analyze` on every shared image and the bundled samples; gallery of overlays for docs/explain.md.

    python scripts/make_explain_gallery.py            # writes out/analyze/<stem>/ and docs/images/explain_gallery/

Each gallery image is the purple overlay of the analysis's headline label (the most probable
positive label other than SR, else the most probable one; ``Analysis.headline``), with a caption: the positive labels and where the
network looked. Also prints one Markdown line per image.
"""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from core.analyze import analyze, write_analysis
from core.io import load_image
from core.io.records import data_dir
from core.model.weights import load_model
from core.page import detect_geometry

ROOT = Path(__file__).resolve().parents[1]
GALLERY = ROOT / "docs" / "images" / "explain_gallery"
WIDTH = 800


def caption(image: np.ndarray, lines: list[str]) -> np.ndarray:
    """``image`` scaled to WIDTH px with a white caption strip of ``lines`` above it."""
    scale = WIDTH / image.shape[1]
    small = cv2.resize(image, (WIDTH, int(image.shape[0] * scale)), interpolation=cv2.INTER_AREA)
    strip = np.full((22 * len(lines) + 8, WIDTH, 3), 255, np.uint8)
    for i, line in enumerate(lines):
        cv2.putText(strip, line, (6, 20 + 22 * i), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    return np.vstack([strip, small])


def main() -> None:
    model, weights = load_model()
    images = sorted(p for p in (data_dir() / "images").iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg"))
    images += sorted((ROOT / "resources" / "samples").glob("*.jpg"))
    GALLERY.mkdir(parents=True, exist_ok=True)
    for path in images:
        image = load_image(path)
        page = detect_geometry(image.rgb)
        analysis = analyze(image, model, weights, geometry=page.geometry)
        result_path = write_analysis(analysis, ROOT / "out" / "analyze" / path.stem)
        result = json.loads(result_path.read_text())
        entry = next(e for e in result["labels"] if e["name"] == analysis.headline())
        overlay = cv2.imread(str(result_path.parent / entry["overlay"]))
        positives = ", ".join(f"{e['name']} {e['probability']:.2f}" for e in result["labels"] if e["positive"]) or "none"
        lines = [f"{path.name}   positive: {positives}", f"overlay: {entry['name']} - {entry['where']['summary']}"[:110]]
        cv2.imwrite(str(GALLERY / f"{path.stem}.jpg"), caption(overlay, lines), [cv2.IMWRITE_JPEG_QUALITY, 70])
        print(f"- `{path.name}`: positive {positives}; overlay {entry['name']}: {entry['where']['summary']}", flush=True)


if __name__ == "__main__":
    main()
