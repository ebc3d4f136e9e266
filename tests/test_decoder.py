"""The panel-window signal decoder: windows cut from panels, truths gathered, results put back."""
from __future__ import annotations

import numpy as np
import torch

from core.labels import LEADS
from core.model.decoder import assemble, panel_windows, window_arrays
from core.page.geometry import Panel
from core.train.targets import window_truth


def _panel(lead: str, t0: float, t1: float, quad: list[tuple[float, float]]) -> Panel:
    return Panel(lead, 0, 0, t0, t1, (0.0, 0.0, 1.0, 1.0), 0.5, tuple(quad))


def test_a_rhythm_strip_is_cut_into_four_windows_along_its_quad():
    # a tilted 10-s strip: its top edge rises 40 px over 400 px
    strip = _panel("II", 0.0, 10.0, [(100, 240), (500, 200), (500, 260), (100, 300)])
    ws = panel_windows([strip], 2.5)
    assert [w.t0_s for w in ws] == [0.0, 2.5, 5.0, 7.5]
    assert {w.lead for w in ws} == {LEADS.index("II")}
    np.testing.assert_allclose(ws[1].quad, [(200, 230), (300, 220), (300, 280), (200, 290)])


def test_short_panels_give_no_window_and_the_homography_is_applied():
    short = _panel("V1", 5.0, 6.0, [(0, 0), (40, 0), (40, 20), (0, 20)])
    panel = _panel("aVR", 2.5, 5.0, [(10, 20), (110, 20), (110, 60), (10, 60)])
    half = np.diag([0.5, 0.5, 1.0])
    ws = panel_windows([short, panel], 2.5, to_input=half)
    assert len(ws) == 1 and ws[0].lead == LEADS.index("aVR") and ws[0].t0_s == 2.5
    np.testing.assert_allclose(ws[0].quad, [(5, 10), (55, 10), (55, 30), (5, 30)])


def test_window_arrays_pad_and_assemble_puts_samples_back():
    ws = panel_windows([_panel("I", 0.0, 2.5, [(0, 0), (10, 0), (10, 5), (0, 5)]),
                        _panel("V6", 7.5, 10.0, [(0, 0), (10, 0), (10, 5), (0, 5)])], 2.5)
    quads, index = window_arrays(ws, 4, fs=100.0)
    assert quads.shape == (4, 4, 2) and index.tolist() == [[0, 0], [11, 750], [-1, -1], [-1, -1]]
    decoded = np.stack([np.full(250, 1.0), np.full(250, 2.0), np.full(250, 9.0), np.full(250, 9.0)])
    out = assemble(index, decoded, 12, 1000)
    assert np.all(out[0, :250] == 1.0) and np.all(out[11, 750:] == 2.0)
    assert np.isnan(out[0, 250:]).all() and np.isnan(out[1:11]).all() and np.isnan(out[11, :750]).all()


def test_window_truth_gathers_each_windows_samples_and_masks_the_rest():
    signals = torch.arange(2 * 12 * 20, dtype=torch.float32).reshape(2, 12, 20)
    known = torch.ones(2, 12, 20)
    known[1, 3, 12:] = 0  # lead 3 of page 1 printed only up to sample 12
    index = torch.tensor([[[0, 0], [5, 15], [-1, -1]], [[3, 8], [11, 10], [-1, -1]]])
    truth, mask = window_truth(signals, known, index, 10)
    assert truth.shape == mask.shape == (2, 3, 10)
    assert torch.equal(truth[0, 0], signals[0, 0, :10])
    assert torch.equal(truth[0, 1, :5], signals[0, 5, 15:20]) and mask[0, 1].tolist() == [1] * 5 + [0] * 5
    assert torch.equal(truth[1, 0], signals[1, 3, 8:18]) and mask[1, 0].tolist() == [1] * 4 + [0] * 6
    assert mask[:, 2].sum() == 0
