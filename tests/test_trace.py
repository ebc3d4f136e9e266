"""Reading the leads at full resolution (core.page.trace), time registration (core.page.timing)
and the grid ruler (core.page.ruler), on the studio's own pages: the truth is known exactly."""
from __future__ import annotations

from dataclasses import replace
from functools import lru_cache

import numpy as np
import pytest

from core.labels import LEADS, canonical_lead
from core.page.geometry import Geometry
from core.page.ruler import grid_ruler
from core.page.timing import trace_extent
from core.page.trace import READ_FS_HZ, read_page
from core.synth.pages import SynthOptions, make_page
from core.train.metrics import snr_db
from core.train.targets import decoder_signals, printed_mask


@lru_cache(maxsize=1)
def clean_page():
    return make_page(SynthOptions(n=1, seed=5, domain="clean", source="sim", dpi=150, layout="3x4+1"), 0)


def snr(page, signals: np.ndarray) -> float:
    truth, known = decoder_signals(page.sample), printed_mask(page.geometry)
    return float(np.nanmean(snr_db(truth[None], np.nan_to_num(signals)[None], known[None])))


def shifted(g: Geometry, dx_mm: float) -> Geometry:
    panels = tuple(replace(p, box_mm=(p.box_mm[0] + dx_mm, p.box_mm[1], p.box_mm[2] + dx_mm, p.box_mm[3]))
                   for p in g.panels)
    return Geometry.from_homography(g.image_size, g.layout, g.speed_mm_s, g.gain_mm_mv, g.page_to_image, panels)


def test_a_clean_page_is_read_back_through_its_geometry():
    page = clean_page()
    reading = read_page(page.image, page.geometry)
    known = printed_mask(page.geometry) > 0
    assert np.isfinite(reading.signals[known]).mean() > 0.95   # coverage
    assert not np.isfinite(reading.signals[~known]).any()       # nothing where no lead is printed
    assert snr(page, reading.signals) > 10.0
    assert reading.registered_rows[0] == reading.registered_rows[1] == 4


def test_boxes_placed_3_mm_late_are_moved_back_onto_the_trace():
    page = clean_page()
    reading = read_page(page.image, shifted(page.geometry, 3.0))
    for found, true in zip(reading.geometry.panels, page.geometry.panels):
        assert found.box_mm[0] == pytest.approx(true.box_mm[0], abs=0.3)
        assert found.box_mm[2] == pytest.approx(true.box_mm[2], abs=0.3)
    # and the leads read through them are as good as through the true boxes
    assert snr(page, reading.signals) > snr(page, read_page(page.image, page.geometry).signals) - 3.0


def test_without_registration_a_3_mm_shift_ruins_the_reading():
    """What registration is for: the same shift, left in place, costs most of the SNR."""
    page = clean_page()
    g = shifted(page.geometry, 3.0)
    signals = np.full((len(LEADS), 1000), np.nan, np.float32)
    from core.page.trace import read_row, strip_scale
    for row in sorted({p.row for p in g.panels}):
        members = [p for p in g.panels if p.row == row]
        r = read_row(page.image, g, members, strip_scale(g))
        for p in members:
            n = int(round((p.t1_s - p.t0_s) * 100))
            cols = [(p.box_mm[0] - r.x0_mm + k / 100 * g.speed_mm_s) * r.px_per_mm for k in range(n)]
            y = np.interp(cols, np.arange(len(r.y_px)), np.nan_to_num(r.y_px))
            signals[LEADS.index(canonical_lead(p.lead)), int(round(p.t0_s * 100)) + np.arange(n)] = (r.zero_px - y) / r.px_per_mm / 10
    assert snr(page, signals) < snr(page, read_page(page.image, g).signals) - 5.0


def test_a_trace_wiped_off_the_paper_is_a_gap_not_invented_signal():
    page = clean_page()
    image = page.image.copy()
    p = page.geometry.panels[0]                     # lead I, 0-2.5 s
    q = np.array(p.quad_px)
    x0 = int(q[0, 0] + 0.4 * (q[1, 0] - q[0, 0]))   # white out 0.4..0.6 of the panel, all its height
    x1 = int(q[0, 0] + 0.6 * (q[1, 0] - q[0, 0]))
    image[int(q[0, 1]):int(q[3, 1]), x0:x1] = 255
    reading = read_page(image, page.geometry)
    lead = LEADS.index(canonical_lead(p.lead))
    t = np.arange(1000) / 100
    inside = (t > p.t0_s + 0.45 * 2.5) & (t < p.t0_s + 0.55 * 2.5)
    assert not np.isfinite(reading.signals[lead, inside]).any()
    assert (reading.confidence[lead, inside] == 0).all()
    around = (t >= p.t0_s + 0.1 * 2.5) & (t < p.t0_s + 0.35 * 2.5)
    assert np.isfinite(reading.signals[lead, around]).all()


def test_grid_ruler_measures_a_stretched_grid_and_declines_blank_paper():
    px_per_mm = 6.0
    w = 1500
    true_mm = np.linspace(0, 250, w) + 0.8 * np.linspace(0, 1, w) ** 2   # 0.8 mm of stretch at the far end
    strip = np.full((120, w, 3), 255, np.uint8)
    lines = np.searchsorted(true_mm, np.arange(1, 250))
    strip[:, lines] = (240, 140, 150)
    strip[:, lines + 1] = (250, 200, 205)
    mm = grid_ruler(strip, px_per_mm)
    assert mm is not None
    error = (mm - mm[0]) - (true_mm - true_mm[0])
    assert np.abs(error[lines]).max() < 0.12
    assert grid_ruler(np.full((120, w, 3), 255, np.uint8), px_per_mm) is None


def test_grid_ruler_counts_millimetres_past_a_line_read_as_two():
    """A thin line resampled to 5 px/mm can show as two marks 3 px apart: counted mark by mark,
    each such line put the rest of the strip a millimetre further off."""
    px_per_mm, w = 5.0, 1300
    true_mm = np.linspace(0, 260, w) + 0.8 * np.linspace(0, 1, w) ** 2
    strip = np.full((120, w, 3), 255, np.uint8)
    lines = np.searchsorted(true_mm, np.arange(1, 259))
    strip[:, lines] = (240, 140, 150)
    split = [60, 120, 180]
    for k in split:
        strip[:, lines[k]] = 255
        strip[:, [lines[k] - 2, lines[k] + 1]] = (240, 140, 150)
    mm = grid_ruler(strip, px_per_mm)
    assert mm is not None
    whole = np.delete(lines, split)
    assert np.abs(((mm - mm[0]) - (true_mm - true_mm[0]))[whole]).max() < 0.15


def test_grid_ruler_measures_a_bent_row_from_its_5_mm_lines_alone():
    """A faint grid may show only its 5-mm lines, with a trace crossing now and then between
    them. Numbered millimetre by millimetre, each could be called a millimetre off and still
    look whole, and the ruler lost the 2.5-mm bend it is there to measure."""
    px_per_mm, w = 5.0, 1600
    true_mm = np.linspace(0, 320, w) + 2.5 * np.linspace(-1, 1, w) ** 2
    strip = np.full((120, w, 3), 255, np.uint8)
    lines = np.searchsorted(true_mm, np.arange(5, 316, 5))
    strip[:, lines] = (240, 140, 150)
    strip[:, np.searchsorted(true_mm, np.arange(5, 316, 25) + 2.0)] = (245, 160, 170)
    mm = grid_ruler(strip, px_per_mm)
    assert mm is not None
    assert np.abs(((mm - mm[800]) - (true_mm - true_mm[800]))[lines]).max() < 0.15


def test_the_walk_stops_at_a_calibration_pulse_and_at_the_end_of_the_ink():
    px = 6.0
    h = np.full(600, np.nan)
    h[10:40] = 10.0                          # a 1-mV pulse's top, 5 mm wide
    h[40:44] = 0.0                           # its foot, touching the trace
    h[44:560] = np.sin(np.arange(516) / 9)   # the trace, ending at column 559
    start, end = trace_extent(h, 70, 500, px)
    assert start == 40 or start == 41
    assert end == 559
    h[44:560] = 0.0
    h[300:305] = np.nan                      # a break of under 1 mm inside the trace is walked over
    assert trace_extent(h, 70, 500, px)[1] == 559


def test_a_row_timed_far_off_the_others_takes_their_line():
    """Rows of a time-aligned printout start on one line down the page; a row whose walk
    stopped 11 mm late (at a break in the ink) or found nothing is put back on it."""
    from core.page.geometry import Panel
    from core.page.trace import RowReading, _agreed
    from core.page.timing import time_axis

    r, x0_mm, n = 6.0, 0.0, 1800
    paper = np.arange(n) / r

    def row(start_mm: float | None) -> RowReading:
        start = None if start_mm is None else start_mm * r
        end = None if start_mm is None else (start_mm + 250.0) * r
        column_at, ok = time_axis(start, end, paper, 0.0, 10.0, 25.0, lambda t: (40.0 + 25.0 * t) * r)
        return RowReading(x0_mm, 0.0, r, np.zeros(n), np.zeros(n, np.float32), paper, 50.0,
                          column_at, ok, (0.0, 10.0), 25.0)

    readings = {0: row(31.0), 1: row(20.0), 2: row(20.2), 3: row(None), 4: row(19.9)}
    first = {k: Panel("II", k, 0, 0.0, 10.0, (20.0, 30.0 + 40 * k, 270.0, 70.0 + 40 * k), 55.0 + 40 * k) for k in readings}
    fixed = _agreed(readings, first)
    for k in readings:
        assert fixed[k].registered
        assert fixed[k].x_mm_at(0.0) == pytest.approx(20.0, abs=0.6)
        assert fixed[k].x_mm_at(10.0) == pytest.approx(270.0, abs=0.6)
    assert fixed[1] is readings[1]   # rows on the line are left as they are


def test_analyze_explains_on_the_registered_geometry_and_carries_these_leads():
    """One path: the leads `analyze` returns (signals.csv, the window's panel) are the
    full-resolution reading, and the geometry it explains on is the registered one."""
    from core.analyze import analyze, model_for
    from core.io.images import LoadedImage

    page = clean_page()
    late = shifted(page.geometry, 3.0)
    model, weights = model_for("cpu")
    image = LoadedImage(rgb=page.image, path="studio.png", format="png", n_pages=1, page=1, sha256="0" * 64)
    a = analyze(image, model, weights, labels=("SR",), geometry=late)
    reading = read_page(page.image, late, READ_FS_HZ, int(READ_FS_HZ * weights.net.decoder_seconds))
    np.testing.assert_array_equal(a.explanation.signals, reading.signals)
    assert a.geometry.panels[0].box_mm[0] == pytest.approx(page.geometry.panels[0].box_mm[0], abs=0.3)
    assert "leads" in a.timings_ms


def test_samples_held_off_the_row_are_dropped_but_a_qrs_is_kept():
    from core.page.trace import _off_row

    pitch_mv, fs = 4.0, 100.0               # a 40-mm row pitch at 10 mm/mV
    mv = np.zeros(300)
    mv[50:55] = 2.0                         # a tall QRS: half a pitch for 50 ms
    mv[100:130] = 1.5                       # a path held on a neighbour's trace for 300 ms
    mv[200] = 4.5                           # beyond a whole pitch, however briefly
    off = _off_row(mv, pitch_mv, fs)
    assert not off[50:55].any()
    assert off[100:130].all()
    assert off[200]
    assert off.sum() == 31


def test_a_registered_box_maps_time_both_ways_by_its_own_width():
    """Registration can stretch a row's boxes off the nominal speed: drawing a sample
    (signal_to_pixel) and hovering over it (pixel_to_signal) must agree on its time."""
    page = clean_page()
    g = page.geometry
    p = g.panels[0]
    stretched = replace(p, box_mm=(p.box_mm[0], p.box_mm[1], p.box_mm[0] + 1.04 * (p.box_mm[2] - p.box_mm[0]), p.box_mm[3]))
    g2 = Geometry.from_homography(g.image_size, g.layout, g.speed_mm_s, g.gain_mm_mv, g.page_to_image,
                                  (stretched, *g.panels[1:]))
    (x, y), = g2.signal_to_pixel(0, np.array([p.t0_s + 1.7]), np.array([0.3]))
    i, t, mv = g2.pixel_to_signal(x, y)
    assert i == 0 and t == pytest.approx(p.t0_s + 1.7, abs=1e-6) and mv == pytest.approx(0.3, abs=1e-6)


def test_a_cabrera_page_prints_minus_avr_and_gives_avr_back_with_its_own_sign():
    page = make_page(SynthOptions(n=1, seed=5, domain="clean", source="sim", dpi=150, layout="cabrera-3x4"), 0)
    assert page.geometry.layout == "cabrera-3x4"
    signals = read_page(page.image, page.geometry).signals
    truth, known = decoder_signals(page.sample), printed_mask(page.geometry) > 0
    avr = LEADS.index("aVR")
    k = known[avr] & np.isfinite(signals[avr])
    assert k.sum() > 200
    assert np.corrcoef(truth[avr][k], signals[avr][k])[0, 1] > 0.8


def test_leads_are_read_on_time_to_a_sample_at_500_hz_to_the_end_of_the_row():
    """Where the row's first and last samples are put inside the ink's ends: half a pen width
    too few at the end had read every lead a few ms early, most in the last column. (At 150 dpi
    a row may still start a strip column, 8 ms, early where its first pixels are half inked.)"""
    page = make_page(SynthOptions(n=1, seed=5, domain="clean", source="sim", dpi=200, layout="3x4+1"), 0)
    fs = READ_FS_HZ
    signals = read_page(page.image, page.geometry, fs=fs, n_samples=int(10 * fs)).signals
    truth = page.sample.signals.T
    assert page.sample.fs == fs
    lags = {}
    for p in page.geometry.panels:
        lead = LEADS.index(canonical_lead(p.lead))
        i0, i1 = int(p.t0_s * fs) + 10, int(p.t1_s * fs) - 10
        a, b = truth[lead, i0:i1], signals[lead, i0:i1]
        k = np.isfinite(b)
        a, b = np.where(k, a - a[k].mean(), 0.0), np.where(k, b - b[k].mean(), 0.0)
        lags.setdefault(p.col, []).append(max(range(-8, 9), key=lambda d: float(np.sum(np.roll(b, d) * a))))
    assert all(abs(np.median(v)) <= 1 for v in lags.values()), lags   # 2 ms


def test_tall_narrow_r_waves_are_read_to_their_apex_at_its_time_on_a_scan():
    """A narrow R wave prints as one run from baseline to apex in two or three columns about as
    tall as each other; the apex is its value, and it lies in the column with more ink at the
    top. Taking the runs' middles had read scanned R waves at about two thirds of their height;
    always taking the first column had read them 3 ms early on these pages (7 ms on the
    first); a page's own time registration moves its apexes by up to half a column (4 ms)."""
    from scipy.signal import find_peaks

    fs = READ_FS_HZ
    ratios, offsets_ms = [], []
    for seed in (4, 5, 6):
        page = make_page(SynthOptions(n=1, seed=seed, domain="scan", source="sim", dpi=200, layout="3x4+1"), 0)
        signals = read_page(page.image, page.geometry, fs=fs, n_samples=int(10 * fs)).signals
        truth = page.sample.signals.T[:, :signals.shape[1]]
        for lead in range(len(LEADS)):
            read = np.isfinite(signals[lead])
            if read.sum() < 500:
                continue
            true_height = np.abs(truth[lead] - np.median(truth[lead][read]))
            read_height = np.abs(signals[lead] - np.nanmedian(signals[lead]))
            peaks, _ = find_peaks(np.where(read, true_height, 0.0), distance=int(0.3 * fs), height=0.5)
            for p in peaks:
                near = slice(max(p - 10, 0), p + 10)   # +-20 ms
                if np.isfinite(read_height[near]).all():
                    ratios.append(read_height[near].max() / true_height[p])
                    offsets_ms.append((near.start + int(np.argmax(read_height[near])) - p) * 1000 / fs)
    assert len(ratios) >= 100
    assert np.median(ratios) > 0.9
    assert abs(np.mean(offsets_ms)) < 1.5


def test_the_path_stays_on_a_faint_trace_beside_a_dark_level_band():
    """A shadow's edge or a marker's stroke runs level and far thicker than the pen: darker
    than a faint trace, it had drawn the path off the trace for as long as it lasted."""
    from core.page.trace import trace_path

    px_per_mm, w = 5.0, 400
    score = np.zeros((200, w), np.float32)
    score[99:101, :] = 0.5                 # the trace: 2 px, faint, on the baseline (y 100)
    score[80:95, 150:300] = 1.0            # a dark band 15 px thick, 1 mm above it
    y, _ = trace_path(score, baseline_px=100.0, pitch_px=100.0, px_per_mm=px_per_mm)
    assert np.all(np.abs(y[150:300] - 99.5) < 1.0)


def test_the_ruler_takes_up_a_bend_of_a_tenth_of_a_millimetre_along_a_row():
    """A reader's homography with a trace of perspective bends a row by 0.1 mm mid-row (4 ms).
    Read on a strip at a whole number of px per mm, every 1-mm line fell at one sub-pixel
    phase and the ruler took up only half of the bend."""
    from core.page.trace import read_row, strip_scale

    page = make_page(SynthOptions(n=1, seed=7, domain="clean", source="sim", dpi=200, layout="3x4"), 0)
    true = page.geometry
    bend = np.array([[1, 0, 0], [0, 1, 0], [-4e-6, 0, 1.0]])   # reader page mm -> true page mm
    reader = Geometry.from_homography(true.image_size, true.layout, true.speed_mm_s, true.gain_mm_mv,
                                      np.asarray(true.page_to_image) @ bend, true.panels, true.confidence)
    px_per_mm = strip_scale(reader)
    row = [p for p in reader.panels if p.row == 0]
    reading = read_row(page.image, reader, row, px_per_mm)
    columns = np.arange(len(reading.paper_x_mm))
    x_reader = reading.x0_mm + columns / px_per_mm
    x_true = x_reader / (1 - 4e-6 * x_reader)

    def mid_row_bend(x: np.ndarray) -> float:
        a, b, m = int(0.1 * len(x)), int(0.9 * len(x)), len(x) // 2
        return float(x[m] - np.interp(m, [a, b], [x[a], x[b]]))

    assert mid_row_bend(x_true) < -0.05   # the bend is there to be taken up
    assert abs(mid_row_bend(reading.paper_x_mm - x_true)) < 0.02


def test_the_ink_edge_of_a_row_is_read_to_a_twentieth_of_a_millimetre():
    """Where a trace's ink stops, its edge is read on a fine patch; at the strip's 0.2-mm
    columns the reader's rows, at any phase of the columns, were timed up to 0.1 mm off."""
    import cv2

    from core.page.trace import ink_edge_mm

    px_per_mm = 7.87   # 200 dpi
    for end_mm in (30.0, 30.37, 30.61):
        image = np.full((400, 600, 3), 250, np.uint8)
        ink = np.zeros((400, 600), np.uint8)
        shift = 4   # cv2's fixed-point sub-pixel coordinates
        pts = np.round(np.array([[5.0, 25.0], [end_mm, 25.0]]) * px_per_mm * (1 << shift)).astype(np.int32)
        cv2.polylines(ink, [pts.reshape(-1, 1, 2)], False, 255, 1, cv2.LINE_AA, shift)
        image[ink > 0] = (250 - ink[ink > 0, None].astype(np.int32) * 200 // 255).astype(np.uint8)
        page = Geometry.from_homography((600, 400), "3x4", 25.0, 10.0,
                                        np.diag([px_per_mm, px_per_mm, 1.0]), (), {})
        for guess in (end_mm - 0.25, end_mm + 0.1):   # the column walk's end, a column either way
            right = ink_edge_mm(image, page, guess, 25.0, +1)
            assert right is not None and abs(right - end_mm) < 0.05
        left = ink_edge_mm(image, page, 5.2, 25.0, -1)
        assert left is not None and abs(left - 5.0) < 0.05
    blank = np.full((400, 600, 3), 250, np.uint8)
    assert ink_edge_mm(blank, page, 30.0, 25.0, +1) is None   # no step, no edge
