"""Time registration: where on a trace row the record's time starts and ends, read from the trace.

The page reader places a row's panels from conventions (a row starts after its calibration
pulse, columns are 2.5 s apart at the nominal 25 mm/s); printers differ, and a photo's scale is
a few per cent off. Both shift the decoded leads in time, and a QRS shifted by 20 ms already
costs most of a lead's SNR. So the row's trace, followed at full resolution
(``core.page.trace``), is walked outwards from just inside the reader's box until the ink stops
(the gap before a calibration pulse, the paper's blank margin) or a pulse's flat top is met:
the row's first sample is where its trace starts and its last where the trace ends, and time
runs evenly between them along the paper (``core.page.ruler``). A walk that runs off the search
window, or an extent that implies a paper speed more than ``MAX_SPEED_ERROR`` off the nominal,
is not believed: one found end then fixes the offset at the nominal speed, none leaves the
reader's placement.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

SEARCH_MM = 12.0         # how far beyond the reader's box a row's trace is looked for
ANCHOR_MM = 4.0          # the walk starts this far inside the box
HOLE_MM = 0.3            # breaks in the ink shorter than this are walked over
MAX_SPEED_ERROR = 0.10   # a found extent implying a speed further off is not believed
PULSE_TOP_MM = 3.5       # a calibration pulse's top stands at least this far above the baseline
PULSE_LEN_MM = 2.5       # ... for at least this long,
PULSE_FLAT_MM = 0.5      # ... within this of one level (a wide R wave is tall but not flat)


def trace_extent(height_mm: np.ndarray, start_anchor: int, end_anchor: int, px_per_mm: float
                 ) -> tuple[int | None, int | None]:
    """First and last column of the printed trace (height above the isoelectric line per strip
    column, NaN where the path has no ink), walking out from the two anchors; None for an end
    not found."""
    return (_walk(height_mm, start_anchor, -1, px_per_mm), _walk(height_mm, end_anchor, +1, px_per_mm))


def time_axis(start: float | None, end: float | None, paper_mm: np.ndarray, t0_s: float, t1_s: float,
              speed_mm_s: float, fallback: Callable[[float], float]) -> tuple[Callable[[float], float], bool]:
    """t (s, scalar or array) -> strip column, and whether it was measured: from the strip columns
    (fractional) where ``t0_s`` and ``t1_s`` are printed (``paper_mm``: paper mm at each strip
    column), else ``fallback`` (the reader's placement)."""
    columns = np.arange(len(paper_mm), dtype=np.float64)
    at = lambda px: float(np.interp(px, columns, paper_mm))  # noqa: E731
    nominal = (t1_s - t0_s) * speed_mm_s
    if start is not None and end is not None and abs((at(end) - at(start)) / nominal - 1) <= MAX_SPEED_ERROR:
        a, mm_per_s = at(start), (at(end) - at(start)) / (t1_s - t0_s)
    elif start is not None:
        a, mm_per_s = at(start), speed_mm_s
    elif end is not None:
        a, mm_per_s = at(end) - nominal, speed_mm_s
    else:
        return fallback, False

    def column(t):  # a time (s) or an array of them -> strip column(s)
        return np.interp(a + (np.asarray(t, np.float64) - t0_s) * mm_per_s, paper_mm, columns)
    return column, True


def _walk(height_mm: np.ndarray, anchor: int, step: int, px_per_mm: float) -> int | None:
    """From ``anchor`` along ``step`` while the path is inked (holes up to ``HOLE_MM``): the
    last inked column before the ink stops or a pulse's flat top begins; None when the walk
    reaches the strip's end (the trace runs on) or finds no ink near the anchor."""
    n = len(height_mm)
    inked = np.isfinite(height_mm)
    x = anchor
    while 0 <= x < n and not inked[x] and abs(x - anchor) < 2 * px_per_mm:
        x -= step   # the anchor fell in a hole: look back into the box
    if not (0 <= x < n) or not inked[x]:
        return None
    hole = max(int(round(HOLE_MM * px_per_mm)), 1)
    pulse_len = int(round(PULSE_LEN_MM * px_per_mm))
    last, top_run, top_level = x, 0, 0.0
    while True:
        nxt, k = last + step, 0
        while 0 <= nxt < n and not inked[nxt] and k < hole:
            nxt, k = nxt + step, k + 1
        if not (0 <= nxt < n):
            return None
        if not inked[nxt]:
            return last
        level = height_mm[nxt]
        flat = top_run > 0 and abs(level - top_level) <= PULSE_FLAT_MM
        top_run, top_level = (top_run + 1, top_level) if flat else ((1, level) if level >= PULSE_TOP_MM else (0, 0.0))
        if top_run >= pulse_len:   # a pulse's flat top: the trace began after its edge
            return _after_edge(height_mm, nxt - step * (top_run - 1), -step)
        last = nxt


def _after_edge(height_mm: np.ndarray, top_end: int, inward: int) -> int:
    """First column on the trace's side of a pulse's edge whose height is back near 0."""
    x, n = top_end, len(height_mm)
    while 0 <= x < n and not (np.isfinite(height_mm[x]) and height_mm[x] < 1.0):
        x += inward
    return int(np.clip(x, 0, n - 1))
