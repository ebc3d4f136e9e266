"""Run `analyze` on every shared image and the bundled samples; gallery of overlays for docs/explain.md.

    python scripts/make_explain_gallery.py            # writes out/analyze/<stem>/ and docs/images/explain_gallery/

Each gallery image is the purple overlay of the analysis's headline label (the most probable
positive label other than SR, else the most probable one; ``Analysis.headline``), with a caption: the positive labels and where the
network looked. Also prints one Markdown line per image.
"""
from __future__ import annotations

import json
from pathlib import Path

from core.analyze import analyze, write_analysis
from core.atomic import write_jpeg
from core.io import load_image
from core.io.records import data_dir
from core.model.weights import load_model
from core.page import detect_geometry
from figures import scaled, with_caption

ROOT = Path(__file__).resolve().parents[1]
GALLERY = ROOT / "docs" / "images" / "explain_gallery"
WIDTH = 800


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
        overlay = load_image(result_path.parent / entry["overlay"]).rgb
        positives = ", ".join(f"{e['name']} {e['probability']:.2f}" for e in result["labels"] if e["positive"]) or "none"
        lines = [f"{path.name}   positive: {positives}", f"overlay: {entry['name']} - {entry['where']['summary']}"[:110]]
        write_jpeg(GALLERY / f"{path.stem}.jpg", with_caption(scaled(overlay, WIDTH), lines), quality=70)
        print(f"- `{path.name}`: positive {positives}; overlay {entry['name']}: {entry['where']['summary']}", flush=True)


if __name__ == "__main__":
    main()
