"""Agreement metrics on hand-made maps whose answers are known."""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from core import compare as C
from core.page.geometry import Geometry, Panel

# ---- a tiny page: 2 px per mm, 10 mm/s, so one 0.2 s cell is 4 px wide -----------------------
# page mm -> image px: x_px = 2 x_mm + 0.25 (edges fall between pixel centres), same for y.
H_PAGE = np.array([[2.0, 0, 0.25], [0, 2.0, 0.25], [0, 0, 1]])
PANELS = (
    Panel("II", 0, 0, 0.0, 1.0, (0.0, 0.0, 10.0, 10.0), 5.0),   # 5 cells of 0.2 s
    Panel("V1", 0, 1, 2.5, 3.4, (10.0, 0.0, 19.0, 10.0), 5.0),  # 4 cells of 0.2 s + one of 0.1 s
)


def tiny_geometry() -> Geometry:
    return Geometry.from_homography((40, 20), None, 10.0, 10.0, H_PAGE, PANELS)


def quad_only_geometry() -> Geometry:
    """The same page described by panel quads alone (no page mapping)."""
    geo = tiny_geometry()
    return Geometry(geo.image_size, None, 10.0, 10.0, None, None, geo.panels)


def square_mask(shape=(40, 60), box=(10, 20, 20, 40)) -> np.ndarray:
    m = np.zeros(shape, bool)
    r0, c0, r1, c1 = box
    m[r0:r1, c0:c1] = True
    return m


# ---- grid ------------------------------------------------------------------------------------
@pytest.mark.parametrize("make", [tiny_geometry, quad_only_geometry])
def test_grid_scores_known_cell_sums(make):
    values = np.zeros((20, 40))
    values[10, 9] = 1.0    # II, x 4.4 mm -> t 0.44 s: cell 2
    values[5, 37] = 5.0    # V1, x 18.4 mm -> t 3.34 s: the short last cell
    values[5, 39] = 100.0  # x 19.4 mm: right of every panel, must not count
    scores, cells = C.grid_scores(values, make())
    assert len(cells) == len(scores) == 10
    assert [c[0] for c in cells.cells] == [0] * 5 + [1] * 5
    assert cells.cells[2][1:] == pytest.approx((0.4, 0.6))
    assert cells.cells[-1][1:] == pytest.approx((3.3, 3.4))
    expected = np.zeros(10)
    expected[2], expected[9] = 1.0, 5.0
    np.testing.assert_allclose(scores, expected)


def test_grid_counts_every_pixel_once():
    scores, cells = C.grid_scores(np.ones((20, 40)), tiny_geometry())
    full = [i for i, (_, t0, t1) in enumerate(cells.cells) if t1 - t0 > 0.19 and i not in (4, 9)]
    # a full 0.2 s cell inside a panel: 4 px wide x 20 rows
    np.testing.assert_allclose(scores[full], 80.0)
    index, _ = C.rasterise_cells(tiny_geometry())
    assert scores.sum() == pytest.approx((index >= 0).sum())


def test_cells_kept_for_a_page_are_the_same_and_cannot_be_changed():
    """A page's cells are painted once and shared by its labels: asking again, with an equal
    geometry, gives the same read-only index; another page gets its own."""
    index, cells = C.rasterise_cells(tiny_geometry())
    again, cells_again = C.rasterise_cells(tiny_geometry())
    assert again is index and cells_again == cells
    with pytest.raises(ValueError):
        index[0, 0] = 7
    other, _ = C.rasterise_cells(Geometry.from_homography((12, 20), None, 10.0, 10.0, H_PAGE, PANELS))
    assert other.shape == (20, 12)


def test_cells_outside_the_image_are_dropped():
    geo = Geometry.from_homography((12, 20), None, 10.0, 10.0, H_PAGE, PANELS)  # only 6 mm shown
    _, cells = C.grid_scores(np.ones((20, 12)), geo)
    assert {c[0] for c in cells.cells} == {0}
    assert len(cells) == 3


def test_panel_cells_last_shorter():
    cells = C.panel_cells(0.0, 0.5, 0.2)
    assert len(cells) == 3 and cells[-1] == pytest.approx((0.4, 0.5))
    assert len(C.panel_cells(0.0, 1.0, 0.2)) == 5  # no sliver from rounding


def test_grid_correlations():
    geo = tiny_geometry()
    mask = np.zeros((20, 40), bool)
    mask[2:8, 4:12] = True
    assert C.pearson_grid(mask.astype(float) * 3, mask, geo) == pytest.approx(1.0)
    assert C.spearman_grid(mask.astype(float) * 3, mask, geo) == pytest.approx(1.0)
    assert C.pearson_grid(np.ones((20, 40)), mask, geo) is not None  # equal cells but a shorter one
    assert C.pearson_grid(np.zeros((20, 40)), mask, geo) is None


# ---- pixel correlations ----------------------------------------------------------------------
def test_pixel_correlations_equal_opposite_and_smoothing():
    m = square_mask()
    sal = m * 3.0 + 0.5
    assert C.pearson_pixel(sal, m, 2.0) == pytest.approx(1.0)
    assert C.spearman_pixel(sal, m, 2.0) == pytest.approx(1.0)
    assert C.pearson_pixel(1.0 - m, m, 2.0) == pytest.approx(-1.0)
    shifted = np.roll(m, 3, axis=1).astype(float)
    assert C.pearson_pixel(shifted, m, 3.0) > C.pearson_pixel(shifted, m, 0.0) + 0.1
    assert C.pearson_pixel(np.ones(m.shape), m, 2.0) is None


# ---- saliency vs mask ------------------------------------------------------------------------
def test_saliency_equal_to_mask_scores_perfectly():
    m = square_mask()
    sal = m.astype(np.float32)
    for fn in (C.relevance_mass, C.relevance_rank, C.pointing_game, C.dice_topk, C.iou_topk, C.auroc):
        assert fn(sal, m) == pytest.approx(1.0), fn.__name__


def test_disjoint_saliency_scores_zero():
    m = square_mask()
    sal = np.zeros(m.shape, np.float32)
    sal[25:35, 0:20] = 1.0  # 200 px, mask has 200 px, no overlap
    for fn in (C.relevance_mass, C.relevance_rank, C.pointing_game, C.dice_topk, C.iou_topk):
        assert fn(sal, m) == 0.0, fn.__name__
    assert C.auroc(1.0 - m, m) == 0.0


def test_half_in_saliency_scores_half():
    m = square_mask()           # rows 10:20, cols 20:40
    sal = np.zeros(m.shape, np.float32)
    sal[10:20, 30:50] = 1.0     # 200 px, 100 of them in the mask
    assert C.relevance_mass(sal, m) == pytest.approx(0.5)
    assert C.relevance_rank(sal, m) == pytest.approx(0.5)
    assert C.dice_topk(sal, m) == pytest.approx(0.5)
    assert C.iou_topk(sal, m) == pytest.approx(100 / 300)
    # pairs (in, out): (1,1) tie, (1,0) win, (0,1) loss, (0,0) tie -> 2/4
    assert C.auroc(np.array([[1.0, 0.0, 1.0, 0.0]]), np.array([[1, 1, 0, 0]], bool)) == 0.5


def test_metrics_accept_a_mask_as_the_saliency():
    m = square_mask()
    for fn in (C.relevance_rank, C.pointing_game, C.dice_topk, C.iou_topk, C.auroc, C.relevance_mass):
        assert fn(m, m) == 1.0, fn.__name__


def test_relevance_mass_ignores_negative_saliency():
    m = np.array([[True, False, False]])
    assert C.relevance_mass(np.array([[2.0, 2.0, -10.0]]), m) == pytest.approx(0.5)


def test_pointing_game_tolerance():
    m = square_mask()                  # cols 20:40
    sal = np.zeros(m.shape)
    sal[15, 42] = 1.0                  # 3 px right of the mask's last column (39)
    assert C.pointing_game(sal, m) == 0.0
    assert C.pointing_game(sal, m, tolerance_px=2) == 0.0
    assert C.pointing_game(sal, m, tolerance_px=3) == 1.0


def test_empty_mask_and_constant_map_are_undefined():
    empty = np.zeros((10, 10), bool)
    sal = np.random.default_rng(1).random((10, 10))
    for fn in (C.relevance_mass, C.relevance_rank, C.pointing_game, C.dice_topk, C.iou_topk, C.auroc):
        assert fn(sal, empty) is None, fn.__name__
    assert C.pointing_game(np.ones((10, 10)), square_mask((10, 10), (2, 2, 5, 5))) is None


def test_auroc_subsample_is_deterministic_and_close():
    rng = np.random.default_rng(2)
    m = rng.random((200, 200)) < 0.2
    sal = m + rng.normal(0, 0.8, m.shape)
    full = C.auroc(sal, m)
    a, b = C.auroc(sal, m, max_pixels=20_000), C.auroc(sal, m, max_pixels=20_000)
    assert a == b
    assert a == pytest.approx(full, abs=0.02)


# ---- mask vs mask ----------------------------------------------------------------------------
def test_mask_agreement_small_case_by_hand():
    a = np.array([[1, 1, 1, 0, 0], [0, 0, 0, 0, 0]], bool)
    b = np.array([[1, 1, 0, 1, 0], [0, 0, 0, 0, 0]], bool)
    # p_o = 8/10; p_e = 0.3*0.3 + 0.7*0.7 = 0.58; kappa = 0.22 / 0.42
    assert C.kappa(a, b) == pytest.approx(0.22 / 0.42)
    assert C.dice(a, b) == pytest.approx(2 * 2 / 6)
    assert C.iou(a, b) == pytest.approx(2 / 4)
    assert C.kappa(a, a) == pytest.approx(1.0)
    empty = np.zeros_like(a)
    assert C.dice(empty, empty) is None and C.iou(empty, empty) is None
    assert C.kappa(empty, empty) is None


# ---- compare_maps ----------------------------------------------------------------------------
def test_compare_maps_saliency_without_geometry():
    m = square_mask()
    out = C.compare_maps(m * 0.7 + 0.1, m)
    assert list(out) == list(C.COMPARE_KEYS)
    assert out["pearson_grid"] is None and out["spearman_grid"] is None
    assert out["dice"] is None and out["iou"] is None and out["kappa"] is None
    assert out["relevance_rank"] == 1.0 and out["pearson_pixel"] == pytest.approx(1.0)
    assert all(v is None or type(v) is float for v in out.values())
    json.dumps(out)


def test_compare_maps_mask_vs_mask_with_geometry():
    geo = tiny_geometry()
    a = np.zeros((20, 40), bool)
    a[2:8, 4:12] = True
    b = np.zeros((20, 40), np.uint8)
    b[2:8, 8:16] = 255
    out = C.compare_maps(a, b, geometry=geo)
    assert out["dice"] == pytest.approx(C.dice(a, b > 0))
    assert out["iou"] == pytest.approx(24 / 72)
    assert out["kappa"] == pytest.approx(C.kappa(a, b > 0))
    assert out["pearson_grid"] == pytest.approx(C.pearson_grid(a, b > 0, geo))
    assert None not in out.values()


def test_compare_maps_undefined_keys_are_none_not_missing():
    out = C.compare_maps(np.ones((20, 40), np.float32) * 0.3, np.zeros((20, 40), bool), tiny_geometry())
    assert list(out) == list(C.COMPARE_KEYS)
    assert all(v is None for v in out.values())


def test_compare_maps_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="same image"):
        C.compare_maps(np.zeros((20, 40)), np.zeros((20, 41), bool))
    with pytest.raises(ValueError, match="geometry"):
        C.compare_maps(np.zeros((21, 40)), np.zeros((21, 40), bool), tiny_geometry())


def test_sigma_from_calibration_or_page_width():
    assert C.sigma_px_for(tiny_geometry(), (40, 20), 1.5) == pytest.approx((3.0, 3.0))
    assert C.sigma_px_for(None, (2800, 2000), 1.0) == pytest.approx((10.0, 10.0))


# ---- files -----------------------------------------------------------------------------------
def test_load_map_npy_and_png(tmp_path):
    sal = np.arange(12, dtype=np.float64).reshape(3, 4)
    np.save(tmp_path / "s.npy", sal)
    got, is_mask = C.load_map(tmp_path / "s.npy")
    assert not is_mask and got.dtype == np.float32 and np.array_equal(got, sal)
    png = np.zeros((3, 4), np.uint8)
    png[1, 2] = 1
    cv2.imwrite(str(tmp_path / "m.png"), png)
    got, is_mask = C.load_map(tmp_path / "m.png", expected_shape=(3, 4))
    assert is_mask and got.sum() == 1 and got[1, 2]
    rgba = np.zeros((3, 4, 4), np.uint8)
    rgba[..., :3] = 255            # white everywhere ...
    rgba[0, 0, 3] = 255            # ... but only one pixel opaque
    cv2.imwrite(str(tmp_path / "rgba.png"), rgba)
    assert C.load_map(tmp_path / "rgba.png")[0].sum() == 1


@pytest.mark.parametrize("name, content, message", [
    ("a.txt", b"hello", "expected a saliency map"),
    ("a.npy", b"not numpy", "not a readable NumPy array"),
    ("a.png", b"not a png", "not a readable PNG"),
    ("missing.npy", None, "no such file"),
])
def test_load_map_bad_files(tmp_path, name, content, message):
    if content is not None:
        (tmp_path / name).write_bytes(content)
    with pytest.raises(ValueError, match=message):
        C.load_map(tmp_path / name)


def test_load_map_bad_arrays(tmp_path):
    np.save(tmp_path / "cube.npy", np.zeros((2, 3, 4)))
    np.save(tmp_path / "nan.npy", np.array([[0.0, np.nan]]))
    np.save(tmp_path / "ok.npy", np.zeros((2, 3)))
    with pytest.raises(ValueError, match="2-D"):
        C.load_map(tmp_path / "cube.npy")
    with pytest.raises(ValueError, match="NaN"):
        C.load_map(tmp_path / "nan.npy")
    with pytest.raises(ValueError, match="same image"):
        C.load_map(tmp_path / "ok.npy", expected_shape=(3, 2))
