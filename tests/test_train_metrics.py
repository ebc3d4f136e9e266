"""Classification and signal metrics on hand-made cases with known answers."""
from __future__ import annotations

import numpy as np
import pytest

from core.labels import LABELS
from core.train.metrics import auroc, best_f1_threshold, confusion_rates, label_report, snr_db


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
