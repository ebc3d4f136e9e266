"""Calipers read ms and mV along the paper's axes, and refuse when the page gives no scale."""
from __future__ import annotations

import math

import numpy as np
import pytest

from core.page.geometry import Geometry, Panel
from core.review.calipers import KINDS, CaliperRefused, measure

# Two rows of a 3x4 page at 25 mm/s and 10 mm/mV: I and aVR share row 0, II is row 1.
PANELS = (
    Panel("I", 0, 0, 0.0, 2.5, (10.0, 20.0, 72.5, 50.0), 35.0),
    Panel("aVR", 0, 1, 2.5, 5.0, (72.5, 20.0, 135.0, 50.0), 35.0),
    Panel("II", 1, 0, 0.0, 2.5, (10.0, 50.0, 72.5, 80.0), 65.0),
)
STRAIGHT = np.array([[5.0, 0, 20], [0, 5.0, 30], [0, 0, 1]])  # 5 px/mm


def tilted() -> np.ndarray:
    """A photo: the page turned 25°, 5 px/mm, seen at an angle (perspective)."""
    a = math.radians(25)
    rot_scale = np.array([[5 * math.cos(a), -5 * math.sin(a), 600], [5 * math.sin(a), 5 * math.cos(a), 100], [0, 0, 1]])
    return rot_scale @ np.array([[1, 0, 0], [0, 1, 0], [4e-4, -3e-4, 1]])


def geometry(h=STRAIGHT, size=(900, 600), calibration=1.0) -> Geometry:
    return Geometry.from_homography(size, "3x4", 25.0, 10.0, h, PANELS,
                                    {"calibration": calibration, "layout": 1.0, "panels": 1.0})


def px(geo: Geometry, *pts_mm) -> list[tuple[float, float]]:
    return [tuple(p) for p in geo.page_to_image_pts(np.array(pts_mm, float))]


@pytest.mark.parametrize("h", [STRAIGHT, tilted()], ids=["scan", "tilted photo"])
def test_a_20_mm_span_is_800_ms_at_75_bpm(h):
    geo = geometry(h, (1400, 1000))
    p0, p1 = px(geo, (20.0, 35.0), (40.0, 35.0))
    m = measure(geo, p1, p0, "RR")  # ends in either order
    assert m.dt_ms == pytest.approx(800, abs=1)
    assert m.heart_rate_bpm == pytest.approx(75, abs=0.1)
    assert m.dv_mv == pytest.approx(0, abs=1e-6) and m.lead == "I"
    assert m.text() == "RR 800 ms (75 bpm)"


def test_a_tilted_photo_is_measured_along_the_page_axes():
    geo = geometry(tilted(), (1400, 1000))
    p0, p1 = px(geo, (20.0, 40.0), (20.0, 30.0))  # 10 mm straight up the paper
    dx, dy = np.subtract(p1, p0)
    assert abs(dx) > 15  # in the image the span leans: image x is not paper time
    m = measure(geo, p0, p1)
    assert m.dt_ms == pytest.approx(0, abs=1)
    assert m.dv_mv == pytest.approx(1.0, abs=1e-3)
    assert measure(geo, p1, p0).dv_mv == pytest.approx(-1.0, abs=1e-3)  # down is negative
    assert m.text() == "0 ms, +1.00 mV in I"


def test_qtc_bazett_and_fridericia():
    geo = geometry()
    p0, p1 = px(geo, (20.0, 35.0), (30.0, 35.0))  # 10 mm = 400 ms
    m = measure(geo, p0, p1, "QT", rr_ms=800)
    # by hand: 400 / sqrt(0.8) = 447.21; 400 / 0.8 ** (1/3) = 430.89
    assert m.dt_ms == pytest.approx(400, abs=1)
    assert m.qtc_bazett_ms == pytest.approx(447.21, abs=0.5)
    assert m.qtc_fridericia_ms == pytest.approx(430.89, abs=0.5)
    assert m.text() == "QT 400 ms, QTc 447 ms (Bazett) 431 ms (Fridericia), RR 800 ms"
    plain = measure(geo, p0, p1, "QT")
    assert plain.qtc_bazett_ms is None and plain.text() == "QT 400 ms"
    assert measure(geo, p0, p1, "PR").text() == "PR 400 ms"


def test_across_rows_the_time_is_kept_and_the_voltage_dropped():
    geo = geometry()
    on_i, on_ii = px(geo, (20.0, 35.0), (22.5, 65.0))   # I (row 0) to II (row 1)
    m = measure(geo, on_i, on_ii, "QRS")
    assert m.dt_ms == pytest.approx(100, abs=1) and m.dv_mv is None and m.lead is None
    on_avr = px(geo, (80.0, 30.0))[0]                    # same row, another column: same baseline
    same_row = measure(geo, on_i, on_avr)
    assert same_row.lead is None and same_row.dv_mv == pytest.approx(0.5, abs=1e-6)


def _one_sentence(message: str) -> bool:
    return message.endswith(".") and ". " not in message


@pytest.mark.parametrize("geo", [
    None,
    Geometry((900, 600), "3x4", 25.0, 10.0, None, None, geometry().panels),  # panels found, no scale
    geometry(calibration=0.35),                                             # scale guessed from row length
], ids=["no geometry", "not calibrated", "uncertain scale"])
def test_refused_without_a_trusted_scale(geo):
    with pytest.raises(CaliperRefused) as err:
        measure(geo, (100.0, 100.0), (200.0, 100.0), "RR")
    assert _one_sentence(str(err.value)) and "ms or mV" in str(err.value)
    assert str(err.value).startswith("This page's scale")
    assert isinstance(err.value, ValueError)


def test_refuses_nonsense_intervals():
    geo = geometry()
    p0, p1 = px(geo, (20.0, 35.0), (30.0, 35.0))
    with pytest.raises(CaliperRefused) as err:
        measure(geo, p0, p0, "RR")
    assert _one_sentence(str(err.value))
    for rr in (0.0, -800.0, float("nan")):
        with pytest.raises(CaliperRefused):
            measure(geo, p0, p1, "QT", rr_ms=rr)
    with pytest.raises(CaliperRefused, match="RR, PR"):
        measure(geo, p0, p1, "ST")
    assert measure(geometry(calibration=0.5), p0, p1).dt_ms == pytest.approx(400, abs=1)
    assert KINDS == ("RR", "PR", "QRS", "QT", "free")


def test_within_a_row_its_registered_speed_is_used():
    """A row whose trace registration found 10 s over 260 mm (a page stretched 4 %): 26 mm
    there is 1 s; across rows the nominal 25 mm/s holds."""
    stretched = (Panel("I", 0, 0, 0.0, 2.5, (10.0, 20.0, 75.0, 50.0), 35.0),
                 Panel("aVR", 0, 1, 2.5, 5.0, (75.0, 20.0, 140.0, 50.0), 35.0),
                 Panel("II", 1, 0, 0.0, 2.5, (10.0, 50.0, 72.5, 80.0), 65.0))
    geo = Geometry.from_homography((900, 600), "3x4", 25.0, 10.0, STRAIGHT, stretched,
                                   {"calibration": 1.0, "layout": 1.0, "panels": 1.0})
    assert measure(geo, *px(geo, (20.0, 35.0), (46.0, 35.0)), "RR").dt_ms == pytest.approx(1000, abs=1)
    assert measure(geo, *px(geo, (60.0, 35.0), (86.0, 35.0)), "RR").dt_ms == pytest.approx(1000, abs=1)
    assert measure(geo, *px(geo, (20.0, 35.0), (45.0, 65.0))).dt_ms == pytest.approx(1000, abs=1)
