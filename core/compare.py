"""Agreement between a saliency map and a reader's evidence mask, or between two readers' masks.

A saliency map is an ``H×W`` float array (>= 0) in the pixels of the image as loaded; a mask is
an ``H×W`` bool array of the same image (True = the reader marked it). Every metric is a plain
function that returns a Python float, or None when it is undefined for its inputs (an empty
mask, a constant map); ``compare_maps`` gathers them under the keys of DESIGN.md
"compare output". Saliency-vs-mask metrics follow Arras et al., CLEVR-XAI (Information Fusion
2022) and Zhang et al. (pointing game, 2016). Pixel-level correlation is dominated by the blank
page, so it is reported on a lead × 0.2 s grid as well.
"""
from __future__ import annotations

import functools
import io
import json
import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from scipy import ndimage

from core.io.errors import MAX_PIXELS, ImageLoadError, InputFileError, read_regular_file
from core.page.geometry import Geometry, apply_homography

SALIENCY_KEYS: tuple[str, ...] = (
    "pearson_pixel", "spearman_pixel", "pearson_grid", "spearman_grid", "relevance_mass",
    "relevance_rank", "pointing_game", "dice_topk", "iou_topk", "auroc",
)
MASK_KEYS: tuple[str, ...] = ("dice", "iou", "kappa")
COMPARE_KEYS: tuple[str, ...] = SALIENCY_KEYS + MASK_KEYS

# Without a calibrated geometry the image is assumed to span a landscape page this wide, so
# sigma_px = sigma_mm * image_width / FALLBACK_PAGE_WIDTH_MM (Letter/A4 grids are 250-280 mm).
FALLBACK_PAGE_WIDTH_MM = 280.0
AUROC_MAX_PIXELS = 2_000_000
CELL_S = 0.2


# ---- grid cells ----------------------------------------------------------------------------
@dataclass(frozen=True)
class GridCells:
    """The panel × time cells of one page that are visible in the image.

    cells: one (panel index into geometry.panels, t0 s, t1 s) per cell, in the order of the
    scores ``grid_scores`` returns. Each cell is ``cell_s`` of its panel's own time span; the
    last cell of a panel may be shorter. Cells with no pixel in the image are left out.
    """

    cells: tuple[tuple[int, float, float], ...]

    def __len__(self) -> int:
        return len(self.cells)


def panel_cells(t0_s: float, t1_s: float, cell_s: float = CELL_S) -> list[tuple[float, float]]:
    """Split [t0_s, t1_s] into consecutive cell_s-long intervals (s); the last may be shorter."""
    if cell_s <= 0:
        raise ValueError(f"cell length must be positive, got {cell_s} s")
    n = max(1, math.ceil((t1_s - t0_s) / cell_s - 1e-9))
    edges = [min(t0_s + i * cell_s, t1_s) for i in range(n)] + [t1_s]
    return [(edges[i], edges[i + 1]) for i in range(n)]


def _cell_quad(geometry: Geometry, panel_index: int, t0: float, t1: float) -> np.ndarray:
    """Image-px corners (tl, tr, br, bl) of one panel's time slice, (4, 2)."""
    p = geometry.panels[panel_index]
    span = p.t1_s - p.t0_s
    f0, f1 = ((t0 - p.t0_s) / span, (t1 - p.t0_s) / span) if span > 0 else (0.0, 1.0)
    if geometry.page_to_image is not None:
        x0, y0, x1, y1 = p.box_mm
        xa, xb = x0 + f0 * (x1 - x0), x0 + f1 * (x1 - x0)
        return apply_homography(geometry.page_to_image, [[xa, y0], [xb, y0], [xb, y1], [xa, y1]])
    if len(p.quad_px) != 4:
        raise ValueError(f"panel {panel_index} ({p.lead}) has neither a page mapping nor an image quad")
    tl, tr, br, bl = (np.asarray(c, dtype=np.float64) for c in p.quad_px)
    return np.array([tl + f0 * (tr - tl), tl + f1 * (tr - tl), bl + f1 * (br - bl), bl + f0 * (br - bl)])


def rasterise_cells(geometry: Geometry, cell_s: float = CELL_S) -> tuple[np.ndarray, GridCells]:
    """Paint every panel × cell_s cell into an index image.

    Returns ``index`` (H, W) int32, read-only — the cell each pixel belongs to, -1 off the
    panels — and the cells. Cells are painted in panel then time order with cv2.fillConvexPoly
    (1/16 px precision, edges rounded to the nearest pixel and drawn); a pixel on the edge
    shared by two cells goes to the later one, so every pixel counts once. The last few pages'
    results are kept: a page's eight labels (and a saliency map and its mask) share them.
    """
    return _rasterised(_SameGeometry(geometry), cell_s)


class _SameGeometry:
    """A geometry as a cache key: equal when its JSON is (Geometry holds arrays, so it is not
    hashable itself)."""

    def __init__(self, geometry: Geometry) -> None:
        self.geometry, self.key = geometry, json.dumps(geometry.to_json(), sort_keys=True)

    def __hash__(self) -> int:
        return hash(self.key)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _SameGeometry) and other.key == self.key


@functools.lru_cache(maxsize=4)
def _rasterised(same: _SameGeometry, cell_s: float) -> tuple[np.ndarray, GridCells]:
    geometry = same.geometry
    w, h = geometry.image_size
    index = np.full((h, w), -1, dtype=np.int32)
    candidates: list[tuple[int, float, float]] = []
    for i, p in enumerate(geometry.panels):
        for t0, t1 in panel_cells(p.t0_s, p.t1_s, cell_s):
            quad = np.clip(_cell_quad(geometry, i, t0, t1), -1e5, 1e5)
            cv2.fillConvexPoly(index, np.round(quad * 16).astype(np.int32), len(candidates),
                               lineType=cv2.LINE_8, shift=4)
            candidates.append((i, float(t0), float(t1)))
    counts = np.bincount(index[index >= 0], minlength=len(candidates))
    keep = np.flatnonzero(counts > 0)
    remap = np.full(len(candidates) + 1, -1, dtype=np.int32)
    remap[keep] = np.arange(len(keep), dtype=np.int32)
    index = remap[index]
    index.flags.writeable = False
    return index, GridCells(tuple(candidates[k] for k in keep))


def _cell_sums(values: np.ndarray, index: np.ndarray, n_cells: int) -> np.ndarray:
    inside = index >= 0
    return np.bincount(index[inside], weights=np.asarray(values, np.float64)[inside], minlength=n_cells)


def grid_scores(values: np.ndarray, geometry: Geometry, cell_s: float = CELL_S) -> tuple[np.ndarray, GridCells]:
    """Sum of an H×W map inside each panel × cell_s cell of the page.

    Only the printed panels count: the page between and around them is ignored. Returns the
    (N,) float64 sums and the N cells they belong to.
    """
    _check_geometry(values.shape, geometry)
    index, cells = rasterise_cells(geometry, cell_s)
    return _cell_sums(values, index, len(cells)), cells


# ---- correlations --------------------------------------------------------------------------
def _correlation(kind: str, x: np.ndarray, y: np.ndarray) -> float | None:
    x, y = np.ravel(x).astype(np.float64), np.ravel(y).astype(np.float64)
    if x.size < 2 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return None
    from scipy import stats  # imported when first used: with sklearn, 0.6 s of every cold start

    r = (stats.pearsonr if kind == "pearson" else stats.spearmanr)(x, y)[0]
    return None if not np.isfinite(r) else float(r)


def _smooth(values: np.ndarray, sigma_px: float | tuple[float, float]) -> np.ndarray:
    return ndimage.gaussian_filter(np.asarray(values, dtype=np.float64), sigma_px, mode="nearest")


def pearson_pixel(sal: np.ndarray, mask: np.ndarray, sigma_px: float | tuple[float, float]) -> float | None:
    """Pearson r over pixels after Gaussian smoothing of both maps.

    sigma_px: the Gaussian's σ in px (a number, or (σ_y, σ_x)); ≈ 1 mm of paper. None when
    either smoothed map is constant.
    """
    return _correlation("pearson", _smooth(sal, sigma_px), _smooth(mask, sigma_px))


def spearman_pixel(sal: np.ndarray, mask: np.ndarray, sigma_px: float | tuple[float, float]) -> float | None:
    """Spearman ρ over pixels after Gaussian smoothing of both maps (σ as in pearson_pixel)."""
    return _correlation("spearman", _smooth(sal, sigma_px), _smooth(mask, sigma_px))


def pearson_grid(sal: np.ndarray, mask: np.ndarray, geometry: Geometry, cell_s: float = CELL_S) -> float | None:
    """Pearson r between the saliency sum and the masked-pixel count of every panel × cell_s cell."""
    return _correlation("pearson", grid_scores(sal, geometry, cell_s)[0],
                        grid_scores(np.asarray(mask, bool), geometry, cell_s)[0])


def spearman_grid(sal: np.ndarray, mask: np.ndarray, geometry: Geometry, cell_s: float = CELL_S) -> float | None:
    """Spearman ρ between the saliency sum and the masked-pixel count of every panel × cell_s cell."""
    return _correlation("spearman", grid_scores(sal, geometry, cell_s)[0],
                        grid_scores(np.asarray(mask, bool), geometry, cell_s)[0])


# ---- saliency vs mask ----------------------------------------------------------------------
def relevance_mass(sal: np.ndarray, mask: np.ndarray) -> float | None:
    """Relevance mass accuracy: Σ positive saliency inside the mask / Σ positive saliency.

    None when the mask is empty or there is no positive saliency.
    """
    pos = np.clip(np.asarray(sal, np.float64), 0, None)
    m = np.asarray(mask, bool)
    total = pos.sum()
    if not m.any() or total <= 0:
        return None
    return float(pos[m].sum() / total)


def _top_k(sal: np.ndarray, k: int) -> np.ndarray:
    """Flat indices of the k largest values (ties at the k-th value broken arbitrarily)."""
    flat = np.asarray(sal, np.float64).ravel()
    return np.argpartition(-flat, k - 1)[:k]


def relevance_rank(sal: np.ndarray, mask: np.ndarray) -> float | None:
    """Relevance rank accuracy: share of the K most salient pixels inside the mask, K = mask area.

    None when the mask is empty.
    """
    m = np.asarray(mask, bool).ravel()
    k = int(m.sum())
    if k == 0:
        return None
    return float(m[_top_k(sal, k)].mean())


def pointing_game(sal: np.ndarray, mask: np.ndarray, tolerance_px: int = 0) -> float | None:
    """1.0 when the most salient pixel lies inside the mask dilated by tolerance_px (a disc), else 0.0.

    The first maximum in row-major order counts. None when the mask is empty or the map constant.
    """
    m = np.asarray(mask, bool)
    sal = np.asarray(sal, np.float64)
    if not m.any() or np.ptp(sal) == 0:
        return None
    if tolerance_px > 0:
        disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * tolerance_px + 1,) * 2)
        m = cv2.dilate(m.astype(np.uint8), disc).astype(bool)
    return float(m.flat[int(np.argmax(sal))])


def _topk_overlap(sal: np.ndarray, mask: np.ndarray) -> tuple[int, int] | None:
    m = np.asarray(mask, bool).ravel()
    k = int(m.sum())
    if k == 0:
        return None
    return int(m[_top_k(sal, k)].sum()), k


def dice_topk(sal: np.ndarray, mask: np.ndarray) -> float | None:
    """Dice between the K most salient pixels and the mask, K = mask area: 2|T∩M| / (|T|+|M|).

    With |T| = |M| this equals relevance_rank. None when the mask is empty.
    """
    overlap = _topk_overlap(sal, mask)
    return None if overlap is None else float(overlap[0] / overlap[1])


def iou_topk(sal: np.ndarray, mask: np.ndarray) -> float | None:
    """IoU between the K most salient pixels and the mask, K = mask area: |T∩M| / |T∪M|.

    None when the mask is empty.
    """
    overlap = _topk_overlap(sal, mask)
    if overlap is None:
        return None
    inter, k = overlap
    return float(inter / (2 * k - inter))


def auroc(sal: np.ndarray, mask: np.ndarray, max_pixels: int = AUROC_MAX_PIXELS) -> float | None:
    """Area under the ROC curve of saliency as a score for "pixel is in the mask".

    Above max_pixels pixels a fixed-seed random subsample of max_pixels is scored (same answer
    on every run). None when the mask is empty or covers everything.
    """
    y = np.asarray(mask, bool).ravel()
    s = np.asarray(sal, np.float64).ravel()
    if y.size > max_pixels:
        pick = np.random.default_rng(0).choice(y.size, size=max_pixels, replace=False)
        y, s = y[pick], s[pick]
    if y.all() or not y.any():
        return None
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, s))


# ---- mask vs mask --------------------------------------------------------------------------
def dice(m1: np.ndarray, m2: np.ndarray) -> float | None:
    """Dice coefficient 2|A∩B| / (|A|+|B|) of two masks; None when both are empty."""
    a, b = np.asarray(m1, bool), np.asarray(m2, bool)
    total = int(a.sum()) + int(b.sum())
    return None if total == 0 else float(2 * np.logical_and(a, b).sum() / total)


def iou(m1: np.ndarray, m2: np.ndarray) -> float | None:
    """Intersection over union |A∩B| / |A∪B| of two masks; None when both are empty."""
    a, b = np.asarray(m1, bool), np.asarray(m2, bool)
    union = int(np.logical_or(a, b).sum())
    return None if union == 0 else float(np.logical_and(a, b).sum() / union)


def kappa(m1: np.ndarray, m2: np.ndarray) -> float | None:
    """Cohen's κ over pixels, (p_o − p_e) / (1 − p_e); None when undefined (p_e = 1)."""
    a = np.asarray(m1, bool).ravel().astype(np.uint8)
    b = np.asarray(m2, bool).ravel().astype(np.uint8)
    if np.ptp(a) == 0 and np.ptp(b) == 0 and a[0] == b[0]:
        return None
    from sklearn.metrics import cohen_kappa_score

    k = cohen_kappa_score(a, b)
    return None if not np.isfinite(k) else float(k)


# ---- everything at once ---------------------------------------------------------------------
def is_binary(values: np.ndarray) -> bool:
    """True when every value is 0 or 1 (a mask, whatever its dtype)."""
    v = np.asarray(values)
    return v.dtype == bool or bool(np.all((v == 0) | (v == 1)))


def sigma_px_for(geometry: Geometry | None, image_size: tuple[int, int], sigma_mm: float) -> tuple[float, float]:
    """(σ_y, σ_x) in px for σ in paper mm; uncalibrated pages assume a 280 mm wide page."""
    if geometry is not None and geometry.px_per_mm_xy is not None:
        px_x, px_y = geometry.px_per_mm_xy
    else:
        px_x = px_y = image_size[0] / FALLBACK_PAGE_WIDTH_MM
    return sigma_mm * px_y, sigma_mm * px_x


def compare_maps(a: np.ndarray, b: np.ndarray, geometry: Geometry | None = None,
                 sigma_mm: float = 1.0, cell_s: float = CELL_S) -> dict[str, float | None]:
    """Every agreement metric between ``a`` (saliency or mask) and ``b`` (mask), H×W each.

    Returns exactly COMPARE_KEYS as plain floats or None (DESIGN.md "compare output"): grid
    metrics need a geometry with panels; dice/iou/kappa need ``a`` binary (mask vs mask).
    sigma_mm: the pixel-correlation smoothing σ in paper mm (see sigma_px_for).
    """
    a = np.asarray(a)
    mask = np.asarray(b) > 0
    if a.shape != mask.shape or a.ndim != 2:
        raise ValueError(f"the maps must be H×W arrays of the same image, got {a.shape} and {mask.shape}")
    if geometry is not None:
        _check_geometry(a.shape, geometry)
    sal = a.astype(np.float32)
    sigma = sigma_px_for(geometry, (a.shape[1], a.shape[0]), sigma_mm)
    out: dict[str, float | None] = dict.fromkeys(COMPARE_KEYS)
    smooth_sal, smooth_mask = _smooth(sal, sigma), _smooth(mask, sigma)
    out["pearson_pixel"] = _correlation("pearson", smooth_sal, smooth_mask)
    out["spearman_pixel"] = _correlation("spearman", smooth_sal, smooth_mask)
    if geometry is not None and geometry.panels:
        index, cells = rasterise_cells(geometry, cell_s)
        gs, gm = _cell_sums(sal, index, len(cells)), _cell_sums(mask, index, len(cells))
        out["pearson_grid"] = _correlation("pearson", gs, gm)
        out["spearman_grid"] = _correlation("spearman", gs, gm)
    out["relevance_mass"] = relevance_mass(sal, mask)
    out["relevance_rank"] = relevance_rank(sal, mask)
    out["pointing_game"] = pointing_game(sal, mask)
    out["dice_topk"] = dice_topk(sal, mask)
    out["iou_topk"] = iou_topk(sal, mask)
    out["auroc"] = auroc(sal, mask)
    if is_binary(a):
        out["dice"], out["iou"], out["kappa"] = dice(a, mask), iou(a, mask), kappa(a, mask)
    return out


def _check_geometry(shape: tuple[int, ...], geometry: Geometry) -> None:
    w, h = geometry.image_size
    if tuple(shape[:2]) != (h, w):
        raise ValueError(
            f"the map is {shape[1]}×{shape[0]} px but the geometry describes a {w}×{h} px image; "
            "use the geometry of the same image"
        )


# ---- files ---------------------------------------------------------------------------------
def load_map(path: str | Path, expected_shape: tuple[int, int] | None = None) -> tuple[np.ndarray, bool]:
    """Read a saliency map (.npy, H×W numbers; or ``saliency.npz:<LABEL>`` as ``analyze`` writes
    it, read at ``expected_shape`` when that is a uniform rescale of it) or a mask (.png, pixel
    > 0 = in the mask).

    Returns (float32 H×W map, False) or (bool H×W mask, True). A colour PNG counts a pixel as
    marked when any of its colour channels is > 0 and (with alpha) it is not transparent. Raises
    ValueError (InputFileError) with a sentence saying what is wrong: missing, not a regular
    file, unreadable, other suffix, not 2-D, over ``MAX_PIXELS`` or truncated (both judged from
    the header, before any memory is spent on the values), not finite, or a shape other than
    expected_shape (H, W).
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if ".npz:" in path.name:
        return _load_npz_map(path, expected_shape), False
    if not path.exists():
        raise InputFileError(f"{path}: no such file")
    if suffix == ".npy":
        values, is_mask = _load_npy(path), False
    elif suffix == ".png":
        values, is_mask = _load_png(path), True
    else:
        raise InputFileError(f"{path}: expected a saliency map (.npy) or a mask (.png), not '{suffix or 'no suffix'}'")
    if expected_shape is not None and values.shape != tuple(expected_shape):
        h, w = values.shape
        raise InputFileError(
            f"{path} is {w}×{h} px but the other map is {expected_shape[1]}×{expected_shape[0]} px; "
            "both must be in the pixels of the same image"
        )
    return values, is_mask


def _load_npz_map(spec: Path, expected_shape: tuple[int, int] | None) -> np.ndarray:
    """``<folder>/saliency.npz:<LABEL>``: the map (core.outputs), resized to expected_shape
    when its aspect ratio is the image's (the npz keeps the network's resolution)."""
    from core.outputs import read_saliency

    file = Path(str(spec).rsplit(":", 1)[0])
    if not file.exists():
        raise InputFileError(f"{file}: no such file")
    try:
        values = read_saliency(spec)
    except ValueError as exc:
        raise InputFileError(str(exc)) from None
    if expected_shape is not None and values.shape != tuple(expected_shape):
        (h, w), (eh, ew) = values.shape, expected_shape
        if abs(w / h - ew / eh) > 2.0 / min(h, w):  # a rescale rounds each side to whole pixels
            raise InputFileError(f"{spec} is {w}×{h} px, not a rescale of the other map's {ew}×{eh} px; "
                                 "both must be of the same image")
        from core.outputs import resize_map

        values = resize_map(values, (ew, eh))
    return values


_NPY_MAX_BYTES = 8 * MAX_PIXELS + (1 << 20)  # float64 at the pixel limit, and a header


def _load_npy(path: Path) -> np.ndarray:
    data = read_regular_file(path, "saliency map", _NPY_MAX_BYTES, InputFileError, name=str(path))
    f = io.BytesIO(data)
    from core.outputs import npy_header

    try:
        shape, fortran_order, dtype = npy_header(f)
    except (ValueError, OSError, EOFError) as exc:
        raise InputFileError(f"{path}: not a readable NumPy array ({exc})") from None
    if len(shape) != 2 or dtype.hasobject or not np.issubdtype(dtype, np.number) or np.issubdtype(dtype, np.complexfloating):
        raise InputFileError(f"{path}: a saliency map must be a 2-D real array (H×W), got {dtype} {shape}")
    h, w = shape
    if h * w > MAX_PIXELS:
        raise InputFileError(f"{path} declares a {w:,}×{h:,} map, over the {MAX_PIXELS / 1e6:g} MP limit of an image")
    if h * w == 0:
        raise InputFileError(f"{path}: the saliency map is empty ({w}×{h})")
    held, declared = len(data) - f.tell(), h * w * dtype.itemsize
    if held < declared:
        raise InputFileError(f"{path} is truncated: it declares {w}×{h} {dtype} values ({declared:,} bytes) "
                             f"but holds {held:,} bytes")
    values = np.frombuffer(data, dtype=dtype, count=h * w, offset=f.tell())
    values = values.reshape(shape, order="F" if fortran_order else "C").astype(np.float32)
    if not np.all(np.isfinite(values)):
        raise InputFileError(f"{path}: the saliency map contains NaN or infinite values")
    return values


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _load_png(path: Path) -> np.ndarray:
    from core.io.images import MAX_FILE_BYTES, declared_size

    data = read_regular_file(path, "mask image", MAX_FILE_BYTES, InputFileError, name=str(path))
    if not data.startswith(_PNG_SIGNATURE):
        raise InputFileError(f"{path}: not a readable PNG image")
    try:
        _, (w, h) = declared_size(data, path.name)
    except ImageLoadError:
        raise InputFileError(f"{path}: not a readable PNG image") from None
    if w * h > MAX_PIXELS:
        raise InputFileError(f"{path} is {w:,}×{h:,} px, over the {MAX_PIXELS / 1e6:g} MP limit of an image")
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise InputFileError(f"{path}: not a readable PNG image")
    if img.ndim == 2:
        return img > 0
    marked = img[..., :3].max(axis=2) > 0
    return marked & (img[..., 3] > 0) if img.shape[2] == 4 else marked
