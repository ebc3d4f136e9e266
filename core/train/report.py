"""The evaluation report (`ecg-aio eval`): per domain, per label, with confidence intervals.

Writes ``report.json``, ``report.md`` and PNG plots (ROC per label, calibration) into a folder.
Sets: (a) held-out simulated pages, (b) the ``eval`` split's real records printed by our
renderer. Thresholds come from the weights' card (chosen on ``val``), never from these sets.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from core.atomic import OutputSet, write_bytes, write_json
from core.labels import LABELS, LEADS
from core.model.network import EcgAio
from core.model.weights import Weights
from core.synth.degrade import DOMAINS
from core.train.evaluate import Predictions, predict, record_pages, sim_pages
from core.train.metrics import expected_calibration_error, label_report, snr_db

SETS = ("sim", "records")


def evaluate_all(model: EcgAio, weights: Weights, n_sim: int = 200, domains: tuple[str, ...] = DOMAINS,
                 progress: Callable[[str], None] | None = None) -> dict[str, dict[str, Predictions]]:
    """Predictions for every (set, domain)."""
    size = (weights.input.width, weights.input.height)
    out: dict[str, dict[str, Predictions]] = {s: {} for s in SETS}
    for domain in domains:
        if progress:
            progress(f"simulated pages, {domain}")
        out["sim"][domain] = predict(model, weights.input, sim_pages(n_sim, domain, size))
        if progress:
            progress(f"eval records, {domain}")
        out["records"][domain] = predict(model, weights.input, record_pages("eval", domain, size), read_pages=True)
    return out


def summarise(preds: dict[str, dict[str, Predictions]], thresholds: dict[str, float]) -> dict[str, Any]:
    """Label metrics and decoder SNR for every (set, domain)."""
    summary: dict[str, Any] = {}
    for set_name, by_domain in preds.items():
        summary[set_name] = {}
        for domain, p in by_domain.items():
            rep = label_report(p.truth, p.probs, thresholds)
            snr = snr_db(p.truth_signals, p.signals, p.known)
            rep["snr_db"] = {lead: _num(v) for lead, v in zip(LEADS, snr)}
            rep["snr_db_mean"] = _mean_db(snr)
            if p.signals_read is not None:
                read = snr_db(p.truth_signals, p.signals_read, p.known)
                rep["snr_db_read"] = {lead: _num(v) for lead, v in zip(LEADS, read)}
                rep["snr_db_read_mean"] = _mean_db(read)
            summary[set_name][domain] = rep
    return summary


def _mean_db(snr: np.ndarray) -> float | None:
    return _num(np.nanmean(np.where(np.isinf(snr), np.nan, snr)))


def markdown(summary: dict[str, Any], weights: Weights) -> str:
    """The headline tables as Markdown."""
    lines = [f"# Evaluation of {weights.name} {weights.version}", "",
             "Macro AUROC averages the labels with ≥ 3 positives in that set; brackets are 95 % "
             "bootstrap intervals over pages. Few positives make wide intervals: read them. ECE is the "
             "expected calibration error (10 equal-width probability bins; the page-weighted mean gap "
             "between predicted probability and observed frequency: 0 is calibrated), pooled over every "
             "(page, label) with a known truth; per label below.", ""]
    for set_name, title in (("records", "Real `eval` records printed by our renderer"),
                            ("sim", "Held-out simulated pages")):
        if set_name not in summary:
            continue
        lines += [f"## {title}", "", "| domain | pages | macro AUROC | macro F1 | ECE | decoder SNR (dB), true panels "
                  "/ panels the page reader found | " + " | ".join(LABELS) + " |", "|---" * (6 + len(LABELS)) + "|"]
        for domain, rep in summary[set_name].items():
            cells = []
            for k in LABELS:
                r = rep["labels"][k]
                cells.append("n/a" if r["auroc"] is None else
                             f"{r['auroc']:.2f}" + (f" [{r['auroc_ci'][0]:.2f}–{r['auroc_ci'][1]:.2f}]"
                                                    if r["auroc_ci"] else "") + f" (n+={r['n_pos']})")
            lines.append(f"| {domain} | {rep['n_pages']} | {_fmt(rep['macro_auroc'])} | {_fmt(rep['macro_f1'])} | "
                         f"{_fmt(rep.get('ece_pooled'), 3)} | "
                         f"{_fmt(rep['snr_db_mean'], 1)} / {_fmt(rep.get('snr_db_read_mean'), 1)} | "
                         + " | ".join(cells) + " |")
        lines.append("")
    lines += ["## Expected calibration error per label", "",
              "| set / domain | all labels | " + " | ".join(LABELS) + " |", "|---" * (2 + len(LABELS)) + "|"]
    for set_name in summary:
        for domain, rep in summary[set_name].items():
            lines.append(f"| {set_name} / {domain} | {_fmt(rep.get('ece_pooled'), 3)} | "
                         + " | ".join(_fmt(rep["labels"][k].get("ece"), 3) for k in LABELS) + " |")
    lines += ["", "## Sensitivity / specificity / F1 at the card's thresholds", ""]
    for set_name in summary:
        for domain, rep in summary[set_name].items():
            row = ", ".join(f"{k} {_fmt(r['sensitivity'])}/{_fmt(r['specificity'])}/{_fmt(r['f1'])}"
                            for k, r in rep["labels"].items() if r["n_pos"])
            lines.append(f"- {set_name} / {domain}: {row}")
    return "\n".join(lines) + "\n"


def ablation_markdown(rows: Sequence[dict[str, Any]]) -> str:
    """The ablation runs (``scripts/gpu_ablation.py`` rows) as a Markdown section: one line per
    variant and run, `val` macro AUROC (records, records printed as photos, simulated pages)
    and the decoder's mean SNR (dB) with the true panels."""
    lines = ["## Ablation: which part of the recipe moved the numbers", "",
             "Each variant trained from scratch on a lent GPU and scored on `val` (never `eval`); "
             "one seed per row, not trained to convergence. What each run says: "
             "[docs/ablation.md](../ablation.md).", "",
             "| variant | training | val records | val records, photos | val simulated | decoder SNR (dB) |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        seconds = r.get("train_s", r.get("seconds"))
        lines.append(f"| {r['variant']} | {r['rendered_batches']} batches, {seconds:.0f} s on {r['machine']} | "
                     f"{r['val_records_macro_auroc']:.2f} | {r['val_records_photo_macro_auroc']:.2f} | "
                     f"{r['val_sim_macro_auroc']:.2f} | {r['val_decoder_snr_db']:.1f} |")
    return "\n".join(lines) + "\n"


def plot_roc(preds: dict[str, dict[str, Predictions]], path: Path) -> None:
    """ROC curves per label, one panel per label, a line per (set, domain)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import roc_curve

    fig, axes = plt.subplots(2, 4, figsize=(16, 8), sharex=True, sharey=True)
    for ax, (j, key) in zip(axes.ravel(), enumerate(LABELS)):
        for set_name, by_domain in preds.items():
            for domain, p in by_domain.items():
                ok = ~np.isnan(p.truth[:, j])
                t = p.truth[ok, j]
                if len(np.unique(t)) == 2:
                    fpr, tpr, _ = roc_curve(t, p.probs[ok, j])
                    ax.plot(fpr, tpr, ls="-" if set_name == "sim" else "--", label=f"{set_name}/{domain}")
        ax.plot([0, 1], [0, 1], color="grey", lw=0.5)
        ax.set_title(key)
    axes[0, 0].legend(fontsize=7)
    fig.supxlabel("1 − specificity")
    fig.supylabel("sensitivity")
    fig.tight_layout()
    _save(fig, path)


def plot_calibration(preds: dict[str, dict[str, Predictions]], path: Path, bins: int = 10) -> None:
    """Reliability diagram: observed positive rate against predicted probability, all labels
    pooled (bins with ≥ 5 entries drawn), each line's pooled ECE in the legend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 6))
    edges = np.linspace(0, 1, bins + 1)
    for set_name, by_domain in preds.items():
        for domain, p in by_domain.items():
            ok = ~np.isnan(p.truth)
            prob, truth = p.probs[ok], p.truth[ok]
            idx = np.clip(np.digitize(prob, edges) - 1, 0, bins - 1)
            xs = [prob[idx == b].mean() for b in range(bins) if (idx == b).sum() >= 5]
            ys = [truth[idx == b].mean() for b in range(bins) if (idx == b).sum() >= 5]
            ece = expected_calibration_error(truth, prob, bins)
            ax.plot(xs, ys, marker="o", label=f"{set_name}/{domain}, ECE {_fmt(ece, 3)}")
    ax.plot([0, 1], [0, 1], color="grey", lw=0.5)
    ax.set_xlabel("predicted probability")
    ax.set_ylabel("observed frequency")
    ax.legend(fontsize=7)
    _save(fig, path)


def write_report(out_dir: str | Path, preds: dict[str, dict[str, Predictions]], weights: Weights,
                 extra: dict[str, Any] | None = None, ablation: Sequence[dict[str, Any]] = ()) -> dict[str, Any]:
    """Write report.json, report.md (with the ablation rows, if any), roc.png, calibration.png (all or nothing)."""
    summary = summarise(preds, weights.thresholds)
    text = markdown(summary, weights) + ("\n" + ablation_markdown(ablation) if ablation else "")
    with OutputSet(out_dir) as out:
        plot_roc(preds, out.path("roc.png"))
        plot_calibration(preds, out.path("calibration.png"))
        write_bytes(out.path("report.md"), text.encode())
        write_json(out.path("report.json"), {"model": {"name": weights.name, "version": weights.version,
                                                       "sha256": weights.sha256}, **summary, **(extra or {})})
    return summary


def plot_training_log(log_csv: str | Path, path: str | Path, window: int = 50) -> None:
    """Loss curves of a run (its ``log.csv``): each loss on unseen pages, running mean over ``window`` steps."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = np.genfromtxt(log_csv, delimiter=",", names=True)
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.2))
    kernel = np.ones(window) / window
    for ax, key, title in zip(axes, ("labels", "signals", "domain"),
                              ("label BCE (masked)", "decoder smooth-L1 (mV)", "domain CE (reversed)")):
        values = np.atleast_1d(data[key])
        smooth = np.convolve(values, kernel, mode="valid") if len(values) > window else values
        ax.plot(np.atleast_1d(data["step"])[len(values) - len(smooth):], smooth)
        ax.set(title=title, xlabel="rendered batch")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    _save(fig, Path(path))


def _save(fig: Any, path: Path) -> None:
    import io

    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    write_bytes(path, buf.getvalue())


def _num(v: float) -> float | None:
    return None if v is None or not np.isfinite(v) else round(float(v), 3)


def _fmt(v: float | None, digits: int = 2) -> str:
    return "—" if v is None else f"{v:.{digits}f}"
