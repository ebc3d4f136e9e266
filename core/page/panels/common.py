"""What the steps hand each other: a found trace row and its calibration pulse, and the
paper's standard pulse, speeds, gains and row that they are judged by. Apart from the steps so
that rows and pulses need not import each other.
"""
from __future__ import annotations

from dataclasses import dataclass

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
