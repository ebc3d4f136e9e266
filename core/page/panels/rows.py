"""Trace rows: peaks of the horizontal ink profile, kept when they look like a page's rows. Also
what ``detect`` asks of rows to choose a scale and turn the page: do they run across, which way
up are they, how much do they look like an ECG's, are they drawn lines rather than text.
"""
from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np
from scipy import ndimage as ndi
from scipy.signal import find_peaks

from core.page.panels.common import GAINS_MM_MV, MIN_ROW_PITCH_MM, PULSE_S, ROW_TIME_S, SPEEDS_MM_S, TraceRow
from core.page.panels.pulses import _with_pulse, find_pulse

DENSE_BAND_MM = 3.5  # a row whose median column holds more ink within 5 mm is a band of dense ink, not a trace


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
                              prominence=0.2 * _row_level(ink, smooth, ky))
    found = []
    for i, y in enumerate(peaks):
        gaps = np.diff(peaks)
        near = min([g for g in (gaps[i - 1] if i > 0 else None, gaps[i] if i < len(gaps) else None) if g]
                   or [40 * ky])
        row = _trace_row(ink, float(y), k, float(near))
        if row is not None and (row.pulse is not None or
                                _ink_depth_mm(ink, row.baseline_px, ky, int(row.x0_px), int(row.x1_px) + 1) <= DENSE_BAND_MM):
            found.append((row, float(near)))
    rows = [r for r in _pulses_where_the_others_have_theirs(ink, found, k)
            if r.pulse is not None or grid is None or grid[0] - 4 * ky <= r.baseline_px <= grid[1] + 4 * ky]
    return _regular_rows(ink, rows, k)


def _ink_depth_mm(ink: np.ndarray, y: float, ky: float, x0: int = 0, x1: int | None = None) -> float:
    """How much ink the median column holds within 5 mm of height ``y`` (mm), over columns
    x0..x1: a trace's line ~0.5 mm, a bold trace with tremor ~3 mm, a band of dense ink (a
    scanner's shadowed edge, speckle along the paper's edge, a table) more."""
    reach = int(round(5 * ky))
    band = ink[max(0, int(y) - reach):int(y) + reach + 1, x0:x1]
    return float(np.median(band.sum(axis=0))) / ky if band.size else 0.0


def _row_level(ink: np.ndarray, smooth: np.ndarray, ky: float) -> float:
    """The height of the tallest profile peak drawn by thin lines (:func:`_ink_depth_mm` at
    most 1.5 mm), the level rows are measured against: a band of dense ink stands three to
    five times taller than a trace row in the profile and would hide every row under it. The
    profile's own maximum when no peak is thin."""
    peaks, _ = find_peaks(smooth, distance=max(2, int(MIN_ROW_PITCH_MM * ky)), prominence=0.05 * smooth.max())
    thin = [smooth[y] for y in peaks if _ink_depth_mm(ink, y, ky) <= 1.5]
    return float(max(thin)) if thin else float(smooth.max())


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


def page_is_upside_down(rows: list[TraceRow]) -> bool | None:
    """True when the rows' pulses hang below their baselines (at least two, and more than
    rise), False when they rise, None when no pulse tells."""
    up = sum(r.pulse.height_px > 0 for r in rows if r.pulse is not None)
    down = sum(r.pulse.height_px < 0 for r in rows if r.pulse is not None)
    if up == down == 0:
        return None
    return down >= 2 and down > up


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
