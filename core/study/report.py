"""A reader study's agreement table: the network against each reader and their consensus,
beside the readers against each other — the ECG-AIO paper's clinical comparison.

``study_table`` reads every image once (the network's cached outputs, ``core.study.model``, and
each reader's masks) and measures, per image and label:

- ``model vs <reader>``: every ``core.compare.compare_maps`` metric of the network's saliency
  against that reader's mask;
- ``model vs consensus``: against the pixelwise majority of the readers who marked the label
  on that image (a pixel is in it when at least half of them marked it), when two or more did;
- ``<reader> vs <reader>``: every metric of one reader's mask against the other's (Dice, IoU
  and Cohen's κ are the mask-vs-mask ones);
- ``all readers``: Fleiss' κ over every reader who marked the label (statsmodels), pixelwise.

A reader who said "feature not visible" or "not assessable" for a label on an image, who drew
no mask for it, or who has not finished the image (``reviewed`` not true) is left out of that
image's comparisons for that label; the table counts them (``StudyTable.counts``). Leaving
them out keeps every number a comparison of two markings; it does not score "not visible"
against a marking, so the report says how many were left out beside the numbers.

Per label and comparison, every metric is summarised over images as mean ± SD, median, IQR and
a 95 % bootstrap interval of the mean (``scipy.stats.bootstrap``, BCa, ``n_boot`` resamples,
seeded with the study's seed; the percentile interval where BCa is undefined). The image is the
unit: "reader vs reader" and "model vs readers" pool the pairs or readers by first averaging
them per image, so an image with three readers does not count three times.

``write_report`` writes report.md, report.html, report.pdf, report.json, per_image.csv,
summary.csv and plots/*.png, all or none (``core.atomic.OutputSet``).
"""
from __future__ import annotations

import csv
import html
import io
import itertools
import json
import math
import re
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

from core import compare as C
from core.atomic import OutputSet, write_bytes
from core.labels import BY_KEY
from core.page.geometry import Geometry
from core.review.agreement import csv_cell
from core.study.model import model_outputs
from core.study.study import Study, load_reader_masks

REPORT_SCHEMA = "ecg-aio/study-report@1"
MODEL = "model"
CONSENSUS = "consensus"
ALL_READERS = "all readers"
READER_PAIRS = "reader vs reader"  # the pairs pooled per image
MODEL_READERS = "model vs readers"  # the readers pooled per image
METRICS: tuple[str, ...] = C.COMPARE_KEYS + ("fleiss_kappa",)
LEFT_OUT: tuple[str, ...] = ("not_visible", "not_assessable", "no_mask", "not_done")
STATUS_KEYS: tuple[str, ...] = ("annotated",) + LEFT_OUT
META_COLUMNS: tuple[str, ...] = ("image", "label", "comparison", "a", "b", "n_readers", "truth",
                                 "probability", "threshold", "positive", "statuses")
SUMMARY_COLUMNS: tuple[str, ...] = ("label", "comparison", "metric", "n", "mean", "sd", "median",
                                    "q1", "q3", "ci_low", "ci_high")

# Fleiss' κ counts, per pixel, how many readers marked it: above this many pixels a fixed-seed
# random subsample is counted (the same answer on every run), as core.compare.auroc does, so
# that a 12-MP photo does not hold several 100-MB tables at once. Measured on the demo study's
# 1-MP pages: the full count takes ~0.1 s, and a 0.2-M subsample moved κ by at most 0.004
# (sampling error shrinks as 1/√n: ~0.001 expected at 2 M).
FLEISS_MAX_PIXELS = 2_000_000

#: Gliner et al., "ECG-AIO", npj Digit Med 8:109 (2025): the Jacobian against three
#: electrophysiologists' markings, r mean ± SD as quoted (the exact protocol is not public).
PAPER_R: dict[str, tuple[float, float]] = {"AFL": (0.96, 0.10), "PVC": (0.94, 0.03)}
PAPER_SOURCE = ("ECG-AIO paper (Gliner et al., npj Digit Med 8:109, 2025): the Jacobian against three "
                "electrophysiologists' markings, r mean ± SD; its exact correlation protocol is not public")

Row = dict[str, Any]


def model_vs(reader: str) -> str:
    """The comparison name of the network against one reader (or CONSENSUS)."""
    return f"{MODEL} vs {reader}"


def pair_name(a: str, b: str) -> str:
    """The comparison name of one reader against another."""
    return f"{a} vs {b}"


# ---- statistics ------------------------------------------------------------------------------
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


# ---- the table -------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class StudyTable:
    """Everything a study report shows.

    rows: one per image × label × comparison (META_COLUMNS then METRICS; None where a metric
    is undefined or does not apply: Dice, IoU and κ only between masks, fleiss_kappa only on
    the ``all readers`` rows). summary: one per label × comparison × metric with at least one
    value (SUMMARY_COLUMNS). counts: one per label × reader, how many images the reader
    annotated and how many were left out and why (STATUS_KEYS), how many of those left out
    carry the label by the study's truth (``left_out_positive``: misses, where truth is known)
    and the median seconds the reader spent per image (``median_seconds``, from their
    annotation.json's ``seconds_spent``). model: the network's name, version, weights sha256, devices.
    """

    study: Study
    rows: tuple[Row, ...]
    summary: tuple[Row, ...]
    counts: tuple[Row, ...]
    model: dict[str, Any]
    n_boot: int
    seconds: dict[str, float]
    fleiss_max_pixels: int = FLEISS_MAX_PIXELS

    def comparisons(self, label: str) -> list[str]:
        """The label's comparisons in report order (each with at least one row or summary)."""
        seen = dict.fromkeys(r["comparison"] for r in self.summary if r["label"] == label)
        seen.update(dict.fromkeys(r["comparison"] for r in self.rows if r["label"] == label))
        order = _comparison_order(self.study.readers)
        return sorted(seen, key=lambda c: order.index(c) if c in order else len(order))

    def values(self, label: str, comparison: str, metric: str) -> list[float]:
        """Per image, the metric's values (defined ones only) of one comparison; the pooled
        comparisons (READER_PAIRS, MODEL_READERS) average their pairs or readers per image."""
        if comparison in (READER_PAIRS, MODEL_READERS):
            return list(_pooled(self.rows, self.study.readers, label, comparison, metric).values())
        return [r[metric] for r in self.rows
                if r["label"] == label and r["comparison"] == comparison and r[metric] is not None]

    def stat(self, label: str, comparison: str, metric: str) -> Row | None:
        """The summary row of one label, comparison and metric (None when it has no values)."""
        return next((r for r in self.summary if (r["label"], r["comparison"], r["metric"]) ==
                     (label, comparison, metric)), None)


def _comparison_order(readers: Sequence[str]) -> list[str]:
    pairs = [pair_name(a, b) for a, b in itertools.combinations(readers, 2)]
    return ([model_vs(r) for r in readers] + [model_vs(CONSENSUS), MODEL_READERS] + pairs
            + [READER_PAIRS, ALL_READERS])


def _pooled(rows: Sequence[Row], readers: Sequence[str], label: str, comparison: str,
            metric: str) -> dict[str, float]:
    """{image: mean over its reader pairs (READER_PAIRS) or model-vs-reader rows (MODEL_READERS)}."""
    wanted = ({pair_name(a, b) for a, b in itertools.combinations(readers, 2)} if comparison == READER_PAIRS
              else {model_vs(r) for r in readers})
    per_image: dict[str, list[float]] = {}
    for r in rows:
        if r["label"] == label and r["comparison"] in wanted and r[metric] is not None:
            per_image.setdefault(r["image"], []).append(r[metric])
    return {image: float(np.mean(v)) for image, v in per_image.items()}


def _status(mask: np.ndarray, status: str | None, done: bool) -> str:
    if not done:
        return "not_done"
    if status in ("not_visible", "not_assessable"):
        return status
    return "annotated" if mask.any() else "no_mask"


def _row(base: Row, comparison: str, a: str, b: str, n: int, metrics: Mapping[str, float | None]) -> Row:
    return {**dict.fromkeys(META_COLUMNS), **base, "comparison": comparison, "a": a, "b": b, "n_readers": n,
            **dict.fromkeys(METRICS), **metrics}


def study_table(study: Study, device: str = "auto", n_boot: int = 1000,
                progress: Callable[[int, int], None] | None = None,
                cancel: Callable[[], bool] | None = None) -> StudyTable:
    """Measure the study: the network against each reader and their consensus, the readers
    against each other, per image and label, and their summaries (module docstring).

    The network runs on images whose cached outputs are missing or stale (core.study.model,
    ~1-2 s a page on the 2-core CPU); every other image costs its metrics only (~1 s per
    comparison on a 1.4-MP page: compare_maps' pixel ranks and AUROC). ``progress(done,
    total)`` after each image; ``cancel()`` returning True raises core.explain.Cancelled before
    the next image. Raises WeightsError, ImageLoadError, or ValueError naming an unreadable
    annotation file.
    """
    from core.explain import Cancelled

    if n_boot < 1:
        raise ValueError(f"the number of bootstrap resamples must be at least 1, got {n_boot}")
    readers = tuple(study.readers)
    t0 = time.perf_counter()
    t_model = 0.0
    rows: list[Row] = []
    counts = {(label, r): dict.fromkeys(STATUS_KEYS + ("left_out_positive",), 0)
              for label in study.labels for r in readers}
    seconds: dict[str, list[float]] = {r: [] for r in readers}
    model: dict[str, Any] = {}
    devices: set[str] = set()
    total = len(study.images)
    if progress is not None:
        progress(0, total)
    for done_images, image in enumerate(study.images):
        if cancel is not None and cancel():
            raise Cancelled("study report cancelled")
        t1 = time.perf_counter()
        result, saliency = model_outputs(study, image, device=device, cancel=cancel)
        t_model += time.perf_counter() - t1
        model = dict(result["model"])
        devices.add(str(result.get("device")))
        geometry = Geometry.from_json(result["geometry"]) if result.get("geometry") else None
        size_px = tuple(int(v) for v in result["image"]["size"])
        entries = {e["name"]: e for e in result["labels"]}
        masks: dict[str, dict[str, np.ndarray]] = {}
        statuses: dict[str, dict[str, str]] = {}
        for r in readers:
            m, s, meta = load_reader_masks(study, image, r, size_px)  # type: ignore[arg-type]
            done = meta.get("reviewed") is True  # core.study.study.is_done, from the json just read
            if done and isinstance(meta.get("seconds_spent"), (int, float)):
                seconds[r].append(float(meta["seconds_spent"]))
            masks[r] = m
            statuses[r] = {label: _status(m[label], s[label], done) for label in study.labels}
        for label in study.labels:
            truth = (study.truth.get(image) or {}).get(label)
            entry = entries.get(label, {})
            base = {"image": image, "label": label, "truth": truth, "probability": entry.get("probability"),
                    "threshold": entry.get("threshold"), "positive": entry.get("positive"),
                    "statuses": "; ".join(f"{r}: {statuses[r][label]}" for r in readers)}
            for r in readers:
                counts[(label, r)][statuses[r][label]] += 1
                if truth == 1 and statuses[r][label] != "annotated":
                    counts[(label, r)]["left_out_positive"] += 1
            marked = [r for r in readers if statuses[r][label] == "annotated"]
            sal = saliency[label]

            for r in marked:
                rows.append(_row(base, model_vs(r), MODEL, r, 1, C.compare_maps(sal, masks[r][label], geometry)))
            if len(readers) >= 2 and len(marked) >= 2:
                consensus = consensus_mask([masks[r][label] for r in marked])
                rows.append(_row(base, model_vs(CONSENSUS), MODEL, CONSENSUS, len(marked),
                                 C.compare_maps(sal, consensus, geometry)))
            for a, b in itertools.combinations(readers, 2):
                if a in marked and b in marked:
                    rows.append(_row(base, pair_name(a, b), a, b, 2,
                                     C.compare_maps(masks[a][label], masks[b][label], geometry)))
            if len(marked) >= 2:
                rows.append(_row(base, ALL_READERS, "readers", "", len(marked),
                                 {"fleiss_kappa": fleiss_kappa_masks([masks[r][label] for r in marked])}))
        if progress is not None:
            progress(done_images + 1, total)
    t_metrics = time.perf_counter() - t0 - t_model

    t2 = time.perf_counter()
    table = StudyTable(study=study, rows=tuple(rows), summary=(), counts=(), model={}, n_boot=n_boot, seconds={})
    summary: list[Row] = []
    for label in study.labels:
        for comparison in _comparison_order(readers):
            if comparison == MODEL_READERS and len(readers) < 2:
                continue  # one reader: the pooled row would repeat "model vs <reader>"
            for metric in METRICS:
                values = table.values(label, comparison, metric)
                if values:
                    summary.append({"label": label, "comparison": comparison, "metric": metric,
                                    **summarise(values, n_boot, study.seed)})
    count_rows = [{"label": label, "reader": r, **counts[(label, r)],
                   "median_seconds": float(np.median(seconds[r])) if seconds[r] else None}
                  for label in study.labels for r in readers]
    model["devices"] = sorted(devices)
    return StudyTable(study=study, rows=tuple(rows), summary=tuple(summary), counts=tuple(count_rows),
                      model=model, n_boot=n_boot,
                      seconds={"model": round(t_model, 2), "metrics": round(t_metrics, 2),
                               "summary": round(time.perf_counter() - t2, 2)})


# ---- words and numbers ------------------------------------------------------------------------
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


# ---- Markdown to HTML (the subset report_markdown writes) --------------------------------------
def _inline(text: str) -> str:
    text = html.escape(text, quote=False)
    text = re.sub(r"`([^`]+)`", r"<code>\1</code>", text)
    text = re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", text)
    return re.sub(r"(?<![\w*])\*([^*]+)\*(?![\w*])", r"<em>\1</em>", text)


def markdown_html(markdown: str, page_title: str) -> str:
    """A standalone HTML page of the Markdown this module writes: headings, paragraphs, pipe
    tables and images (the full Markdown syntax is not needed, so no package is)."""
    body: list[str] = []
    lines = markdown.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.strip():
            i += 1
        elif line.startswith("#"):
            level = len(line) - len(line.lstrip("#"))
            body.append(f"<h{level}>{_inline(line[level:].strip())}</h{level}>")
            i += 1
        elif line.startswith("|"):
            block = []
            while i < len(lines) and lines[i].startswith("|"):
                block.append(lines[i])
                i += 1
            cells = [[c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", r.strip())[1:-1]] for r in block]
            head, data = cells[0], [c for c in cells[2:]]
            body.append("<table>\n<thead><tr>" + "".join(f"<th>{_inline(c)}</th>" for c in head) + "</tr></thead>")
            body.append("<tbody>" + "".join("<tr>" + "".join(f"<td>{_inline(c)}</td>" for c in r) + "</tr>\n"
                                            for r in data) + "</tbody></table>")
        elif (img := re.fullmatch(r"!\[([^\]]*)\]\(([^)]+)\)", line.strip())):
            body.append(f'<p><img src="{html.escape(img.group(2))}" alt="{html.escape(img.group(1))}"></p>')
            i += 1
        else:
            para = []
            while i < len(lines) and lines[i].strip() and not lines[i].startswith(("#", "|", "![")):
                para.append(lines[i])
                i += 1
            body.append(f"<p>{_inline(' '.join(para))}</p>")
    style = ("body{font-family:system-ui,sans-serif;margin:2em;max-width:80em}"
             "table{border-collapse:collapse;margin:1em 0;font-size:0.9em}"
             "th,td{border:1px solid #bbb;padding:0.2em 0.5em;text-align:left}th{background:#eee}"
             "img{max-width:100%}")
    return (f"<!DOCTYPE html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\"><title>{html.escape(page_title)}"
            f"</title><style>{style}</style></head>\n<body>\n" + "\n".join(body) + "\n</body>\n</html>\n")


# ---- plots and the PDF -----------------------------------------------------------------------
def _box_figure(table: StudyTable, label: str) -> Any:
    from matplotlib.figure import Figure

    groups = [c for c in table.comparisons(label) if c not in (ALL_READERS, MODEL_READERS)]
    data = [(c, table.values(label, c, "pearson_grid")) for c in groups]
    data = [(c, v) for c, v in data if v]
    fig = Figure(figsize=(max(5.0, 1.1 * len(data) + 2), 4.2), layout="constrained")
    ax = fig.subplots()
    colours = ["#7b3fa0" if c.startswith(f"{MODEL} vs ") else "#3a7d44" for c, _ in data]
    parts = ax.boxplot([v for _, v in data], showfliers=False, patch_artist=True,
                       medianprops={"color": "black"})
    for patch, colour in zip(parts["boxes"], colours):
        patch.set(facecolor=colour, alpha=0.35)
    rng = np.random.default_rng(0)
    for i, ((_, v), colour) in enumerate(zip(data, colours), start=1):
        ax.scatter(i + rng.uniform(-0.12, 0.12, len(v)), v, s=12, color=colour, zorder=3)
    ax.set_xticks(range(1, len(data) + 1), [c for c, _ in data], rotation=25, ha="right", fontsize=8)
    ax.axhline(0, color="#999", lw=0.6)
    if label in PAPER_R:
        ax.axhline(PAPER_R[label][0], color="#c0392b", ls="--", lw=1, label=f"paper r {PAPER_R[label][0]:.2f}")
        ax.legend(fontsize=8, loc="lower right")
    ax.set_ylim(-1.05, 1.05)
    ax.set_ylabel("grid r (lead × 0.2 s cells)")
    ax.set_title(f"{label}: grid r per image — model (purple) and readers (green)"
                 + (" — simulated readers" if table.study.simulated_readers else ""), fontsize=9)
    return fig


def _scatter_figure(table: StudyTable, label: str) -> Any:
    from matplotlib.figure import Figure

    dice = _pooled(table.rows, table.study.readers, label, READER_PAIRS, "dice")
    grid = _pooled(table.rows, table.study.readers, label, MODEL_READERS, "pearson_grid")
    images = [im for im in dice if im in grid]
    fig = Figure(figsize=(5.2, 4.4), layout="constrained")
    ax = fig.subplots()
    ax.scatter([dice[im] for im in images], [grid[im] for im in images], s=22, color="#7b3fa0")
    if len(images) <= 15:  # few enough to name
        for im in images:
            ax.annotate(Path(im).stem, (dice[im], grid[im]), fontsize=6, xytext=(3, 3), textcoords="offset points")
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(-1.05, 1.05)
    ax.axhline(0, color="#999", lw=0.6)
    ax.set_xlabel("readers' agreement: Dice, mean over pairs")
    ax.set_ylabel("model vs readers: grid r, mean over readers")
    ax.set_title(f"{label}: per image, the model's agreement against the readers' own"
                 + ("\n(simulated readers)" if table.study.simulated_readers else ""), fontsize=9)
    return fig


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=120)
    return buf.getvalue()


def _text_lines(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows)] if rows else [len(h) for h in header]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return [fmt.format(*header), fmt.format(*("-" * w for w in widths))] + [fmt.format(*map(str, r)) for r in rows]


def _text_pages(pdf: Any, heading: str, lines: Sequence[str], per_page: int = 58) -> None:
    from matplotlib.figure import Figure

    width = max((len(x) for x in lines), default=80)
    size = float(np.clip(1000 / max(width, 1), 4.0, 8.0))  # fit an A4 landscape page's width
    for start in range(0, max(len(lines), 1), per_page):
        fig = Figure(figsize=(11.69, 8.27))
        fig.text(0.04, 0.96, heading + (" (continued)" if start else ""), fontsize=11, weight="bold", va="top")
        fig.text(0.04, 0.92, "\n".join(lines[start:start + per_page]), family="monospace", fontsize=size, va="top")
        pdf.savefig(fig)


def _pdf(table: StudyTable, figures: Sequence[Any]) -> bytes:
    from matplotlib.backends.backend_pdf import PdfPages

    st = table.study
    buf = io.BytesIO()
    with PdfPages(buf, metadata={"Title": title(table), "Creator": "ECG-AIO Review"}) as pdf:
        notes = [f"{r}: {n}" for r, n in st.reader_notes.items()]
        head = ([*notes, ""] if notes else []) + ["The network against the readers, beside the readers' own agreement", ""]
        tail = ["", *_wrap(f"Paper: {PAPER_SOURCE}."), ""] + _text_lines(*counts_table(table))
        _text_pages(pdf, title(table), head + _text_lines(*paper_table(table)) + tail)
        for fig in figures:
            pdf.savefig(fig)
        for label in st.labels:
            _text_pages(pdf, f"{title(table)} — every metric, {label}", _text_lines(*summary_table(table, label)))
        _text_pages(pdf, f"{title(table)} — per image", _text_lines(*per_image_table(table, PER_IMAGE_SHOWN)))
    return buf.getvalue()


def _wrap(text: str, width: int = 140) -> list[str]:
    import textwrap

    return textwrap.wrap(text, width)


# ---- files -----------------------------------------------------------------------------------

def _csv(columns: Sequence[str], rows: Sequence[Row]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(columns), extrasaction="raise")
    writer.writeheader()
    for r in rows:
        writer.writerow({k: csv_cell(r.get(k)) for k in columns})
    return out.getvalue().encode("utf-8")


def report_json(table: StudyTable) -> dict[str, Any]:
    """The whole table as JSON (``ecg-aio/study-report@1``)."""
    st = table.study
    return {
        "schema": REPORT_SCHEMA, "title": title(table),
        "study": {"name": st.name, "folder": str(st.folder), "labels": list(st.labels), "readers": list(st.readers),
                  "blinded": st.blinded, "seed": st.seed, "images": len(st.images),
                  "simulated_readers": st.simulated_readers, "reader_notes": dict(st.reader_notes)},
        "model": table.model, "n_boot": table.n_boot, "fleiss_max_pixels": table.fleiss_max_pixels,
        "paper": {"source": PAPER_SOURCE, "r": {k: {"mean": v[0], "sd": v[1]} for k, v in PAPER_R.items()}},
        "seconds": table.seconds, "counts": list(table.counts), "summary": list(table.summary),
        "rows": list(table.rows),
    }


def write_report(table: StudyTable, out_dir: str | Path) -> Path:
    """Write report.md, report.html, report.pdf, report.json, per_image.csv, summary.csv and
    plots/*.png into ``out_dir``, all or none; returns report.md's path. Every file is made in
    memory first (a few seconds: the PDF and the plots), then each is written atomically."""
    out_dir = Path(out_dir)
    markdown = report_markdown(table)
    names = _plot_names(table)
    figures: dict[str, Any] = {}
    for label in table.study.labels:
        if f"plots/grid_r_{label}.png" in names["box"]:
            figures[f"plots/grid_r_{label}.png"] = _box_figure(table, label)
        if f"plots/model_vs_readers_{label}.png" in names["scatter"]:
            figures[f"plots/model_vs_readers_{label}.png"] = _scatter_figure(table, label)
    files: dict[str, bytes] = {name: _png(fig) for name, fig in figures.items()}
    files["report.pdf"] = _pdf(table, list(figures.values()))
    files["report.md"] = markdown.encode("utf-8")
    files["report.html"] = markdown_html(markdown, title(table)).encode("utf-8")
    files["report.json"] = (json.dumps(report_json(table), indent=1, ensure_ascii=False) + "\n").encode("utf-8")
    files["per_image.csv"] = _csv(META_COLUMNS + METRICS, table.rows)
    files["summary.csv"] = _csv(SUMMARY_COLUMNS, table.summary)
    with OutputSet(out_dir) as out:
        for name, data in files.items():
            if name != "report.md":
                write_bytes(out.path(name), data)
        write_bytes(out.path("report.md"), files["report.md"])  # last: the one the CLI prints
    return out.target("report.md")
