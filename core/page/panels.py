"""Find the printed rows of traces on a rectified, calibrated page and read its layout.

Everything here works in the rectified image (px) with a known scale ``(kx, ky)`` px per mm.
Trace rows are the peaks of the horizontal ink profile (the share of columns inked at each
height, smoothed over one 5-mm period so that a grey grid's lines average out); a row's extent
is where its band is inked; its calibration pulse is a flat-topped step of 5, 10 or 20 mm at
either end, and the side the step points to says whether the page is upside down. The layout
follows from the number of rows and where the lead names (small ink blobs apart from the
trace) sit along them; lead names are read from the layout position, and Cabrera order is
recognised from the widths of the first column's names (aVL, I, -aVR against I, II, III).
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np
from scipy import ndimage as ndi
from scipy.signal import find_peaks

from core.labels import CABRERA_LIMB, DEFAULT_RHYTHM, PRECORDIAL, STANDARD_LIMB
from core.page.calibrate import channel_darkness, channel_max, channel_min
from core.page.geometry import Panel

ROW_TIME_S = 10.0  # a full row prints the record's 10 s at 25 mm/s
PULSE_S = 0.2
GAINS_MM_MV = (5.0, 10.0, 20.0)
SPEEDS_MM_S = (25.0, 50.0)
MIN_ROW_PITCH_MM = 9.0


@dataclass(frozen=True)
class Pulse:
    """A calibration pulse (rectified px): x0, x1 the centres of its two vertical strokes (the
    pulse's duration apart); height_px > 0 when it rises above the baseline (an upright page),
    < 0 when it hangs below (upside down)."""

    x0_px: float
    x1_px: float
    height_px: float

    @property
    def width_px(self) -> float:
        """Riser to riser (px): 0.2 s of paper."""
        return self.x1_px - self.x0_px


@dataclass(frozen=True)
class TraceRow:
    """One printed row of traces (rectified px).

    baseline_px: y of the row's isoelectric line. x0_px, x1_px: the trace's extent, the
    calibration pulse left out. coverage: share of the extent whose columns are inked near
    the baseline (a trace ~1, text ~0.3). pulse: the row's calibration pulse, if found.
    """

    baseline_px: float
    x0_px: float
    x1_px: float
    coverage: float
    pulse: Pulse | None = None


@dataclass(frozen=True)
class LayoutFit:
    """A page's layout in rectified px: layout name or None, the panels with their boxes in
    rectified px (box_mm holds px here; ``detect`` converts), speed, gain, and confidences."""

    layout: str | None
    panels: tuple[Panel, ...]
    speed_mm_s: float
    gain_mm_mv: float
    layout_confidence: float
    panels_confidence: float


# ---- ink ----------------------------------------------------------------------------------------
def ink_maps(rgb: np.ndarray, darkness: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(ink, faint ink) of a rectified page, bool H x W each.

    Each pixel's darkening (per channel, relative to the local paper) is split along the
    grid's colour and across it. On a coloured grid ink is what darkens across the grid's
    colour (black and blue ink do, a red line does not); on a grey or black grid, where that
    cannot tell, it is the darkening itself, less the grid lines (:func:`without_lines`).
    Ink is then what stands out (hysteresis at 20 % / 45 % of the page's darkest print),
    without thick blobs (lid, holes, fingers) or strips along the border; faint ink keeps
    everything above 12 %, for small print such as lead names. ``darkness``: the image's
    ``channel_darkness`` when the caller has it.
    """
    d = channel_darkness(rgb) if darkness is None else darkness
    strength = without_lines(_ink_strength(d))
    size = max(5, max(strength.shape) // 150)
    blobs = _thick(strength > 0.1, size)
    top = _print_level(strength, blobs)
    blobs = _without_trace_bands(blobs, strength, size, top)
    ink = _hysteresis(strength, max(0.05, 0.2 * top), max(0.08, 0.45 * top))
    faint = (strength > max(0.04, 0.12 * top)) & ~blobs
    return _without_edge_strips(ink & ~blobs), faint


def _print_level(strength: np.ndarray, blobs: np.ndarray) -> float:
    """How dark the page's print is: the 99.5th percentile of ``strength`` away from blobs and
    from the outer 4 % of the image (where a scanner lid or the table shows)."""
    h, w = strength.shape
    mh, mw = max(1, h // 25), max(1, w // 25)
    inner = strength[mh:h - mh, mw:w - mw][~blobs[mh:h - mh, mw:w - mw]]
    return float(np.percentile(inner, 99.5)) if inner.size else 0.0


def _without_edge_strips(ink: np.ndarray) -> np.ndarray:
    """Drop blobs lying along the image's border (a scanner lid's edge, the paper's edge):
    touching a side and stretched along it over a tenth of its length."""
    h, w = ink.shape
    n, labels, st, _ = cv2.connectedComponentsWithStats(ink.astype(np.uint8), connectivity=8)
    x, y, bw, bh = st[:, 0], st[:, 1], st[:, 2], st[:, 3]
    along_x = ((y <= 1) | (y + bh >= h - 1)) & (bw > 0.1 * w) & (bh < 0.05 * h)
    along_y = ((x <= 1) | (x + bw >= w - 1)) & (bh > 0.1 * h) & (bw < 0.05 * w)
    junk = along_x | along_y
    junk[0] = False
    return ink & ~junk[labels]


def _thick(mask: np.ndarray, size: int) -> np.ndarray:
    """The parts of a mask at least ``size`` px thick (scanner lid, punch holes, shadows,
    fingers), grown by a pixel; traces and print are thinner."""
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
    thick = cv2.morphologyEx(mask.astype(np.uint8), cv2.MORPH_OPEN, kernel)
    return cv2.dilate(thick, np.ones((3, 3), np.uint8)) > 0


def _without_trace_bands(blobs: np.ndarray, strength: np.ndarray, size: int, top: float) -> np.ndarray:
    """``blobs`` less the bands a noisy or bold trace draws: parts at most 2.5 ``size`` tall and
    as dark as print (median strength >= half the print level). A tremor-laden lead I in a thick
    pen is a solid band ~3 mm tall; a lid, a hole or a finger is taller, a shadow paler."""
    n, labels, stats, _ = cv2.connectedComponentsWithStats(blobs.astype(np.uint8), connectivity=8)
    keep = np.ones(n, bool)
    keep[0] = False
    for i in np.flatnonzero(stats[1:, cv2.CC_STAT_HEIGHT] <= 2.5 * size) + 1:
        x, y, w, h = stats[i, :4]
        part = labels[y:y + h, x:x + w] == i
        if float(np.median(strength[y:y + h, x:x + w][part])) >= 0.5 * top:
            keep[i] = False
    return keep[labels]


def _hysteresis(strength: np.ndarray, low: float, high: float) -> np.ndarray:
    """Pixels above ``low`` connected (8-way) to a pixel above ``high``."""
    n, labels = cv2.connectedComponents((strength > low).astype(np.uint8), connectivity=8)
    keep = np.zeros(n, bool)
    keep[np.unique(labels[strength > high])] = True
    keep[0] = False
    return keep[labels]


def without_lines(strength: np.ndarray, share: float = 60.0) -> np.ndarray:
    """``strength`` less the grid lines that run straight across strips of ~1/12 of the image.

    In each vertical strip the ``share``-th percentile of every row is that row's line level
    (a horizontal grid line inks nearly all of a row's strip, a trace seldom half); likewise
    for columns. The level subtracted is capped at what most lines reach (95th percentile
    over the page), so a trace's long flat baseline, darker than the grid, keeps its ink.
    Removes grey grid lines that would otherwise pass for ink.
    """
    h, w = strength.shape
    step = max(8, max(h, w) // 12)
    out = strength.copy()
    for axis in (1, 0):
        a = out if axis == 1 else out.T
        n = a.shape[1] // step
        if n == 0:
            continue
        body = a[:, : n * step].reshape(a.shape[0], n, step)
        bg = np.percentile(body, share, axis=2)
        bg = np.minimum(bg, np.percentile(bg, 95))
        body -= bg[:, :, None]
        tail = a[:, n * step:]
        if tail.size:
            tail -= bg[:, -1:]
    return np.clip(out, 0.0, None)


def _ink_strength(d: np.ndarray, tiles: int = 4) -> np.ndarray:
    """Per pixel, how much it darkens across the grid's colour (float32): the grid colour is
    measured on coloured pixels in tiles x tiles regions (shadows and tinted light change it)
    and interpolated; where the grid is grey the plain darkening is used instead."""
    h, w, _ = d.shape
    high, low = channel_max(d), channel_min(d)
    grid = (high > 0.12) & (low < 0.5 * high)  # coloured: the grid's lines, not grey ink
    coarse = np.zeros((tiles, tiles, 3), np.float32)
    for i in range(tiles):
        for j in range(tiles):
            sl = (slice(i * h // tiles, (i + 1) * h // tiles), slice(j * w // tiles, (j + 1) * w // tiles))
            coarse[i, j] = grid_colour(d[sl], grid[sl])
    g = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_LINEAR)
    g0, g1, g2 = cv2.split(g)
    gn = cv2.sqrt(g0 * g0 + g1 * g1 + g2 * g2) + 1e-6
    d0, d1, d2 = cv2.split(d)
    along = (d0 * g0 + d1 * g1 + d2 * g2) / gn
    across = cv2.sqrt(np.maximum(d0 * d0 + d1 * d1 + d2 * d2 - along * along, 0.0))
    cos = (g0 + g1 + g2) / (gn * np.float32(np.sqrt(3.0)))
    sin = cv2.sqrt(np.maximum(1.0 - cos * cos, 0.0))
    across /= np.float32(np.sqrt(3.0)) * np.maximum(sin, 0.15)
    plain = (d0 + d1 + d2) / np.float32(3.0)
    return np.where(sin > 0.15, across, plain).astype(np.float32)


def grid_colour(d: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Unit direction (3,) in which the grid's lines darken the paper (grey when unknown):
    the mean darkening over the grid's pixels."""
    if np.count_nonzero(grid) < 100:
        return np.ones(3, np.float32) / np.sqrt(3)
    v = d[grid].mean(axis=0)
    n = float(np.linalg.norm(v))
    return v / n if n > 1e-6 else np.ones(3, np.float32) / np.sqrt(3)


def quarter_turn_needed(ink: np.ndarray) -> bool:
    """Do the trace rows run vertically? Traces make the profile across them peaky (rows and
    gaps) and the profile along them flat; upright pages give ratios of 1/2 to 1/4, turned
    ones the inverse, and long vertical strokes (pacing spikes) keep an upright page near 1."""
    h, w = ink.shape
    rows = ndi.uniform_filter1d(ink.mean(axis=1).astype(np.float64), max(3, h // 100))
    cols = ndi.uniform_filter1d(ink.mean(axis=0).astype(np.float64), max(3, w // 100))
    return _peakiness(cols) > 1.8 * _peakiness(rows)


def _peakiness(profile: np.ndarray) -> float:
    """Coefficient of variation of the central 90 % of a profile."""
    n = len(profile)
    p = profile[n // 20: n - n // 20]
    return float(p.std() / (p.mean() + 1e-9))


# ---- rows -------------------------------------------------------------------------------------
def find_rows(ink: np.ndarray, k: tuple[float, float],
              grid: tuple[float, float] | None = None) -> list[TraceRow]:
    """The trace rows of a page, top to bottom. k: (x, y) px per mm. grid: the printed grid's
    (top, bottom) y (px), if known; rows more than 4 mm outside it without a calibration pulse
    (the paper's edge, a grid's border, a line of handwriting under the grid) are no trace
    rows; a pulse vouches for a row where glare or shadow hides the grid."""
    kx, ky = k
    h, w = ink.shape
    profile = ink.mean(axis=1).astype(np.float64)
    smooth = ndi.uniform_filter1d(profile, max(3, int(round(5 * ky))))
    smooth = ndi.gaussian_filter1d(smooth, max(1.0, 1.0 * ky))
    if smooth.max() <= 0:
        return []
    peaks, props = find_peaks(smooth, distance=max(2, int(MIN_ROW_PITCH_MM * ky)),
                              prominence=0.2 * smooth.max())
    found = []
    for i, y in enumerate(peaks):
        gaps = np.diff(peaks)
        near = min([g for g in (gaps[i - 1] if i > 0 else None, gaps[i] if i < len(gaps) else None) if g]
                   or [40 * ky])
        row = _trace_row(ink, float(y), k, float(near))
        if row is not None:
            found.append((row, float(near)))
    rows = [r for r in _pulses_where_the_others_have_theirs(ink, found, k)
            if r.pulse is not None or grid is None or grid[0] - 4 * ky <= r.baseline_px <= grid[1] + 4 * ky]
    return _regular_rows(ink, rows, k)


def _pulses_where_the_others_have_theirs(ink: np.ndarray, found: list[tuple[TraceRow, float]],
                                         k: tuple[float, float]) -> list[TraceRow]:
    """When two or more rows start with their calibration pulse, a row that starts later (its
    trace's start broken up in a photo or lost in a shadow) is searched for a pulse of the same
    width at the same place; found, the row starts where the others do. ``found``: each row
    with the px to its nearest neighbour."""
    starts = [(r.x0_px, r.pulse.width_px) for r, _ in found if r.pulse is not None and r.pulse.x1_px <= r.x0_px]
    if len(starts) < 2:
        return [r for r, _ in found]
    x0, width = np.median(starts, axis=0)
    if not width > 0:
        return [r for r, _ in found]
    out = []
    for r, near in found:
        if r.pulse is None and r.x0_px > x0 + 4 * k[0]:
            pulse = find_pulse(ink, replace(r, x0_px=float(x0)), k, "start", near)
            if pulse is not None and abs(pulse.width_px / width - 1) <= 0.25:
                r = replace(r, x0_px=float(x0), pulse=pulse)
        out.append(r)
    return out


def _with_missed_rows(ink: np.ndarray, rows: list[TraceRow], k: tuple[float, float]) -> list[TraceRow]:
    """Rows with those missed between two rows n = 2-4 times the pitch apart (within 0.3 of a
    pitch; the pitch is the smallest gap, when at least half the gaps are within 1.3 x it; a
    shadow, a fold or a faint trace hid them) put back evenly between them, spanning their
    neighbours, each where at least a fifth of that span is inked within 3 mm of its baseline."""
    if len(rows) < 3:
        return rows
    gaps = np.diff([r.baseline_px for r in rows])
    pitch = float(gaps.min())
    if np.mean(gaps <= 1.3 * pitch) < 0.5:  # the smallest gap is no pitch (a stray row beside a trace)
        return rows
    out = [rows[0]]
    for a, b in zip(rows, rows[1:]):
        ratio = (b.baseline_px - a.baseline_px) / pitch
        n = int(round(ratio))
        if 2 <= n <= 4 and abs(ratio - n) <= 0.3:
            x0, x1 = min(a.x0_px, b.x0_px), max(a.x1_px, b.x1_px)
            for j in range(1, n):
                y = a.baseline_px + j * (b.baseline_px - a.baseline_px) / n
                band = ink[int(y - 3 * k[1]):int(y + 3 * k[1]) + 1, int(x0):int(x1) + 1]
                coverage = float(band.any(axis=0).mean()) if band.size else 0.0
                if coverage >= 0.2:
                    out.append(TraceRow(y, x0, x1, coverage))
        out.append(b)
    return out


def _trace_row(ink: np.ndarray, y: float, k: tuple[float, float], near: float) -> TraceRow | None:
    """The row around a profile peak (``near``: px to the closest other peak): its baseline
    (the most inked height within 4 mm), the run of columns inked within a third of ``near``
    (3-15 mm) of it (gaps under 8 mm bridged), its pulse."""
    kx, ky = k
    reach = float(np.clip(0.35 * near, 3 * ky, 15 * ky))
    h, w = ink.shape
    lo, hi = max(0, int(y - 4 * ky)), min(h, int(y + 4 * ky) + 1)
    local = ndi.gaussian_filter1d(ink[lo:hi].mean(axis=1).astype(np.float64), max(0.5, 0.3 * ky))
    base = lo + float(np.argmax(local))
    band = ink[max(0, int(base - reach)):min(h, int(base + reach) + 1)]
    cols = band.any(axis=0)
    x0, x1 = _longest_stretch(cols, kx)
    if (x1 - x0) < 20 * kx:
        return None
    coverage = float(cols[int(x0):int(x1) + 1].mean())
    return _with_pulse(ink, TraceRow(base, x0, x1, coverage), k, near)


def _longest_stretch(cols: np.ndarray, kx: float) -> tuple[float, float]:
    """Ends (px) of the longest stretch of inked columns: runs joined over gaps under 3 mm;
    runs of 4 mm or more then joined over gaps under 25 mm (a faint trace breaks up), specks
    and a pulse's feet left out."""
    bridged = ndi.binary_closing(cols, structure=np.ones(max(2, int(round(3 * kx))))) | cols
    labels, n = ndi.label(bridged)
    if n == 0:
        return 0.0, 0.0
    found = ndi.find_objects(labels)
    runs = [(float(sl[0].start), float(sl[0].stop - 1)) for sl in found if sl[0].stop - sl[0].start >= 4 * kx]
    if not runs:
        return 0.0, 0.0
    groups = [list(runs[0])]
    for a, b in runs[1:]:
        if a - groups[-1][1] <= 25 * kx:
            groups[-1][1] = b
        else:
            groups.append([a, b])
    a, b = max(groups, key=lambda g: g[1] - g[0])
    return a, b


def _regular_rows(ink: np.ndarray, rows: list[TraceRow], k: tuple[float, float]) -> list[TraceRow]:
    """Keep what looks like the page's trace rows: with a pulse or well covered and at least
    60 % of the longest row, a row hidden between two put back (:func:`_with_missed_rows`),
    and the longest run of rows spaced alike (each gap 0.6-1.6 x the median
    gap; a header or footer stands apart). When two or more rows have their calibration
    pulse, a row without one must start where those do, its undetected pulse allowed for (a
    pen stroke or a line of text starts later), and is cut back to their extent where it
    reaches beyond (into a shadow's edge or the paper's); when most rows show their pulse, it
    must also stand apart from them (not a large wave of a pulsed row). Otherwise rows reaching
    more than 8 mm beyond the others (shadow edges, grid debris) are cut back to them."""
    if not rows:
        return []
    longest = max(r.x1_px - r.x0_px for r in rows)
    rows = [r for r in rows if r.pulse is not None or (r.coverage >= 0.45 and (r.x1_px - r.x0_px) >= 0.6 * longest)]
    rows = _evenly_spaced(_with_missed_rows(ink, rows, k))
    pulsed = [r for r in rows if r.pulse is not None]
    if len(pulsed) >= 2:
        x0 = float(np.median([r.x0_px for r in pulsed]))
        x1 = float(np.median([r.x1_px for r in pulsed]))
        ys = np.array([r.baseline_px for r in pulsed])
        # when most rows show their pulse, one without must stand apart from them by most of a
        # pitch: the smallest of the pulsed rows' gaps and the rows' median gap (a row whose
        # pulse was missed leaves a double gap between two that show it)
        pitch = min(float(np.diff(ys).min()), float(np.median(np.diff([r.baseline_px for r in rows]))))
        apart = 0.7 * pitch if len(pulsed) >= 0.6 * len(rows) else 0.0
        kept = [r for r in rows if r.pulse is not None or
                (r.x0_px - x0 <= 4 * k[0] and np.abs(ys - r.baseline_px).min() >= apart)]
        return _evenly_spaced([r if r.pulse is not None else
                               replace(r, x0_px=max(r.x0_px, x0 - 9 * k[0]), x1_px=min(r.x1_px, x1))
                               for r in kept])
    if len(rows) < 3:
        return rows
    tol = 8 * k[0]
    x0 = float(np.median([r.x0_px for r in rows]))
    x1 = float(np.median([r.x1_px for r in rows]))
    return [r if r.x0_px >= x0 - tol and r.x1_px <= x1 + tol else
            replace(r, x0_px=max(r.x0_px, x0), x1_px=min(r.x1_px, x1)) for r in rows]


def _evenly_spaced(rows: list[TraceRow]) -> list[TraceRow]:
    """The longest run of consecutive rows whose gaps are all 0.6-1.6 x the median gap."""
    if len(rows) < 3:
        return rows
    gaps = np.diff([r.baseline_px for r in rows])
    ok = (gaps >= 0.6 * np.median(gaps)) & (gaps <= 1.6 * np.median(gaps))
    best, start = (0, 0), 0
    for i, good in enumerate(list(ok) + [False]):
        if not good:
            if i - start > best[1] - best[0]:
                best = (start, i)
            start = i + 1
    return rows[best[0]:best[1] + 1]


# ---- calibration pulses ---------------------------------------------------------------------------
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


def page_is_upside_down(rows: list[TraceRow]) -> bool | None:
    """True when the rows' pulses hang below their baselines (at least two, and more than
    rise), False when they rise, None when no pulse tells."""
    up = sum(r.pulse.height_px > 0 for r in rows if r.pulse is not None)
    down = sum(r.pulse.height_px < 0 for r in rows if r.pulse is not None)
    if up == down == 0:
        return None
    return down >= 2 and down > up


# ---- layout -------------------------------------------------------------------------------------
ROW_LAYOUTS = {3: "3x4", 4: "3x4+1", 5: "3x4+2", 6: "3x4+3", 12: "12x1"}
EXTRA_RHYTHM = {"3x4+2": ("V1", "II")}  # seen on real pages; not a layout the renderer prints


def trace_plausibility(rows: list[TraceRow], k: tuple[float, float]) -> float:
    """How much the rows look like an ECG's at scale k (0..1): the rows' second longest about
    250 mm long (a 10-s row at 25 mm/s; short rows only count for a partial page of one or two
    rows), 9-70 mm apart, with pulses 5, 10 or 20 mm tall and 5 or 10 mm wide when there are
    any (two or more such pulses vouch for the scale even when the rows are short), on paper
    whose mm is about as tall as wide."""
    if not rows:
        return 0.0
    kx, ky = k
    lengths = np.sort([r.x1_px - r.x0_px for r in rows])
    # the second longest: a shadow or a fold shortens rows, and one row may still overreach
    typical = float(lengths[-2] if len(rows) >= 3 else np.median(lengths)) / kx
    if typical > 320:
        return 0.0
    score = float(np.exp(-0.5 * (np.log(typical / (ROW_TIME_S * 25.0)) / 0.1) ** 2))
    if len(rows) <= 2:
        score = max(score, 0.3)
    if len(rows) >= 2:
        pitch = float(np.median(np.diff([r.baseline_px for r in rows]))) / ky
        if not MIN_ROW_PITCH_MM <= pitch <= 70:
            return 0.0
    pulses = [r.pulse for r in rows if r.pulse is not None]
    if pulses:
        width = float(np.median([p.width_px for p in pulses])) / kx
        height = float(np.median([abs(p.height_px) for p in pulses])) / ky
        off = min(abs(np.log(width / (PULSE_S * s))) for s in SPEEDS_MM_S) + \
            min(abs(np.log(height / g)) for g in GAINS_MM_MV)
        if len(pulses) >= 2 and off <= 0.25:  # the pulses vouch for the scale when shadows shorten the rows
            score = max(score, 0.8)
        score *= float(np.clip(1.5 - off, 0.5, 1.0))
    score *= float(np.exp(-0.5 * (np.log(kx / ky) / 0.15) ** 2))  # the paper's mm is square
    return score * (0.5 + 0.5 * min(1.0, len(rows) / 3.0))


def ink_component_widths(ink: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The ink's 8-connected components: a label image (int32, 0 = no ink) and each label's
    width (px), for :func:`trace_continuity`."""
    _, labels, stats, _ = cv2.connectedComponentsWithStats(ink.astype(np.uint8), connectivity=8)
    return labels, stats[:, cv2.CC_STAT_WIDTH].astype(np.float64)


def trace_continuity(components: tuple[np.ndarray, np.ndarray], rows: list[TraceRow],
                     k: tuple[float, float]) -> float:
    """Are the rows drawn lines rather than written text? Per row, the widest ink component
    reaching within 3 mm of its baseline as a share of the row's extent; the median over the
    rows (0 without rows). A trace runs on for a panel or a whole row (scans 0.25-1; the most
    broken-up photographed traces of the shared real images still 0.06); a line of text falls
    apart into letters and words (0.01-0.03). ``components``: :func:`ink_component_widths`."""
    labels, widths = components
    h = labels.shape[0]
    shares = []
    for r in rows:
        b = round(r.baseline_px)
        band = labels[max(0, b - int(3 * k[1])):min(h, b + int(3 * k[1]) + 1),
                      max(0, int(r.x0_px)):int(r.x1_px) + 1]
        ids = np.unique(band[band > 0])
        shares.append(float(widths[ids].max()) / max(1.0, r.x1_px - r.x0_px) if len(ids) else 0.0)
    return float(np.median(shares)) if shares else 0.0


def fit_layout(faint: np.ndarray, rows: list[TraceRow], k: tuple[float, float],
               origin_px: tuple[float, float], grid_top_px: float | None) -> LayoutFit:
    """The layout and its panels (page mm: rectified px relative to ``origin_px`` over k).
    ``faint``: the page's faint ink (:func:`ink_maps`), where lead names are looked for."""
    kx, ky = k
    speed, gain = _paper_speed_gain(rows, k)
    n = len(rows)
    layout = ROW_LAYOUTS.get(n)
    layout_conf = 0.9 if layout else 0.2
    if layout is None:
        return LayoutFit(None, (), speed, gain, layout_conf, 0.0)
    row_s = ROW_TIME_S * min(1.0, 25.0 / speed)
    x0, x1 = _row_extent(rows, row_s * speed, kx)
    pitch = float(np.median(np.diff([r.baseline_px for r in rows]))) if n > 1 else 40.0 * ky
    labels = _labels(faint, rows, x0, pitch, k)
    if n == 6:
        layout, layout_conf = _six_rows(labels, rows, x0)
    cabrera, cab_conf = _cabrera(labels, rows, layout, x0)
    name = f"cabrera-{layout}" if cabrera else layout
    bands = _row_bands(rows, pitch, _baseline_fraction(rows, pitch, grid_top_px, ky))
    ox, oy = origin_px
    panels = []
    for r, (row, leads, (top, bottom)) in enumerate(zip(rows, _row_leads(layout, cabrera), bands)):
        col_s = row_s / len(leads)
        for c, lead in enumerate(leads):
            t0 = c * col_s
            bx0 = (x0 - ox) / kx + t0 * speed
            box = (bx0, (top - oy) / ky, bx0 + col_s * speed, (bottom - oy) / ky)
            panels.append(Panel(lead=lead, row=r, col=c, t0_s=round(t0, 6), t1_s=round(t0 + col_s, 6),
                                box_mm=tuple(round(v, 4) for v in box),  # type: ignore[arg-type]
                                baseline_mm=round((row.baseline_px - oy) / ky, 4), confidence=1.0))
    width_mm = (x1 - x0) / kx
    fits = float(np.clip(1.0 - abs(width_mm - row_s * speed) / (0.2 * row_s * speed), 0.0, 1.0))
    regular = _spacing_regularity(rows)
    panels_conf = round(float(np.clip(0.5 * fits + 0.5 * regular, 0, 1)), 3)
    panels = [Panel(p.lead, p.row, p.col, p.t0_s, p.t1_s, p.box_mm, p.baseline_mm, (), panels_conf)
              for p in panels]
    return LayoutFit(name, tuple(panels), speed, gain, round(layout_conf * (0.6 + 0.4 * cab_conf), 3),
                     panels_conf)


def _row_extent(rows: list[TraceRow], row_mm: float, kx: float) -> tuple[float, float]:
    """Where the rows' traces start and end (px). Ends measured past a found pulse are
    trusted first (median over those rows). Without a start pulse, a row longer than a full
    row (``row_mm``) still carries its unrecognised pulse at the start, so its start is taken
    from its end."""
    def pulse_side(r: TraceRow, start: bool) -> bool:
        return r.pulse is not None and ((r.pulse.x1_px <= r.x0_px + 1) if start else (r.pulse.x0_px >= r.x1_px - 1))

    with_start = [r.x0_px for r in rows if pulse_side(r, True)]
    ends = [r.x1_px for r in rows if pulse_side(r, False)] or [r.x1_px for r in rows]
    x1 = float(np.median(ends))
    if with_start:
        return float(np.median(with_start)), x1
    x0 = float(np.median([r.x0_px for r in rows]))
    if (x1 - x0) / kx > row_mm + 3.0:
        x0 = x1 - row_mm * kx
    return x0, x1


def _row_leads(layout: str, cabrera: bool) -> list[tuple[str, ...]]:
    """Lead names of each row, left to right (printed orders from ``core.labels``)."""
    limb = CABRERA_LIMB if cabrera else STANDARD_LIMB
    if layout == "12x1":
        return [(lead,) for lead in (*limb, *PRECORDIAL)]
    if layout == "6x2":
        return [(a, b) for a, b in zip(limb, PRECORDIAL)]
    columns = (limb[:3], limb[3:], PRECORDIAL[:3], PRECORDIAL[3:])
    rows = [tuple(columns[c][r] for c in range(4)) for r in range(3)]
    return rows + [(lead,) for lead in {**DEFAULT_RHYTHM, **EXTRA_RHYTHM}[layout]]


def _paper_speed_gain(rows: list[TraceRow], k: tuple[float, float]) -> tuple[float, float]:
    """Speed (mm/s) from the pulses' width and gain (mm/mV) from their height, snapped to the
    usual values; 25 mm/s and 10 mm/mV without pulses."""
    pulses = [r.pulse for r in rows if r.pulse is not None]
    if not pulses:
        return 25.0, 10.0
    width = float(np.median([p.width_px for p in pulses])) / k[0]
    height = float(np.median([abs(p.height_px) for p in pulses])) / k[1]
    speed = min(SPEEDS_MM_S, key=lambda s: abs(np.log(width / (PULSE_S * s))))
    gain = min(GAINS_MM_MV, key=lambda g: abs(np.log(height / g)))
    return float(speed), float(gain)


def _baseline_fraction(rows: list[TraceRow], pitch: float, grid_top_px: float | None, ky: float) -> float:
    """Where the baseline sits in its row (0 top .. 1 bottom): from the grid's top edge when
    the first row starts 2 mm below it (as most machines print), else 0.6."""
    if grid_top_px is not None:
        frac = (rows[0].baseline_px - grid_top_px - 2.0 * ky) / pitch
        if 0.35 <= frac <= 0.8:
            return float(frac)
    return 0.6


def _row_bands(rows: list[TraceRow], pitch: float, frac: float) -> list[tuple[float, float]]:
    """(top, bottom) px of each row's panels: a pitch-tall band with the baseline at ``frac``
    when the rows are evenly spaced (within 10 %); otherwise bands meeting halfway between
    neighbouring baselines (uneven rows, as a photo's residual perspective leaves them)."""
    ys = np.array([r.baseline_px for r in rows])
    gaps = np.diff(ys)
    if len(gaps) == 0 or gaps.max() - gaps.min() <= 0.1 * pitch:
        return [(y - frac * pitch, y + (1 - frac) * pitch) for y in ys]
    mids = (ys[1:] + ys[:-1]) / 2
    tops = np.r_[ys[0] - gaps[0] / 2, mids]
    bottoms = np.r_[mids, ys[-1] + gaps[-1] / 2]
    return list(zip(tops.tolist(), bottoms.tolist()))


def _spacing_regularity(rows: list[TraceRow]) -> float:
    """1 for evenly spaced rows, falling to 0 as the spacings spread by 25 %."""
    if len(rows) < 3:
        return 0.5
    d = np.diff([r.baseline_px for r in rows])
    return float(np.clip(1.0 - (d.max() - d.min()) / (0.25 * np.median(d)), 0.0, 1.0))


# ---- lead names and column boundaries -------------------------------------------------------------
def _small_components(ink: np.ndarray, k: tuple[float, float]) -> np.ndarray:
    """Bounding boxes (N, 4: x0, y0, x1, y1 px) of ink blobs the size of printed characters
    (0.8-5 mm tall, under 12 mm wide): lead names, separator ticks, digits."""
    kx, ky = k
    n, _, stats, _ = cv2.connectedComponentsWithStats(ink.astype(np.uint8), connectivity=8)
    s = stats[1:]
    keep = (s[:, cv2.CC_STAT_HEIGHT] >= 0.8 * ky) & (s[:, cv2.CC_STAT_HEIGHT] <= 5.5 * ky) & \
        (s[:, cv2.CC_STAT_WIDTH] <= 12 * kx) & (s[:, cv2.CC_STAT_AREA] >= 3)
    s = s[keep]
    return np.c_[s[:, 0], s[:, 1], s[:, 0] + s[:, 2], s[:, 1] + s[:, 3]].astype(np.float64)


@dataclass(frozen=True)
class _Labels:
    """Where a page prints its lead names: blobs (N, 4 px boxes), on which side of the
    baseline ('above' or 'below'), and how far from it they may sit (px)."""

    comps: np.ndarray
    side: str
    reach_px: float
    k: tuple[float, float]

    def width_mm(self, row: TraceRow, x_px: float) -> float:
        """Width (mm) of the name starting within 3 mm right of ``x_px`` on this page's side
        of the row's baseline: blobs chained while under 1.5 mm apart; 0 when none."""
        kx, ky = self.k
        c = self.comps
        if not len(c):
            return 0.0
        b = row.baseline_px
        if self.side == "above":
            on_side = (c[:, 3] < b - 0.8 * ky) & (c[:, 1] > b - self.reach_px)
        else:
            on_side = (c[:, 1] > b + 0.8 * ky) & (c[:, 3] < b + min(0.6 * self.reach_px, 10 * ky))
        side = c[on_side]
        start = side[(side[:, 0] >= x_px - 1.0 * kx) & (side[:, 0] <= x_px + 3.0 * kx)]
        if not len(start):
            return 0.0
        left, right = start[:, 0].min(), start[:, 2].max()
        while True:
            nxt = side[(side[:, 0] > right - 0.2 * kx) & (side[:, 0] <= right + 1.5 * kx) & (side[:, 2] > right)]
            if not len(nxt):
                break
            right = nxt[:, 2].max()
        return float((right - left) / kx)

    def tick(self, row: TraceRow, x_px: float) -> bool:
        """Is there a separator tick (a thin 4-6 mm stroke across the baseline) at x_px?"""
        kx, ky = self.k
        c = self.comps
        if not len(c):
            return False
        b = row.baseline_px
        hit = (np.abs((c[:, 0] + c[:, 2]) / 2 - x_px) <= 0.8 * kx) & (c[:, 2] - c[:, 0] <= 1.2 * kx) & \
            (c[:, 1] < b - 1.5 * ky) & (c[:, 3] > b + 1.5 * ky) & ((c[:, 3] - c[:, 1]) <= 7 * ky)
        return bool(hit.any())


def _labels(faint: np.ndarray, rows: list[TraceRow], x0: float, pitch: float, k: tuple[float, float]) -> _Labels:
    """The page's lead-name blobs (from the faint ink: names are small print) and the side of
    the baseline they are printed on: the side where more rows have a name at the start of
    their trace."""
    comps = _small_components(faint, k)
    reach = 0.8 * pitch
    counts = {side: sum(_Labels(comps, side, reach, k).width_mm(r, x0) > 0.3 for r in rows)
              for side in ("above", "below")}
    side = "below" if counts["below"] > counts["above"] else "above"
    return _Labels(comps, side, reach, k)


def _six_rows(labels: _Labels, rows: list[TraceRow], x0: float) -> tuple[str, float]:
    """3x4+3 or 6x2: names (or separator ticks) 62.5 and 187.5 mm into the first three rows
    say 3x4; names 125 mm into the last three rows say 6x2. The share of the places where
    each finds its marks decides (a missed mark is no evidence: a blurred photo loses most);
    a tie (mostly no mark seen at all) is read as 6x2: reading it as 3x4+3 instead won or lost a
    few pages by benchmark seed, 3 more right in all over ~1800 synthetic pages, a wash."""
    kx = labels.k[0]

    def mark(r: TraceRow, x: float) -> bool:
        return labels.width_mm(r, x) > 0.3 or labels.tick(r, x)

    quarter = sum(mark(r, x0 + q * 62.5 * kx) for r in rows[:3] for q in (1, 3)) / 6
    half_later = sum(mark(r, x0 + 125 * kx) for r in rows[3:]) / 3
    if quarter == half_later:
        return "6x2", 0.5
    if quarter > half_later:
        return "3x4+3", quarter / (quarter + half_later)
    return "6x2", half_later / (quarter + half_later)


def _cabrera(labels: _Labels, rows: list[TraceRow], layout: str, x0: float) -> tuple[bool, float]:
    """Cabrera order when the first limb-lead names alternate wide-narrow-wide (aVL, I, -aVR)
    instead of staying narrow (I, II, III) — and, on 3x4 pages, the second column's go
    narrow-wide-narrow (II, aVF, III) instead of wide (aVR, aVL, aVF); (decision, confidence)."""
    kx = labels.k[0]
    widths = [labels.width_mm(r, x0) for r in rows[:3]]
    standard, cab = [0, 0, 0], [1, 0, 1]
    if layout.startswith("3x4"):
        widths += [labels.width_mm(r, x0 + 62.5 * kx) for r in rows[:3]]
        standard, cab = standard + [1, 1, 1], cab + [0, 1, 0]
    seen = [(w >= 4.0, s, c) for w, s, c in zip(widths, standard, cab) if w > 0.3]
    if len(seen) < 3:
        return False, 0.3
    agree_std = sum(wide == bool(s) for wide, s, _ in seen)
    agree_cab = sum(wide == bool(c) for wide, _, c in seen)
    # Cabrera is rare: claim it only when every name seen (at least 4 on a 3x4 page) says so,
    # or all but one of five or more, with two more for Cabrera than for the standard order
    need = 4 if layout.startswith("3x4") else 3
    if (agree_cab == len(seen) and len(seen) >= need) or \
            (len(seen) >= 5 and agree_cab >= len(seen) - 1 and agree_cab >= agree_std + 2):
        return True, agree_cab / len(seen)
    return False, max(agree_std, len(seen) - agree_cab) / len(seen)
