"""Gallery for docs/page.md: the detected lead boxes drawn over every real image.

    python scripts/make_page_gallery.py

For each image in ``<shared data>/images`` runs ``detect_geometry``, draws every panel's quad
and lead name, adds a caption strip (file, layout found vs the truth in
resources/page_truth.json, px/mm, confidence) and writes docs/images/page_gallery/<stem>.jpg
(800 px wide, JPEG quality 70: about 3 MB for all 30).
"""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from core.atomic import write_jpeg
from core.io import data_dir, load_image
from core.page import detect_geometry
from core.page.detect import PageResult
from figures import FONT, scaled, with_caption

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "images" / "page_gallery"
TRUTH = ROOT / "resources" / "page_truth.json"
WIDTH = 800
QUALITY = 70  # 900 px at quality 80 came to 4.4 MB for the 30 images; this is about 3 MB


def colour(i: int) -> tuple[int, int, int]:
    """A distinct, saturated RGB colour for panel ``i``."""
    hsv = np.uint8([[[(i * 47) % 180, 255, 220]]])
    return tuple(int(c) for c in cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0, 0])  # type: ignore[return-value]


def layout_ok(result: PageResult, truth: dict) -> bool:
    """The verdict: not an ECG when the truth says so, else the layout found is the true one."""
    if not truth.get("is_ecg", True):
        return not result.is_ecg
    return result.geometry is not None and result.geometry.layout == truth.get("layout")


def caption(name: str, result: PageResult, truth: dict) -> list[str]:
    """The caption lines: file, layout found vs truth, px/mm, confidence (or why not an ECG)."""
    verdict = "OK" if layout_ok(result, truth) else "WRONG"
    geo = result.geometry
    if not result.is_ecg or geo is None:
        what = "not an ECG" if not result.is_ecg else "no geometry"
        return [f"{name}   {what}: {result.reason}",
                f"truth: is_ecg {truth.get('is_ecg')}, layout {truth.get('layout')}   {verdict}"]
    ppm = "none" if geo.px_per_mm_xy is None else f"{geo.px_per_mm_xy[0]:.2f}, {geo.px_per_mm_xy[1]:.2f}"
    conf = "/".join(f"{geo.confidence.get(k, 0.0):.2f}" for k in ("calibration", "layout", "panels"))
    return [f"{name}   layout {geo.layout} (truth {truth.get('layout')})   {verdict}",
            f"px/mm x,y {ppm} (truth {truth.get('px_per_mm')})   confidence cal/layout/panels {conf}"]


def draw(rgb: np.ndarray, result: PageResult, lines: list[str]) -> np.ndarray:
    """The image at ``WIDTH`` px wide with the panels drawn and a caption strip on top."""
    scale = WIDTH / rgb.shape[1]
    out = scaled(rgb, WIDTH)
    panels = result.geometry.panels if result.geometry is not None else ()
    for i, p in enumerate(panels):
        quad = (np.array(p.quad_px) * scale).round().astype(np.int32)
        cv2.polylines(out, [quad], True, colour(i), 2, cv2.LINE_AA)
        (w, h), _ = cv2.getTextSize(p.lead, FONT, 0.5, 1)
        x = int(np.clip(quad[0, 0] + 4, 2, out.shape[1] - w - 4))  # kept inside the image
        y = int(np.clip(quad[0, 1] + 16, h + 4, out.shape[0] - 4))
        cv2.rectangle(out, (x - 2, y - h - 3), (x + w + 2, y + 3), (255, 255, 255), -1)
        cv2.putText(out, p.lead, (x, y), FONT, 0.5, colour(i), 1, cv2.LINE_AA)
    return with_caption(out, lines, max_chars=84)


def main() -> None:
    truth = json.loads(TRUTH.read_text())["images"]
    images = sorted(p for p in (data_dir() / "images").iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    OUT.mkdir(parents=True, exist_ok=True)
    right = 0
    for path in images:
        rgb = load_image(path).rgb
        result = detect_geometry(rgb)
        lines = caption(path.name, result, truth.get(path.name, {}))
        right += layout_ok(result, truth.get(path.name, {}))
        write_jpeg(OUT / f"{path.stem}.jpg", draw(rgb, result, lines), quality=QUALITY)
        print(" | ".join(lines))
    print(f"layout right: {right}/{len(images)}")


if __name__ == "__main__":
    main()
