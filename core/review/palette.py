"""Colours that stay apart for colour-blind readers.

About 8 % of men have a red-green colour vision deficiency (deuteranomaly or protanomaly), so
every colour a reader must tell apart in the review window is checked under simulated
deuteranopia and protanopia (Machado, Oliveira & Fernandes, IEEE TVCG 2009, severity 1.0, in
linear RGB), and distances are CIEDE2000 ΔE00 in CIELAB (D65), where ΔE00 ≈ 1 is just
noticeable and ≥ 20 reads as "another colour" at a glance. The model's overlay keeps
ECG-AIO's purple (``core.explain.PURPLE``): purple means "the model" everywhere in the app.

The colours below were chosen by a search over the sRGB cube in steps of 15 (Okabe-Ito among
the candidates), under these constraints, measured with the functions of this module:

- each reader colour is >= 20 ΔE00 from the purple overlay under normal vision, deuteranopia and
  protanopia (only one label's layer is compared with the model at a time);
- every colour is >= 25 ΔE00 from white, so it shows when drawn translucently on white or pink
  paper, >= 20 from black, so a stroke cannot pass for the printed trace, and has L* >= 35;
- reader colours are not purple (CIELAB hue outside 280-350°) and are >= 20 ΔE00 from the
  red (226, 70, 78) and pink (236, 128, 156) grid lines that most ECG paper prints (reds drawn
  at half opacity vanished into those grids), with chroma C* >= 40;
- then the smallest pairwise ΔE00 among the 8 reader colours under the three visions was made
  as large as these allowed (all 8 layers may be shown together). A dichromat sees little but
  lightness and blue-yellow, so eight colours stay only 12.5-13.3 ΔE00 apart for one (16.6 for
  normal vision); dropping the grid and chroma constraints raised that to about 16, with reds
  that vanish into the grid and muddy greys. Labels a reader may mark on the same page and
  confuse (AF/AFL, PVC/PAC, LBBB/RBBB, SR/AF, SR/PAC, SR/IAVB, AF/PAC, AFL/PAC) got colours
  >= 28 ΔE00 apart under all three visions.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from itertools import combinations

import cv2
import numpy as np

from core.explain import PURPLE

RGB = tuple[int, int, int]
CVD_KINDS: tuple[str, ...] = ("deuteranopia", "protanopia", "tritanopia")

# Machado, Oliveira & Fernandes 2009, severity 1.0; they act on linear RGB.
MACHADO_2009: dict[str, np.ndarray] = {
    "protanopia": np.array([[0.152286, 1.052583, -0.204868],
                            [0.114503, 0.786281, 0.099216],
                            [-0.003882, -0.048116, 1.051998]]),
    "deuteranopia": np.array([[0.367322, 0.860646, -0.227968],
                              [0.280085, 0.672501, 0.047413],
                              [-0.011820, 0.042940, 0.968881]]),
    "tritanopia": np.array([[1.255528, -0.076749, -0.178779],
                            [-0.078411, 0.930809, 0.147602],
                            [0.004733, 0.691367, 0.303900]]),
}

# The reader's annotation, one colour per label (core.labels order). Measured ΔE00, smallest over
# the 28 pairs: 16.6 normal, 13.3 deuteranopia, 12.5 protanopia, 10.2 tritanopia; smallest to
# the purple overlay: 48.1 normal, 30.7 deuteranopia, 38.7 protanopia, 22.5 tritanopia; to
# white >= 30.7, to black >= 33.2.
READER_COLOURS: dict[str, RGB] = {
    "SR": (75, 90, 0),      # olive
    "AF": (210, 240, 0),    # lime
    "AFL": (150, 120, 15),  # ochre
    "PVC": (225, 150, 0),   # orange
    "PAC": (90, 165, 255),  # cornflower blue
    "IAVB": (0, 165, 135),  # teal
    "LBBB": (15, 210, 120),  # emerald
    "RBBB": (0, 120, 75),   # dark green
}

# Model vs reader for one label: model_only is the overlay's own purple, agreement green, the
# reader's own evidence amber. Measured ΔE00, smallest of the three pairs: 47.0 normal,
# 35.0 deuteranopia, 25.7 protanopia, 43.0 tritanopia; to white >= 32.0.
AGREEMENT_COLOURS: dict[str, RGB] = {
    "both": (0, 135, 90),
    "model_only": PURPLE,
    "reader_only": (255, 180, 0),
}


# ---- colour science ---------------------------------------------------------------------------
def _to_linear(srgb01: np.ndarray) -> np.ndarray:
    """IEC 61966-2-1 sRGB decoding, values in [0, 1]."""
    return np.where(srgb01 <= 0.04045, srgb01 / 12.92, ((srgb01 + 0.055) / 1.055) ** 2.4)


def _to_srgb(linear01: np.ndarray) -> np.ndarray:
    """IEC 61966-2-1 sRGB encoding, values in [0, 1]."""
    return np.where(linear01 <= 0.0031308, 12.92 * linear01, 1.055 * linear01 ** (1 / 2.4) - 0.055)


def simulate_cvd(rgb: np.ndarray, kind: str) -> np.ndarray:
    """How a dichromat sees sRGB colours (..., 3) in 0..255: Machado 2009 at severity 1.0.

    The matrix acts on linear RGB (sRGB decoded, then encoded again), and the result is clipped
    to the displayable range. Greys stay grey (each matrix row sums to 1). Returns uint8 for
    uint8 input (an image), else float64 in 0..255.
    """
    if kind not in MACHADO_2009:
        raise ValueError(f"unknown colour vision deficiency {kind!r}; use one of {', '.join(CVD_KINDS)}")
    values = np.asarray(rgb)
    linear = _to_linear(np.clip(values.astype(np.float64) / 255.0, 0, 1))
    out = _to_srgb(np.clip(linear @ MACHADO_2009[kind].T, 0, 1)) * 255.0
    return np.round(out).astype(np.uint8) if values.dtype == np.uint8 else out


def to_lab(rgb: np.ndarray) -> np.ndarray:
    """sRGB (..., 3) in 0..255 -> CIELAB (D65) float64 (..., 3), L* in 0..100 (OpenCV's
    float conversion, which decodes the sRGB curve itself)."""
    values = np.asarray(rgb, np.float32).reshape(-1, 1, 3) / 255.0
    lab = cv2.cvtColor(np.clip(values, 0, 1), cv2.COLOR_RGB2Lab)
    return lab.reshape(np.shape(rgb)).astype(np.float64)


def ciede2000(lab1: np.ndarray, lab2: np.ndarray) -> np.ndarray:
    """CIEDE2000 colour difference of CIELAB colours (..., 3), broadcast; float64 (...).

    Follows Sharma, Wu & Dalal (Color Res. Appl. 2005), whose 34 test pairs it reproduces to
    1e-4 (tests/test_review_palette.py); kL = kC = kH = 1.
    """
    L1, a1, b1 = np.moveaxis(np.asarray(lab1, np.float64), -1, 0)
    L2, a2, b2 = np.moveaxis(np.asarray(lab2, np.float64), -1, 0)
    c7 = ((np.hypot(a1, b1) + np.hypot(a2, b2)) / 2) ** 7
    g = 0.5 * (1 - np.sqrt(c7 / (c7 + 25.0 ** 7)))
    a1p, a2p = (1 + g) * a1, (1 + g) * a2
    c1, c2 = np.hypot(a1p, b1), np.hypot(a2p, b2)
    h1, h2 = np.degrees(np.arctan2(b1, a1p)) % 360, np.degrees(np.arctan2(b2, a2p)) % 360
    chromatic = c1 * c2 != 0
    dh = h2 - h1
    dh = np.where(dh > 180, dh - 360, np.where(dh < -180, dh + 360, dh)) * chromatic
    dL, dC, dH = L2 - L1, c2 - c1, 2 * np.sqrt(c1 * c2) * np.sin(np.radians(dh / 2))
    L_, C_, hsum = (L1 + L2) / 2, (c1 + c2) / 2, h1 + h2
    h_ = np.where(~chromatic, hsum, np.where(np.abs(h1 - h2) <= 180, hsum / 2,
                                             np.where(hsum < 360, hsum + 360, hsum - 360) / 2))
    t = (1 - 0.17 * np.cos(np.radians(h_ - 30)) + 0.24 * np.cos(np.radians(2 * h_))
         + 0.32 * np.cos(np.radians(3 * h_ + 6)) - 0.20 * np.cos(np.radians(4 * h_ - 63)))
    rc = 2 * np.sqrt(C_ ** 7 / (C_ ** 7 + 25.0 ** 7))
    rt = -np.sin(np.radians(60 * np.exp(-(((h_ - 275) / 25) ** 2)))) * rc
    sl = 1 + 0.015 * (L_ - 50) ** 2 / np.sqrt(20 + (L_ - 50) ** 2)
    sc, sh = 1 + 0.045 * C_, 1 + 0.015 * C_ * t
    return np.sqrt((dL / sl) ** 2 + (dC / sc) ** 2 + (dH / sh) ** 2 + rt * (dC / sc) * (dH / sh))


def colour_distance(c1: Iterable[float], c2: Iterable[float], kind: str | None = None) -> float:
    """CIEDE2000 ΔE00 between two sRGB colours (0..255), as seen with ``kind`` (None = normal)."""
    pair = np.array([list(c1), list(c2)], np.float64)
    if kind is not None:
        pair = simulate_cvd(pair, kind)
    lab = to_lab(pair)
    return float(ciede2000(lab[0], lab[1]))


def pairwise_distances(colours: Iterable[Iterable[float]] | Mapping[str, Iterable[float]],
                       kind: str | None = None) -> np.ndarray:
    """Every pairwise ΔE00 (in ``combinations`` order) of the colours, as seen with ``kind``."""
    values = colours.values() if isinstance(colours, Mapping) else colours
    rgb = np.array([list(c) for c in values], np.float64)
    if kind is not None:
        rgb = simulate_cvd(rgb, kind)
    lab = to_lab(rgb)
    i, j = np.array(list(combinations(range(len(lab)), 2))).T
    return ciede2000(lab[i], lab[j])


def min_distance(colours: Iterable[Iterable[float]] | Mapping[str, Iterable[float]],
                 kind: str | None = None) -> float:
    """The smallest pairwise ΔE00 among the colours (a sequence or a dict of RGB), as seen with
    ``kind`` ('deuteranopia', 'protanopia', 'tritanopia'; None = normal vision)."""
    return float(pairwise_distances(colours, kind).min())
