"""Studio pages printed in other machines' styles beside real pages: docs/images/realism.jpg.

Each row pairs a 'world'-style studio page (``SynthOptions(styles='world')``, core.synth.styles)
with a real image of the shared data that shows the same kind of print: a dotted grid photo, a
black-and-white copy, a machine header, a grey photocopy. The studio pages are real draws of a
'world' run (seed below), picked by their drawn style, not hand-made specs, so the figure shows
what training sees. Real images are only read, downscaled into the figure, never copied.

    python scripts/make_realism_figure.py [--out docs/images/realism.jpg] [--seed 7]
"""
from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from core.atomic import write_jpeg
from core.io import data_dir
from core.synth.pages import STYLE_STREAM, SynthOptions, draw_signal, make_page
from core.synth.paper import random_spec
from core.synth.styles import random_style

DOCS = Path(__file__).resolve().parents[1] / "docs" / "images"
TILE = (640, 440)  # (W, H) px of one tile, its caption band included
BAND = 26
DPI = 100

# (domain, what the studio page's style must be, real image, caption of the real image)
ROWS: tuple[tuple[str, Callable[[dict, bool], bool], str, str], ...] = (
    ("photo", lambda s, header: s["grid_style"] == "dotted" and s["copy"] == "none",
     "eik_photo_ecg00026.jpg", "real photo: dotted grid, names inline"),
    ("scan", lambda s, header: s["copy"] in ("bw", "halftone"),
     "scan_bw_3x4_rhythm_01.png", "real scan: B&W copy, QR code"),
    ("clean", lambda s, header: header and s["header_style"] == "machine" and s["copy"] == "none",
     "scan_pink_3x4_3rhythm_fullpage_redacted_01.png", "real PDF: GE header, names below"),
    ("scan", lambda s, header: s["copy"] == "grey",
     "scan_grey_3x4_01.jpg", "real scan: grey photocopy"),
)


def page_style(options: SynthOptions, index: int) -> tuple[dict, bool]:
    """A 'world' page's drawn style and whether it has a header, without rendering it
    (the same draws as ``make_page``)."""
    rng = np.random.default_rng([options.seed, index])
    draw_signal(options, rng)
    header = random_spec(rng, dpi=options.dpi).header
    return random_style(np.random.default_rng([options.seed, index, STYLE_STREAM])), header


def studio_tile(domain: str, wanted: Callable[[dict, bool], bool], seed: int, skip: set[int]) -> np.ndarray:
    options = SynthOptions(n=400, seed=seed, dpi=DPI, domain=domain, styles="world")
    for i in range(options.n):
        style, header = page_style(options, i)
        if i not in skip and wanted(style, header):
            skip.add(i)
            page = make_page(options, i)
            words = [style["grid_style"] + " grid", f"{style['header_style']} header" if header else "no header",
                     f"names {style['label_position']}"]
            if style["copy"] != "none":
                words.append(style["copy"] + " copy")
            if style["toner_streaks"]:
                words.append("streaks")
            return tile(page.image, f"studio {domain} #{i}: " + ", ".join(words))
    raise RuntimeError(f"no {domain} page of seed {seed} has the wanted style")


def detail_row(seed: int, skip: set[int]) -> np.ndarray:
    """Close-ups at the same scale (about 70 x 45 mm): a studio dotted grid with names inline
    beside the real Philips-like photo, where the page-wide tiles are too small to show dots."""
    options = SynthOptions(n=400, seed=seed, dpi=200, domain="clean", styles="world", layout="3x4+1")
    i = next(i for i in range(options.n) if i not in skip and (s := page_style(options, i)[0])["grid_style"] == "dotted"
             and s["label_position"] == "inline" and s["copy"] == "none")
    page = make_page(options, i)
    p = next(q for q in page.geometry.panels if q.row == 1 and q.col == 1)
    (x0, y0), (x1, y1) = page.geometry.page_to_image_pts(
        np.array([[p.box_mm[0] - 20.0, p.baseline_mm - 25.0], [p.box_mm[0] + 50.0, p.baseline_mm + 20.0]])).astype(int)
    studio = tile(page.image[max(y0, 0):y1, max(x0, 0):x1],
                  f"studio clean #{i}, close-up: dotted grid, names inline, {page.paper['separator_style']} separators")
    real = cv2.cvtColor(cv2.imread(str(data_dir() / "images" / "eik_photo_ecg00026.jpg")), cv2.COLOR_BGR2RGB)
    return np.hstack([studio, tile(real[150:360, 220:560], "real photo, close-up: dotted grid, names inline")])


def tile(rgb: np.ndarray, caption: str) -> np.ndarray:
    """The image fitted into a tile under a caption band (RGB)."""
    w, h = TILE[0], TILE[1] - BAND
    s = min(w / rgb.shape[1], h / rgb.shape[0])
    small = cv2.resize(rgb, (max(1, round(rgb.shape[1] * s)), max(1, round(rgb.shape[0] * s))),
                       interpolation=cv2.INTER_AREA)
    out = np.full((TILE[1], TILE[0], 3), 235, np.uint8)
    y0, x0 = BAND + (h - small.shape[0]) // 2, (w - small.shape[1]) // 2
    out[y0:y0 + small.shape[0], x0:x0 + small.shape[1]] = small
    out[:BAND] = 40
    cv2.putText(out, caption, (6, BAND - 8), cv2.FONT_HERSHEY_SIMPLEX, 0.46, (255, 255, 255), 1, cv2.LINE_AA)
    return out


def real_tile(name: str, caption: str) -> np.ndarray:
    bgr = cv2.imread(str(data_dir() / "images" / name), cv2.IMREAD_COLOR)  # read only, never copied
    if bgr is None:
        raise FileNotFoundError(f"the shared image {name} is not here ({data_dir() / 'images'})")
    return tile(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), caption)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=DOCS / "realism.jpg")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--quality", type=int, default=76)
    args = ap.parse_args(argv)
    used: set[int] = set()
    rows = [np.hstack([studio_tile(domain, wanted, args.seed, used), real_tile(real, caption)])
            for domain, wanted, real, caption in ROWS]
    rows.append(detail_row(args.seed, used))
    figure = np.vstack(rows)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_jpeg(args.out, figure, args.quality)
    print(f"{args.out}: {figure.shape[1]}x{figure.shape[0]}, {args.out.stat().st_size // 1024} KB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
