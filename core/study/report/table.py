"""A reader study's agreement table: ``study_table`` measures every image once and keeps one
row per image × label × comparison, their summaries and the readers' counts in a
``StudyTable``; the comparison names (``model_vs``, ``pair_name``, READER_PAIRS, ...) and the
row columns (META_COLUMNS, METRICS) that every view of the table shares live here. What each
comparison measures and who is left out of it: the package docstring (core.study.report)."""
from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from core import compare as C
from core.page.geometry import Geometry
from core.study.model import model_outputs
from core.study.report.statistics import (
    FLEISS_MAX_PIXELS,
    consensus_mask,
    fleiss_kappa_masks,
    summarise,
)
from core.study.study import Study, load_reader_masks

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

Row = dict[str, Any]


def model_vs(reader: str) -> str:
    """The comparison name of the network against one reader (or CONSENSUS)."""
    return f"{MODEL} vs {reader}"


def pair_name(a: str, b: str) -> str:
    """The comparison name of one reader against another."""
    return f"{a} vs {b}"


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
