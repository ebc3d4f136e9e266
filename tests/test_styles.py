"""Other machines' printing styles (core.synth.styles): grids, headers, label places, copies.

The studio's own pages must not change by a pixel (benchmarks compare numbers across sessions),
and each style must print what it says; every check here fails if its feature is removed.
"""
from __future__ import annotations

import hashlib
import json
import re

import numpy as np
import pytest

from core.labels import LABEL_INFO, LABELS, LEADS
from core.synth.pages import SynthOptions, make_page, pages
from core.synth.styles import STYLE_FIELDS
from core.synth.paper import (COPIES, FONT_NAMES, GRID_STYLES, LABEL_POSITIONS, PaperSpec, layout_panels,
                              random_spec)
from core.synth.render import header_values, paper_background, render_page, trace_points
from core.synth.sample import EcgSample
from core.synth.styles import STATEMENTS, machine_header, random_style, text_width_mm

FS = 500.0
PX_MM = 12.0  # paper_background checks: 12 px/mm (~305 dpi)


def sine_sample(amp_mv: float = 1.0) -> EcgSample:
    t = np.arange(int(10 * FS)) / FS
    signals = amp_mv * np.sin(2 * np.pi * 0.5 * t[:, None] + np.arange(len(LEADS))[None, :] * 0.5)
    return EcgSample(signals.astype(np.float32), FS, {k: 0 for k in LABELS})


def plain(**kw) -> PaperSpec:
    base = {"grid_colour": "none", "header": False, "separators": False, "margins_mm": (6.0, 8.0, 6.0, 4.0), "dpi": 150}
    return PaperSpec(**{**base, **kw})


# ---- the studio's pages are unchanged -----------------------------------------------------------
OLD_FIELDS = ("layout", "cabrera", "paper", "dpi", "speed_mm_s", "gain_mm_mv", "grid_colour", "trace_width_mm",
              "trace_colour", "header", "rhythm_leads", "margins_mm", "grid_offset_mm", "paper_rgb",
              "label_position", "separators", "font", "baseline_frac")


def test_default_pages_are_pixel_identical_to_before_the_styles():
    """Hashes computed from the code before styles existed (same numpy/OpenCV as this venv)."""
    h = hashlib.sha256()
    for p in pages(SynthOptions(n=4, seed=11, size=(256, 128))):  # clean, photo, shadow, photo
        h.update(p.image.tobytes())
        h.update(p.domain.encode())
        for k in sorted(p.masks):
            h.update(k.encode())
            h.update(p.masks[k].tobytes())
    assert h.hexdigest() == "d8714578c8be37b8ce25bf011566836c25307115606243e7a2c1aa034f5cf712"
    page = make_page(SynthOptions(n=1, seed=3, dpi=50, domain="clean"), 0)  # full page, header, footer
    assert hashlib.sha256(page.image.tobytes()).hexdigest() == \
        "9f8a0f0051e7011615627efe01617b7ceddeb7bec5ceafc44f2a7a00d8cfcd36"
    assert not set(STYLE_FIELDS) & set(page.paper)  # studio sidecars as before
    rng = np.random.default_rng(5)
    specs = [random_spec(rng) for _ in range(20)]
    js = json.dumps([{k: s.to_json()[k] for k in OLD_FIELDS} for s in specs], sort_keys=True)
    assert hashlib.sha256(js.encode()).hexdigest() == "dbab1c4cea08165bdb266175781ed9f85b283d6a4939f675d2c8dc61f3f8fe02"
    assert rng.random() == 0.19325264966534872  # random_spec draws as many numbers as before
    assert all(s.grid_style == "lines" and s.header_style == "studio" and s.copy == "none" for s in specs)


def test_a_world_page_keeps_the_draws_of_its_studio_page():
    studio, world = (SynthOptions(n=3, seed=21, size=(448, 224), styles=s) for s in ("studio", "world"))
    differ = 0
    for i in range(3):
        a, b = make_page(studio, i), make_page(world, i)
        assert np.array_equal(a.sample.signals, b.sample.signals) and a.sample.labels == b.sample.labels
        assert a.domain == b.domain and a.degradation == b.degradation
        assert a.geometry.to_json() == b.geometry.to_json()
        assert {k: b.paper[k] for k in a.paper} == a.paper and set(STYLE_FIELDS) <= set(b.paper)
        differ += not np.array_equal(a.image, b.image)
    assert differ >= 2
    with pytest.raises(ValueError):
        SynthOptions(styles="gallery")


def test_style_draws_are_valid_and_cover_every_style():
    rng = np.random.default_rng(0)
    styles = [random_style(rng) for _ in range(300)]
    assert set(styles[0]) == set(STYLE_FIELDS)
    for s in styles[:40]:
        PaperSpec(**{k: v for k, v in s.items()})  # valid
    assert {s["grid_style"] for s in styles} == set(GRID_STYLES)
    assert {s["copy"] for s in styles} == set(COPIES)
    assert {s["label_position"] for s in styles} == set(LABEL_POSITIONS)
    assert {s["font"] for s in styles} == set(FONT_NAMES)
    assert {s["header_style"] for s in styles} == {"studio", "machine"}
    assert any(s["toner_streaks"] for s in styles) and not all(s["toner_streaks"] for s in styles)
    with pytest.raises(ValueError):
        PaperSpec(grid_style="hexagons")
    with pytest.raises(ValueError):
        PaperSpec(text_scale=3.0)


# ---- grids ------------------------------------------------------------------------------------------
def grid(style: str) -> np.ndarray:
    """Darkness (255 - green) of a red grid, 50 x 50 mm at 12 px/mm, major lines at 0, 5, 10 mm."""
    img = paper_background((600, 600), (PX_MM, PX_MM), (0.0, 0.0, 50.0, 50.0), (0.0, 0.0), "red",
                           (255, 255, 255), style)
    return 255.0 - img[:, :, 1].astype(float)


def at(dark: np.ndarray, x_mm: float, y_mm: float) -> float:
    """Darkest pixel within a 3 x 3 px window around a paper point."""
    x, y = round(x_mm * PX_MM - 0.5), round(y_mm * PX_MM - 0.5)
    return float(dark[y - 1:y + 2, x - 1:x + 2].max())


def test_lines_grid_is_the_reference():
    dark = grid("lines")
    assert at(dark, 6.0, 7.5) > 50 and at(dark, 5.0, 7.5) > 120  # minor and major lines


def test_dotted_grid_prints_dots_between_paper_and_solid_major_lines():
    dark = grid("dotted")
    assert at(dark, 6.0, 7.5) < 8 and at(dark, 7.5, 6.0) < 8  # on a 1-mm line, between dots: paper
    assert at(dark, 6.0, 7.0) > 60 and at(dark, 8.0, 9.0) > 60  # dots at the 1-mm crossings
    major = [at(dark, 5.0, y) for y in np.arange(5.3, 9.8, 0.1)]
    assert min(major) > 120  # 5-mm lines solid


def test_dots_grid_dashes_the_major_lines():
    dark = grid("dots")
    col = dark[int(5.6 * PX_MM):int(9.4 * PX_MM), round(5.0 * PX_MM - 0.5)]
    inked = (col > 60).mean()
    assert 0.25 < inked < 0.8  # dashed, not solid
    assert at(dark, 6.0, 7.5) < 8 and at(dark, 6.0, 7.0) > 60


def test_faint_grid_lowers_the_minor_lines_contrast():
    lines, faint = grid("lines"), grid("faint")
    assert 8 < at(faint, 6.0, 7.5) < 0.6 * at(lines, 6.0, 7.5)
    assert at(faint, 5.0, 7.5) > 0.7 * at(lines, 5.0, 7.5)


def test_major_grid_drops_the_minor_lines():
    dark = grid("major")
    assert at(dark, 6.0, 7.5) < 5 and at(dark, 5.0, 7.5) > 120


def test_every_grid_style_renders_a_page_whose_traces_sit_on_the_geometry():
    sample = sine_sample()
    for style in GRID_STYLES:
        spec = plain(grid_colour="red", grid_style=style, copy="bw")
        page = render_page(sample, spec, np.random.default_rng(0))
        assert_trace_inked(page, sample)


# ---- copies -----------------------------------------------------------------------------------------
def assert_trace_inked(page, sample: EcgSample, level: int = 100) -> None:
    """Every printed trace point has dark ink within 1 px: the copy never broke the trace."""
    img = page.image.min(axis=2)
    h, w = img.shape
    for panel in page.geometry.panels:
        pts = np.round(trace_points(sample, page.geometry, panel)).astype(int)
        pts = pts[(pts[:, 0] > 0) & (pts[:, 0] < w - 1) & (pts[:, 1] > 0) & (pts[:, 1] < h - 1)]
        near = np.min([img[pts[:, 1] + dy, pts[:, 0] + dx] for dy in (-1, 0, 1) for dx in (-1, 0, 1)], axis=0)
        assert near.max() <= level, (panel.lead, int(near.max()))


@pytest.mark.parametrize("copy", ["grey", "bw", "halftone"])
def test_copies_are_grey_and_keep_the_trace(copy):
    sample = sine_sample()
    spec = plain(grid_colour="red", copy=copy, style_seed=3)
    page = render_page(sample, spec, np.random.default_rng(0))
    original = render_page(sample, plain(grid_colour="red"), np.random.default_rng(0)).image.astype(int)
    assert (original.max(axis=2) - original.min(axis=2)).max() > 50  # the print is red...
    img = page.image.astype(int)
    assert (img[..., 0] == img[..., 1]).all() and (img[..., 1] == img[..., 2]).all()  # ...its copy grey
    levels = np.unique(img[..., 0])
    if copy == "grey":
        assert len(levels) > 10
        assert_trace_inked(page, sample, level=130)  # a thin print is dark grey, the paper ~240
    else:
        assert len(levels) == 2  # black and white
        assert_trace_inked(page, sample, level=60)
    if copy == "halftone":  # the light grid comes out as scattered dots, not lines or nothing
        x0, y0, x1, y1 = (np.array(page.geometry.panels[0].box_mm) * page.geometry.px_per_mm_xy[0]).astype(int)
        area = img[y0:y0 + (y1 - y0) // 4, x0:x1, 0] == levels[0]
        assert 0.01 < area.mean() < 0.6


def test_toner_streaks_darken_whole_lines_along_the_feed():
    sample = sine_sample(0.0)
    base = render_page(sample, plain(), np.random.default_rng(0)).image.astype(float).mean(axis=2)
    for seed in range(4):
        streaked = render_page(sample, plain(toner_streaks=True, style_seed=seed), np.random.default_rng(0))
        diff = base - streaked.image.astype(float).mean(axis=2)  # > 0 where darker
        along = max(diff.mean(axis=0).max(), diff.mean(axis=1).max())  # a whole column or row
        assert along > 10, seed


# ---- headers ----------------------------------------------------------------------------------------
def ink_in(image: np.ndarray, affine: np.ndarray, box_mm: tuple[float, float, float, float]) -> float:
    (x0, y0), (x1, y1) = (affine[:2, :2] @ np.array(box_mm).reshape(2, 2).T + affine[:2, 2:]).T
    region = image[int(y0):int(np.ceil(y1)) + 1, int(x0):int(np.ceil(x1)) + 1].min(axis=2)
    return float((region < 128).mean())


def test_machine_header_prints_measurements_patient_fields_and_a_code():
    sample = sine_sample()
    found_qr = False
    for seed in range(12):
        spec = PaperSpec(header_style="machine", style_seed=seed, dpi=100)
        header = machine_header(spec, header_values(np.random.default_rng(0)),
                                np.random.default_rng([seed, 1]))
        text = " | ".join(t.text for t in header.texts)
        assert re.search(r"(Vent\. rate|Rate \d+)", text) and "ID:" in text and "Name:" in text, text
        assert re.search(r"QTc? ?\d+", text) or "QT/QTc" in text
        page = render_page(sample, spec, np.random.default_rng(0))
        affine = page.geometry.page_to_image
        for t in header.texts:  # every laid-out line is printed where the layout says
            width = text_width_mm(t.text, spec.font, t.height_mm)
            assert ink_in(page.image, affine, (t.x_mm, t.y_mm - t.height_mm, t.x_mm + width, t.y_mm)) > 0.03, t
            assert t.y_mm < spec.grid_box_mm[1]  # above the grid
        if len(header.boxes) > 100:  # a QR code: a dense square of modules
            found_qr = True
            xs = [b[0] for b in header.boxes] + [b[2] for b in header.boxes]
            ys = [b[1] for b in header.boxes] + [b[3] for b in header.boxes]
            assert 0.3 < ink_in(page.image, affine, (min(xs), min(ys), max(xs), max(ys))) < 0.8
    assert found_qr


def test_machine_header_draws_the_page_generator_as_the_studio_header_does():
    sample = sine_sample()
    after = []
    for style in ("studio", "machine"):
        rng = np.random.default_rng(5)
        render_page(sample, PaperSpec(header_style=style, dpi=60, copy="bw", toner_streaks=True), rng)
        after.append(rng.random())
    assert after[0] == after[1]


def test_header_statements_never_name_a_label():
    names = [info.name.lower() for info in LABEL_INFO] + [k.lower() for k in LABELS]
    for s in STATEMENTS:
        words = set(re.findall(r"[a-z]+", s.lower()))
        assert not any(n in s.lower() if " " in n else n in words for n in names), s


# ---- lead names and separators --------------------------------------------------------------------
def label_rows_mm(position: str) -> np.ndarray:
    """mm from the baseline (down positive) of the rows where V1's name has ink, near its start."""
    spec = plain(layout="3x4", label_position=position)
    page = render_page(sine_sample(0.0), spec, np.random.default_rng(0))
    geo = page.geometry
    p = next(q for q in geo.panels if q.lead == "V1")
    s = geo.px_per_mm_xy[1]
    x0, x1 = int(p.box_mm[0] * s + 0.1 * s), int((p.box_mm[0] + 5.0) * s)
    y0, y1 = int(p.box_mm[1] * s), int(p.box_mm[3] * s)  # this row only
    dark = (page.image[y0:y1, x0:x1].min(axis=2) < 128).any(axis=1)
    rows_mm = (np.nonzero(dark)[0] + y0 + 0.5) / s - p.baseline_mm
    return rows_mm[np.abs(rows_mm) > 0.5]  # not the (flat) trace itself


def test_lead_names_print_where_each_machine_puts_them():
    top, below, above, inline = (label_rows_mm(pos) for pos in ("top", "below", "above", "inline"))
    assert top.max() < -12  # the row's top-left, far above the baseline
    assert below.min() > 3.5 and below.max() < 8.0  # GE: under the baseline
    assert -7.5 < above.min() and above.max() < -3.5  # GE MUSE: a few mm over it
    assert -3.6 < inline.min() and inline.max() < -0.2  # Philips: standing on the baseline


def test_dotted_separators_run_through_the_row():
    def ink_at_column(style: str) -> float:
        spec = plain(layout="3x4", separators=True, separator_style=style, label_position="below")
        page = render_page(sine_sample(0.0), spec, np.random.default_rng(0))
        geo = page.geometry
        p = next(q for q in geo.panels if q.col == 1 and q.row == 0)
        s = geo.px_per_mm_xy[0]
        x = round(p.box_mm[0] * s - 0.5)
        col = page.image[int((p.box_mm[1] + 2) * s):int((p.box_mm[1] + 12) * s), x - 1:x + 2].min(axis=(1, 2))
        return float((col < 160).mean())

    assert ink_at_column("tick") == 0.0
    assert 0.2 < ink_at_column("dotted") < 0.9  # dots, not a solid line


def test_styled_layouts_still_fit_and_text_scale_scales_the_names():
    spec = PaperSpec(text_scale=1.4, font="triplex", header_style="machine")
    assert len(layout_panels(spec)) == 13
    small, big = (label_rows_mm_scaled(k) for k in (0.8, 1.4))
    assert big > 1.4 * small


def label_rows_mm_scaled(scale: float) -> float:
    spec = plain(layout="3x4", label_position="below", text_scale=scale)
    page = render_page(sine_sample(0.0), spec, np.random.default_rng(0))
    geo = page.geometry
    p = next(q for q in geo.panels if q.lead == "V1")
    s = geo.px_per_mm_xy[1]
    x0, x1 = int(p.box_mm[0] * s), int((p.box_mm[0] + 8.0) * s)
    y0, y1 = int(p.box_mm[1] * s), int(p.box_mm[3] * s)
    dark = (page.image[y0:y1, x0:x1].min(axis=2) < 128).any(axis=1)
    rows = (np.nonzero(dark)[0] + y0) / s - p.baseline_mm
    rows = rows[rows > 1.0]
    return float(rows.max() - rows.min())
