"""Running the network on the open image in a worker, and what comes back: the image as soon
as it is loaded, progress, the page question of a multi-page file, the analysis or the failure.

Also the analysis's controls: cancel, analyse again, the device (CPU or CUDA). The newest
request wins (``Latest``); an answer for an image no longer on screen is dropped.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from PySide6 import QtWidgets

from core.analyze import Analysis, analyze_path
from core.io import LoadedImage
from core.review.document import Document


class AnalysisMixin:
    """Part of ``ReviewWindow``: the network's run on the open image, from request to answer."""

    def _analyse(self) -> None:
        doc = self.doc
        assert doc is not None
        request = doc.new_request()
        path, page, device = doc.path, doc.page, self.device

        def job(cancel: threading.Event, report: Callable[[Any], None]) -> Analysis:
            return analyze_path(path, page=page, device=device, cancel=cancel.is_set,
                                on_loaded=lambda image: report(("loaded", image)),
                                progress=lambda stage, done, total: report(("progress", stage, done, total)))

        self._busy(True, "loading")
        self.analysing.submit(job, lambda a: self._analysed(doc, request, a), lambda m: self._failed(doc, m),
                              lambda value: self._progress(doc, value))

    def _progress(self, doc: Document, value: tuple) -> None:
        if doc is not self.doc:
            return
        if value[0] == "loaded":
            self._loaded(doc, value[1])
            return
        _, stage, done, total = value
        self.progress.setFormat(f"{stage} %p%" if stage == "explaining" else stage)
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)

    def _loaded(self, doc: Document, image: LoadedImage) -> None:
        doc.set_image(image)
        self.canvas.set_image(image.rgb)
        self._opened_at, self._seconds_before = time.monotonic(), 0.0
        w, h = image.size
        self.statusBar().showMessage(f"{doc.path.name}: {w} × {h} px. The network is reading it…")
        self._load_annotation()
        if image.n_pages > 1 and not self._asked_page:
            self._asked_page = True
            self._ask_page(doc, image.n_pages)

    def _ask_page(self, doc: Document, n_pages: int) -> None:
        dialog = QtWidgets.QInputDialog(self)
        dialog.setWindowTitle("Which page?")
        dialog.setLabelText(f"{doc.path.name} has {n_pages} pages. Which page holds the ECG?")
        dialog.setInputMode(QtWidgets.QInputDialog.InputMode.IntInput)
        dialog.setIntRange(1, n_pages)
        dialog.setIntValue(1)
        dialog.intValueSelected.connect(lambda n: self.open_path(doc.path, n) if n != 1 and doc is self.doc else None)
        dialog.open()
        self.page_dialog = dialog

    def _analysed(self, doc: Document, request: int, analysis: Analysis) -> None:
        self._busy(False)
        if doc is not self.doc or not doc.accept(request, analysis):
            return  # an answer for an image no longer on screen
        if self.worklist is not None:
            self.worklist.set_positives(doc.path, analysis.positives())
            self.worklist.set_status(doc.path, "analysed")
            self._show_worklist()
        if self.selected not in analysis.labels or self.selected == "SR":
            self.selected = analysis.headline()
        self.canvas.set_geometry(analysis.geometry)
        self._apply_layers()
        self.select_label(self.selected)
        self._update_brush_label()
        self.statusBar().showMessage(f"{doc.path.name}: {analysis.page_reader.reason if analysis.page_reader else ''} "
                                     f"Analysed in {sum(analysis.timings_ms.values()) / 1000:.1f} s on {analysis.device}.")
        self.analysis_shown.emit(analysis)

    def _failed(self, doc: Document, message: str) -> None:
        self._busy(False)
        if doc is not self.doc:
            return
        doc.error = message
        if doc.image is None:
            self.statusBar().showMessage(f"Cannot open {doc.path.name}.")
            self.diagnoses.show_message(message)
            self._tell(message, "Cannot open this file")
        else:
            words = message if message.startswith("No diagnosis") else f"No diagnosis: {message}"
            self.diagnoses.show_message(words)
            self.statusBar().showMessage(f"{doc.path.name}: {words}")

    def _busy(self, busy: bool, stage: str = "") -> None:
        self.progress.setVisible(busy)
        self.cancel_button.setVisible(busy)
        if busy:
            self.progress.setRange(0, 0)
            self.progress.setFormat(stage)

    def cancel_analysis(self) -> None:
        if self.analysing.busy:
            self.analysing.cancel()
            self._busy(False)
            self.diagnoses.show_message("Analysis cancelled (Analysis ▸ Analyse again, Ctrl+R).")
            self.statusBar().showMessage("Analysis cancelled.")

    def reanalyse(self) -> None:
        if self.doc is not None:
            self._analyse()

    def set_device(self, name: str) -> None:
        import torch

        if name == "cuda" and not torch.cuda.is_available():
            self.device_actions[self.device].setChecked(True)
            self._tell("CUDA is not available on this computer (PyTorch sees no NVIDIA GPU and driver), "
                       "so the network keeps running on the CPU.", "No CUDA")
            return
        self.device = name
        self.device_actions[name].setChecked(True)
        self.settings.setValue("device", name)
        self.reanalyse()
