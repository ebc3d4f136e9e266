"""Model vs reader for one label, recomputed while the reader draws.

The numbers are core.compare's (never recomputed differently here), on the saliency map of one
label and the reader's mask of the same label, both H×W in the pixels of the image as loaded.
The picture (``agreement_codes``) shows exactly the pixels that ``dice_topk`` counts.
"""
from __future__ import annotations

import csv
import io
import math
from collections.abc import Mapping, Sequence

import cv2
import numpy as np

from core import compare as C
from core.explain import where_it_looked
from core.page.geometry import Geometry
from core.review.palette import AGREEMENT_COLOURS

LIVE_KEYS: tuple[str, ...] = ("pearson_grid", "pearson_pixel", "relevance_mass", "pointing_game", "dice_topk")

# An A4 or Letter page at 150 dpi (<= 2.2 MP) gets its pixel correlation in under 0.5 s; larger
# images get it on a shrunk copy (live_metrics).
LIVE_MAX_PIXELS = 2_200_000

NEITHER, BOTH, MODEL_ONLY, READER_ONLY = 0, 1, 2, 3
CODE_NAMES: tuple[str, ...] = ("neither", "both", "model_only", "reader_only")
DEFAULT_TOP_FRACTION = 0.02  # with nothing drawn yet, the model's region is its top 2 % of pixels

CSV_META: tuple[str, ...] = ("image", "sha256", "reader", "label", "probability", "threshold",
                             "positive", "status")
CSV_KEYS: tuple[str, ...] = CSV_META + C.COMPARE_KEYS + tuple(k for k in LIVE_KEYS if k not in C.COMPARE_KEYS)


def _maps(saliency: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """float32 saliency and bool mask (> 0), as compare_maps reads them."""
    sal, m = np.asarray(saliency, np.float32), np.asarray(mask) > 0
    if sal.shape != m.shape or sal.ndim != 2:
        raise ValueError(f"the maps must be H×W arrays of the same image, got {sal.shape} and {m.shape}")
    return sal, m


def pixel_correlation(saliency: np.ndarray, mask: np.ndarray, geometry: Geometry | None,
                      sigma_mm: float = 1.0, max_pixels: int = LIVE_MAX_PIXELS) -> float | None:
    """core.compare.pearson_pixel, on copies shrunk to at most max_pixels (see LIVE_MAX_PIXELS)."""
    sal, m = _maps(saliency, mask)
    h, w = sal.shape
    sigma_y, sigma_x = C.sigma_px_for(geometry, (w, h), sigma_mm)
    scale = math.sqrt(max_pixels / (h * w))
    if scale >= 1:
        return C.pearson_pixel(sal, m, (sigma_y, sigma_x))
    size = (max(2, round(w * scale)), max(2, round(h * scale)))
    fx, fy = size[0] / w, size[1] / h
    small_sal = cv2.resize(sal, size, interpolation=cv2.INTER_AREA)
    small_mask = cv2.resize(m.astype(np.float32), size, interpolation=cv2.INTER_AREA)
    return C.pearson_pixel(small_sal, small_mask, (sigma_y * fy, sigma_x * fx))


def live_metrics(saliency: np.ndarray, mask: np.ndarray, geometry: Geometry | None,
                 sigma_mm: float = 1.0, max_pixels: int = LIVE_MAX_PIXELS) -> dict[str, float | None]:
    """The LIVE_KEYS of compare_maps(saliency, mask, geometry, sigma_mm), fast enough to follow
    the pen: the same values, except pearson_pixel on pages above max_pixels pixels.
    pearson_grid is None without a geometry with panels.

    It runs after every stroke (debounced, in a worker). Measured on this project's 2-core CPU
    with the shipped network's PVC Jacobian and the evidence mask of a rendered page, σ = 1 mm,
    median of 3, the page's cells painted once when it opened:

    - 1754 × 1240 (A4 at 150 dpi, 2.2 MP): 0.36 s in all, pearson_pixel 0.26-0.43 s of it;
    - 4000 × 3000 (a 12 MP phone photo): pearson_pixel alone takes 3.2 s at full size.

    So above LIVE_MAX_PIXELS both maps are shrunk by the same factor (cv2.INTER_AREA, σ in px
    shrunk with them) for the pixel correlation only: on the photo it then takes 0.26 s, 1.1 s
    in all (dice_topk 0.38 s and pearson_grid 0.14 s still read every pixel), and r moved by
    0.0001; on the A4 page shrunk to 0.5 MP by 0.0003 (the tests hold it within 0.01).
    """
    sal, m = _maps(saliency, mask)
    grid = None
    if geometry is not None and geometry.panels:
        grid = C.pearson_grid(sal, m, geometry)
    return {
        "pearson_grid": grid,
        "pearson_pixel": pixel_correlation(sal, m, geometry, sigma_mm, max_pixels),
        "relevance_mass": C.relevance_mass(sal, m),
        "pointing_game": C.pointing_game(sal, m),
        "dice_topk": C.dice_topk(sal, m),
    }


def agreement_codes(saliency: np.ndarray, mask: np.ndarray, top_fraction: float | None = None) -> np.ndarray:
    """Where model and reader agree: uint8 H×W, 0 neither, 1 both, 2 model only, 3 reader only.

    The model's region is its K most salient pixels with K = the mask's area, the very set
    core.compare.dice_topk compares with the mask (so count(1) / K = dice_topk). With nothing
    drawn yet, K is top_fraction (default 2 %) of the page, so the model's region still shows.
    A constant saliency map (no answer yet) has no region: ranking it would paint arbitrary
    pixels as the model's.
    """
    sal, m = _maps(saliency, mask)
    k = int(m.sum())
    if k == 0:
        fraction = DEFAULT_TOP_FRACTION if top_fraction is None else top_fraction
        if not 0 < fraction <= 1:
            raise ValueError(f"top_fraction must be in (0, 1], got {fraction}")
        k = max(1, round(fraction * sal.size))
    model = np.zeros(sal.size, bool)
    if np.ptp(sal) > 0:
        model[C._top_k(sal, k)] = True
    model = model.reshape(sal.shape)
    codes = np.zeros(sal.shape, np.uint8)
    codes[model & m] = BOTH
    codes[model & ~m] = MODEL_ONLY
    codes[~model & m] = READER_ONLY
    return codes


def agreement_image(rgb: np.ndarray, codes: np.ndarray, opacity: float = 0.6) -> np.ndarray:
    """The codes painted over a uint8 RGB image in palette.AGREEMENT_COLOURS (new uint8 image).

    Coded pixels become rgb·(1 − opacity) + colour·opacity, as the purple overlay blends;
    code 0 leaves the pixel exactly as it was.
    """
    rgb = np.asarray(rgb, np.uint8)
    codes = np.asarray(codes)
    if codes.shape != rgb.shape[:2] or rgb.ndim != 3:
        raise ValueError(f"codes {codes.shape} and image {rgb.shape[:2]} differ in size")
    if codes.size and codes.max() > READER_ONLY:
        raise ValueError(f"agreement codes are 0..{READER_ONLY}, got {int(codes.max())}")
    lut = np.array([(0, 0, 0)] + [AGREEMENT_COLOURS[name] for name in CODE_NAMES[1:]], np.uint8)
    painted = cv2.addWeighted(rgb, 1.0 - opacity, lut[codes], opacity, 0.0)
    return np.where((codes > 0)[..., None], painted, rgb)


def per_lead_shares(saliency: np.ndarray, mask: np.ndarray,
                    geometry: Geometry | None) -> dict[str, tuple[float, float]] | None:
    """{lead: (model share, reader share)} of each one's mass on the printed panels, for the
    per-lead bars; each side sums to 1 over the leads (all 0 when it has nothing on the
    panels). Shares as core.explain.where_it_looked gives them (positive saliency; marked
    pixels). None without a geometry with panels.
    """
    sal, m = _maps(saliency, mask)
    model = where_it_looked(sal, geometry, "")["per_lead"]
    if model is None:
        return None
    reader = where_it_looked(m.astype(np.float32), geometry, "")["per_lead"]
    return {lead: (share, reader.get(lead, 0.0)) for lead, share in model.items()}


def csv_cell(value: object) -> object:
    """A value as a CSV cell: None empty, booleans 1/0 (what spreadsheets and R read back)."""
    if value is None:
        return ""
    if isinstance(value, (bool, np.bool_)):
        return int(value)
    return value


def metrics_csv(rows: Sequence[Mapping[str, object]]) -> bytes:
    """Rows of metrics as UTF-8 CSV for export: columns CSV_KEYS (file, reader, label and the
    model's call, then every compare key); None is an empty cell, booleans 1/0. A key that is
    not a column raises ValueError (a misspelt metric would otherwise vanish).
    """
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_KEYS, extrasaction="raise")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: csv_cell(v) for k, v in row.items()})
    return out.getvalue().encode("utf-8")
