"""Degradations move pixels, masks, points and geometry together, and look like their domain."""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from core.page.geometry import Geometry, Panel
from core.synth.degrade import DOMAINS, Warp, degrade

SIZE = (896, 448)
SEEDS = range(8)


def grid_page(size: tuple[int, int] = SIZE) -> np.ndarray:
    """A white page with a pink 1 mm / 5 mm grid (3.2 px/mm) and a wavy black trace."""
    w, h = size
    img = np.full((h, w, 3), 255, np.uint8)
    ppm = w / 280
    for i in range(int(w / ppm) + 1):
        img[:, min(w - 1, round(i * ppm))] = (235, 150, 160) if i % 5 == 0 else (250, 210, 215)
    for i in range(int(h / ppm) + 1):
        img[min(h - 1, round(i * ppm)), :] = (235, 150, 160) if i % 5 == 0 else (250, 210, 215)
    cv2.polylines(img, [trace(size)], False, (0, 0, 0), 1, cv2.LINE_AA, shift=4)
    return img


def trace(size: tuple[int, int]) -> np.ndarray:
    x = np.linspace(0.1, 0.9, 400) * size[0]
    y = size[1] * (0.5 + 0.15 * np.sin(x / 37) + 0.01 * np.sin(x / 7))
    return np.round(np.stack([x, y], 1) * 16).astype(np.int32)


def dots() -> tuple[np.ndarray, np.ndarray]:
    """A white page with a 6 x 4 grid of small dark dots, and their centres (px)."""
    img = np.full((SIZE[1], SIZE[0], 3), 255, np.uint8)
    xs, ys = np.meshgrid(np.linspace(0.1, 0.9, 6) * SIZE[0], np.linspace(0.15, 0.85, 4) * SIZE[1])
    centres = np.stack([xs.ravel(), ys.ravel()], 1).round()
    for x, y in centres:
        cv2.circle(img, (int(x), int(y)), 2, (0, 0, 0), -1)
    return img, centres


def difference(domain: str, seed: int, page: np.ndarray, size=None):
    """|degrade(blank) - degrade(page)| for the same draws: only what the page added remains."""
    blank = np.full_like(page, 255)
    a = degrade(page, domain, np.random.default_rng(seed), size)
    b = degrade(blank, domain, np.random.default_rng(seed), size)
    assert a.params == b.params  # the draws do not depend on the page's content
    return np.abs(a.image.astype(np.int16) - b.image.astype(np.int16)).sum(2).astype(np.float64), a


def located_errors(diff: np.ndarray, predicted: np.ndarray, r: int = 7) -> list[float]:
    """Distance between each predicted dot and the centroid of the difference around it (inf
    where nothing shows: the dot is elsewhere, or hidden by a pen stroke or blown-out light)."""
    errors = []
    h, w = diff.shape
    for x, y in predicted:
        if not (r <= x < w - r and r <= y < h - r):
            continue  # the page was cut off here
        x0, y0 = int(round(x)) - r, int(round(y)) - r
        patch = diff[y0:y0 + 2 * r + 1, x0:x0 + 2 * r + 1]
        patch = np.where(patch > 0.3 * patch.max(), patch, 0)
        if patch.max() < 30:
            errors.append(np.inf)
            continue
        yy, xx = np.mgrid[0:patch.shape[0], 0:patch.shape[1]]
        cx, cy = (xx * patch).sum() / patch.sum() + x0, (yy * patch).sum() / patch.sum() + y0
        errors.append(float(np.hypot(cx - x, cy - y)))
    return errors


@pytest.mark.parametrize("domain", DOMAINS)
def test_every_domain_runs_and_returns_uint8_of_the_asked_size(domain):
    page = grid_page((600, 300))
    for size in (None, (448, 224)):
        d = degrade(page, domain, np.random.default_rng(1), size)
        want = size or (600, 300)
        assert d.image.dtype == np.uint8 and d.image.shape == (want[1], want[0], 3)
        assert d.warp.out_size == want and d.warp.homography.shape == (3, 3)
        assert d.params["domain"] == domain
        json.dumps(d.params)


@pytest.mark.parametrize("domain", DOMAINS)
def test_same_seed_same_result_other_seed_other_result(domain):
    page = grid_page()
    before = page.copy()
    a, b = (degrade(page, domain, np.random.default_rng(5)) for _ in range(2))
    assert np.array_equal(page, before), "the input is never written"
    assert np.array_equal(a.image, b.image) and a.params == b.params
    assert np.array_equal(a.warp.homography, b.warp.homography)
    if domain != "clean":
        c = degrade(page, domain, np.random.default_rng(6))
        assert not np.array_equal(a.image, c.image)


def test_clean_is_identity_and_resizing_moves_points_with_the_image():
    page = grid_page()
    d = degrade(page, "clean", np.random.default_rng(0))
    assert np.array_equal(d.image, page)
    assert np.allclose(d.warp.homography, np.eye(3))
    img, centres = dots()
    small = (448, 224)
    diff, d = difference("clean", 0, img, small)
    assert max(located_errors(diff, d.warp.apply_points(centres), r=4)) <= 0.5


@pytest.mark.parametrize("domain", ["scan", "shadow", "photo"])
def test_a_dot_lands_where_apply_points_says(domain):
    img, centres = dots()
    curled = 0
    for seed in SEEDS:
        diff, d = difference(domain, seed, img)
        errors = np.array(located_errors(diff, d.warp.apply_points(centres)))
        assert len(errors) >= 12, "most dots should stay in the frame"
        assert np.isfinite(errors).mean() >= 0.75, (seed, "dots are missing where predicted")
        curl = d.warp.map_xy is not None
        curled += curl
        limit = 3.0 if curl else 1.5
        assert errors[np.isfinite(errors)].max() <= limit, (seed, d.params.get("curl"), errors.max())
    if domain == "photo":
        assert 0 < curled < len(SEEDS), "some photos curl, some do not"


def test_curl_residual_is_reported_and_bounded():
    img, _ = dots()
    for seed in SEEDS:
        d = degrade(img, "photo", np.random.default_rng(seed))
        if d.warp.map_xy is None:
            continue
        assert 0 < d.params["curl"]["residual_max_px"] <= 3.0
        assert d.warp.map_xy.shape == (SIZE[1], SIZE[0], 2) and d.warp.map_xy.dtype == np.float32


@pytest.mark.parametrize("domain", DOMAINS)
def test_a_thin_mask_stays_on_the_warped_trace(domain):
    page = np.full((SIZE[1], SIZE[0], 3), 255, np.uint8)
    cv2.polylines(page, [trace(SIZE)], False, (0, 0, 0), 1, cv2.LINE_AA, shift=4)
    mask = np.zeros(SIZE[::-1], np.uint8)
    cv2.polylines(mask, [trace(SIZE)], False, 255, 1, cv2.LINE_8, shift=4)
    for seed in range(3):
        diff, d = difference(domain, seed, page)
        warped = d.warp.apply_mask(mask)
        assert set(np.unique(warped)) <= {0, 255}
        on = warped > 0
        assert on.sum() >= 0.5 * (mask > 0).sum(), "the thin mask survived the warp"
        near = cv2.dilate(warped, np.ones((3, 3), np.uint8)) > 0
        ring = (cv2.dilate(warped, np.ones((11, 11), np.uint8)) > 0) & (cv2.dilate(warped, np.ones((5, 5), np.uint8)) == 0)
        assert diff[on].mean() >= 4 * diff[ring].mean(), "the mask lies on the trace, not beside it"
        assert near[diff > 0.6 * diff.max()].mean() >= 0.9, "the trace lies in the mask"


def test_apply_mask_accepts_bool():
    warp = Warp((20, 10), np.array([[1, 0, 2], [0, 1, 1], [0, 0, 1.0]]))
    m = np.zeros((10, 20), bool)
    m[4, 5] = True
    out = warp.apply_mask(m)
    assert out[5, 7] == 255 and out.sum() == 255


@pytest.mark.parametrize("domain", DOMAINS)
def test_apply_geometry_agrees_with_apply_points_on_panel_corners(domain):
    ppm = SIZE[0] / 280
    panels = tuple(Panel("II", 0, c, 2.5 * c, 2.5 * (c + 1), (10 + 62.5 * c, 20, 72.5 + 62.5 * c, 60), 40)
                   for c in range(4))
    geo = Geometry.from_homography(SIZE, "3x4", 25.0, 10.0, np.diag([ppm, ppm, 1.0]), panels)
    for seed in range(4):
        d = degrade(grid_page(), domain, np.random.default_rng(seed))
        warped = d.warp.apply_geometry(geo)
        assert warped.image_size == SIZE
        for before, after in zip(geo.panels, warped.panels):
            assert np.allclose(d.warp.apply_points(np.array(before.quad_px)), after.quad_px, atol=0.02)


def test_photo_corners_are_background_not_paper():
    green = np.zeros((SIZE[1], SIZE[0], 3), np.uint8)
    green[..., 1] = 255
    w, h = SIZE
    for seed in range(12):
        d = degrade(green, "photo", np.random.default_rng(seed))
        quad = d.warp.apply_points(np.array([[-0.5, -0.5], [w - 0.5, -0.5], [w - 0.5, h - 0.5], [-0.5, h - 0.5]]))
        for x, y in ((2, 2), (w - 3, 2), (w - 3, h - 3), (2, h - 3)):
            inside = cv2.pointPolygonTest(quad.astype(np.float32), (x, y), False) >= 0
            if d.params["camera"]["cut_off"] and inside:
                continue
            assert not inside, (seed, x, y)
            r, g, b = d.image[y - 2:y + 3, x - 2:x + 3].reshape(-1, 3).mean(0)
            assert not (g > r + 40 and g > b + 40), (seed, x, y, (r, g, b))
        if not d.params.get("tone", {}).get("grey"):
            cx, cy = quad.mean(0).round().astype(int)
            r, g, b = d.image[cy, cx].astype(int)
            assert g > r + 40 and g > b + 40, "the page itself is still green"


def test_shadow_darkens_some_region_more_than_a_scan_does():
    page = np.full((SIZE[1], SIZE[0], 3), 255, np.uint8)

    def contrast(domain: str, seed: int) -> float:
        grey = cv2.cvtColor(degrade(page, domain, np.random.default_rng(seed)).image, cv2.COLOR_RGB2GRAY)
        blocks = cv2.resize(grey, (16, 8), interpolation=cv2.INTER_AREA).astype(float)
        return blocks.min() / blocks.max()

    shadow = np.array([contrast("shadow", s) for s in range(10)])
    scan = np.array([contrast("scan", s) for s in range(10)])
    assert (shadow < 0.8).mean() >= 0.8
    assert shadow.mean() < scan.mean() - 0.1


def test_unknown_domain_and_bad_image_are_refused():
    with pytest.raises(ValueError, match="domain"):
        degrade(grid_page(), "fax", np.random.default_rng(0))
    with pytest.raises(ValueError, match="uint8"):
        degrade(np.zeros((10, 10), np.uint8), "scan", np.random.default_rng(0))
