"""Read each printed lead back as a signal, from the image at full resolution.

The network's decoder sees the page at its 896 x 448 input, where one 10-ms sample is under a
pixel and one mV about 20 px; this reader works on the image as loaded. Each trace row is
resampled through the page geometry (``page_to_image``) onto a strip in paper millimetres at up
to ``MAX_PX_PER_MM``, so a tilted or photographed row is read along its own axes, and its trace
is followed column by column:

1. **Ink.** Darkness of the brightest colour channel against the local paper white (a closing
   ``PAPER_MM`` wide: it takes strokes and grid out but follows a shadow's edge): a black or
   blue trace is dark in every channel, a red, pink, green or orange grid is bright in at least
   one. What is left of the grid (grey and black grids) is taken out by a morphological opening
   along and across the strip: a grid line runs straight across it, a trace's flat stretches
   are broken by a QRS at least every ~1.5 s. The scale is the darkest print inside the boxes.
2. **Runs.** In each column the inked pixels form vertical runs: a flat stretch of trace gives
   one as thick as the pen, a QRS stroke one as tall as the complex; a run taller than the row
   pitch is a shadow's or the paper's edge and is dropped.
3. **Path.** Dynamic programming picks one run per column or none (``_best_path``): covered
   ink earns, vertical gaps between runs and skipped columns cost, and so does distance from
   the row's baseline, so strokes are followed whole and a label or a neighbour's complex is
   skipped; a level band many pens thick (a shadow's edge, a marker's stroke) earns little.
   Gaps up to ``MAX_GAP_MM`` are bridged; longer ones stay gaps.
4. **Value.** Where the chosen run is the pen's thickness, its centre; where it is a stroke, the
   end that reaches beyond both neighbouring columns, or the first of two columns as tall as
   each other (an R peak or S trough is the tip of the stroke, not its middle), else its centre.
5. **Time and voltage.** ``core.page.timing`` finds where the row's trace starts and ends and
   ``core.page.ruler`` reads paper mm off the grid; 0 mV is the trace's most frequent level
   (the isoelectric TP and PR segments), not the geometry's baseline, which the page reader only
   estimates when the grid's top edge is hidden.
6. **Not this lead.** Samples further from the baseline than the row pitch, or a quarter of it
   for longer than 0.2 s, are dropped: a path held there is on a neighbour's trace, the header
   or a shadow.

Every sample has a confidence (how strongly its run is inked, lowered where the path had to
choose between runs, 0 in gaps); samples in gaps are NaN, never invented.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import cv2
import numpy as np

from core.labels import LEADS, canonical_lead, lead_sign
from core.page.geometry import Geometry, Panel
from core.page.ruler import grid_ruler
from core.page.timing import ANCHOR_MM, HOLE_MM, MAX_SPEED_ERROR, SEARCH_MM, time_axis, trace_extent

#: What the leads are, in the words the review window shows beneath them.
READING_NOTE = ("Leads read from the image at full resolution, each row timed from its own trace; "
                "where the trace could not be followed the lead is left empty. On the studio's pages "
                "they match the printed signal closely on clean prints, less on scans and least on "
                "photographs (docs/page.md, 'Reading the leads'): check intervals and amplitudes "
                "against the page.")
# 0.2 mm: 8 ms at 25 mm/s, 0.02 mV at 10 mm/mV; on 8 clean val pages 11.1 dB in 0.33 s a page,
# 11.4 dB in 0.43 s at 6 px/mm
MAX_PX_PER_MM = 5.0
MIN_PX_PER_MM = 4.0    # below the image's own resolution the strip only interpolates
MAX_GAP_MM = 2.0       # a trace broken for longer than this (0.08 s at 25 mm/s) is a gap
PAPER_MM = 2.5         # paper white: a closing this wide removes strokes and grid, keeps shadows
TALLEST_RUN_PITCHES = 1.0   # a vertical run taller than the row pitch is an edge, not a stroke
FAR_PITCHES = 0.25     # a path this far from the baseline (a quarter of the row pitch) ...
FAR_FOR_S = 0.2        # ... for longer than this is not on its lead (on 10 val photo pages: -8.5 -> -3.5 dB)
# the first and last samples' centres this far inside the ink's ends: on 8 val pages each, clean
# and scan at 100, 200 and 300 dpi, the row's start and end within 0.1 strip column of the truth;
# a quarter and half a pen width had put the end a column late, the leads 2-5 ms early, more in
# later columns (10 clean val pages, true panels: 9.7 -> 12.3 dB)
INSET_MM = 0.1
FINE_PX_PER_MM = 20.0  # where a row's ink ends is read this finely (0.05 mm, 2 ms)
EDGE_MIN_STEP = 10.0   # grey levels between a trace and the gap beyond it for an edge to be read
# the ruler reads the grid on its own strip at this many times the strip's scale: at a whole
# number of px per mm every 1-mm line falls at one sub-pixel phase, and the peaks' pull towards
# pixel centres held a bend back (a val clean page's rows bent 0.10 mm mid-row by the reader's
# homography: 0.05 mm left at 5 px/mm, 0.003 mm at 6.85; 16 val pages, reader's panels, clean
# 9.6 -> 9.9 dB)
RULER_SCALE = 1.37
AGREE_MM = 1.0         # a row timed further than this (40 ms) off the others takes their line
INK_LEVEL = 0.35       # ink score (0..1 of the page's darkest print) that counts as trace
# a level run this many times thicker than most runs (the pen) loses THICK_COST of its strength
# (val pages, true panels, at 500 Hz: 16 photos -3.7 -> -2.3 dB, 40 photos -1.9 -> -1.4 dB, scans
# and clean unchanged; at 2.5 and 3 pens a thick stretch of the trace itself went too: scans
# 5.0 -> 3.6 dB)
THICK_PENS = 5.0
THICK_COST = 1.0
SKIP_COST = 0.5        # per column the path leaves uninked (a covered, well-inked column earns ~1)
RESTART_COST = 5.0     # to start again after a gap longer than MAX_GAP_MM


def strip_scale(geometry: Geometry) -> float:
    """px per paper mm of the strips: the image's own, within MIN/MAX_PX_PER_MM."""
    native = max(geometry.px_per_mm_xy) if geometry.px_per_mm_xy else MIN_PX_PER_MM
    return float(np.clip(native, MIN_PX_PER_MM, MAX_PX_PER_MM))


def panel_strip(rgb: np.ndarray, geometry: Geometry, panel: Panel, px_per_mm: float,
                reach: float = 0.5) -> tuple[np.ndarray, float]:
    """The panel's area resampled to a strip of paper mm at ``px_per_mm``, reaching ``reach`` of
    the box's height above and below it. Returns (strip (h, w, 3) uint8, y of the geometry's
    baseline in strip px)."""
    x0, y0, x1, y1 = panel.box_mm
    pad = reach * (y1 - y0)
    top, bottom = y0 - pad, y1 + pad
    w, h = max(int(round((x1 - x0) * px_per_mm)), 2), max(int(round((bottom - top) * px_per_mm)), 2)
    strip_to_page = np.array([[1 / px_per_mm, 0, x0], [0, 1 / px_per_mm, top], [0, 0, 1]])
    strip_to_image = np.asarray(geometry.page_to_image, np.float64) @ strip_to_page
    strip = cv2.warpPerspective(rgb, strip_to_image, (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                borderMode=cv2.BORDER_REPLICATE)
    return strip, (panel.baseline_mm - top) * px_per_mm


def ink_score(strip: np.ndarray, px_per_mm: float, inside: tuple[slice, slice] | None = None) -> np.ndarray:
    """(h, w) float32 0..1: how much darker than the paper each pixel is, in the brightest
    channel, with long straight lines (the grid) taken out. ``inside``: the part of the strip
    whose darkest print sets the scale (the panels' boxes; a dark table beyond the paper's edge
    in the margins would otherwise set it, and a faint trace fall below ``INK_LEVEL``)."""
    bright = strip.max(axis=2).astype(np.float32)
    # paper white: a closing wider than any stroke is thick (2.5 mm) takes the trace and grid
    # out but follows a shadow's edge, which a dilation over 6 mm had read as ink
    k = max(int(round(PAPER_MM * px_per_mm)) | 1, 3)
    paper = cv2.morphologyEx(bright, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (k, k)))
    paper = cv2.blur(paper, (k, k))
    dark = paper - bright
    level = max(float(np.percentile(dark if inside is None else dark[inside], 99.5)), 20.0)
    score = np.clip(dark / level, 0.0, 1.0)
    # a grid line runs straight across the strip; a trace's flat stretches are broken by a QRS
    # at least every ~1.5 s (37 mm at 25 mm/s) and its strokes are rarely 25 mm tall
    along = cv2.getStructuringElement(cv2.MORPH_RECT, (max(int(30 * px_per_mm), 3), 1))
    across = cv2.getStructuringElement(cv2.MORPH_RECT, (1, max(int(25 * px_per_mm), 3)))
    lines = np.maximum(cv2.morphologyEx(score, cv2.MORPH_OPEN, along), cv2.morphologyEx(score, cv2.MORPH_OPEN, across))
    return np.clip(score - lines, 0.0, 1.0)


def column_runs(inked: np.ndarray, score: np.ndarray, tallest: float
                ) -> tuple[list[list[tuple[int, int]]], list[list[float]]]:
    """Per column, its inked runs (top, bottom inclusive) shorter than ``tallest`` px and each
    run's mean score: all columns at once (per-column numpy calls cost a second a page)."""
    h, w = inked.shape
    edges = np.diff(np.vstack([np.zeros((1, w), np.int8), inked.astype(np.int8), np.zeros((1, w), np.int8)]), axis=0)
    top_y, top_x = np.nonzero(edges.T == 1)      # column-major: runs come out column by column, top down
    end_y, end_x = np.nonzero(edges.T == -1)
    bottom = end_x - 1
    top = top_x
    sums = np.vstack([np.zeros((1, w)), np.cumsum(score, axis=0, dtype=np.float64)])
    strength = (sums[bottom + 1, top_y] - sums[top, top_y]) / (bottom - top + 1)
    keep = (bottom - top) < tallest
    runs: list[list[tuple[int, int]]] = [[] for _ in range(w)]
    strengths: list[list[float]] = [[] for _ in range(w)]
    for x, a, b, v in zip(top_y[keep].tolist(), top[keep].tolist(), bottom[keep].tolist(), strength[keep].tolist()):
        runs[x].append((a, b))
        strengths[x].append(v)
    return runs, strengths


def trace_path(score: np.ndarray, baseline_px: float, pitch_px: float, px_per_mm: float
               ) -> tuple[np.ndarray, np.ndarray]:
    """The trace's y (strip px) and confidence per column of ``score``, NaN (confidence 0)
    wherever the column holds no ink of the path."""
    h, w = score.shape
    # a run taller than the row pitch is a shadow's or the paper's edge, not a stroke
    runs, strengths = column_runs(score >= INK_LEVEL, score, TALLEST_RUN_PITCHES * pitch_px)
    chosen = _best_path(runs, _level_bands_discounted(runs, strengths), baseline_px, max(pitch_px, 1.0), px_per_mm)
    y = np.full(w, np.nan)
    conf = np.zeros(w, np.float32)
    thick = _pen_thickness(chosen)
    tips_up, tips_down = _tips(chosen, score, thick, -1), _tips(chosen, score, thick, +1)
    for x, run in enumerate(chosen):
        if run is None:
            continue
        a, b = run
        others = len(runs[x]) - 1
        conf[x] = strengths[x][runs[x].index(run)] / (1 + 0.5 * others)
        if b - a + 1 <= 1.5 * thick:
            y[x] = (a + b) / 2
            continue
        # a stroke's tip reaches beyond both neighbours; a narrow R wave is often printed as one
        # run from the baseline to its apex in two columns as tall as each other, and then the
        # one with more ink at that end holds the apex (taking both runs' middles read scanned
        # R waves at two thirds of their height; giving both the apex widened every R wave by a
        # column; always the first read every R wave half a column early, and scans' leads 4 ms
        # early: 16 val scans, true panels, 4.9 -> 5.8 dB)
        up, down = tips_up[x], tips_down[x]
        if up and down:
            up, down = (True, False) if baseline_px - a > b - baseline_px else (False, True)
        y[x] = a + thick / 2 if up else b - thick / 2 if down else (a + b) / 2
    return y, conf


def _level_bands_discounted(runs: list[list[tuple[int, int]]], strengths: list[list[float]]) -> list[list[float]]:
    """Strengths with ``THICK_COST`` taken off runs that are part of a thick level band: much
    thicker than most runs (the pen) and level with a run in both neighbouring columns. A
    trace is that tall only where it climbs or falls, and then its neighbours sit higher or
    lower; a dark band along the strip (a shadow's edge in a photo, a marker's stroke) is thick
    and level, and its darker ink drew the path off the trace along it."""
    heights = [b - a + 1 for col in runs for a, b in col]
    if not heights:
        return strengths
    thick = THICK_PENS * float(np.percentile(heights, 25))
    out = []
    for x, (col, strength) in enumerate(zip(runs, strengths)):
        inner = 0 < x < len(runs) - 1
        row = []
        for (a, b), v in zip(col, strength):
            level = inner and b - a + 1 > thick and all(
                any(abs(a - pa) <= 1 and abs(b - pb) <= 1 for pa, pb in runs[k]) for k in (x - 1, x + 1))
            row.append(v - THICK_COST if level else v)
        out.append(row)
    return out


def _tips(chosen: list[tuple[int, int] | None], score: np.ndarray, thick: float, outward: int) -> np.ndarray:
    """Per column, whether its run's end (top: ``outward`` -1, bottom: +1) is a stroke's tip:
    of a stretch of columns whose ends are level and reach beyond the columns on either side,
    the one with the most ink within a pen's width of that end (the first of equals)."""
    w = len(chosen)
    out = np.zeros(w, bool)
    ends = [None if r is None else (r[0] if outward < 0 else r[1]) for r in chosen]
    pen = max(int(round(thick)), 1)
    x = 1
    while x < w - 1:
        if ends[x] is None or ends[x - 1] is None or outward * (ends[x] - ends[x - 1]) <= 0:
            x += 1
            continue
        last = x
        while last + 1 < w and ends[last + 1] == ends[x]:
            last += 1
        if last + 1 < w and ends[last + 1] is not None and outward * (ends[x] - ends[last + 1]) > 0:
            lo, hi = (ends[x], ends[x] + pen) if outward < 0 else (ends[x] - pen + 1, ends[x] + 1)
            ink = score[lo:hi, x:last + 1].sum(axis=0)
            out[x + int(np.argmax(ink))] = True
        x = last + 1
    return out


def _best_path(runs: list[list[tuple[int, int]]], strengths: list[list[float]], baseline_px: float,
               pitch_px: float, px_per_mm: float) -> list[tuple[int, int] | None]:
    """One run per column or none, by dynamic programming. A covered column earns its ink
    strength and pays its distance from the panel's baseline (in row pitches); a step pays the
    vertical gap between the runs (mm) and ``SKIP_COST`` per column skipped, so a lead label or
    a neighbour's complex is crossed by skipping rather than visited. Plain Python: there are
    only a few runs per column, and small numpy calls would cost more than the arithmetic."""
    w = len(runs)
    max_gap = max(int(round(MAX_GAP_MM * px_per_mm)), 1)
    per_mm = 1.0 / px_per_mm
    cost: list[list[float]] = [[] for _ in range(w)]
    back: list[list[tuple[int, int] | None]] = [[] for _ in range(w)]
    best_upto = [0.0] * w   # cheapest path ending at or before each column
    best_at: list[tuple[int, int] | None] = [None] * w
    inked_cols: list[int] = []
    for x in range(w):
        cur = runs[x]
        if cur:
            before = x - max_gap - 1
            start = (best_upto[before] if before >= 0 else 0.0) + (RESTART_COST if inked_cols else 0.0)
            start_at = best_at[before] if before >= 0 else None
            lookback = [(px, SKIP_COST * (x - px - 1), runs[px], cost[px]) for px in inked_cols[-max_gap:]
                        if x - px <= max_gap + 1]
            costs_here, backs_here = cost[x], back[x]
            for (top, bottom), strength in zip(cur, strengths[x]):
                off = abs((top + bottom) * 0.5 - baseline_px) / pitch_px
                off = off if off < 3.0 else 3.0
                best, arg = start, start_at
                for px, skip, prev_runs, prev_costs in lookback:
                    for j, (pt, pb) in enumerate(prev_runs):
                        gap = top - pb - 1 if top - pb - 1 > pt - bottom - 1 else pt - bottom - 1
                        c = prev_costs[j] + skip + (gap * per_mm if gap > 0 else 0.0)
                        if c < best:
                            best, arg = c, (px, j)
                costs_here.append(best + 0.5 * off * off - strength)
                backs_here.append(arg)
            inked_cols.append(x)
            here = min(costs_here)
            prev = best_upto[x - 1] if x else float("inf")
            if here < prev:
                best_upto[x], best_at[x] = here, (x, costs_here.index(here))
                continue
        if x:
            best_upto[x], best_at[x] = best_upto[x - 1], best_at[x - 1]
        else:
            best_upto[x], best_at[x] = 0.0, None
    chosen: list[tuple[int, int] | None] = [None] * w
    node = best_at[w - 1] if w else None
    while node is not None:
        x, i = node
        chosen[x] = runs[x][i]
        node = back[x][i]
    return chosen


def _pen_thickness(chosen: list[tuple[int, int] | None]) -> float:
    heights = [b - a + 1 for r in chosen if r is not None for a, b in [r]]
    return float(np.percentile(heights, 25)) if heights else 1.0


def _bridge(y: np.ndarray, max_gap: int) -> np.ndarray:
    """Interpolate across gaps of at most ``max_gap`` columns; longer gaps stay NaN."""
    known = np.flatnonzero(np.isfinite(y))
    if len(known) < 2:
        return y
    out = y.copy()
    for a, b in zip(known[:-1], known[1:]):
        if 1 < b - a <= max_gap + 1:
            out[a + 1:b] = np.interp(np.arange(a + 1, b), [a, b], [y[a], y[b]])
    return out


def isoelectric_level(y: np.ndarray, px_per_mm: float) -> float:
    """The trace's most frequent level (strip px): where TP and PR segments lie."""
    v = y[np.isfinite(y)]
    if not len(v):
        return float("nan")
    step = max(px_per_mm / 10, 0.5)   # 0.1-mm bins
    bins = np.arange(v.min(), v.max() + 2 * step, step)
    hist, edges = np.histogram(v, bins)
    hist = np.convolve(hist, np.ones(5), mode="same")
    return float(edges[int(np.argmax(hist))] + step / 2)


@dataclass(frozen=True)
class RowReading:
    """One trace row followed across a strip reaching ``SEARCH_MM`` (and the speed tolerance)
    beyond the reader's boxes. x0_mm: the reader's page x of strip column 0. y_px, confidence:
    per strip column (NaN / 0 where no trace). paper_x_mm: the grid's mm at each strip column
    (``core.page.ruler``; a uniform scale where no grid is read).
    zero_px: the isoelectric level. column_at: record time (s) -> strip column. registered:
    whether that time axis was read from the trace's extent."""

    x0_mm: float
    top_mm: float
    px_per_mm: float
    y_px: np.ndarray
    confidence: np.ndarray
    paper_x_mm: np.ndarray
    zero_px: float
    column_at: Callable[[float], float]
    registered: bool
    t_span_s: tuple[float, float] = (0.0, 10.0)
    speed_mm_s: float = 25.0

    def retimed(self, start_x_mm: float, end_x_mm: float) -> "RowReading":
        """The row with its time running from ``start_x_mm`` to ``end_x_mm`` (page x)."""
        start = (start_x_mm - self.x0_mm) * self.px_per_mm
        end = (end_x_mm - self.x0_mm) * self.px_per_mm
        column_at, ok = time_axis(start, end, self.paper_x_mm, *self.t_span_s, self.speed_mm_s, self.column_at)
        return replace(self, column_at=column_at, registered=ok)

    def x_mm_at(self, t_s: float) -> float:
        """The reader's page x (mm) where record time ``t_s`` is printed."""
        return float(self.x0_mm + self.column_at(t_s) / self.px_per_mm)

    def mv_at(self, times_s: np.ndarray, gain_mm_mv: float) -> tuple[np.ndarray, np.ndarray]:
        """mV (NaN in gaps) and confidence at record times ``times_s``."""
        cols = np.asarray(self.column_at(np.asarray(times_s, np.float64)), np.float64)  # column_at takes arrays
        xs = np.arange(len(self.y_px))
        ok = np.isfinite(self.y_px)
        if ok.sum() < 2:
            return np.full(len(cols), np.nan, np.float32), np.zeros(len(cols), np.float32)
        nearest = np.clip(np.round(cols).astype(int), 0, len(xs) - 1)
        y = np.interp(cols, xs[ok], self.y_px[ok])
        y[~ok[nearest] | (cols < 0) | (cols > len(xs) - 1)] = np.nan
        mv = (self.zero_px - y) / self.px_per_mm / gain_mm_mv
        return mv.astype(np.float32), np.where(np.isfinite(mv), self.confidence[nearest], 0).astype(np.float32)


def read_row(rgb: np.ndarray, geometry: Geometry, row: Sequence[Panel], px_per_mm: float) -> RowReading:
    """Follow one row of panels (same ``row``) across the image, find where its trace starts
    and ends, and read the grid's ruler along it."""
    x0 = min(p.box_mm[0] for p in row)
    x1 = max(p.box_mm[2] for p in row)
    first = row[int(np.argmin([p.box_mm[0] for p in row]))]
    reach = SEARCH_MM + MAX_SPEED_ERROR * (x1 - x0)   # a scale error moves the far end furthest
    span = replace(first, box_mm=(x0 - reach, first.box_mm[1], x1 + reach, first.box_mm[3]))
    strip, baseline_px = panel_strip(rgb, geometry, span, px_per_mm)
    top_mm = first.box_mm[1] - 0.5 * (first.box_mm[3] - first.box_mm[1])   # strip row 0, as panel_strip reaches
    h = (first.box_mm[3] - first.box_mm[1]) * px_per_mm
    boxes = (slice(int(0.5 * h), int(1.5 * h)), slice(int(reach * px_per_mm), int((reach + x1 - x0) * px_per_mm)))
    score = ink_score(strip, px_per_mm, boxes)
    pitch_px = h
    y, conf = trace_path(score, baseline_px, pitch_px, px_per_mm)
    zero = isoelectric_level(y[boxes[1]], px_per_mm)   # within the boxes: the margins hold other ink
    columns = np.arange(strip.shape[1], dtype=np.float64)
    ruler_px_per_mm = px_per_mm * RULER_SCALE
    on_ruler = grid_ruler(panel_strip(rgb, geometry, span, ruler_px_per_mm)[0], ruler_px_per_mm)
    paper_x = (columns / px_per_mm if on_ruler is None
               else np.interp(columns * RULER_SCALE, np.arange(len(on_ruler)), on_ruler))
    t0, t1 = min(p.t0_s for p in row), max(p.t1_s for p in row)
    start = end = None
    if np.isfinite(zero):
        height_mm = (zero - y) / px_per_mm
        start, end = trace_extent(height_mm, int(round((reach + ANCHOR_MM) * px_per_mm)),
                                  int(round((reach + x1 - x0 - ANCHOR_MM) * px_per_mm)), px_per_mm)
        start, end = (None if col is None else _sample_column(rgb, geometry, y, col, outward, x0 - reach, top_mm,
                                                             px_per_mm)
                      for col, outward in ((start, -1), (end, +1)))
    mm_per_s = (x1 - x0) / (t1 - t0)
    as_placed = lambda t: (reach + (t - t0) * mm_per_s) * px_per_mm  # noqa: E731
    column_at, registered = time_axis(start, end, paper_x, t0, t1, geometry.speed_mm_s, as_placed)
    bridged = _bridge(y, int(round(MAX_GAP_MM * px_per_mm)))
    conf = np.where(np.isfinite(bridged) & ~np.isfinite(y), 0.5 * INK_LEVEL, conf).astype(np.float32)
    return RowReading(x0 - reach, top_mm, px_per_mm, bridged, conf, paper_x, zero, column_at, registered,
                      (t0, t1), geometry.speed_mm_s)


def _sample_column(rgb: np.ndarray, geometry: Geometry, y: np.ndarray, col: int, outward: int,
                   x0_mm: float, top_mm: float, px_per_mm: float) -> float:
    """The fractional strip column of a row's first (``outward`` -1) or last (+1) sample, whose
    ink ends at column ``col``: ``INSET_MM`` inside the ink's edge, read to a twentieth of a mm
    (``ink_edge_mm``) where the ink stops there, else at the column's edge (a pulse's edge,
    where the trace runs on, or no edge read). At column resolution the reader's rows, which
    fall at any phase of the strip's columns, were timed 0.07 mm (3 ms) apart from the truth
    (10 clean val pages), the true geometry's, phase-aligned, not; 16 val pages, reader's
    panels: clean 9.9 -> 10.4 dB, scans 3.2 -> 3.3 dB."""
    hole = max(int(round(HOLE_MM * px_per_mm)), 1)
    beyond = y[col + 1:col + hole + 1] if outward > 0 else y[max(col - hole, 0):col]
    coarse = col + outward * (0.5 - INSET_MM * px_per_mm)
    if np.isfinite(beyond).any() or not np.isfinite(y[col]):
        return coarse
    edge_mm = ink_edge_mm(rgb, geometry, x0_mm + col / px_per_mm, top_mm + y[col] / px_per_mm, outward)
    return coarse if edge_mm is None else (edge_mm - x0_mm) * px_per_mm - outward * INSET_MM * px_per_mm


def ink_edge_mm(rgb: np.ndarray, geometry: Geometry, x_mm: float, y_mm: float, outward: int) -> float | None:
    """Page x (mm) where a trace's ink ends near page point (``x_mm``, ``y_mm``) going
    ``outward`` (+1 right, -1 left), read at ``FINE_PX_PER_MM`` on a 4-mm patch: where the
    line's darkness falls halfway from the trace's (0.3-1 mm inside) to the gap's (within
    0.6 mm beyond); None where there is no such step."""
    r, half = FINE_PX_PER_MM, 2.0
    n = int(2 * half * r)
    to_page = np.array([[1 / r, 0, x_mm - half], [0, 1 / r, y_mm - half], [0, 0, 1]])
    patch = cv2.warpPerspective(rgb, np.asarray(geometry.page_to_image, np.float64) @ to_page, (n, n),
                                flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE)
    bright = patch.max(axis=2).astype(np.float32)
    dark = np.percentile(bright, 90) - bright
    dark -= np.median(dark, axis=0, keepdims=True)   # a vertical grid line darkens its whole column
    band = dark[max(n // 2 - int(r), 0):n // 2 + int(r) + 1]   # 1 mm above and below the trace
    profile = band.max(axis=0)
    along = outward * (np.arange(n) / r - half)          # mm from x_mm, outwards
    inner, outer = (along > -1.0) & (along < -0.3), (along > 0.0) & (along < 0.6)
    hi, lo = float(np.median(profile[inner])), float(profile[outer].min())
    if hi - lo < EDGE_MIN_STEP:
        return None
    level = (hi + lo) / 2
    walk = np.flatnonzero((along >= -0.3) & (along <= 0.6))[::outward]
    if profile[walk[0]] < level:
        return None
    below = np.flatnonzero(profile[walk] < level)
    if not len(below):
        return None
    i, j = walk[below[0] - 1], walk[below[0]]
    frac = (profile[i] - level) / max(profile[i] - profile[j], 1e-6)
    return float(x_mm + outward * (along[i] + frac / r))


#: The rate ``analyze`` reads the leads at: the records' own (PTB-XL, LUDB: 500 Hz) and the
#: Challenge's SNR rate; 2 ms a sample is fine enough for 10-ms intervals, where the network
#: decoder's 100 Hz is not. A 200-dpi print holds about 5 ms a pixel column at 25 mm/s.
READ_FS_HZ = 500.0


@dataclass(frozen=True)
class PageReading:
    """The leads read from a page. geometry: the reader's, with each row's panels moved onto
    its printed trace (time registration). signals: (12, n) mV, NaN where no lead is printed or
    no trace was found. confidence: (12, n) 0..1. registered_rows: rows whose time axis was
    read from the trace, of all rows."""

    geometry: Geometry
    signals: np.ndarray
    confidence: np.ndarray
    fs: float
    registered_rows: tuple[int, int]


def read_page(rgb: np.ndarray, geometry: Geometry, fs: float = 100.0, n_samples: int = 1000,
              px_per_mm: float | None = None) -> PageReading:
    """Read every panel's lead from the image (as loaded) and register each row's time; where
    two panels show the same lead at the same time (a rhythm strip), the panel with more
    confident samples gives it and the other fills its gaps."""
    signals = np.full((len(LEADS), n_samples), np.nan, np.float32)
    confidence = np.zeros((len(LEADS), n_samples), np.float32)
    if geometry.page_to_image is None or not geometry.panels:
        return PageReading(geometry, signals, confidence, fs, (0, 0))
    r = px_per_mm or strip_scale(geometry)
    panels = list(geometry.panels)
    rows = sorted({p.row for p in panels})
    members_of = {row: [i for i, p in enumerate(panels) if p.row == row] for row in rows}
    readings = {row: read_row(rgb, geometry, [panels[i] for i in members_of[row]], r) for row in rows}
    readings = _agreed(readings, {row: panels[members_of[row][0]] for row in rows})
    registered = sum(rd.registered for rd in readings.values())
    readings_of: dict[int, list[tuple[float, np.ndarray, np.ndarray, np.ndarray]]] = {}
    for row in rows:
        reading, members = readings[row], members_of[row]
        for i in members:
            p = panels[i]
            n = int(round((p.t1_s - p.t0_s) * fs))
            mv, conf = reading.mv_at(p.t0_s + np.arange(n) / fs, geometry.gain_mm_mv)
            wild = _off_row(mv, (p.box_mm[3] - p.box_mm[1]) / geometry.gain_mm_mv, fs)
            mv[wild], conf[wild] = np.nan, 0.0
            mv *= lead_sign(geometry.layout, p.lead)   # a Cabrera page prints -aVR
            lead = LEADS.index(canonical_lead(p.lead))
            idx = int(round(p.t0_s * fs)) + np.arange(n)
            keep = (idx >= 0) & (idx < n_samples)
            readings_of.setdefault(lead, []).append((float(conf[keep].sum()), idx[keep], mv[keep], conf[keep]))
            if reading.registered:
                p = replace(p, box_mm=(reading.x_mm_at(p.t0_s), p.box_mm[1], reading.x_mm_at(p.t1_s), p.box_mm[3]))
            if np.isfinite(reading.zero_px):   # 0 mV where the trace's isoelectric line is printed
                p = replace(p, baseline_mm=reading.top_mm + reading.zero_px / reading.px_per_mm)
            panels[i] = p
    # where two panels print one lead at the same time (a rhythm strip), the panel with more
    # confident samples in all (the longer one, unless it is mostly lost) gives the lead and the
    # other only fills its gaps: switching sample by sample, or at the shorter panel's end, put
    # steps into the lead where the two readings' baselines or timing differ, which read as beats
    for lead, found in readings_of.items():
        for _, idx, mv, conf in sorted(found, key=lambda f: f[0]):
            read = np.isfinite(mv)
            signals[lead, idx[read]] = mv[read]
            confidence[lead, idx[read]] = conf[read]
    moved = Geometry.from_homography(geometry.image_size, geometry.layout, geometry.speed_mm_s, geometry.gain_mm_mv,
                                     geometry.page_to_image, tuple(panels), geometry.confidence)
    return PageReading(moved, signals, confidence, fs, (registered, len(rows)))


def _agreed(readings: dict[int, RowReading], first: dict[int, Panel]) -> dict[int, RowReading]:
    """Rows that print the same stretch of time start and end on one line down the page
    (time-aligned printouts; the line leans with what is left of the page's rotation). With
    three or more such rows timed from their trace, a line is fitted through their starts and
    one through their ends; a row more than ``AGREE_MM`` off either (its walk stopped at a break
    in the ink, or ran into a neighbour) and a row not timed at all take the lines' places."""
    spans = [rd.t_span_s for rd in readings.values()]
    common = max(set(spans), key=spans.count)
    same = [row for row, rd in readings.items() if rd.t_span_s == common]
    timed = [row for row in same if readings[row].registered]
    if len(timed) < 3:
        return readings
    y = {row: (first[row].box_mm[1] + first[row].box_mm[3]) / 2 for row in same}
    fits = []
    for t in common:
        ys = np.array([y[row] for row in timed])
        xs = np.array([readings[row].x_mm_at(t) for row in timed])
        # Siegel's repeated median: for each row the median slope to the others, then their
        # median, so one row far off does not pull the line
        dy = ys[None, :] - ys[:, None]
        with np.errstate(divide="ignore", invalid="ignore"):
            slopes = np.where(np.abs(dy) > 1.0, (xs[None, :] - xs[:, None]) / dy, np.nan)
        per_row = [np.nanmedian(r) for r in slopes if np.isfinite(r).any()]
        slope = float(np.median(per_row)) if per_row else 0.0
        line = np.array([slope, float(np.median(xs - slope * ys))])
        if (np.abs(np.polyval(line, ys) - xs) <= AGREE_MM).sum() < 2:
            return readings   # no two rows agree: nothing to go by
        fits.append(line)
    out = dict(readings)
    for row in same:
        start, end = (float(np.polyval(line, y[row])) for line in fits)
        rd = readings[row]
        if not rd.registered or abs(rd.x_mm_at(common[0]) - start) > AGREE_MM or abs(rd.x_mm_at(common[1]) - end) > AGREE_MM:
            out[row] = rd.retimed(start, end)
    return out


def _off_row(mv: np.ndarray, pitch_mv: float, fs: float) -> np.ndarray:
    """Samples that are not this lead's: further from the baseline than the row pitch (on
    another row, a shadow's edge, the header), or more than ``FAR_PITCHES`` of it away for
    longer than ``FAR_FOR_S`` (a QRS goes that far only briefly: a path held there is following
    a neighbour's trace or a printed line)."""
    level = np.abs(np.nan_to_num(mv))
    out = level > pitch_mv
    far = level > FAR_PITCHES * pitch_mv
    edges = np.flatnonzero(np.diff(np.r_[0, far.astype(np.int8), 0]))
    for a, b in zip(edges[::2], edges[1::2]):
        if (b - a) / fs > FAR_FOR_S:
            out[a:b] = True
    return out
