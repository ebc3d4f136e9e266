"""The decoded-leads panel: one trace per printed panel, the reason when there is none, hover linking."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from PySide6 import QtCore  # noqa: E402

from app.review.signals import NO_GEOMETRY, NO_SAMPLES, TITLE, SignalsPanel  # noqa: E402
from core.labels import LEADS  # noqa: E402
from core.page.geometry import Geometry  # noqa: E402

SAMPLE = Path(__file__).resolve().parents[1] / "resources" / "samples" / "sample_scan.json"
FS_HZ = 100.0
QUALITY = "Mean SNR 6.6 dB on clean scans; not for measuring intervals or amplitudes."


@pytest.fixture(scope="module")
def geometry() -> Geometry:
    """The bundled sample's true page geometry: a 3x4+1 page, 13 panels."""
    return Geometry.from_json(json.loads(SAMPLE.read_text())["geometry"])


def _sines(geometry: Geometry) -> np.ndarray:
    """Leads decoded only where printed, as the decoder gives them: NaN elsewhere."""
    t = np.arange(int(10 * FS_HZ)) / FS_HZ
    out = np.full((12, t.size), np.nan, np.float32)
    for i, p in enumerate(geometry.panels):
        sel = (t >= p.t0_s) & (t < p.t1_s)
        out[LEADS.index(p.lead), sel] = 0.8 * np.sin(2 * np.pi * (1 + i / 10) * t[sel])
    return out


@pytest.fixture
def panel(qtbot, geometry: Geometry) -> SignalsPanel:  # type: ignore[no-untyped-def]
    widget = SignalsPanel()
    qtbot.addWidget(widget)
    widget.resize(1200, 700)
    widget.show()
    qtbot.waitExposed(widget)
    widget.set_signals(_sines(geometry), FS_HZ, geometry, QUALITY)
    return widget


def test_one_trace_per_printed_panel_where_the_page_put_it(panel: SignalsPanel, geometry: Geometry) -> None:
    assert len(panel.curves) == len(geometry.panels) == 13
    assert panel.title.isVisible() and TITLE in panel.title.text()
    assert panel.quality.text() == QUALITY and not panel.message.isVisible()
    # the rhythm strip (row 3) spans 10 s; column 2 of the 3x4 block starts 5 s into the page
    xs = [panel.curves[i].getData()[0] for i in range(13)]
    rhythm = next(i for i, p in enumerate(geometry.panels) if p.row == 3)
    assert xs[rhythm].min() == pytest.approx(0.0) and xs[rhythm].max() == pytest.approx(9.99)
    v1 = next(i for i, p in enumerate(geometry.panels) if p.lead == "V1")
    assert xs[v1].min() == pytest.approx(5.0, abs=0.02)
    # the top row is drawn above the rhythm strip, each trace around its own baseline
    y_top = np.nanmean(panel.curves[0].getData()[1])
    assert y_top > np.nanmean(panel.curves[rhythm].getData()[1]) + 10  # rows are ~4 mV apart


@pytest.mark.parametrize("signals, geo, sentence", [
    (None, False, NO_GEOMETRY),
    ("nan", True, NO_SAMPLES),
    ("sines", False, NO_GEOMETRY),
])
def test_nothing_to_show_says_why(panel: SignalsPanel, geometry: Geometry, signals, geo, sentence) -> None:  # type: ignore[no-untyped-def]
    data = {None: None, "nan": np.full((12, 1000), np.nan, np.float32), "sines": _sines(geometry)}[signals]
    panel.set_signals(data, FS_HZ, geometry if geo else None, QUALITY)
    assert panel.message.isVisible() and panel.message.text() == sentence
    assert not panel.plot.isVisible() and panel.curves == []


def _move_to(qtbot, panel: SignalsPanel, x_s: float, y_mv: float) -> None:  # type: ignore[no-untyped-def]
    scene = panel.plot.getViewBox().mapViewToScene(QtCore.QPointF(x_s, y_mv))
    qtbot.mouseMove(panel.plot.viewport(), panel.plot.mapFromScene(scene))


def test_hovering_a_trace_names_its_panel_and_time_once(qtbot, panel: SignalsPanel, geometry: Geometry) -> None:  # type: ignore[no-untyped-def]
    seen: list[tuple[int, float]] = []
    panel.hovered.connect(lambda i, t: seen.append((i, t)))
    aVF = next(i for i, p in enumerate(geometry.panels) if p.lead == "aVF")  # row 2, col 1: t 2.5-5 s
    x0, _, _, _, base = panel._spans[aVF]
    _move_to(qtbot, panel, x0 + 1.2, base + 0.3)
    qtbot.waitUntil(lambda: len(seen) == 1, timeout=10000)
    index, t_s = seen[0]
    assert index == aVF
    assert t_s == pytest.approx(geometry.panels[aVF].t0_s + 1.2, abs=0.05)
    _move_to(qtbot, panel, x0 + 1.2, base + 0.3)  # same place: no new emission
    qtbot.wait(50)
    assert len(seen) == 1
    (_, x_view_end), _ = panel.plot.getViewBox().viewRange()
    assert x_view_end > 10.1  # the page is wider than tall: there is room right of the panels
    with qtbot.waitSignal(panel.hover_left, timeout=10000):
        _move_to(qtbot, panel, (10 + x_view_end) / 2, base)  # right of every panel, inside the view


def test_show_point_places_the_marker_across_its_panel(panel: SignalsPanel, geometry: Geometry) -> None:
    rhythm = next(i for i, p in enumerate(geometry.panels) if p.row == 3)
    panel.show_point(rhythm, 7.25)
    xs, ys = panel.marker.getData()
    x0, _, y0, y1, _ = panel._spans[rhythm]
    assert list(xs) == pytest.approx([x0 + 7.25, x0 + 7.25])
    assert list(ys) == pytest.approx([y0, y1])
    panel.show_point(None, None)
    xs, _ = panel.marker.getData()
    assert xs is None or len(xs) == 0


def test_cabrera_pages_show_avr_inverted_as_printed(panel: SignalsPanel, geometry: Geometry) -> None:
    import dataclasses

    avr = next(i for i, p in enumerate(geometry.panels) if p.lead == "aVR")
    base = panel._spans[avr][4]
    upright = panel.curves[avr].getData()[1] - base
    panel.set_signals(_sines(geometry), FS_HZ, dataclasses.replace(geometry, layout="cabrera-3x4+1"), QUALITY)
    assert np.abs(upright).max() > 0.5
    np.testing.assert_allclose(panel.curves[avr].getData()[1] - base, -upright, atol=1e-5)
    lead_i = next(i for i, p in enumerate(geometry.panels) if p.lead == "I")
    assert np.nanmax(panel.curves[lead_i].getData()[1] - panel._spans[lead_i][4]) > 0.5  # others unchanged


def test_the_intervals_line_and_where_each_beat_was_measured(panel: SignalsPanel, geometry: Geometry) -> None:
    """The measurement line above the leads, and each beat's QRS onset drawn in every panel
    that prints its moment, at that moment's place on the panel."""
    from core.intervals import BeatMarks, Intervals

    beats = tuple(BeatMarks(r_s=t + 0.04, qrs_on_s=t, qrs_off_s=t + 0.09, p_on_s=t - 0.16, t_end_s=t + 0.4,
                            premature=False) for t in (1.0, 3.6))
    found = Intervals(beats, 2600.0, 23.1, 160.0, 90.0, 400.0, 248.1, 290.0)
    panel.set_signals(_sines(geometry), FS_HZ, geometry, QUALITY, found)
    assert panel.intervals.isVisible() and found.summary() in panel.intervals.text()
    xs, _ = panel.beat_marks["qrs_on_s"].getData()
    printing = [(i, p, t) for i, p in enumerate(geometry.panels) for t in (1.0, 3.6) if p.t0_s <= t < p.t1_s]
    assert len(xs) == 2 * len(printing) and len(printing) >= 4   # two columns and the rhythm strip
    expected = sorted(panel._spans[i][0] + t - p.t0_s for i, p, t in printing)
    np.testing.assert_allclose(sorted(xs[::2]), expected, atol=1e-6)
    assert set(panel.beat_marks) == {"p_on_s", "qrs_on_s", "qrs_off_s", "t_end_s"}
    panel.show_message("Blinded reading: hidden.")
    assert panel.beat_marks == {} and not panel.intervals.isVisible()
