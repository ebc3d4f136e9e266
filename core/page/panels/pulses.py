"""Calibration pulses: the 1-mV step at a row's end. Its width and height give the paper's speed
and gain (and vouch for a scale), the side it points to says whether the page is upside down,
and it is cut off the row's extent so that it is not read as trace.
"""
from __future__ import annotations

import cv2
import numpy as np
from scipy import ndimage as ndi

from core.page.panels.common import GAINS_MM_MV, PULSE_S, SPEEDS_MM_S, Pulse, TraceRow


def _with_pulse(ink: np.ndarray, row: TraceRow, k: tuple[float, float], near: float) -> TraceRow:
    """Look for the calibration pulse at each end of a row; a pulse joined to the trace is
    cut off the row's extent."""
    kx = k[0]
    for side in ("start", "end"):
        pulse = find_pulse(ink, row, k, side, near)
        if pulse is None:
            continue
        x0, x1 = row.x0_px, row.x1_px
        if side == "start" and pulse.x1_px >= x0 - 0.5 * kx:
            x0 = _next_inked(ink, row, pulse.x1_px + 1, +1, k)
        if side == "end" and pulse.x0_px <= x1 + 0.5 * kx:
            x1 = _next_inked(ink, row, pulse.x0_px - 1, -1, k)
        return TraceRow(row.baseline_px, x0, x1, row.coverage, pulse)
    return row


def find_pulse(ink: np.ndarray, row: TraceRow, k: tuple[float, float], side: str, near: float) -> Pulse | None:
    """A flat-topped step at one end of a row: over 3.5-12 mm the ink's extent on one side of
    the baseline stays level (within 1 mm) at 3.5-24 mm, standing on vertical strokes, with
    nothing on the other side. ``near``: px to the next row, which bounds the search."""
    kx, ky = k
    h, w = ink.shape
    b = row.baseline_px
    span = int(14 * kx)
    edge = int(row.x0_px if side == "start" else row.x1_px)
    xa, xb = max(0, edge - span), min(w, edge + span + 1)
    far, close = min(25 * ky, 0.8 * near), 0.45 * near
    top, bottom = max(0, int(b - far)), min(h, int(b + far) + 1)
    window = ink[top:bottom, xa:xb]
    if window.size == 0:
        return None
    ys = np.arange(top, bottom, dtype=np.float64)[:, None]
    gap = 2.0 * ky
    up = _nearest(window & (ys <= b - gap), b - ys)
    down = _nearest(window & (ys >= b + gap), ys - b)
    up_close = _extent(window & (ys >= b - close), b - ys)
    down_close = _extent(window & (ys <= b + close), ys - b)
    for ext, other, sign in ((up, down_close, 1.0), (down, up_close, -1.0)):
        found = _plateau(ext, other, kx, ky)
        if found is not None and _has_risers(window, b - top, found, sign, kx):
            i0, i1, height = found
            x0, x1 = (_riser_centre(window, b - top, height, sign, i, kx) for i in (i0, i1))
            if x1 - x0 >= 2.0 * kx:  # a pulse is 5 or 10 mm wide; strokes that meet are none
                return Pulse(float(xa + x0), float(xa + x1), sign * height)
    for sign in (1.0, -1.0) if side == "start" else ():
        pair = _riser_pair(window, b - top, sign, k)
        if pair is not None:
            return Pulse(float(xa + pair[0]), float(xa + pair[1]), sign * pair[2])
    return None


def _near_any(value: float, targets: tuple[float, ...], tolerance: float) -> bool:
    """Is ``value`` within ``tolerance`` (relative) of one of ``targets``?"""
    return any(abs(value / t - 1.0) <= tolerance for t in targets)


def _riser_pair(window: np.ndarray, b: float, sign: float,
                k: tuple[float, float]) -> tuple[float, float, float] | None:
    """A pulse whose top was lost (it lies on a 5-mm grid line, which the ink map leaves out):
    two vertical strokes rising from the baseline ``b`` (window px) to the same height (within
    1 mm) of a 1-mV step at a standard gain (5, 10 or 20 mm, within 20 %), 0.2 s apart at 25 or
    50 mm/s (5 or 10 mm, within 25 %), with no ink between them inside the pulse and none
    beyond 1.5 mm on the other side of the baseline. Stricter than a pulse with its top, since
    two strokes alone are easily met in handwriting. (x0, x1, height) in window px of the
    leftmost such pair, or None."""
    kx, ky = k
    i = int(round(b))
    half = window[i::-1] if sign > 0 else window[i:]  # row r: r px from the baseline, on the pulse's side
    other = window[i + 1:] if sign > 0 else window[i - 1::-1]
    start = max(1, int(round(2 * ky)))
    col = cv2.morphologyEx(half.astype(np.uint8), cv2.MORPH_CLOSE, np.ones((3, 1), np.uint8)).astype(bool) | half
    # per column, the end of the run of ink that begins within ``start`` of the baseline
    begins = col[:start + 1].any(axis=0)
    first = col[:start + 1].argmax(axis=0)
    gap = ~col & (np.arange(col.shape[0])[:, None] >= first[None, :])
    reach = np.where(begins, np.where(gap.any(axis=0), gap.argmax(axis=0), col.shape[0]), 0).astype(np.float64)
    risers = (reach >= 3.5 * ky) & (reach <= 24 * ky)
    labels, n = ndi.label(risers)
    groups = [(0.5 * (sl[0].start + sl[0].stop - 1), int(sl[0].start), int(sl[0].stop), float(np.median(reach[sl[0]])))
              for sl in ndi.find_objects(labels) if sl[0].stop - sl[0].start <= 2 * kx]
    widths_mm = tuple(PULSE_S * s for s in SPEEDS_MM_S)
    far = int(1.5 * ky)
    pairs = []
    for (c0, a0, e0, h0), (c1, a1, e1, h1) in zip(groups, groups[1:]):
        height = 0.5 * (h0 + h1)
        width_mm, height_mm = (c1 - c0) / kx, height / ky
        if not (abs(h0 - h1) <= 1.0 * ky and _near_any(width_mm, widths_mm, 0.25)
                and _near_any(height_mm, GAINS_MM_MV, 0.2)):
            continue
        inside = half[start:int(height - 1.5 * ky), e0:a1]
        if inside.size == 0 or inside.any(axis=0).mean() > 0.1 or other[far:, a0:e1].any():
            continue
        pairs.append((c0, c1, height))
    return pairs[0] if pairs else None


def _riser_centre(window: np.ndarray, b: float, height: float, sign: float, i: int, kx: float) -> float:
    """The centre column of the vertical stroke beside a plateau's end ``i``: the mean of the
    columns within 1 mm inked over >= 80 % of the pulse's height (``i`` when none is). The
    plateau itself stops short of the strokes, so its length underestimates the pulse."""
    y_a, y_b = sorted((int(round(b)), int(round(b - sign * height))))
    reach = max(1, int(round(kx)))
    lo = max(0, i - reach)
    cols = window[y_a:y_b + 1, lo:i + reach + 1].mean(axis=0)
    full = np.flatnonzero(cols >= 0.8)
    return float(lo + full.mean()) if full.size else float(i)


def _nearest(mask: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """Per column, the smallest ``offset`` (px from the baseline, one side) of an inked pixel; 0 if none."""
    nearest = np.where(mask, offset, np.inf).min(axis=0)
    return np.where(np.isfinite(nearest), nearest, 0.0).clip(0, None)


def _extent(mask: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """Per column, the largest ``offset`` (px from the baseline, one side) of an inked pixel; 0 if none."""
    return np.where(mask, offset, 0.0).max(axis=0).clip(0, None)


def _has_risers(window: np.ndarray, b: float, found: tuple[int, int, float], sign: float, kx: float) -> bool:
    """Does a plateau stand on vertical strokes at both ends (ink over >= 80 % of the height
    between baseline and top within 1 mm of each end), as a pulse does and text does not?"""
    i0, i1, height = found
    y_a, y_b = sorted((int(round(b)), int(round(b - sign * height))))
    reach = max(1, int(round(kx)))
    for i in (i0, i1):
        cols = window[y_a:y_b + 1, max(0, i - reach):i + reach + 1]
        if cols.size == 0 or cols.any(axis=1).mean() < 0.8:
            return False
    return True


def _plateau(ext: np.ndarray, other: np.ndarray, kx: float, ky: float) -> tuple[int, int, float] | None:
    """The longest run (3.5-12 mm) where ``ext`` is level (within 1 mm of its median) and
    3.5-24 mm high while ``other`` stays under 1.5 mm; (start, end, height px) or None."""
    ok = (ext >= 3.5 * ky) & (ext <= 24 * ky) & (other <= 1.5 * ky)
    labels, n = ndi.label(ok)
    best = None
    for i in range(1, n + 1):
        idx = np.flatnonzero(labels == i)
        if not 3.5 * kx <= len(idx) <= 12 * kx:
            continue
        level = float(np.median(ext[idx]))
        if np.mean(np.abs(ext[idx] - level) <= 1.0 * ky) < 0.85:
            continue
        if best is None or len(idx) > best[1] - best[0]:
            best = (int(idx[0]), int(idx[-1]), level)
    return best


def _next_inked(ink: np.ndarray, row: TraceRow, x: float, step: int, k: tuple[float, float]) -> float:
    """Where the trace proper begins (step +1) or ends (step -1) beside its pulse at x: past
    the pulse's foot (ink on the baseline for up to 1.5 mm) and the gap after it (up to 4 mm);
    right at x when the trace joins the pulse without a gap."""
    kx, ky = k
    h, w = ink.shape
    b = row.baseline_px
    band = ink[max(0, int(b - 3 * ky)):min(h, int(b + 3 * ky) + 1)].any(axis=0)
    xi = int(round(x))
    foot = 0
    while 0 <= xi < w and band[xi] and foot <= 1.5 * kx:
        xi, foot = xi + step, foot + 1
    if not (0 <= xi < w) or band[xi]:
        return float(np.clip(x, 0, w - 1))
    gap = 0
    while 0 <= xi < w and not band[xi] and gap <= 4 * kx:
        xi, gap = xi + step, gap + 1
    return float(np.clip(xi, 0, w - 1))
