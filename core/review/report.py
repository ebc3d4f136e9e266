"""The facts of a one-page review report and the words they are shown in, with no Qt.

What a report says (which model, which image, which numbers, which warnings) is data that must
be right and testable without a display; ``app/review/report.py`` only lays these strings and
images out on a page. The window gathers the facts, because only it knows the reader, the
selected label and what is on screen; ``label_rows`` turns an ``Analysis`` into the table rows.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from core.analyze import Analysis
from core.labels import BY_KEY, LABELS

if TYPE_CHECKING:
    from core.review.annotations import Annotations

TITLE = "ECG-AIO Review — report"
DISCLAIMER = "Research use. Not a medical device: a physician reads every ECG."
MISSING = "—"  # a metric that is not defined for these maps (e.g. grid metrics without panels)
STATUS_WORDS: dict[str | None, str] = {
    "annotated": "annotated", "not_visible": "not visible", "not_assessable": "not assessable", None: MISSING,
}
PROBABILITY_HEADER: tuple[str, ...] = ("Label", "Finding", "Probability", "Threshold", "Model", "Reader")


@dataclass(frozen=True)
class LabelRow:
    """One label as the model called it and as the reader marked it (status from core.review)."""

    key: str
    probability: float
    threshold: float
    positive: bool
    reader_status: str | None = None

    def cells(self) -> tuple[str, ...]:
        """The row of the probabilities table, in ``PROBABILITY_HEADER`` order."""
        return (self.key, BY_KEY[self.key].name, f"{self.probability:.3f}", f"{self.threshold:.2f}",
                "positive" if self.positive else "negative", STATUS_WORDS.get(self.reader_status, str(self.reader_status)))


def label_rows(analysis: Analysis, statuses: Mapping[str, str | None] | None = None) -> tuple[LabelRow, ...]:
    """Every analysed label's row: the model's probability, the card's threshold, the reader's status."""
    statuses = statuses or {}
    return tuple(LabelRow(k, analysis.probability(k), float(analysis.weights.thresholds[k]),
                          analysis.is_positive(k), statuses.get(k)) for k in analysis.labels)


def metric_text(value: float | None) -> str:
    """A metric as printed: three decimals, or a dash where it is undefined (None or NaN)."""
    return MISSING if value is None or not np.isfinite(value) else f"{value:.3f}"


@dataclass(frozen=True, eq=False)
class ReportFacts:
    """Everything one report shows. Images are RGB uint8 (H, W, 3) of the page as loaded.

    date_iso: when the report was made (ISO 8601). selected: the label whose overlay, annotation
    and metrics are shown. metrics: ``core.compare.compare_maps`` output for that label (None
    where undefined). agreement_rgb: None when there is nothing to compare (no annotation).
    """

    image_name: str
    image_sha256: str
    page: int
    reader: str
    date_iso: str
    model_name: str
    model_version: str
    weights_sha256: str
    device: str
    selected: str
    labels: tuple[LabelRow, ...]
    metrics: Mapping[str, float | None]
    model_rgb: np.ndarray
    reader_rgb: np.ndarray
    agreement_rgb: np.ndarray | None = None
    warnings: tuple[str, ...] = field(default_factory=tuple)
    intervals: str = ""  # measured on the decoded leads (``Intervals.summary``); "" when none were read

    def __post_init__(self) -> None:
        if self.selected not in BY_KEY:
            raise ValueError(f"unknown label {self.selected!r}; known labels are {', '.join(LABELS)}")
        for name in ("model_rgb", "reader_rgb", "agreement_rgb"):
            img = getattr(self, name)
            if img is not None and (img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3):
                raise ValueError(f"{name} must be an RGB uint8 (H, W, 3) image, got {img.dtype} {img.shape}")
        object.__setattr__(self, "warnings", tuple(self.warnings))

    def selected_line(self) -> str:
        """'AFL — atrial flutter: probability 0.71 (threshold 0.40), positive'."""
        row = next((r for r in self.labels if r.key == self.selected), None)
        words = f"{self.selected} — {BY_KEY[self.selected].name}"
        if row is None:
            return words
        call = "positive" if row.positive else "negative"
        return f"{words}: probability {row.probability:.3f} (threshold {row.threshold:.2f}), {call}"

    def header_line(self) -> str:
        """Which image, page, reader and date the report is about."""
        return f"Image {self.image_name} (page {self.page}) · reader {self.reader} · {self.date_iso}"

    def metric_rows(self) -> list[tuple[str, str]]:
        """(metric key, printed value) in the order ``compare_maps`` gives them."""
        return [(key, metric_text(value)) for key, value in self.metrics.items()]

    def footer_lines(self) -> tuple[str, str, str]:
        """Provenance (model, weights and image hashes, device), then the disclaimer."""
        return (f"Model {self.model_name} {self.model_version} · weights sha256 {self.weights_sha256} · {self.device}",
                f"Image sha256 {self.image_sha256}", DISCLAIMER)


def report_facts(analysis: Analysis, annotations: "Annotations", selected: str, *, image_name: str, page: int,
                 reader: str, date_iso: str, warnings: tuple[str, ...] = ()) -> ReportFacts:
    """The report of ``selected``: the page with the network's overlay, with every drawn label's
    marking in its colour, and (when the reader marked this label) the agreement colours, with
    every ``compare_maps`` measure. Seconds on a 12-MP photo: the window calls it in a worker."""
    from core.compare import compare_maps
    from core.explain import overlay
    from core.review.agreement import agreement_codes, agreement_image
    from core.review.palette import READER_COLOURS

    rgb, saliency, mask = analysis.image.rgb, analysis.explanation.saliency[selected], annotations.mask(selected)
    marked = bool(mask.any())
    reader_rgb = rgb.copy()
    for label in annotations.labels_drawn():
        m = annotations.mask(label).astype(bool)
        reader_rgb[m] = (0.4 * reader_rgb[m] + 0.6 * np.array(READER_COLOURS[label])).astype(np.uint8)
    w = analysis.weights
    return ReportFacts(
        image_name=image_name, image_sha256=analysis.image.sha256, page=page, reader=reader, date_iso=date_iso,
        model_name=w.name, model_version=w.version, weights_sha256=w.sha256, device=analysis.device,
        selected=selected, labels=label_rows(analysis, annotations.status),
        metrics=compare_maps(saliency, mask, geometry=analysis.geometry) if marked else {},
        model_rgb=overlay(rgb, saliency), reader_rgb=reader_rgb,
        agreement_rgb=agreement_image(rgb, agreement_codes(saliency, mask)) if marked else None,
        warnings=tuple(warnings),
        intervals="" if analysis.intervals is None else analysis.intervals.summary())


def metrics_rows(analysis: Analysis, annotations: "Annotations", *, image_name: str, reader: str) -> list[dict]:
    """One row per label for ``core.review.agreement.metrics_csv``: the network's call, the
    reader's status and every ``compare_maps`` measure (empty where the label is not marked)."""
    from core.compare import compare_maps

    rows = []
    for label in analysis.labels:
        mask = annotations.mask(label)
        values = compare_maps(analysis.explanation.saliency[label], mask, geometry=analysis.geometry) \
            if mask.any() else {}
        rows.append({"image": image_name, "sha256": analysis.image.sha256, "reader": reader, "label": label,
                     "probability": round(analysis.probability(label), 4),
                     "threshold": analysis.weights.thresholds[label], "positive": analysis.is_positive(label),
                     "status": annotations.status_of(label) or "", **values})
    return rows
