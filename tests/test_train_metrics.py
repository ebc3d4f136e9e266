"""Classification and signal metrics on hand-made cases with known answers."""
from __future__ import annotations

import numpy as np
import pytest

from core.labels import LABELS
from core.train.metrics import (auroc, best_f1_threshold, confusion_rates, expected_calibration_error,
                                label_report, snr_db)


def test_auroc_perfect_inverse_and_unknowns() -> None:
    t = np.array([0, 0, 1, 1, np.nan])
    assert auroc(t, np.array([0.1, 0.2, 0.8, 0.9, 0.0])) == 1.0
    assert auroc(t, np.array([0.9, 0.8, 0.2, 0.1, 1.0])) == 0.0
    # one of four pos/neg pairs misordered -> 0.75
    assert auroc(t, np.array([0.1, 0.85, 0.8, 0.9, 0.5])) == pytest.approx(0.75)
    assert auroc(np.array([1.0, 1.0]), np.array([0.2, 0.3])) is None


def test_confusion_rates_by_hand() -> None:
    t = np.array([1, 1, 1, 0, 0, 0, 0, np.nan])
    s = np.array([0.9, 0.6, 0.2, 0.7, 0.1, 0.1, 0.1, 0.9])
    r = confusion_rates(t, s, 0.5)  # tp 2, fn 1, fp 1, tn 3
    assert r["sensitivity"] == pytest.approx(2 / 3)
    assert r["specificity"] == pytest.approx(3 / 4)
    assert r["f1"] == pytest.approx(4 / 6)


def test_best_f1_threshold_separates_classes() -> None:
    t = np.array([0, 0, 0, 1, 1])
    s = np.array([0.1, 0.2, 0.3, 0.6, 0.7])
    thr = best_f1_threshold(t, s)
    assert 0.3 < thr <= 0.6
    assert confusion_rates(t, s, thr)["f1"] == 1.0


def test_a_specificity_floor_raises_the_threshold_above_the_best_f1_one() -> None:
    # 4 positives at 0.6-0.9; 10 negatives, two of them at 0.7 and 0.95
    t = np.array([1, 1, 1, 1] + [0] * 10, dtype=float)
    s = np.array([0.6, 0.7, 0.8, 0.9, 0.7, 0.95, 0.1, 0.1, 0.2, 0.2, 0.3, 0.3, 0.4, 0.4])
    assert best_f1_threshold(t, s) == 0.6  # F1 0.8 (4 TP, 2 FP), specificity 0.8
    assert best_f1_threshold(t, s, min_specificity=0.85) == 0.8  # F1 4/7 (2 TP, 1 FP), specificity 0.9
    # 0.95 is unreachable (the negative at 0.95 is called at every threshold): the most specific
    # threshold, the lowest of those (0.8, 0.9, 0.95 all reach 0.9), is the most sensitive of them
    assert best_f1_threshold(t, s, min_specificity=0.95) == 0.8
    assert best_f1_threshold(np.zeros(3), np.array([0.1, 0.2, 0.3]), min_specificity=0.9) == 0.5


def test_label_report_macro_uses_labels_with_three_positives() -> None:
    rng = np.random.default_rng(0)
    n = 40
    truth = np.zeros((n, len(LABELS)))
    truth[:20, 0] = 1          # SR: 20 positives, perfectly ranked
    truth[:2, 1] = 1           # AF: only 2 positives -> not in the macro
    truth[:, 2] = np.nan       # AFL unknown everywhere
    probs = rng.uniform(0, 0.4, (n, len(LABELS)))
    probs[:20, 0] = 0.9
    rep = label_report(truth, probs, {k: 0.5 for k in LABELS}, n_boot=50)
    assert rep["macro_labels"] == ["SR"]
    assert rep["macro_auroc"] == 1.0
    assert rep["labels"]["AFL"]["auroc"] is None and rep["labels"]["AF"]["n_pos"] == 2
    lo, hi = rep["labels"]["SR"]["auroc_ci"]
    assert lo == hi == 1.0


def test_expected_calibration_error_is_small_when_calibrated_and_large_when_overconfident() -> None:
    rng = np.random.default_rng(0)
    p = rng.uniform(0, 1, 200_000)
    calibrated = (rng.uniform(0, 1, p.size) < p).astype(float)  # a page at p is positive with probability p
    assert expected_calibration_error(calibrated, p) == pytest.approx(0.0, abs=0.01)
    # overconfident: says 0.99 or 0.01 where the truth is a coin flip -> a gap of 0.49 in every page
    sure = np.where(rng.uniform(0, 1, p.size) < 0.5, 0.99, 0.01)
    coin = (rng.uniform(0, 1, p.size) < 0.5).astype(float)
    assert expected_calibration_error(coin, sure) == pytest.approx(0.49, abs=0.01)
    # by hand: bin [0.9, 1.0] holds 0.95 and 1.0 (mean 0.975), one of the two positive: gap 0.475;
    # bin [0.1, 0.2) holds 0.1, negative: gap 0.1; unknown truths and the page weights count
    t = np.array([1.0, 0.0, 0.0, np.nan])
    s = np.array([0.95, 1.0, 0.1, 0.5])
    assert expected_calibration_error(t, s) == pytest.approx((2 * 0.475 + 0.1) / 3)
    assert expected_calibration_error(np.array([np.nan]), np.array([0.3])) is None


def test_label_report_gives_ece_per_label_and_pooled_over_known_truths() -> None:
    truth = np.zeros((4, len(LABELS)))
    truth[:2] = 1
    truth[:, 2] = np.nan  # AFL unknown: no ECE, and not in the pooled figure
    probs = np.where(truth == 1, 0.8, 0.1)
    probs[:, 0] = 0.5  # SR: 0.5 on two positives and two negatives, a calibrated coin
    rep = label_report(truth, probs, {k: 0.5 for k in LABELS}, n_boot=0)
    assert rep["labels"]["SR"]["ece"] == pytest.approx(0.0)
    assert rep["labels"]["AF"]["ece"] == pytest.approx(0.15)  # 0.8 on positives (gap 0.2), 0.1 on negatives (0.1)
    assert rep["labels"]["AFL"]["ece"] is None
    assert rep["ece_pooled"] == pytest.approx(6 * 0.15 / 7)  # SR adds 4 entries with no gap to 6 labels' 24


def test_snr_db_known_values() -> None:
    t = np.zeros((1, 12, 100))
    t[0, 0] = np.sin(np.linspace(0, 20, 100))
    known = np.zeros_like(t)
    known[0, 0] = 1
    exact = snr_db(t, t.copy(), known)
    assert np.isinf(exact[0]) and np.isnan(exact[1:]).all()
    zeros = snr_db(t, np.zeros_like(t), known)
    assert zeros[0] == pytest.approx(0.0, abs=1e-9)   # predicting zeros = 0 dB
    half = snr_db(t, t * 0.5, known)                    # error = half the signal -> 6.02 dB
    assert half[0] == pytest.approx(10 * np.log10(4), abs=1e-6)


def test_ablation_section_lists_every_run_with_its_training_budget() -> None:
    from core.train.report import ablation_markdown

    rows = [{"variant": "shipped recipe", "seconds": 75.0, "rendered_batches": 259, "machine": "GPU A",
             "val_records_macro_auroc": 0.56, "val_records_photo_macro_auroc": 0.521, "val_sim_macro_auroc": 0.497,
             "val_decoder_snr_db": -4.74},
            {"variant": "no decoder loss", "train_s": 239, "rendered_batches": 900, "machine": "GPU B",
             "val_records_macro_auroc": 0.616, "val_records_photo_macro_auroc": 0.533, "val_sim_macro_auroc": 0.764,
             "val_decoder_snr_db": 0.0}]
    table = [line for line in ablation_markdown(rows).splitlines() if line.startswith("| ") and "batches" in line]
    assert table == ["| shipped recipe | 259 batches, 75 s on GPU A | 0.56 | 0.52 | 0.50 | -4.7 |",
                     "| no decoder loss | 900 batches, 239 s on GPU B | 0.62 | 0.53 | 0.76 | 0.0 |"]


def test_evaluation_report_gives_the_ece_of_each_domain_and_label() -> None:
    from types import SimpleNamespace

    from core.train.evaluate import Predictions
    from core.train.report import markdown, summarise

    n = 20
    truth = np.zeros((n, len(LABELS)))
    truth[: n // 2] = 1
    sig = np.random.default_rng(0).normal(size=(n, 12, 1000))
    preds = {"records": {"photo": Predictions(np.full_like(truth, 0.95), truth, sig / 2, sig, np.ones_like(sig))}}
    summary = summarise(preds, {k: 0.5 for k in LABELS})
    assert summary["records"]["photo"]["ece_pooled"] == pytest.approx(0.45)  # says 0.95, half are positive
    text = markdown(summary, SimpleNamespace(name="ECG-AIO", version="t"))
    head = next(line for line in text.splitlines() if line.startswith("| domain"))
    row = next(line for line in text.splitlines() if line.startswith("| photo"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[[c.strip() for c in head.strip("|").split("|")].index("ECE")] == "0.450"
    assert "| records / photo | 0.450 | " + " | ".join(["0.450"] * len(LABELS)) + " |" in text
