"""Gallery for docs/synth.md: one page per label per domain with its evidence mask, and real vs ours.

    python scripts/make_synth_gallery.py

Writes docs/images/synth_<domain>.jpg (8 labels, mask in green over the page) and
docs/images/real_vs_ours.jpg (real photos/scans from the shared data beside our renders).
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from core.atomic import write_jpeg
from core.io import data_dir, load_image
from core.labels import LABELS
from core.synth.degrade import DOMAINS
from core.synth.pages import SynthOptions, make_page

DOCS = Path(__file__).resolve().parents[1] / "docs" / "images"
TILE = (896, 448)
REAL = ("photo_table_wood_angle_shadow_01.jpg", "photo_shadow_finger_01.jpg", "photo_table_crumpled_dark_01.jpg",
        "scan_red_3x4_3rhythm_01.png", "scan_pink_3x4_measurements_01.jpg", "photo_creased_warmlight_01.jpg")


def with_mask(image: np.ndarray, mask: np.ndarray | None, caption: str) -> np.ndarray:
    """The page with its mask tinted green and a caption."""
    out = image.copy()
    if mask is not None:
        m = mask > 0
        out[m] = (0.45 * out[m] + 0.55 * np.array([40, 200, 60])).astype(np.uint8)
    out = cv2.resize(out, TILE, interpolation=cv2.INTER_AREA)
    cv2.rectangle(out, (0, 0), (TILE[0], 26), (255, 255, 255), -1)
    cv2.putText(out, caption, (8, 19), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 1, cv2.LINE_AA)
    return out


def label_page(label: str, domain: str, seed: int = 7) -> np.ndarray:
    """The first page (rendered at 150 DPI) carrying ``label`` whose mask is not empty."""
    options = SynthOptions(n=50, seed=seed, labels=label, domain=domain, source="sim", dpi=150)
    for i in range(50):
        page = make_page(options, i)
        if label in page.masks and page.masks[label].any():
            return with_mask(page.image, page.masks[label], f"{label} - {domain} - {page.geometry.layout}")
    raise RuntimeError(f"no page with a {label} mask")


def grid(tiles: list[np.ndarray], cols: int) -> np.ndarray:
    rows = [np.hstack(tiles[i:i + cols]) for i in range(0, len(tiles), cols)]
    return np.vstack(rows)


def main() -> None:
    for domain in DOMAINS:
        write_jpeg(DOCS / f"synth_{domain}.jpg", grid([label_page(k, domain) for k in LABELS], 2), quality=80)
        print(f"synth_{domain}.jpg")
    real = [with_mask(load_image(data_dir() / "images" / name).rgb, None, f"real: {name}") for name in REAL]
    ours = [with_mask(make_page(SynthOptions(n=6, seed=3, domain=d, dpi=150), i).image, None, f"ours: {d}")
            for i, d in enumerate(("photo", "shadow", "photo", "scan", "scan", "photo"))]
    write_jpeg(DOCS / "real_vs_ours.jpg", grid([t for pair in zip(real, ours) for t in pair], 2), quality=80)
    print("real_vs_ours.jpg")


if __name__ == "__main__":
    main()
