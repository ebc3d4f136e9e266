"""The review colours stay apart for colour-blind readers, and the colour science under them is right."""
from __future__ import annotations

import numpy as np
import pytest

from core.explain import PURPLE
from core.labels import LABELS
from core.review import palette as P

SEEN_BY = (None, "deuteranopia", "protanopia")
WHITE, BLACK = (255, 255, 255), (0, 0, 0)

# Sharma, Wu & Dalal (Color Res. Appl. 2005) CIEDE2000 test data: the pairs that catch the hue
# wrap-around, the blue rotation term and near-neutral colours.
SHARMA = [
    ((50.0, 2.6772, -79.7751), (50.0, 0.0, -82.7485), 2.0425),
    ((50.0, -1.3802, -84.2814), (50.0, 0.0, -82.7485), 1.0000),
    ((50.0, 0.0, 0.0), (50.0, -1.0, 2.0), 2.3669),
    ((50.0, 2.49, -0.001), (50.0, -2.49, 0.0011), 7.2195),
    ((50.0, -0.001, 2.49), (50.0, 0.0011, -2.49), 4.7461),
    ((50.0, 2.5, 0.0), (73.0, 25.0, -18.0), 27.1492),
    ((50.0, 2.5, 0.0), (56.0, -27.0, -3.0), 31.9030),
    ((60.2574, -34.0099, 36.2677), (60.4626, -34.1751, 39.4387), 1.2644),
    ((22.7233, 20.0904, -46.694), (23.0331, 14.973, -42.5619), 2.0373),
    ((90.9257, -0.5406, -0.9208), (88.6381, -0.8985, -0.7239), 1.5381),
    ((2.0776, 0.0795, -1.135), (0.9033, -0.0636, -0.5514), 0.9082),
]


def test_ciede2000_reproduces_the_published_pairs_both_ways():
    a, b, want = (np.array([row[i] for row in SHARMA]) for i in range(3))
    np.testing.assert_allclose(P.ciede2000(a, b), want, atol=1e-4)
    np.testing.assert_allclose(P.ciede2000(b, a), want, atol=1e-4)


def test_lab_of_known_colours():
    np.testing.assert_allclose(P.to_lab([255, 0, 0]), [53.24, 80.09, 67.20], atol=0.05)
    np.testing.assert_allclose(P.to_lab(WHITE), [100, 0, 0], atol=0.05)
    assert P.colour_distance(WHITE, WHITE) == 0.0


def test_simulation_merges_red_and_green_but_not_for_tritanopes_and_keeps_greys():
    red, green = (255, 0, 0), (0, 255, 0)
    normal = P.colour_distance(red, green)
    for kind in ("deuteranopia", "protanopia"):
        assert P.colour_distance(red, green, kind) < 0.5 * normal
    assert P.colour_distance(red, green, "tritanopia") > 0.8 * normal
    greys = np.array([[0, 0, 0], [60, 60, 60], [128, 128, 128], [200, 200, 200], [255, 255, 255]], np.uint8)
    for kind in P.CVD_KINDS:
        np.testing.assert_array_equal(P.simulate_cvd(greys, kind), greys)
    # blue and yellow stay apart for red-green dichromats: the axis they keep
    assert P.colour_distance((0, 0, 255), (255, 255, 0), "deuteranopia") > 50


def test_simulation_works_on_images_and_refuses_unknown_kinds():
    img = np.random.default_rng(0).integers(0, 256, (4, 5, 3), dtype=np.uint8)
    out = P.simulate_cvd(img, "protanopia")
    assert out.shape == img.shape and out.dtype == np.uint8
    with pytest.raises(ValueError, match="deuteranopia"):
        P.simulate_cvd(img, "achromatopsia")


def test_one_reader_colour_per_label():
    assert tuple(P.READER_COLOURS) == LABELS
    assert len(set(P.READER_COLOURS.values())) == len(LABELS)


@pytest.mark.parametrize("kind", SEEN_BY)
def test_every_reader_colour_stands_apart_from_the_model_purple(kind):
    nearest = min(P.colour_distance(c, PURPLE, kind) for c in P.READER_COLOURS.values())
    assert nearest >= 20


@pytest.mark.parametrize("kind, floor", [(None, 16.5), ("deuteranopia", 13.0), ("protanopia", 12.4),
                                         ("tritanopia", 10.0)])
def test_the_eight_reader_colours_keep_their_measured_distances(kind, floor):
    """The minima the palette's comment reports; a changed colour must re-measure them."""
    assert P.min_distance(P.READER_COLOURS, kind) >= floor


@pytest.mark.parametrize("kind", SEEN_BY)
def test_the_three_agreement_colours_are_apart(kind):
    assert P.min_distance(P.AGREEMENT_COLOURS, kind) >= 20


def test_model_only_is_the_overlay_purple_and_everything_shows_on_paper():
    assert P.AGREEMENT_COLOURS["model_only"] == PURPLE
    for c in (*P.READER_COLOURS.values(), *P.AGREEMENT_COLOURS.values()):
        assert P.colour_distance(c, WHITE) >= 25
        assert P.colour_distance(c, BLACK) >= 20


def test_min_distance_is_the_smallest_pair():
    colours = [(0, 0, 0), (10, 10, 10), (255, 255, 255)]
    assert P.min_distance(colours) == pytest.approx(P.colour_distance((0, 0, 0), (10, 10, 10)))
