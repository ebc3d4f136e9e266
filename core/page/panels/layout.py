"""The layout from the rows: its name from their number, speed and gain from their pulses, and
the panels' boxes in page mm with how far to trust them.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.page.geometry import Panel
from core.page.panels.common import GAINS_MM_MV, PULSE_S, ROW_TIME_S, SPEEDS_MM_S, TraceRow
from core.page.panels.names import _cabrera, _labels, _row_leads, _six_rows

ROW_LAYOUTS = {3: "3x4", 4: "3x4+1", 5: "3x4+2", 6: "3x4+3", 12: "12x1"}


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
        layout, layout_conf = _six_rows(labels, rows, x0, x1, row_s * speed)
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
