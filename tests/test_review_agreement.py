"""Live agreement between the model's map and the reader's mask: the same numbers as core.compare,
a picture that shows what the Dice counts, per-lead shares and the CSV export."""
from __future__ import annotations

import csv
import io

import numpy as np
import pytest

from core import compare as C
from core.page.geometry import Geometry, Panel
from core.review import agreement as A
from core.review.palette import AGREEMENT_COLOURS

# A tiny page (as in test_compare): 2 px per mm, 10 mm/s; II left, V1 right.
H_PAGE = np.array([[2.0, 0, 0.25], [0, 2.0, 0.25], [0, 0, 1]])
PANELS = (
    Panel("II", 0, 0, 0.0, 1.0, (0.0, 0.0, 10.0, 10.0), 5.0),
    Panel("V1", 0, 1, 2.5, 3.4, (10.0, 0.0, 19.0, 10.0), 5.0),
)


def tiny_geometry() -> Geometry:
    return Geometry.from_homography((40, 20), None, 10.0, 10.0, H_PAGE, PANELS)


def random_pair(shape=(60, 80), seed=0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    sal = rng.gamma(1.0, 1.0, shape).astype(np.float32)
    mask = np.zeros(shape, bool)
    mask[10:30, 20:50] = True
    sal[15:25, 25:45] += 2.0  # the model partly agrees
    return sal, mask


# ---- the picture ------------------------------------------------------------------------------
def test_codes_show_exactly_what_dice_topk_counts():
    sal, mask = random_pair()
    codes = A.agreement_codes(sal, mask)
    k = int(mask.sum())
    both = int((codes == A.BOTH).sum())
    assert both / k == pytest.approx(C.dice_topk(sal, mask))
    assert (codes == A.MODEL_ONLY).sum() == k - both          # |T| = |M| = K
    assert (codes == A.READER_ONLY).sum() == k - both
    np.testing.assert_array_equal(codes > 0, mask | (codes == A.MODEL_ONLY))
    assert codes.dtype == np.uint8 and codes.shape == sal.shape


def test_with_nothing_drawn_the_model_region_is_its_top_fraction():
    sal, _ = random_pair()
    empty = np.zeros_like(sal, bool)
    codes = A.agreement_codes(sal, empty)
    assert set(np.unique(codes)) == {A.NEITHER, A.MODEL_ONLY}
    assert (codes == A.MODEL_ONLY).sum() == round(0.02 * sal.size)
    top = np.argmax(sal)
    assert codes.flat[top] == A.MODEL_ONLY
    assert (A.agreement_codes(sal, empty, top_fraction=0.1) == A.MODEL_ONLY).sum() == round(0.1 * sal.size)
    flat = A.agreement_codes(np.zeros_like(sal), empty)  # no answer yet: nothing is the model's
    assert not flat.any()


def test_agreement_image_paints_codes_and_leaves_the_rest():
    rgb = np.full((2, 3, 3), 200, np.uint8)
    rgb[0, 0] = (10, 20, 30)
    codes = np.array([[0, 1, 2], [3, 0, 1]], np.uint8)
    out = A.agreement_image(rgb, codes, opacity=0.5)
    np.testing.assert_array_equal(out[codes == 0], rgb[codes == 0])
    for code, name in ((1, "both"), (2, "model_only"), (3, "reader_only")):
        want = np.round(0.5 * 200 + 0.5 * np.array(AGREEMENT_COLOURS[name]))
        np.testing.assert_allclose(out[codes == code], np.broadcast_to(want, out[codes == code].shape), atol=1)
    with pytest.raises(ValueError):
        A.agreement_image(rgb, codes[:, :2])


# ---- per lead -----------------------------------------------------------------------------------
def test_per_lead_shares_sum_to_one_per_side_and_follow_the_marks():
    geo = tiny_geometry()
    sal = np.random.default_rng(1).random((20, 40)).astype(np.float32)
    mask = np.zeros((20, 40), bool)
    mask[4:12, 24:34] = True  # inside V1 only
    shares = A.per_lead_shares(sal, mask, geo)
    assert list(shares) == ["II", "V1"]
    assert sum(m for m, _ in shares.values()) == pytest.approx(1, abs=1e-5)
    assert sum(r for _, r in shares.values()) == pytest.approx(1, abs=1e-5)
    assert shares["V1"][1] == pytest.approx(1.0) and shares["II"][1] == 0.0
    assert 0.3 < shares["II"][0] < 0.7  # uniform noise: split by panel area
    assert A.per_lead_shares(sal, mask, None) is None
    assert all(r == 0 for _, r in A.per_lead_shares(sal, np.zeros_like(mask), geo).values())


# ---- live numbers on a real page ----------------------------------------------------------------
@pytest.fixture(scope="module")
def page():
    """A rendered A4 page at 150 dpi with PVC evidence, and the shipped network's PVC Jacobian."""
    from core.explain import explain
    from core.model.weights import load_model
    from core.synth.pages import SynthOptions, make_page

    p = make_page(SynthOptions(n=1, seed=3, labels="PVC", domain="scan", size=(1754, 1240)), 0)
    model, weights = load_model()
    sal = explain(model, weights.input, p.image, ["PVC"], geometry=p.geometry).saliency["PVC"]
    mask = p.masks["PVC"] > 0
    return sal, mask, p.geometry, C.compare_maps(sal, mask, p.geometry)


def test_live_metrics_are_compare_maps_values(page):
    sal, mask, geo, full = page
    assert sal.size <= A.LIVE_MAX_PIXELS  # an A4 page at 150 dpi is not shrunk
    live = A.live_metrics(sal, mask, geo)
    assert tuple(live) == A.LIVE_KEYS
    assert live == {k: full[k] for k in A.LIVE_KEYS}
    assert live["pearson_grid"] is not None and live["dice_topk"] is not None


def test_shrunk_pixel_correlation_stays_within_001(page):
    """Shrunk to 0.5 MP (factor 0.48, like a 12 MP photo's 0.43) only pearson_pixel moves."""
    sal, mask, geo, full = page
    live = A.live_metrics(sal, mask, geo, max_pixels=500_000)
    assert live["pearson_pixel"] != full["pearson_pixel"]  # it was computed on the shrunk copy
    assert live["pearson_pixel"] == pytest.approx(full["pearson_pixel"], abs=0.01)  # σ left unshrunk: 0.024 off
    assert {k: live[k] for k in A.LIVE_KEYS if k != "pearson_pixel"} == \
        {k: full[k] for k in A.LIVE_KEYS if k != "pearson_pixel"}


def test_live_metrics_without_geometry_or_marks():
    sal, mask = random_pair()
    live = A.live_metrics(sal, mask, None)
    assert live["pearson_grid"] is None and live["pearson_pixel"] is not None
    empty = A.live_metrics(sal, np.zeros_like(mask), None)
    assert empty["dice_topk"] is None and empty["relevance_mass"] is None
    with pytest.raises(ValueError):
        A.live_metrics(sal, mask[:, :10], None)


# ---- export ---------------------------------------------------------------------------------------
def test_metrics_csv_round_trips():
    sal, mask = random_pair()
    metrics = C.compare_maps(sal, mask)
    row = {"image": "ecg, 2.png", "sha256": "ab" * 32, "reader": "dr x", "label": "PVC",
           "probability": 0.8125, "threshold": 0.5, "positive": True, "status": "annotated", **metrics}
    data = A.metrics_csv([row, {"image": "ecg10.png", "label": "AF", "positive": False}])
    assert isinstance(data, bytes)
    back = list(csv.DictReader(io.StringIO(data.decode("utf-8"))))
    assert tuple(back[0]) == A.CSV_KEYS
    assert A.CSV_KEYS[:8] == ("image", "sha256", "reader", "label", "probability", "threshold", "positive", "status")
    assert set(A.LIVE_KEYS) <= set(A.CSV_KEYS) and set(C.COMPARE_KEYS) <= set(A.CSV_KEYS)
    assert back[0]["image"] == "ecg, 2.png" and back[0]["positive"] == "1" and back[1]["positive"] == "0"
    assert None in metrics.values()  # no geometry: the grid metrics are None
    for key in C.COMPARE_KEYS:
        if metrics[key] is None:
            assert back[0][key] == ""
        else:
            assert float(back[0][key]) == metrics[key]
    assert back[1]["dice_topk"] == "" and back[1]["reader"] == ""
    with pytest.raises(ValueError):
        A.metrics_csv([{"dice_top_k": 0.5}])
