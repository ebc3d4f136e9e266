"""The report in words and numbers: the title, the tables (the paper's comparison, every
metric, the readers left out, per image) as header and rows of strings, and the whole report as
Markdown. The Markdown, the HTML and the PDF all show these same tables."""
from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from core.labels import BY_KEY
from core.study.report.table import (
    ALL_READERS,
    METRICS,
    MODEL,
    MODEL_READERS,
    READER_PAIRS,
    STATUS_KEYS,
    Row,
    StudyTable,
)

#: Gliner et al., "ECG-AIO", npj Digit Med 8:109 (2025): the Jacobian against three
#: electrophysiologists' markings, r mean ± SD as quoted (the exact protocol is not public).
PAPER_R: dict[str, tuple[float, float]] = {"AFL": (0.96, 0.10), "PVC": (0.94, 0.03)}
PAPER_SOURCE = ("ECG-AIO paper (Gliner et al., npj Digit Med 8:109, 2025): the Jacobian against three "
                "electrophysiologists' markings, r mean ± SD; its exact correlation protocol is not public")

DASH = "—"
METRIC_NAMES: dict[str, str] = {
    "pearson_pixel": "pixel r", "spearman_pixel": "pixel ρ", "pearson_grid": "grid r", "spearman_grid": "grid ρ",
    "relevance_mass": "relevance mass", "relevance_rank": "relevance rank", "pointing_game": "pointing game",
    "dice_topk": "top-K Dice", "iou_topk": "top-K IoU", "auroc": "AUROC", "dice": "Dice", "iou": "IoU",
    "kappa": "Cohen's κ", "fleiss_kappa": "Fleiss' κ",
}


def _f(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return DASH
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return f"{value:.{digits}f}"
    return str(value)


def _mean_sd(s: Row | None, with_n: bool = False) -> str:
    if s is None or s["mean"] is None:
        return DASH
    text = f"{s['mean']:.2f}" + (f" ± {s['sd']:.2f}" if s["sd"] is not None else "")
    return text + (f" (n={s['n']})" if with_n else "")


def title(table: StudyTable) -> str:
    """The report's title; it says "(simulated readers)" whenever they are."""
    return f"Reader study: {table.study.name}" + (" (simulated readers)" if table.study.simulated_readers else "")


def paper_table(table: StudyTable) -> tuple[list[str], list[list[str]]]:
    """The paper's comparison, per label: the network against each reader and the consensus
    (grid r and relevance mass, mean ± SD over images), beside the readers' own agreement
    (Dice and Cohen's κ over pairs, Fleiss' κ) and the paper's r."""
    header = ["Label", "Model vs", "Images", "Grid r", "Relevance mass", "Readers' Dice", "Readers' κ (Cohen)",
              "Fleiss' κ", "Paper: EPs vs Jacobian, r"]
    rows: list[list[str]] = []
    for label in table.study.labels:
        targets = [c for c in table.comparisons(label) if c.startswith(f"{MODEL} vs ")]
        paper = PAPER_R.get(label)
        reader_cells = [_mean_sd(table.stat(label, READER_PAIRS, "dice")),
                        _mean_sd(table.stat(label, READER_PAIRS, "kappa")),
                        _mean_sd(table.stat(label, ALL_READERS, "fleiss_kappa"))]
        if len(table.study.readers) < 2:
            reader_cells = ["one reader"] + [DASH, DASH]
        for i, comparison in enumerate(targets or [DASH]):
            grid = table.stat(label, comparison, "pearson_grid")
            mass = table.stat(label, comparison, "relevance_mass")
            n = max((s["n"] for s in (grid, mass) if s is not None), default=0)
            n_grid = 0 if grid is None else grid["n"]
            images = str(n) if n_grid == n else f"{n} (grid r: {n_grid})"  # grid r needs the page geometry
            shown = "readers, pooled" if comparison == MODEL_READERS else comparison.removeprefix(f"{MODEL} vs ")
            rows.append([label if i == 0 else "", shown, images,
                         _mean_sd(grid), _mean_sd(mass),
                         *(reader_cells if i == 0 else ["", "", ""]),
                         (f"{paper[0]:.2f} ± {paper[1]:.2f}" if paper else DASH) if i == 0 else ""])
    return header, rows


def summary_table(table: StudyTable, label: str) -> tuple[list[str], list[list[str]]]:
    """Every metric's summary for one label: per comparison and metric, n, mean ± SD, median,
    IQR and the bootstrap 95 % interval."""
    header = ["Comparison", "Metric", "n", "Mean ± SD", "Median", "IQR", "95 % CI (bootstrap)"]
    rows = []
    for comparison in table.comparisons(label):
        for metric in METRICS:
            s = table.stat(label, comparison, metric)
            if s is None:
                continue
            ci = DASH if s["ci_low"] is None else f"{s['ci_low']:.3f} – {s['ci_high']:.3f}"
            rows.append([comparison, METRIC_NAMES[metric], str(s["n"]), _mean_sd(s), _f(s["median"]),
                         f"{s['q1']:.3f} – {s['q3']:.3f}", ci])
    return header, rows


def counts_table(table: StudyTable) -> tuple[list[str], list[list[str]]]:
    """Per label and reader: images annotated and left out (and why); median time per image."""
    header = ["Label", "Reader", "Annotated", "Not visible", "Not assessable", "No mask", "Not done",
              "Left out though positive", "Median s per image"]
    known = bool(table.study.truth)
    rows = [[c["label"], c["reader"], *(str(c[k]) for k in STATUS_KEYS),
             str(c["left_out_positive"]) if known else DASH, _f(c["median_seconds"], 1)] for c in table.counts]
    return header, rows


PER_IMAGE_SHOWN: tuple[str, ...] = ("pearson_grid", "relevance_mass", "pearson_pixel", "relevance_rank",
                                    "pointing_game", "dice_topk", "auroc", "dice", "iou", "kappa", "fleiss_kappa")


def per_image_table(table: StudyTable, metrics: Sequence[str] = METRICS) -> tuple[list[str], list[list[str]]]:
    """One line per image, label and comparison: the truth, the network's call, the metrics."""
    header = ["Image", "Label", "Comparison", "Truth", "P(model)", "Model", *(METRIC_NAMES[m] for m in metrics)]
    rows = [[r["image"], r["label"], r["comparison"], _f(r["truth"]), _f(r["probability"]),
             DASH if r["positive"] is None else ("positive" if r["positive"] else "negative"),
             *(_f(r[m]) for m in metrics)] for r in table.rows]
    return header, rows


def _md_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    def cell(text: str) -> str:
        return str(text).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(map(cell, header)) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(map(cell, r)) + " |" for r in rows]
    return lines + [""]


def _plot_names(table: StudyTable) -> dict[str, list[str]]:
    names: dict[str, list[str]] = {"box": [], "scatter": []}
    for label in table.study.labels:
        if any(r["label"] == label and r["pearson_grid"] is not None for r in table.rows):
            names["box"].append(f"plots/grid_r_{label}.png")
        if table.values(label, READER_PAIRS, "dice") and table.values(label, MODEL_READERS, "pearson_grid"):
            names["scatter"].append(f"plots/model_vs_readers_{label}.png")
    return names


def report_markdown(table: StudyTable) -> str:
    """The report as Markdown (tables, headings, the plots as images under plots/)."""
    st, m = table.study, table.model
    lines = [f"# {title(table)}", ""]
    for reader, note in st.reader_notes.items():
        lines += [f"*{reader}: {note.rstrip('.')}.*", ""]
    if st.simulated_readers:
        lines += [("**The readers of this study are simulated** (perturbed ground-truth masks): its numbers "
                   "test the pipeline, they say nothing about how people read ECGs."), ""]
    made = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines += [(f"{len(st.images)} images · labels {', '.join(st.labels)} · readers {', '.join(st.readers)} · "
               f"{'blinded' if st.blinded else 'not blinded'} · model {m.get('name', DASH)} {m.get('version', '')} "
               f"(weights sha256 {str(m.get('sha256', ''))[:12]}…) · made {made}"), ""]
    lines += ["## The network against the readers, beside the readers against each other", ""]
    lines += _md_table(*paper_table(table))
    lines += [(f"Grid r: Pearson r between the saliency and the marked pixels summed in every lead × 0.2 s cell "
               f"of the page (`core.compare.pearson_grid`), defined only where the page reader found the page "
               f"geometry (\"12 (grid r: 9)\": on 3 of 12 images it found none); relevance mass: the share of "
               f"positive saliency inside "
               f"the mask. Mean ± SD over images. Readers' Dice and Cohen's κ: pixelwise between two readers' masks, "
               f"averaged over the pairs of each image, then over images; Fleiss' κ: pixelwise over every reader "
               f"who marked the label (on a fixed random subsample of {table.fleiss_max_pixels:,} pixels on larger "
               f"images). Consensus: the pixels at least half of the image's marking readers marked, when two or "
               f"more marked. Paper: {PAPER_SOURCE}."), ""]
    lines += ["## Readers left out", "",
              ("A reader who said *not visible* or *not assessable*, drew no mask, or has not finished an image is "
               "left out of that image's comparisons for that label; these are the counts. *Left out though "
               "positive*: of those, the images that carry the label by the study's truth (misses)."), ""]
    lines += _md_table(*counts_table(table))
    names = _plot_names(table)
    if names["box"] or names["scatter"]:
        lines += ["## Plots", ""]
        for path in names["box"] + names["scatter"]:
            lines += [f"![{Path(path).stem}]({path})", ""]
    lines += ["## Every metric", "",
              (f"Over images; 95 % CI: bootstrap of the mean (scipy.stats.bootstrap, BCa, {table.n_boot} "
               f"resamples, seed {st.seed}). \"{READER_PAIRS}\" and \"{MODEL_READERS}\" average each image's "
               f"pairs or readers first."), ""]
    for label in st.labels:
        lines += [f"### {label} — {BY_KEY[label].name}", ""]
        lines += _md_table(*summary_table(table, label))
    lines += ["## Per image", ""]
    lines += _md_table(*per_image_table(table))
    sec = table.seconds
    lines += [(f"Each reader's status per image: per_image.csv. Seconds: network {sec.get('model', 0):.1f}, "
               f"metrics {sec.get('metrics', 0):.1f}, summaries {sec.get('summary', 0):.1f}."), ""]
    return "\n".join(lines)
