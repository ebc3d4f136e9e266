"""The paper renderer: layouts, exact geometry, determinism."""
from __future__ import annotations

import itertools
import json

import numpy as np
import pytest

from core.labels import LABELS, LEADS, lead_sign
from core.page.geometry import Geometry
from core.synth.paper import (GRID_COLOURS, LAYOUTS, PaperSpec, layout_panels,
                              random_spec)
from core.synth.render import page_size_px, render_page
from core.synth.sample import EcgSample

FS = 500.0
EXPECTED_PANELS = {"3x4": 12, "3x4+1": 13, "3x4+3": 15, "6x2": 12, "12x1": 12}


def sine_sample(freq_hz: float = 0.5, amp_mv: float = 1.0) -> EcgSample:
    """10 s of a 1 mV sine in every lead, each lead with its own phase; no labels."""
    t = np.arange(int(10 * FS)) / FS
    phases = np.arange(len(LEADS)) * 0.5
    signals = amp_mv * np.sin(2 * np.pi * freq_hz * t[:, None] + phases[None, :])
    return EcgSample(signals.astype(np.float32), FS, {k: 0 for k in LABELS})


def plain_spec(**kw) -> PaperSpec:
    """A page with nothing but traces, lead names and calibration pulses on white."""
    base = dict(grid_colour="none", header=False, paper_rgb=(255, 255, 255), trace_colour="black",
                separators=False, margins_mm=(6.0, 8.0, 6.0, 4.0))
    return PaperSpec(**{**base, **kw})


def traced_error_px(page, panel_index: int, sample: EcgSample) -> np.ndarray:
    """|found - true| (px, along y) of the trace, column by column, inside one panel.

    The trace is found as the darkness-weighted centroid of each pixel column near it,
    mapped back to (t, mV) through the geometry and compared with the signal."""
    geo = page.geometry
    p = geo.panels[panel_index]
    dark = 255.0 - page.image.astype(np.float64).mean(axis=2)
    sx, sy = geo.px_per_mm_xy
    (x0, _), (x1, _) = geo.page_to_image_pts(np.array([[p.box_mm[0], 0], [p.box_mm[2], 0]]))
    margin = 0.15 * (x1 - x0)  # skip the lead name and the ends
    sign = lead_sign(geo.layout, p.lead)
    lead = sample.lead(p.lead).astype(np.float64)
    t_all = np.arange(len(lead)) / sample.fs
    errors = []
    for x in range(int(np.ceil(x0 + margin)), int(x1 - margin)):
        t = p.t0_s + ((x + 0.5) / sx - p.box_mm[0]) / geo.speed_mm_s
        y_true = geo.signal_to_pixel(p, [t], [sign * np.interp(t, t_all, lead)])[0, 1]
        rows = np.arange(int(y_true - 3 * sy), int(y_true + 3 * sy) + 1)
        weights = dark[rows, x]
        y_found = float((rows * weights).sum() / weights.sum())
        found = geo.pixel_to_signal(x, y_found)
        assert found is not None and found[0] == panel_index
        _, t_found, mv_found = found
        errors.append(abs(sign * mv_found - np.interp(t_found, t_all, lead)) * geo.gain_mm_mv * sy)
    return np.array(errors)


@pytest.mark.parametrize("size", [None, (896, 448)], ids=["150dpi", "896x448"])
@pytest.mark.parametrize("cabrera,width_mm", [(False, 0.3), (True, 0.15), (False, 0.5)])
def test_geometry_round_trip(size, cabrera, width_mm):
    sample = sine_sample()
    spec = plain_spec(layout="3x4+1", cabrera=cabrera, dpi=150, trace_width_mm=width_mm)
    page = render_page(sample, spec,
                       np.random.default_rng(0), size=size)
    for lead in ("aVR", "V2", "II"):
        index = next(i for i, p in enumerate(page.geometry.panels) if p.lead == lead)
        err = traced_error_px(page, index, sample)
        assert len(err) > 50
        assert err.max() < 0.5, (lead, err.mean(), err.max())


def test_cabrera_prints_minus_avr():
    """A constant +1 mV aVR is printed gain mm *below* its baseline in Cabrera order."""
    signals = np.zeros((int(10 * FS), 12), np.float32)
    signals[:, LEADS.index("aVR")] = 1.0
    sample = EcgSample(signals, FS, {k: 0 for k in LABELS})
    for cabrera, direction in ((False, -1), (True, 1)):
        page = render_page(sample, plain_spec(cabrera=cabrera), np.random.default_rng(0))
        geo = page.geometry
        p = next(p for p in geo.panels if p.lead == "aVR")
        xm = (p.box_mm[0] + p.box_mm[2]) / 2
        x, y = geo.page_to_image_pts(np.array([[xm, p.baseline_mm + direction * geo.gain_mm_mv]]))[0]
        assert page.image[int(round(y)) - 1:int(round(y)) + 2, int(round(x))].min() < 128


def test_size_and_dpi():
    spec = plain_spec(paper="a4", dpi=200)
    page = render_page(sine_sample(), spec, np.random.default_rng(0))
    w, h = page_size_px(spec)
    assert page.image.shape == (h, w, 3) and page.image.dtype == np.uint8
    assert page.geometry.image_size == (w, h)
    assert np.allclose(page.geometry.px_per_mm_xy, (200 / 25.4, 200 / 25.4), rtol=2e-3)
    page = render_page(sine_sample(), spec, np.random.default_rng(0), size=(896, 448))
    assert page.image.shape == (448, 896, 3)
    assert np.allclose(page.geometry.px_per_mm_xy, (896 / 297, 448 / 210), atol=1e-4)
    # the paper's corners fall on the image's outer pixel edges
    corners = page.geometry.page_to_image_pts(np.array([[0.0, 0.0], [297.0, 210.0]]))
    assert np.allclose(corners, [[-0.5, -0.5], [895.5, 447.5]])


def test_geometry_json_round_trip():
    page = render_page(sine_sample(), random_spec(np.random.default_rng(4)), np.random.default_rng(4), size=(896, 448))
    geo = page.geometry
    back = Geometry.from_json(json.loads(json.dumps(geo.to_json())))
    assert back.image_size == geo.image_size and back.layout == geo.layout
    assert np.allclose(back.page_to_image, geo.page_to_image)
    assert back.panels == geo.panels
    pts = np.array([[10.0, 20.0], [200.0, 150.0]])
    assert np.allclose(back.page_to_image_pts(pts), geo.page_to_image_pts(pts))


def _overlap_mm2(a, b) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    return max(w, 0.0) * max(h, 0.0)


@pytest.mark.parametrize("layout,cabrera,paper", [
    (lay, cab, pap) for lay, cab, pap in itertools.product(LAYOUTS, (False, True), ("letter", "a4"))])
def test_layout_panels(layout, cabrera, paper):
    spec = PaperSpec(layout=layout, cabrera=cabrera, paper=paper, gain_mm_mv=5.0 if layout == "12x1" else 10.0)
    panels = layout_panels(spec)
    assert len(panels) == EXPECTED_PANELS[layout]
    w, h = spec.size_mm
    for p in panels:
        x0, y0, x1, y1 = p.box_mm
        assert 0 <= x0 < x1 <= w and 0 <= y0 < p.baseline_mm < y1 <= h
        assert np.isclose(x1 - x0, (p.t1_s - p.t0_s) * spec.speed_mm_s)
    assert all(_overlap_mm2(a.box_mm, b.box_mm) < 1e-9 for a, b in itertools.combinations(panels, 2))
    main = [p.lead for p in panels[:12]]
    assert sorted(main) == sorted(LEADS)
    assert [p.lead for p in panels[12:]] == list(spec.rhythm_leads)
    if cabrera:
        limb_order = [p.lead for p in sorted(panels[:12], key=lambda p: (p.col, p.row)) if p.lead in LEADS[:6]]
        assert limb_order == ["aVL", "I", "aVR", "II", "aVF", "III"]


def test_panel_times():
    by_lead = {p.lead: p for p in layout_panels(PaperSpec(layout="3x4"))}
    for c, column in enumerate((("I", "II", "III"), ("aVR", "aVL", "aVF"), ("V1", "V2", "V3"), ("V4", "V5", "V6"))):
        for lead in column:
            assert (by_lead[lead].col, by_lead[lead].t0_s, by_lead[lead].t1_s) == (c, 2.5 * c, 2.5 * (c + 1))
    rhythm = layout_panels(PaperSpec(layout="3x4+3"))[12:]
    assert all((p.t0_s, p.t1_s, p.col) == (0.0, 10.0, 0) for p in rhythm)
    six = layout_panels(PaperSpec(layout="6x2"))
    assert {(p.t0_s, p.t1_s) for p in six if p.lead in LEADS[:6]} == {(0.0, 5.0)}
    assert {(p.t0_s, p.t1_s) for p in six if p.lead in LEADS[6:]} == {(5.0, 10.0)}
    fast = layout_panels(PaperSpec(layout="3x4+1", speed_mm_s=50.0, margins_mm=(3, 30, 3, 10)))
    assert [p.t1_s for p in fast[:4]] == [1.25, 2.5, 3.75, 5.0] and fast[12].t1_s == 5.0
    assert np.isclose(fast[12].box_mm[2] - fast[12].box_mm[0], 250.0)


@pytest.mark.parametrize("colour", GRID_COLOURS)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_every_layout_and_colour_renders(layout, colour):
    spec = random_spec(np.random.default_rng(1), layout=layout, grid_colour=colour, paper_rgb=(255, 255, 255))
    page = render_page(sine_sample(), spec, np.random.default_rng(1), size=(896, 448))
    assert page.image.shape == (448, 896, 3)
    assert len(page.geometry.panels) == EXPECTED_PANELS[layout]
    gx0, gy0, gx1, gy1 = spec.grid_box_mm
    (ax, ay), (bx, by) = page.geometry.page_to_image_pts(np.array([[gx0, gy0], [gx1, gy1]])).astype(int)
    grid = page.image[ay + 2:by - 2, ax + 2:bx - 2].reshape(-1, 3).astype(int)
    tinted = (grid.max(axis=1) - grid.min(axis=1) > 20).mean()
    if colour in ("none", "grey"):
        assert tinted < 0.02
    else:
        assert tinted > 0.2  # the grid colours the paper


def test_calibration_pulse_height():
    """The pulse is gain mm (1 mV) tall and 0.2 s wide."""
    spec = plain_spec(layout="3x4", gain_mm_mv=20.0)
    page = render_page(sine_sample(amp_mv=0.2), spec, np.random.default_rng(0))
    geo = page.geometry
    p = geo.panels[0]
    (x0, y0), (x1, y1) = geo.page_to_image_pts(np.array([[spec.grid_box_mm[0], p.box_mm[1]], [p.box_mm[0], p.box_mm[3]]]))
    dark = page.image[int(y0):int(y1), int(x0):int(x1)].min(axis=2) < 128
    ys, xs = np.nonzero(dark)
    height_mm = (ys.max() - ys.min()) / geo.px_per_mm_xy[1]
    width_mm = (xs.max() - xs.min()) / geo.px_per_mm_xy[0]
    assert abs(height_mm - spec.gain_mm_mv) < 0.5
    assert 0.2 * spec.speed_mm_s < width_mm < 0.2 * spec.speed_mm_s + 2.5  # plus short lead-in/out


def test_determinism():
    sample = sine_sample()
    specs = [random_spec(np.random.default_rng(7)) for _ in range(2)]
    assert specs[0] == specs[1]
    a, b = (render_page(sample, specs[0], np.random.default_rng(9), size=(896, 448)) for _ in range(2))
    assert np.array_equal(a.image, b.image) and a.geometry.to_json() == b.geometry.to_json()
    assert random_spec(np.random.default_rng(8)) != specs[0]


def test_random_specs_are_valid_and_varied():
    rng = np.random.default_rng(0)
    specs = [random_spec(rng) for _ in range(300)]
    for spec in specs:
        layout_panels(spec)  # fits the paper
        assert 100 <= spec.dpi <= 300 and 0.15 <= spec.trace_width_mm <= 0.5
    layouts = [s.layout for s in specs]
    assert layouts.count("3x4+1") + layouts.count("3x4+3") > len(specs) / 2
    assert set(layouts) == set(LAYOUTS)
    assert {s.grid_colour for s in specs} == set(GRID_COLOURS)
    assert {s.paper for s in specs} == {"letter", "a4"}
    assert sum(s.gain_mm_mv == 10.0 for s in specs) > len(specs) / 2


def test_random_spec_fixed_fields():
    rng = np.random.default_rng(0)
    spec = random_spec(rng, layout="cabrera-6x2", dpi=120)
    assert (spec.layout, spec.cabrera, spec.dpi, spec.layout_name) == ("6x2", True, 120, "cabrera-6x2")
    with pytest.raises(TypeError):
        random_spec(rng, colour="red")
    with pytest.raises(ValueError):
        PaperSpec(layout="3x4+1", rhythm_leads=("V1", "II"))
    assert PaperSpec.from_json(json.loads(json.dumps(spec.to_json()))) == spec


@pytest.mark.parametrize("size", [None, (896, 448)], ids=["150dpi", "896x448"])
def test_grid_lines_where_the_spec_puts_them(size):
    """Major lines every 5 mm from the grid box's corner + offset (within 0.5 px), minor ones lighter."""
    spec = PaperSpec(grid_colour="red", header=False, grid_offset_mm=(1.3, 3.7), margins_mm=(7.4, 12.2, 6.0, 5.0))
    page = render_page(sine_sample(amp_mv=0.0), spec, np.random.default_rng(0), size=size)
    geo = page.geometry
    sx, sy = geo.px_per_mm_xy
    p = geo.panels[0]
    band = slice(int(p.box_mm[1] * sy), int((p.box_mm[1] + 5) * sy))  # above the trace, below the box top
    darkness = 255.0 - page.image[band, :, 1].astype(float).mean(axis=0)  # green: red lines are dark in it
    gx0, gy0, gx1, _ = spec.grid_box_mm
    expected = (gx0 + spec.grid_offset_mm[0] + 5.0 * np.arange(1, 40)) * sx - 0.5
    for x in expected[expected < gx1 * sx - 3]:
        cols = np.arange(int(round(x)) - 1, int(round(x)) + 2)
        centre = (cols * darkness[cols]).sum() / darkness[cols].sum()
        assert abs(centre - x) < 0.5 + 0.1
    minor = (gx0 + spec.grid_offset_mm[0] + 2.5) * sx - 0.5  # half-way between majors: no line
    assert darkness[int(round(minor))] < darkness[int(round(expected[0]))]
