"""Ink: what the traces and print darken, told apart from the grid's lines and from thick blobs
and border strips, so that rows, pulses and lead names are looked for in ink alone.
"""
from __future__ import annotations

import cv2
import numpy as np

from core.page.calibrate import channel_darkness, channel_max, channel_min


def ink_maps(rgb: np.ndarray, darkness: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(ink, faint ink) of a rectified page, bool H x W each.

    Each pixel's darkening (per channel, relative to the local paper) is split along the
    grid's colour and across it. On a coloured grid ink is what darkens across the grid's
    colour (black and blue ink do, a red line does not); on a grey or black grid, where that
    cannot tell, it is the darkening itself, less the grid lines (:func:`without_lines`).
    Ink is then what stands out (hysteresis at 20 % / 45 % of the page's darkest print),
    without thick blobs (lid, holes, fingers) or strips along the border; faint ink keeps
    everything above 12 %, for small print such as lead names. ``darkness``: the image's
    ``channel_darkness`` when the caller has it.
    """
    d = channel_darkness(rgb) if darkness is None else darkness
    strength = without_lines(_ink_strength(d))
    size = max(5, max(strength.shape) // 150)
    blobs = _thick(strength > 0.1, size)
    top = _print_level(strength, blobs)
    blobs = _without_trace_bands(blobs, strength, size, top)
    ink = _hysteresis(strength, max(0.05, 0.2 * top), max(0.08, 0.45 * top))
    faint = (strength > max(0.04, 0.12 * top)) & ~blobs
    return _without_edge_strips(ink & ~blobs), faint


def _print_level(strength: np.ndarray, blobs: np.ndarray) -> float:
    """How dark the page's print is: the 99.5th percentile of ``strength`` away from blobs and
    from the outer 4 % of the image (where a scanner lid or the table shows)."""
    h, w = strength.shape
    mh, mw = max(1, h // 25), max(1, w // 25)
    inner = strength[mh:h - mh, mw:w - mw][~blobs[mh:h - mh, mw:w - mw]]
    return float(np.percentile(inner, 99.5)) if inner.size else 0.0


def _without_edge_strips(ink: np.ndarray) -> np.ndarray:
    """Drop blobs lying along the image's border (a scanner lid's edge, the paper's edge):
    touching a side and stretched along it over a tenth of its length."""
    h, w = ink.shape
    n, labels, st, _ = cv2.connectedComponentsWithStats(ink.astype(np.uint8), connectivity=8)
    x, y, bw, bh = st[:, 0], st[:, 1], st[:, 2], st[:, 3]
    along_x = ((y <= 1) | (y + bh >= h - 1)) & (bw > 0.1 * w) & (bh < 0.05 * h)
    along_y = ((x <= 1) | (x + bw >= w - 1)) & (bh > 0.1 * h) & (bw < 0.05 * w)
    junk = along_x | along_y
    junk[0] = False
    return ink & ~junk[labels]


def _thick(mask: np.ndarray, size: int) -> np.ndarray:
    """The parts of a mask at least ``size`` px thick (scanner lid, punch holes, shadows,
    fingers), grown by a pixel; traces and print are thinner."""
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
    thick = cv2.morphologyEx(mask.astype(np.uint8), cv2.MORPH_OPEN, kernel)
    return cv2.dilate(thick, np.ones((3, 3), np.uint8)) > 0


def _without_trace_bands(blobs: np.ndarray, strength: np.ndarray, size: int, top: float) -> np.ndarray:
    """``blobs`` less the bands a noisy or bold trace draws: parts at most 2.5 ``size`` tall and
    as dark as print (median strength >= half the print level). A tremor-laden lead I in a thick
    pen is a solid band ~3 mm tall; a lid, a hole or a finger is taller, a shadow paler."""
    n, labels, stats, _ = cv2.connectedComponentsWithStats(blobs.astype(np.uint8), connectivity=8)
    keep = np.ones(n, bool)
    keep[0] = False
    for i in np.flatnonzero(stats[1:, cv2.CC_STAT_HEIGHT] <= 2.5 * size) + 1:
        x, y, w, h = stats[i, :4]
        part = labels[y:y + h, x:x + w] == i
        if float(np.median(strength[y:y + h, x:x + w][part])) >= 0.5 * top:
            keep[i] = False
    return keep[labels]


def _hysteresis(strength: np.ndarray, low: float, high: float) -> np.ndarray:
    """Pixels above ``low`` connected (8-way) to a pixel above ``high``."""
    n, labels = cv2.connectedComponents((strength > low).astype(np.uint8), connectivity=8)
    keep = np.zeros(n, bool)
    keep[np.unique(labels[strength > high])] = True
    keep[0] = False
    return keep[labels]


def without_lines(strength: np.ndarray, share: float = 60.0) -> np.ndarray:
    """``strength`` less the grid lines that run straight across strips of ~1/12 of the image.

    In each vertical strip the ``share``-th percentile of every row is that row's line level
    (a horizontal grid line inks nearly all of a row's strip, a trace seldom half); likewise
    for columns. The level subtracted is capped at what most lines reach (95th percentile
    over the page), so a trace's long flat baseline, darker than the grid, keeps its ink.
    Removes grey grid lines that would otherwise pass for ink.
    """
    h, w = strength.shape
    step = max(8, max(h, w) // 12)
    out = strength.copy()
    for axis in (1, 0):
        a = out if axis == 1 else out.T
        n = a.shape[1] // step
        if n == 0:
            continue
        body = a[:, : n * step].reshape(a.shape[0], n, step)
        bg = np.percentile(body, share, axis=2)
        bg = np.minimum(bg, np.percentile(bg, 95))
        body -= bg[:, :, None]
        tail = a[:, n * step:]
        if tail.size:
            tail -= bg[:, -1:]
    return np.clip(out, 0.0, None)


def _ink_strength(d: np.ndarray, tiles: int = 4) -> np.ndarray:
    """Per pixel, how much it darkens across the grid's colour (float32): the grid colour is
    measured on coloured pixels in tiles x tiles regions (shadows and tinted light change it)
    and interpolated; where the grid is grey the plain darkening is used instead."""
    h, w, _ = d.shape
    high, low = channel_max(d), channel_min(d)
    grid = (high > 0.12) & (low < 0.5 * high)  # coloured: the grid's lines, not grey ink
    coarse = np.zeros((tiles, tiles, 3), np.float32)
    for i in range(tiles):
        for j in range(tiles):
            sl = (slice(i * h // tiles, (i + 1) * h // tiles), slice(j * w // tiles, (j + 1) * w // tiles))
            coarse[i, j] = grid_colour(d[sl], grid[sl])
    g = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_LINEAR)
    g0, g1, g2 = cv2.split(g)
    gn = cv2.sqrt(g0 * g0 + g1 * g1 + g2 * g2) + 1e-6
    d0, d1, d2 = cv2.split(d)
    along = (d0 * g0 + d1 * g1 + d2 * g2) / gn
    across = cv2.sqrt(np.maximum(d0 * d0 + d1 * d1 + d2 * d2 - along * along, 0.0))
    cos = (g0 + g1 + g2) / (gn * np.float32(np.sqrt(3.0)))
    sin = cv2.sqrt(np.maximum(1.0 - cos * cos, 0.0))
    across /= np.float32(np.sqrt(3.0)) * np.maximum(sin, 0.15)
    plain = (d0 + d1 + d2) / np.float32(3.0)
    return np.where(sin > 0.15, across, plain).astype(np.float32)


def grid_colour(d: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Unit direction (3,) in which the grid's lines darken the paper (grey when unknown):
    the mean darkening over the grid's pixels."""
    if np.count_nonzero(grid) < 100:
        return np.ones(3, np.float32) / np.sqrt(3)
    v = d[grid].mean(axis=0)
    n = float(np.linalg.norm(v))
    return v / n if n > 1e-6 else np.ones(3, np.float32) / np.sqrt(3)
