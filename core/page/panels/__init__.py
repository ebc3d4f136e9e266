"""Find the printed rows of traces on a rectified, calibrated page and read its layout.

Everything here works in the rectified image (px) with a known scale ``(kx, ky)`` px per mm.
Trace rows are the peaks of the horizontal ink profile (the share of columns inked at each
height, smoothed over one 5-mm period so that a grey grid's lines average out); a row's extent
is where its band is inked; its calibration pulse is a flat-topped step of 5, 10 or 20 mm at
either end, and the side the step points to says whether the page is upside down. The layout
follows from the number of rows and where the lead names (small ink blobs apart from the
trace) sit along them; lead names are read from the layout position, and Cabrera order is
recognised from the widths of the first column's names (aVL, I, -aVR against I, II, III).

One step per module (``ink``, ``rows``, ``pulses``, ``layout``, ``names``; ``common`` holds what
they share); every name the single module ``panels.py`` offered is still importable from here.
"""
from __future__ import annotations

from core.page.panels.common import (GAINS_MM_MV, MIN_ROW_PITCH_MM, PULSE_S, ROW_TIME_S, SPEEDS_MM_S, Pulse,
                                     TraceRow)
from core.page.panels.ink import grid_colour, ink_maps, without_lines
from core.page.panels.layout import ROW_LAYOUTS, LayoutFit, fit_layout
from core.page.panels.names import EXTRA_RHYTHM
from core.page.panels.pulses import find_pulse
from core.page.panels.rows import (find_rows, ink_component_widths, page_is_upside_down, quarter_turn_needed,
                                   trace_continuity, trace_plausibility)

# private helpers that tests/test_page.py exercises directly (the redundant alias re-exports them)
from core.page.panels.names import _cabrera as _cabrera, _Labels as _Labels, _six_rows as _six_rows
from core.page.panels.rows import _regular_rows as _regular_rows, _with_missed_rows as _with_missed_rows

__all__ = [
    "EXTRA_RHYTHM", "GAINS_MM_MV", "MIN_ROW_PITCH_MM", "PULSE_S", "ROW_LAYOUTS", "ROW_TIME_S", "SPEEDS_MM_S",
    "LayoutFit", "Pulse", "TraceRow",
    "find_pulse", "find_rows", "fit_layout", "grid_colour", "ink_component_widths", "ink_maps",
    "page_is_upside_down", "quarter_turn_needed", "trace_continuity", "trace_plausibility", "without_lines",
]
