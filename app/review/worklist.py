"""The reader's queue of images: a folder opened as a worklist, or a reader study in this
reader's own order (blinded as the study says), with next and previous image, the worklist's
filters and statuses, and the Study menu (make a folder a study, the study's report).

The queue itself is ``core.review.worklist.Worklist`` and the study ``core.study``; this
forwards the reader's choices to them and shows the result in the worklist panel.
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6 import QtWidgets

from core.review import store
from core.review.worklist import Worklist, status_from_saved


class WorklistMixin:
    """Part of ``ReviewWindow``: reader studies and the worklist of a folder or a study."""

    # ================================================================ reader studies
    def open_study(self, folder: Path, reader: str | None = None) -> None:
        """Open a study as this reader's queue: their own order, resumed at the first ECG
        they have not marked done, blinded as the study says."""
        from core.study.study import is_done, load_study, reader_order

        try:
            study = load_study(folder)
        except ValueError as exc:
            self._tell(str(exc), "Not a readable study")
            return
        reader = reader or self.reader
        if reader not in study.readers:
            name, ok = QtWidgets.QInputDialog.getItem(self, "Reader", f"Who is reading the study {study.name}?",
                                                      list(study.readers), 0, False)
            if not ok:
                return
            reader = name
        if reader != self.reader:
            self.set_reader(reader)
        self.study = study
        order = [study.image_path(name) for name in reader_order(study, reader)]
        self.worklist = Worklist(order)
        for image in order:
            self._refresh_status(image)
        self.blinded = study.blinded
        self.blind_action.setChecked(study.blinded)
        self.blind_action.setEnabled(False)  # the study decides
        self.selected = study.labels[0]
        self.docks["worklist"].show()
        self.settings.setValue("last_folder", str(folder))
        first = next((p for p in order if not is_done(study, p.name, reader)), order[0])
        self.open_path(first)

    def new_study(self) -> None:
        from app.review.study import NewStudyDialog
        from core.study.study import init_study

        path = QtWidgets.QFileDialog.getExistingDirectory(self, "A folder of ECGs to make a study",
                                                          str(self.settings.value("last_folder", "")))
        if not path:
            return
        dialog = NewStudyDialog(Path(path), self)
        if dialog.exec() != QtWidgets.QDialog.DialogCode.Accepted:
            return
        try:
            study = init_study(Path(path), **dialog.values())
        except ValueError as exc:
            self._tell(str(exc), "No study made")
            return
        self.statusBar().showMessage(f"Study {study.name}: {len(study.images)} ECGs, readers "
                                     f"{', '.join(study.readers)}.")
        self.open_study(Path(path))

    def study_report(self, folder: Path | None = None) -> None:
        """Make the open study's report in a worker (the network runs on every ECG once), then show it."""
        from core.study.report import study_table, write_report
        from core.study.study import load_study

        folder = folder or (self.study.folder if self.study is not None else None)
        if folder is None:
            path = QtWidgets.QFileDialog.getExistingDirectory(self, "The study folder")
            if not path:
                return
            folder = Path(path)
        try:
            study = load_study(folder)
        except ValueError as exc:
            self._tell(str(exc), "Not a readable study")
            return
        self.save_now()
        device = self.device

        def job(cancel: threading.Event, report: Callable[[Any], None]) -> Path:
            table = study_table(study, device=device, cancel=cancel.is_set,
                                progress=lambda done, total: report((done, total)))
            return write_report(table, study.folder / "report")

        def progress(value: tuple[int, int]) -> None:
            self.progress.setRange(0, value[1])
            self.progress.setValue(value[0])

        self._busy(True, "study report %v / %m")
        self.reporting.submit(job, self._show_study_report, lambda m: (self._busy(False), self._tell(m)), progress)

    def _show_study_report(self, md_path: Path) -> None:
        from app.review.study import ReportView

        self._busy(False)
        self.report_view = ReportView(md_path.with_suffix(".html"), self)
        self.report_view.show()
        self.statusBar().showMessage(f"Study report written in {md_path.parent}.")

    def _study_labels_undecided(self) -> list[str]:
        """The study's labels this reader has neither marked nor given a status on this ECG."""
        ann = self.doc.annotations if self.doc else None
        if self.study is None or ann is None:
            return []
        return [k for k in self.study.labels if ann.status_of(k) is None and ann.is_empty(k)]

    # ================================================================ worklist
    def next_image(self) -> None:
        if self.worklist is not None and (path := self.worklist.next()) is not None:
            self.open_path(path)

    def previous_image(self) -> None:
        if self.worklist is not None and (path := self.worklist.previous()) is not None:
            self.open_path(path)

    def _filter(self, status: str | None, label: str | None) -> None:
        if self.worklist is not None:
            self.worklist.set_filter(status=status, label=label)
            self._show_worklist()

    def _refresh_status(self, image: Path) -> None:
        """A worklist entry's status from what is saved for this reader beside the image."""
        if self.worklist is None or self.reader is None:
            return
        folder = store.annotation_folder(image, self.reader)
        try:
            meta = store.read_meta(folder)
        except ValueError:
            meta = {}
        if meta:
            self.worklist.set_status(image, status_from_saved(meta))

    def _show_worklist(self) -> None:
        if self.worklist is None:
            return
        current = self.doc.path if self.doc else None
        items = [(p, self.worklist.status_of(p)) for p in self.worklist.visible()]
        self.worklist_panel.show_items(items, current, self.worklist.counts())
        if self.study is not None:
            done = self.worklist.counts().get("reviewed", 0)
            self.worklist_panel.counts.setText(f"Study {self.study.name}, reader {self.reader}: "
                                               f"{done} / {len(self.worklist.paths)} done")
