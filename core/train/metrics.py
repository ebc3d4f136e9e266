"""Classification and signal metrics with bootstrap confidence intervals.

Unknown labels are NaN in ``truth`` and never count. Macro figures average the labels that
have at least ``MIN_POSITIVES`` positives in the set being scored.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.metrics import roc_auc_score

from core.labels import LABELS

MIN_POSITIVES = 3
ECE_BINS = 10


def expected_calibration_error(truth: np.ndarray, score: np.ndarray, bins: int = ECE_BINS) -> float | None:
    """Expected calibration error: over ``bins`` equal-width probability bins on [0, 1], the
    page-weighted mean of |mean predicted probability − observed positive rate| (0: the
    probabilities are frequencies; 1: confidently wrong). Any shape: every entry with a known
    truth counts once (so a (N, 8) array gives the ECE pooled over labels). None when no truth
    is known."""
    t, s = np.ravel(truth), np.ravel(score)
    ok = ~np.isnan(t)
    t, s = t[ok], np.clip(s[ok], 0.0, 1.0)
    if not len(t):
        return None
    idx = np.minimum((s * bins).astype(int), bins - 1)  # p = 1.0 falls in the last bin
    count = np.bincount(idx, minlength=bins)
    gap = np.abs(np.bincount(idx, s, bins) - np.bincount(idx, t, bins))  # per bin: n · |mean p − rate|
    return float(gap.sum() / count.sum())


def auroc(truth: np.ndarray, score: np.ndarray) -> float | None:
    """Area under the ROC curve (sklearn); None without both classes."""
    ok = ~np.isnan(truth)
    t, s = truth[ok], score[ok]
    if len(np.unique(t)) < 2:
        return None
    return float(roc_auc_score(t, s))


def confusion_rates(truth: np.ndarray, score: np.ndarray, threshold: float) -> dict[str, float | None]:
    """Sensitivity, specificity and F1 at a threshold (None where undefined)."""
    ok = ~np.isnan(truth)
    t, p = truth[ok] > 0.5, score[ok] >= threshold
    tp, fp, fn, tn = (int(np.sum(a & b)) for a, b in ((t, p), (~t, p), (t, ~p), (~t, ~p)))
    sens = tp / (tp + fn) if tp + fn else None
    spec = tn / (tn + fp) if tn + fp else None
    f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else None
    return {"sensitivity": sens, "specificity": spec, "f1": f1}


def best_f1_threshold(truth: np.ndarray, score: np.ndarray, min_specificity: float | None = None) -> float:
    """The threshold (one of the scores) that maximises F1 on a validation set, the lowest on a
    tie; 0.5 when there are no positives. With ``min_specificity``: the highest F1 among the
    thresholds whose specificity reaches it (when none does, the most specific threshold)."""
    ok = ~np.isnan(truth)
    t, s = truth[ok] > 0.5, score[ok]
    if not t.any():
        return 0.5
    candidates = np.unique(s)
    rates = [confusion_rates(truth[ok], s, c) for c in candidates]
    f1 = np.array([r["f1"] or 0.0 for r in rates])
    if min_specificity is not None:
        spec = np.array([1.0 if r["specificity"] is None else r["specificity"] for r in rates])
        allowed = spec >= min_specificity
        if not allowed.any():
            return float(candidates[np.flatnonzero(spec == spec.max())[0]])
        f1 = np.where(allowed, f1, -1.0)
    return float(candidates[int(np.argmax(f1))])


def bootstrap_ci(fn: Any, truth: np.ndarray, score: np.ndarray, rng: np.random.Generator,
                 n_boot: int = 500, level: float = 0.95) -> tuple[float, float] | None:
    """Percentile bootstrap interval of ``fn(truth, score)`` over resampled pages."""
    n = len(truth)
    values = []
    for _ in range(n_boot):
        idx = rng.integers(0, n, n)
        v = fn(truth[idx], score[idx])
        if v is not None:
            values.append(v)
    if not values or len(values) < n_boot // 2:
        return None
    lo, hi = np.percentile(values, [(1 - level) / 2 * 100, (1 + level) / 2 * 100])
    return float(lo), float(hi)


def label_report(truth: np.ndarray, probs: np.ndarray, thresholds: dict[str, float],
                 seed: int = 0, n_boot: int = 500) -> dict[str, Any]:
    """Per-label AUROC (with 95 % CI), F1, sensitivity, specificity and expected calibration
    error; the macro AUROC/F1 and the ECE pooled over every (page, label) with known truth.

    truth: (N, 8) with 1/0/NaN. probs: (N, 8). thresholds: per label.
    """
    rng = np.random.default_rng(seed)
    per_label: dict[str, Any] = {}
    for j, key in enumerate(LABELS):
        t, s = truth[:, j], probs[:, j]
        n_pos = int(np.nansum(t))
        row: dict[str, Any] = {"n_pos": n_pos, "n_neg": int(np.sum(t == 0)), "threshold": thresholds[key],
                               "auroc": auroc(t, s),
                               "auroc_ci": bootstrap_ci(auroc, t, s, rng, n_boot) if n_pos else None,
                               "ece": expected_calibration_error(t, s)}
        row.update(confusion_rates(t, s, thresholds[key]))
        per_label[key] = row
    scored = [k for k, r in per_label.items() if r["n_pos"] >= MIN_POSITIVES and r["auroc"] is not None]
    macro_auroc = float(np.mean([per_label[k]["auroc"] for k in scored])) if scored else None
    f1s = [per_label[k]["f1"] for k in scored if per_label[k]["f1"] is not None]
    return {"labels": per_label, "macro_labels": scored, "macro_auroc": macro_auroc,
            "macro_f1": float(np.mean(f1s)) if f1s else None, "n_pages": int(len(truth)),
            "ece_pooled": expected_calibration_error(truth, probs)}


def snr_db(truth: np.ndarray, pred: np.ndarray, known: np.ndarray) -> np.ndarray:
    """PhysioNet Challenge 2024 SNR per lead: 10·log10(Σ signal² / Σ error²) over printed samples.

    truth, pred, known: (N, 12, T). Returns (12,) dB, pooled over pages; NaN for unprinted leads.
    Each page's lead is mean-centred first (the Challenge aligns baselines).
    """
    k = known > 0
    t = np.where(k, truth - _masked_mean(truth, k), 0.0)
    p = np.where(k, pred - _masked_mean(pred, k), 0.0)
    signal = (t ** 2).sum(axis=(0, 2))
    noise = ((t - p) ** 2).sum(axis=(0, 2))
    with np.errstate(divide="ignore", invalid="ignore"):
        out = 10 * np.log10(signal / noise)
    out[k.sum(axis=(0, 2)) == 0] = np.nan
    return out


def _masked_mean(x: np.ndarray, k: np.ndarray) -> np.ndarray:
    return (np.where(k, x, 0.0).sum(axis=2, keepdims=True) / np.maximum(k.sum(axis=2, keepdims=True), 1))
