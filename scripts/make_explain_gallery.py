"""Run `analyze` on every shared image and the bundled samples; gallery of overlays for docs/explain.md.

    python scripts/make_explain_gallery.py            # writes docs/images/explain_gallery/

Each image goes the one path the CLI and the window take (``analyze_path``: page reader, leads,
network, withholding). Each gallery image is the purple overlay of the analysis's headline label
(the most probable positive label other than SR, else the most probable one;
``Analysis.headline``) with a caption: the calls at the card's thresholds (or why they are
withheld) and where the network looked. Also prints one Markdown line per image.
"""
from __future__ import annotations

from pathlib import Path

from core.analyze import analyze_path, where
from core.atomic import write_jpeg
from core.explain import overlay
from core.io.records import data_dir
from figures import scaled, with_caption

ROOT = Path(__file__).resolve().parents[1]
GALLERY = ROOT / "docs" / "images" / "explain_gallery"
WIDTH = 800


def main() -> None:
    images = sorted(p for p in (data_dir() / "images").iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg"))
    images += sorted((ROOT / "resources" / "samples").glob("*.jpg"))
    GALLERY.mkdir(parents=True, exist_ok=True)
    for path in images:
        a = analyze_path(path, device="cpu")
        key = a.headline()
        picture = overlay(a.image.rgb, a.explanation.saliency[key])
        if a.withheld:
            calls = "withheld (" + ", ".join(f"{k} {a.probability(k):.2f}" for k in a.labels if a.probability(k) >= a.weights.thresholds[k]) + ")"
        else:
            calls = ", ".join(f"{k} {a.probability(k):.2f}" for k in a.positives()) or "none"
        summary = where(a, key)["summary"]
        lines = [f"{path.name}   calls: {calls}"[:110], f"overlay: {key} - {summary}"[:110]]
        write_jpeg(GALLERY / f"{path.stem}.jpg", with_caption(scaled(picture, WIDTH), lines), quality=70)
        print(f"- `{path.name}`: calls {calls}; overlay {key}: {summary}", flush=True)


if __name__ == "__main__":
    main()
