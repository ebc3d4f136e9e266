"""Ground-truth evidence masks drawn from the exact page geometry."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from core.labels import ALL_LEADS, LABELS, LEADS
from core.synth.masks import evidence_mask, label_masks
from core.synth.paper import PaperSpec
from core.synth.render import render_page
from core.synth.sample import EcgSample, Evidence

FS = 500.0
DILATE_MM = 1.5


def make_sample(evidence: dict[str, tuple[Evidence, ...]], const_mv: dict[str, float] | None = None) -> EcgSample:
    """A 0.7 Hz, 0.8 mV sine in every lead (or a constant where given), with evidence."""
    t = np.arange(int(10 * FS)) / FS
    signals = 0.8 * np.sin(2 * np.pi * 0.7 * t[:, None] + np.arange(12)[None, :])
    for lead, mv in (const_mv or {}).items():
        signals[:, LEADS.index(lead)] = mv
    labels = {k: int(k in evidence) for k in LABELS}
    return EcgSample(signals.astype(np.float32), FS, labels, evidence)


def plain_page(sample: EcgSample, layout: str, size=None, **kw):
    spec = PaperSpec(layout=layout, grid_colour="none", header=False, separators=False,
                     trace_colour="black", margins_mm=(6.0, 8.0, 6.0, 4.0), **kw)
    return render_page(sample, spec, np.random.default_rng(0), size=size)


def panel_px_box(geometry, panel, t0_s: float, t1_s: float, pad_mm: float) -> tuple[int, int, int, int]:
    """Image-px (x0, y0, x1, y1) of a panel's box between two times, padded by pad_mm."""
    x0 = panel.box_mm[0] + (t0_s - panel.t0_s) * geometry.speed_mm_s - pad_mm
    x1 = panel.box_mm[0] + (t1_s - panel.t0_s) * geometry.speed_mm_s + pad_mm
    (a, b), (c, d) = geometry.page_to_image_pts(np.array([[x0, panel.box_mm[1] - pad_mm], [x1, panel.box_mm[3] + pad_mm]]))
    return int(np.floor(a)), int(np.floor(b)), int(np.ceil(c)) + 1, int(np.ceil(d)) + 1


@pytest.mark.parametrize("size", [None, (896, 448)], ids=["150dpi", "896x448"])
@pytest.mark.parametrize("layout", ["3x4+3", "12x1"])
def test_interval_in_v1(layout, size):
    sample = make_sample({"IAVB": (Evidence("V1", 1.0, 1.4),)})
    page = plain_page(sample, layout, size, trace_width_mm=0.3, gain_mm_mv=5.0 if layout == "12x1" else 10.0)
    geo = page.geometry
    mask = evidence_mask(sample, geo, "IAVB")
    assert mask.shape == page.image.shape[:2] and mask.dtype == np.uint8
    assert set(np.unique(mask)) == {0, 255}
    v1 = [p for p in geo.panels if p.lead == "V1" and p.t0_s <= 1.0 and p.t1_s >= 1.4]
    assert len(v1) == 1
    # nowhere but around that panel's 1.0-1.4 s
    x0, y0, x1, y1 = panel_px_box(geo, v1[0], 1.0, 1.4, DILATE_MM + 0.5)
    outside = mask.copy()
    outside[max(y0, 0):y1, max(x0, 0):x1] = 0
    assert not outside.any()
    # within 1.5 mm + trace width of the ink
    dark = page.image.min(axis=2) < 160
    dist_px = cv2.distanceTransform((~dark).astype(np.uint8), cv2.DIST_L2, 5)
    reach_px = (DILATE_MM + 0.3) * max(geo.px_per_mm_xy) + 1.0
    assert dist_px[mask > 0].max() <= reach_px
    # covering the dark trace pixels printed there
    tx0, ty0, tx1, ty1 = panel_px_box(geo, v1[0], 1.0, 1.4, 0.0)
    there = np.zeros_like(dark)
    there[ty0:ty1, tx0:tx1] = dark[ty0:ty1, tx0:tx1]
    assert there.sum() > 10
    assert (mask[there] > 0).mean() >= 0.95


def test_unprinted_or_missing_evidence_is_empty():
    sample = make_sample({"IAVB": (Evidence("V1", 1.0, 1.4),)})
    geo = plain_page(sample, "3x4+1").geometry  # V1 prints only 5.0-7.5 s here
    assert not evidence_mask(sample, geo, "IAVB").any()
    assert not evidence_mask(sample, geo, "AF").any()  # no evidence at all
    assert label_masks(sample, geo)["IAVB"].shape == geo.image_size[::-1]


def test_only_evidence_leads_count():
    """An interval in a lead that is not one of the label's evidence leads marks nothing."""
    sample = make_sample({"SR": (Evidence("V1", 0.0, 10.0),)})  # SR: II, I, aVF
    geo = plain_page(sample, "12x1", gain_mm_mv=5.0).geometry
    assert not evidence_mask(sample, geo, "SR").any()


def test_interval_across_a_column_boundary():
    """PVC at 2.4-2.6 s in every lead: row 0 shows it at the end of I and the start of aVR."""
    sample = make_sample({"PVC": tuple(Evidence(lead, 2.4, 2.6) for lead in ALL_LEADS)})
    geo = plain_page(sample, "3x4").geometry
    mask = evidence_mask(sample, geo, "PVC")
    per_panel = {}
    for p in geo.panels:
        x0, y0, x1, y1 = panel_px_box(geo, p, p.t0_s, p.t1_s, 0.0)
        per_panel[(p.row, p.col)] = int(mask[y0:y1, x0:x1].sum() // 255)
    for row in range(3):
        assert per_panel[(row, 0)] > 0 and per_panel[(row, 1)] > 0
        assert per_panel[(row, 2)] == 0 and per_panel[(row, 3)] == 0
    # I's part stops at 2.5 s (plus the dilation): nothing left of 2.4 s
    first = geo.panels[0]
    xs = np.nonzero(mask.any(axis=0))[0]
    boundary = geo.signal_to_pixel(first, [2.4, 2.6], [0.0, 0.0])[:, 0]
    r = DILATE_MM * geo.px_per_mm_xy[0] + 1
    assert xs.min() >= boundary[0] - r and xs.max() <= boundary[1] + r


@pytest.mark.parametrize("size", [None, (896, 448)], ids=["150dpi", "896x448"])
def test_dilation_is_a_disk_on_the_paper(size):
    """A flat 0 mV stretch gives a band 2 x 1.5 mm tall, and reaches 1.5 mm past its ends."""
    sample = make_sample({"IAVB": (Evidence("II", 3.0, 4.0),)}, const_mv={"II": 0.0})
    geo = plain_page(sample, "12x1", size, gain_mm_mv=5.0).geometry
    mask = evidence_mask(sample, geo, "IAVB")
    sx, sy = geo.px_per_mm_xy
    ys, xs = np.nonzero(mask)
    tol = 3.0  # the radius rounds to whole px (<= 0.5 each side), the ends rasterise (<= 0.5 each)
    assert abs((ys.max() - ys.min() + 1) - 2 * DILATE_MM * sy) <= tol
    assert abs((xs.max() - xs.min() + 1) - (1.0 * geo.speed_mm_s + 2 * DILATE_MM) * sx) <= tol


def test_mask_follows_inverted_cabrera_avr():
    sample = make_sample({"PVC": (Evidence("aVR", 0.0, 10.0),)}, const_mv={"aVR": 1.0})
    for cabrera, direction in ((False, -1.0), (True, 1.0)):
        geo = plain_page(sample, "3x4", cabrera=cabrera).geometry
        p = next(p for p in geo.panels if p.lead == "aVR")
        ys = np.nonzero(evidence_mask(sample, geo, "PVC"))[0]
        (_, y_ink), = geo.page_to_image_pts(np.array([[0.0, p.baseline_mm + direction * geo.gain_mm_mv]]))
        assert abs((ys.min() + ys.max()) / 2 - y_ink) < 1.0


def test_label_masks_only_present_labels_with_evidence():
    ev = {"PVC": (Evidence("II", 2.0, 2.3),), "SR": (Evidence("II", 0.5, 0.6),), "AF": ()}
    sample = make_sample(ev)
    sample = EcgSample(sample.signals, FS, {**sample.labels, "SR": 0, "RBBB": 1}, ev)
    masks = label_masks(sample, plain_page(sample, "3x4+1").geometry)
    assert set(masks) == {"PVC"}
    assert masks["PVC"].any()
