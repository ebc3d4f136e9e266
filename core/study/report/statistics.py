"""The statistics of a reader study's report: Fleiss' κ of readers' masks, their pixelwise
consensus, and the summary of one metric over images (mean ± SD, median, IQR, bootstrap 95 %
interval). Plain numbers in, plain numbers out: nothing here knows a study or a table."""
from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import stats

SUMMARY_COLUMNS: tuple[str, ...] = ("label", "comparison", "metric", "n", "mean", "sd", "median",
                                    "q1", "q3", "ci_low", "ci_high")

# Fleiss' κ counts, per pixel, how many readers marked it: above this many pixels a fixed-seed
# random subsample is counted (the same answer on every run), as core.compare.auroc does, so
# that a 12-MP photo does not hold several 100-MB tables at once. Measured on the demo study's
# 1-MP pages: the full count takes ~0.1 s, and a 0.2-M subsample moved κ by at most 0.004
# (sampling error shrinks as 1/√n: ~0.001 expected at 2 M).
FLEISS_MAX_PIXELS = 2_000_000


def fleiss_kappa_counts(table: np.ndarray) -> float | None:
    """Fleiss' κ of a subjects × categories table of rater counts (every row sums to the same
    number of raters), by statsmodels' ``fleiss_kappa`` (Fleiss 1971). None when it is
    undefined (every rating in one category: chance agreement is 1)."""
    # 1.5 s to import (pandas, patsy): only when used
    from statsmodels.stats.inter_rater import fleiss_kappa

    table = np.asarray(table)
    if table.ndim != 2 or table.shape[0] == 0 or np.ptp(table.sum(axis=1)) != 0 or table.sum() == 0:
        raise ValueError("Fleiss' kappa needs a subjects × categories table with the same number of raters per row")
    p = table.sum(axis=0) / table.sum()
    if np.isclose(float(np.sum(p * p)), 1.0):
        return None
    with np.errstate(divide="ignore", invalid="ignore"):
        k = float(fleiss_kappa(table, method="fleiss"))
    return k if math.isfinite(k) else None


def fleiss_kappa_masks(masks: Sequence[np.ndarray], max_pixels: int = FLEISS_MAX_PIXELS) -> float | None:
    """Fleiss' κ of several readers' masks of one image, each pixel a subject rated marked or
    not; above ``max_pixels`` pixels on a fixed-seed random subsample. None for fewer than two
    masks or when undefined (nobody marked anything)."""
    if len(masks) < 2:
        return None
    marked = np.zeros(np.asarray(masks[0]).size, np.int32)
    for m in masks:
        marked += np.asarray(m, bool).ravel()
    if marked.size > max_pixels:
        marked = marked[np.random.default_rng(0).choice(marked.size, size=max_pixels, replace=False)]
    return fleiss_kappa_counts(np.stack([len(masks) - marked, marked], axis=1))


def consensus_mask(masks: Sequence[np.ndarray]) -> np.ndarray:
    """Pixelwise majority: marked where at least half of the masks mark it (a tie counts as
    marked, so two readers' consensus is their union)."""
    if not masks:
        raise ValueError("a consensus needs at least one mask")
    count = np.zeros(np.asarray(masks[0]).shape, np.int32)
    for m in masks:
        count += np.asarray(m, bool)
    return 2 * count >= len(masks)


def summarise(values: Sequence[float], n_boot: int = 1000, seed: int = 0) -> dict[str, Any]:
    """n, mean, SD (ddof 1), median, quartiles and the 95 % bootstrap interval of the mean.

    The interval is scipy.stats.bootstrap's BCa with ``n_boot`` resamples from a generator
    seeded with ``seed`` (the same on every run); where BCa is undefined (a handful of images,
    heavy ties) the percentile interval. One value: no SD and no interval; all values equal:
    the interval is that value.
    """
    x = np.asarray([v for v in values if v is not None and math.isfinite(v)], np.float64)
    out: dict[str, Any] = dict.fromkeys(SUMMARY_COLUMNS[3:])
    out["n"] = int(x.size)
    if x.size == 0:
        return out
    q1, median, q3 = np.percentile(x, [25, 50, 75])
    out.update(mean=float(x.mean()), median=float(median), q1=float(q1), q3=float(q3))
    if x.size < 2:
        return out
    out["sd"] = float(x.std(ddof=1))
    if np.ptp(x) == 0:
        out["ci_low"] = out["ci_high"] = float(x[0])
        return out
    for method in ("BCa", "percentile"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ci = stats.bootstrap((x,), np.mean, n_resamples=n_boot, confidence_level=0.95, method=method,
                                 vectorized=True, rng=np.random.default_rng(seed)).confidence_interval
        if math.isfinite(ci.low) and math.isfinite(ci.high):
            out["ci_low"], out["ci_high"] = float(ci.low), float(ci.high)
            break
    return out
