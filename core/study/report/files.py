"""The report's files: per_image.csv and summary.csv, report.json, and ``write_report``, which
makes every file in memory and writes them all or none."""
from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from core.atomic import OutputSet, write_bytes
from core.review.agreement import csv_cell
from core.study.report.figures import _box_figure, _pdf, _png, _scatter_figure
from core.study.report.html import markdown_html
from core.study.report.statistics import SUMMARY_COLUMNS
from core.study.report.table import META_COLUMNS, METRICS, Row, StudyTable
from core.study.report.words import (
    PAPER_R,
    PAPER_SOURCE,
    _plot_names,
    report_markdown,
    title,
)

REPORT_SCHEMA = "ecg-aio/study-report@1"


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
