"""The printed grid as a ruler: paper millimetres along a strip, read from its 1-mm lines.

The page reader's homography is fitted to the whole page; along one trace row it can stretch one
end against the other by a per cent or two (half a millimetre, 20 ms, over a 250-mm row), and a
curled photo more. The grid's lines are printed every millimetre, so where they fall in a strip
says which paper millimetre each strip column holds.
"""
from __future__ import annotations

import cv2
import numpy as np
from scipy import ndimage
from scipy.signal import find_peaks

MIN_LINES = 40   # fewer 1-mm lines than this (a faint grid, plain paper, a short strip): no ruler


def grid_ruler(strip: np.ndarray, px_per_mm: float) -> np.ndarray | None:
    """Paper mm (up to an offset) at each column of an RGB strip resampled at about
    ``px_per_mm``, from the grid's vertical lines: a quadratic through the lines' sub-pixel
    places, or None when fewer than ``MIN_LINES`` regularly spaced lines are seen.

    Lines are read on the darkness of the darkest channel (a red, pink, green, grey or black
    grid is dark there). Each column's profile is a low percentile down the strip, so a trace
    crossing a column barely moves it."""
    darkest = cv2.min(cv2.min(strip[..., 0], strip[..., 1]), strip[..., 2])
    k = int(0.3 * (darkest.shape[0] - 1))   # the 30th percentile, by partition (np.percentile is 5x slower)
    profile = 255.0 - np.partition(darkest, k, axis=0)[k].astype(np.float64)
    profile = profile - ndimage.minimum_filter1d(profile, max(int(round(1.5 * px_per_mm)), 3))
    if profile.max() <= 0:
        return None
    peaks, _ = find_peaks(profile, distance=max(0.6 * px_per_mm, 1.0), prominence=max(3.0, 0.2 * profile.max()))
    peaks = peaks[(peaks > 0) & (peaks < len(profile) - 1)]
    if len(peaks) < MIN_LINES:
        return None
    left, mid, right = profile[peaks - 1], profile[peaks], profile[peaks + 1]
    curvature = left - 2 * mid + right
    place = peaks + np.where(curvature < 0, 0.5 * (left - right) / np.where(curvature < 0, curvature, -1.0), 0.0)
    steps = np.round(np.diff(place) / px_per_mm)
    regular = (steps >= 1) & (np.abs(np.diff(place) - steps * px_per_mm) < 0.25 * px_per_mm)
    if regular.mean() < 0.8:
        return None
    mm_px = float(np.median((np.diff(place) / np.maximum(steps, 1))[regular]))
    # only the 5-mm lines show: most steps are 5 mm (the rest a trace's crossing splitting one), few 1 mm
    spacing_mm = 5.0 if (steps % 5 == 0).mean() >= 0.6 and (steps == 1).mean() < 0.2 else 1.0
    index, keep = _millimetres(place, mm_px, spacing_mm)
    if keep.sum() < MIN_LINES:
        return None
    for _ in range(2):   # one refit without the lines the first fit leaves far off
        fit = np.polyfit(place[keep], index[keep], 2)
        residual = np.abs(np.polyval(fit, place) - index)
        keep &= residual < max(0.15, 3 * float(np.median(residual[keep])))
    mm = np.polyval(fit, np.arange(len(profile), dtype=np.float64))
    if not (np.diff(mm) > 0).all():
        return None
    return mm


def _millimetres(place: np.ndarray, mm_px: float, spacing_mm: float) -> tuple[np.ndarray, np.ndarray]:
    """Which millimetre each line at ``place`` (px) is, counted from the middle one, and whether
    it sits on one; the lines are ``spacing_mm`` apart (1, or 5 where only the 5-mm lines show).
    Counting line after line goes wrong for good at the first mark that is not a line (a trace
    crossing, a 300-dpi grid resampled to 5 px/mm where one thin line splits in two): the rest
    of the strip was a millimetre off, and the quadratic bent 0.7-1.3 mm to follow (20-50 ms in
    mid-row). So the lines are numbered, in steps of their spacing, by a fit grown outwards
    from the middle, 20 mm at first, each kept when it falls near a whole step: numbered in
    millimetres, 5-mm lines on a page the reader had bent by 2-3 mm could each be called a
    millimetre off and still look whole, and the ruler lost the bend it is there to measure."""
    step_px = mm_px * spacing_mm
    near_whole = 0.3 / spacing_mm   # 0.3 mm: a faint 1-mm line between 5-mm ones is not a step
    centre = float(place[len(place) // 2])
    fit = np.array([1.0 / step_px, -centre / step_px])
    half = 20.0 * mm_px
    while True:
        near = np.abs(place - centre) <= half
        at = np.polyval(fit, place)
        index = np.round(at)
        keep = near & (np.abs(at - index) < near_whole)
        if keep.sum() >= 3:   # straight while short; a curled photo's stretch shows over 80 mm
            fit = np.polyfit(place[keep], index[keep], 2 if half >= 80 * mm_px else 1)
        if near.all():
            at = np.polyval(fit, place)
            index = np.round(at)
            return index * spacing_mm, np.abs(at - index) < near_whole
        half *= 2
