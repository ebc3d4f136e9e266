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

One module per concept, each importing only those before it:

- ``statistics``: Fleiss' κ, the consensus mask, the summary of one metric over images;
- ``table``: ``StudyTable``, ``study_table`` and the comparison names and columns;
- ``words``: the title, the tables as text and the report as Markdown;
- ``html``: that Markdown as a standalone HTML page;
- ``figures``: the plots and the PDF;
- ``files``: the CSVs, report.json and ``write_report``.

Every public name is importable from here.
"""
from core.study.report.files import REPORT_SCHEMA, report_json, write_report
from core.study.report.html import markdown_html
from core.study.report.statistics import (
    FLEISS_MAX_PIXELS,
    SUMMARY_COLUMNS,
    consensus_mask,
    fleiss_kappa_counts,
    fleiss_kappa_masks,
    summarise,
)
from core.study.report.table import (
    ALL_READERS,
    CONSENSUS,
    LEFT_OUT,
    META_COLUMNS,
    METRICS,
    MODEL,
    MODEL_READERS,
    READER_PAIRS,
    STATUS_KEYS,
    Row,
    StudyTable,
    model_vs,
    pair_name,
    study_table,
)
from core.study.report.words import (
    DASH,
    METRIC_NAMES,
    PAPER_R,
    PAPER_SOURCE,
    PER_IMAGE_SHOWN,
    counts_table,
    paper_table,
    per_image_table,
    report_markdown,
    summary_table,
    title,
)

__all__ = [
    "ALL_READERS",
    "CONSENSUS",
    "DASH",
    "FLEISS_MAX_PIXELS",
    "LEFT_OUT",
    "META_COLUMNS",
    "METRICS",
    "METRIC_NAMES",
    "MODEL",
    "MODEL_READERS",
    "PAPER_R",
    "PAPER_SOURCE",
    "PER_IMAGE_SHOWN",
    "READER_PAIRS",
    "REPORT_SCHEMA",
    "STATUS_KEYS",
    "SUMMARY_COLUMNS",
    "Row",
    "StudyTable",
    "consensus_mask",
    "counts_table",
    "fleiss_kappa_counts",
    "fleiss_kappa_masks",
    "markdown_html",
    "model_vs",
    "pair_name",
    "paper_table",
    "per_image_table",
    "report_json",
    "report_markdown",
    "study_table",
    "summarise",
    "summary_table",
    "title",
    "write_report",
]
