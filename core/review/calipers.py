"""Calipers: intervals in ms and amplitudes in mV, measured through the page geometry.

A caliper's two ends are image pixels. They are taken to paper millimetres with the page's
homography (``Geometry.image_to_page_pts``), so a photographed page that is rotated or seen at
an angle is measured along the paper's own axes: time from the horizontal paper distance
(``speed_mm_s``, 25 mm/s: 1 mm = 40 ms), voltage from the vertical one (``gain_mm_mv``,
10 mm/mV: 1 mm = 0.1 mV), as ECG_FACTS.md "Paper" defines them. Within one row the row's own
mm per second is used (``Panel.mm_per_s``: what time registration read off the trace, equal
to the paper speed on a page printed and imaged true).

Ends on panels of different rows: the time is still given, because every standard layout
prints the same moment at the same paper x in all rows (3×4: the leads of a column are
simultaneous), so the interval from a QRS onset in II to its offset in V1 is meaningful. The
voltage is not (each row has its own baseline), so ``dv_mv`` is None then. Where a layout
prints the same seconds in two columns (some 6×2 machines), an interval across the columns is
paper distance, not record time; measure within one column there.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from core.intervals import qtc_bazett_ms, qtc_fridericia_ms
from core.page.geometry import Geometry

KINDS: tuple[str, ...] = ("RR", "PR", "QRS", "QT", "free")

# The page reader (core.page.detect) gives 0.5 to a scale read from calibration pulses (a 5 mm
# wide 200 ms step), 1.6 × the grid's strength to one read from the grid, and 0.35 to one
# guessed from the rows' length: that guess takes every row to be 10 s at 25 mm/s (250 mm), so
# it is wrong whenever a row is not, and an interval read through it would look exact anyway.
MIN_CALIBRATION_CONFIDENCE = 0.5


class CaliperRefused(ValueError):
    """A caliper cannot give ms or mV here; the message is one sentence a physician can act on."""


@dataclass(frozen=True)
class Measurement:
    """One caliper reading.

    kind: one of KINDS. p0_px, p1_px: the ends in image px (x, y). dt_ms: the interval, >= 0
    (order of the ends does not matter). dv_mv: voltage of p1 minus p0, up positive; None when
    the ends lie on panels of different rows. lead: the panel both ends lie on, else None.
    heart_rate_bpm: 60000 / RR (RR only). rr_ms: the RR used for the QTc (QT only).
    qtc_bazett_ms = QT / √(RR s), qtc_fridericia_ms = QT / ∛(RR s) (QT with an RR only).
    """

    kind: str
    p0_px: tuple[float, float]
    p1_px: tuple[float, float]
    dt_ms: float
    dv_mv: float | None
    lead: str | None = None
    heart_rate_bpm: float | None = None
    rr_ms: float | None = None
    qtc_bazett_ms: float | None = None
    qtc_fridericia_ms: float | None = None

    def text(self) -> str:
        """A short line for the caliper's label, e.g. 'RR 820 ms (73 bpm)'."""
        if self.kind == "RR" and self.heart_rate_bpm is not None:
            return f"RR {self.dt_ms:.0f} ms ({self.heart_rate_bpm:.0f} bpm)"
        if self.kind == "QT" and self.qtc_bazett_ms is not None and self.qtc_fridericia_ms is not None:
            return (f"QT {self.dt_ms:.0f} ms, QTc {self.qtc_bazett_ms:.0f} ms (Bazett) "
                    f"{self.qtc_fridericia_ms:.0f} ms (Fridericia), RR {self.rr_ms:.0f} ms")
        if self.kind != "free":
            return f"{self.kind} {self.dt_ms:.0f} ms"
        line = f"{self.dt_ms:.0f} ms" + ("" if self.dv_mv is None else f", {self.dv_mv:+.2f} mV")
        return line + (f" in {self.lead}" if self.lead else "")


def check_calibrated(geometry: Geometry | None) -> Geometry:
    """The geometry, if distances on its page can be given in ms and mV; else CaliperRefused.

    A geometry without a calibration confidence (a rendered page, one built from a known
    homography) is trusted.
    """
    if geometry is None or geometry.page_to_image is None or geometry.px_per_mm_xy is None:
        raise CaliperRefused(
            "This page's scale was not found, so distances cannot be given in ms or mV: count the "
            "large 5 mm boxes instead (200 ms and 0.5 mV each at 25 mm/s and 10 mm/mV).")
    confidence = geometry.confidence.get("calibration", 1.0)
    if confidence < MIN_CALIBRATION_CONFIDENCE:
        raise CaliperRefused(
            f"This page's scale is uncertain (calibration confidence {confidence:.2f}, below "
            f"{MIN_CALIBRATION_CONFIDENCE}), so distances cannot be given in ms or mV: count the "
            "large 5 mm boxes instead.")
    if not (geometry.speed_mm_s > 0 and geometry.gain_mm_mv > 0):
        raise CaliperRefused(
            f"This page's paper speed ({geometry.speed_mm_s} mm/s) or gain ({geometry.gain_mm_mv} "
            "mm/mV) is not a real one, so distances cannot be given in ms or mV.")
    return geometry


def _mm_per_s(geo: Geometry, panels: list[int | None]) -> float:
    """Paper mm per second where both ends lie: the row's own, as time registration measured it
    (a photographed or copied page stretched by 3 % reads 3 % long at the nominal speed), where
    both ends are on panels of one row; else the nominal paper speed."""
    found = [geo.panels[i] for i in panels if i is not None]
    if len(found) == 2 and found[0].row == found[1].row:
        speeds = [p.mm_per_s for p in found]
        if all(math.isfinite(v) and v > 0 for v in speeds):
            return float(np.mean(speeds))
    return geo.speed_mm_s


def measure(geometry: Geometry | None, p0_px: tuple[float, float], p1_px: tuple[float, float],
            kind: str = "free", rr_ms: float | None = None) -> Measurement:
    """Measure between two image points on a calibrated page (see the module docstring).

    rr_ms: an RR interval measured before, for the QTc of a QT (ignored for other kinds).
    Raises CaliperRefused (a ValueError) when the page is not calibrated or is calibrated with
    confidence below MIN_CALIBRATION_CONFIDENCE, when an RR has no length, or when rr_ms <= 0.
    """
    if kind not in KINDS:
        raise CaliperRefused(f"'{kind}' is not a caliper; use one of {', '.join(KINDS)}.")
    geo = check_calibrated(geometry)
    ends = np.array([p0_px, p1_px], np.float64)
    if ends.shape != (2, 2) or not np.isfinite(ends).all():
        raise CaliperRefused("A caliper needs two points on the image, each an (x, y) pixel.")
    (x0, y0), (x1, y1) = geo.image_to_page_pts(ends)
    panels = [geo.panel_at(x0, y0), geo.panel_at(x1, y1)]
    rows = {geo.panels[i].row for i in panels if i is not None}
    dt_ms = abs(x1 - x0) / _mm_per_s(geo, panels) * 1000.0
    dv_mv = None if len(rows) > 1 else (y0 - y1) / geo.gain_mm_mv
    lead = geo.panels[panels[0]].lead if panels[0] is not None and panels[0] == panels[1] else None
    extra: dict[str, float] = {}
    if kind == "RR":
        if dt_ms <= 0:
            raise CaliperRefused("The two ends of the RR caliper lie at the same moment, so no heart "
                                 "rate can be given: place them on two consecutive R waves.")
        extra["heart_rate_bpm"] = 60_000.0 / dt_ms
    elif kind == "QT" and rr_ms is not None:
        if not (math.isfinite(rr_ms) and rr_ms > 0):
            raise CaliperRefused(f"An RR interval of {rr_ms} ms cannot correct the QT: measure RR "
                                 "between two consecutive R waves first.")
        extra.update(rr_ms=float(rr_ms), qtc_bazett_ms=qtc_bazett_ms(dt_ms, rr_ms),
                     qtc_fridericia_ms=qtc_fridericia_ms(dt_ms, rr_ms))
    return Measurement(kind, (float(ends[0, 0]), float(ends[0, 1])), (float(ends[1, 0]), float(ends[1, 1])),
                       float(dt_ms), None if dv_mv is None else float(dv_mv), lead, **extra)
