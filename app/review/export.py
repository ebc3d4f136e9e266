"""Exporting the open image's one-page report (PDF and PNG, drawn by ``app.review.report``)
and the measures of every label as CSV, written in a worker.
"""
from __future__ import annotations

import datetime
from pathlib import Path

from PySide6 import QtWidgets

from core.review.document import warnings


class ExportMixin:
    """Part of ``ReviewWindow``: the File ▸ Export report action and the report it writes."""

    # ================================================================ export
    def choose_export(self) -> None:
        if self.doc is None or self.doc.analysis is None:
            self._tell("Open and analyse an ECG before exporting its report.")
            return
        default = str((self.folder or self.doc.path.parent) / f"{self.doc.path.stem}_{self.selected}_report.pdf")
        path, _ = QtWidgets.QFileDialog.getSaveFileName(self, "Export report", default, "PDF (*.pdf)")
        if not path:
            return
        pdf = Path(path).with_suffix(".pdf")
        png, csv = pdf.with_suffix(".png"), pdf.with_name(pdf.stem + "_metrics.csv")
        self.statusBar().showMessage(f"Writing the report {pdf.name}…")
        self.exporting.submit(lambda _cancel, _report: self.export_report(pdf, png, csv),
                              lambda _none: self.statusBar().showMessage(
                                  f"Report written: {pdf.name}, {png.name} and {csv.name}."),
                              lambda m: self._tell(f"The report could not be written ({m.rstrip('.')}); "
                                                   "choose another folder.", "Report not written"))

    def export_report(self, pdf: Path | None, png: Path | None, csv: Path | None = None) -> None:
        """Write the one-page report (PDF and/or PNG) of the selected label and the measures of
        every label as CSV. Safe in a worker: it reads the document and writes files, nothing else."""
        from app.review.report import render_report
        from core.atomic import write_bytes
        from core.review.agreement import metrics_csv
        from core.review.report import metrics_rows, report_facts

        doc = self.doc
        if doc is None or doc.analysis is None or doc.image is None or doc.annotations is None:
            raise ValueError("Open and analyse an ECG before exporting its report.")
        a, ann, reader = doc.analysis, doc.annotations, self.reader or "—"
        facts = report_facts(a, ann, self.selected, image_name=doc.path.name, page=doc.page, reader=reader,
                             date_iso=datetime.datetime.now().astimezone().isoformat(timespec="minutes"),
                             warnings=tuple(warnings(a, self.selected)))
        render_report(facts, pdf, png)
        if csv is not None:
            write_bytes(csv, metrics_csv(metrics_rows(a, ann, image_name=doc.path.name, reader=reader)))
