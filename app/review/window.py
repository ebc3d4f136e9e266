"""The review window: menus, tool bar, canvas and panels around one ``core.review`` document.

It forwards the reader's input to the core model (``Annotations``, ``Worklist``, calipers) and
redraws what changed; the network runs in a worker (``Latest``: the newest request wins), and
the agreement metrics are recomputed in another after each stroke, debounced, so neither an
analysis nor a metric ever holds a stroke back.

``ReviewWindow`` is built here (docks, status bar, timers), opens images and shows the model's
findings for the selected label; each other concept is a mixin in its own module:
``actions`` (menus, shortcuts, tool bar), ``analysis`` (the network's run in a worker),
``worklist`` (a folder's worklist, reader studies), ``layers`` (layers and comparison view),
``annotating`` (tools, strokes, undo, done), ``saving`` (reader name, annotation on disk),
``metrics`` (live agreement), ``calipers`` (calipers, hover link) and ``export`` (the report).
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6 import QtCore, QtGui, QtWidgets

import core
from app.review.actions import ActionsMixin
from app.review.analysis import AnalysisMixin
from app.review.annotating import AnnotatingMixin
from app.review.calipers import CalipersMixin
from app.review.canvas import Canvas, reduced, rgba_layer
from app.review.export import ExportMixin
from app.review.layers import LayersMixin
from app.review.metrics import MetricsMixin
from app.review.panels import ComparePanel, DiagnosesPanel, LayersPanel, WorklistPanel
from app.review.saving import SavingMixin
from app.review.workers import Latest
from app.review.worklist import WorklistMixin
from core.analyze import Analysis, where
from core.explain import PURPLE, overlay_alpha
from core.labels import LABELS
from core.page.trace import READING_NOTE
from core.review.document import Document, warnings
from core.review.palette import READER_COLOURS
from core.review.worklist import IMAGE_SUFFIXES, Worklist, list_images

AUTOSAVE_MS = 400  # after the last edit: a burst of strokes is saved once, none is lost for long
METRICS_MS = 250  # after the last edit, the agreement metrics are recomputed
RECENT_MAX = 10


def _settings() -> QtCore.QSettings:
    return QtCore.QSettings("ECG-AIO", "ECG-AIO Review")


class ReviewWindow(ActionsMixin, AnalysisMixin, WorklistMixin, LayersMixin, AnnotatingMixin, SavingMixin,
                   MetricsMixin, CalipersMixin, ExportMixin, QtWidgets.QMainWindow):
    """Open, see the overlay, annotate, compare: the window a physician reads ECGs in."""

    analysis_shown = QtCore.Signal(object)  # the Analysis now on screen (tests and benchmarks wait on it)
    overlay_shown = QtCore.Signal(str)  # the label whose purple overlay and profile were just drawn
    metrics_shown = QtCore.Signal(object)

    def __init__(self, settings: QtCore.QSettings | None = None, reader: str | None = None,
                 device: str = "auto") -> None:
        super().__init__()
        self.settings = settings or _settings()
        self.reader: str | None = reader or (self.settings.value("reader") or None)
        if reader:
            self.settings.setValue("reader", reader)  # asked once, remembered
        self.device = device
        self.setWindowTitle(f"ECG-AIO Review {core.__version__}")
        self.setAcceptDrops(True)
        self.resize(1400, 900)
        self.doc: Document | None = None
        self.worklist: Worklist | None = None
        self.selected = "SR"
        self.blinded = self.settings.value("blinded", False, type=bool)
        self.compare_mode = "overlay"
        self.brush_mm = float(self.settings.value("brush_mm", 1.5))
        self.folder: Path | None = None  # where this reader's annotation of the open image is saved
        self.last_rr_ms: float | None = None
        self.analysing = Latest(self)
        self.measuring = Latest(self)
        self.labelling = Latest(self)  # the selected label's overlay, profile and warnings
        self.exporting = Latest(self)  # the report: seconds on a 12-MP photo
        self.reporting = Latest(self)  # a study's report: the network on every ECG of the study
        self.last_measurement: Any = None  # the last caliper reading (core.review.calipers.Measurement)
        self.page_dialog: QtWidgets.QDialog | None = None  # "which page?" of a multi-page file
        self.shortcut_box: QtWidgets.QMessageBox | None = None  # F1
        self._shown_layers: dict[str, bool] = {}  # layers the reader showed or hid: kept from image to image
        self._asked_page = False  # the page question was asked for the open file
        self._save_blocked = False  # an unreadable earlier annotation must not be overwritten
        self._saved_version: tuple[int, int, tuple] | None = None
        self.last_message = ""  # the last sentence shown in a dialog
        self.study: Any = None  # core.study.study.Study when a study folder is open
        self.report_view: QtWidgets.QDialog | None = None  # the last study report shown
        self._signals_shown: Analysis | None = None  # the analysis whose decoded leads are drawn
        self._opened_at = time.monotonic()  # when the open image was shown: time spent per image
        self._seconds_before = 0.0  # time this reader spent on it in earlier sessions
        self._build()
        self._restore()
        self.set_tool("pan")

    # ================================================================ building
    def _build(self) -> None:
        self.canvas = Canvas()
        self.setCentralWidget(self.canvas)
        self.canvas.stroke.connect(self._stroke)
        self.canvas.rectangle.connect(lambda p0, p1: self._edit(lambda a, k: a.rectangle(k, p0, p1)))
        self.canvas.lasso.connect(lambda pts: self._edit(lambda a, k: a.lasso(k, pts)))
        self.canvas.caliper.connect(self._caliper)
        self.canvas.hovered.connect(self._hover_image)
        self.diagnoses = DiagnosesPanel()
        self.diagnoses.label_selected.connect(self.select_label)
        self.compare = ComparePanel()
        self.compare.mode_changed.connect(self.set_compare_mode)
        self.compare.status_changed.connect(self._set_status)
        self.worklist_panel = WorklistPanel()
        self.worklist_panel.activated.connect(lambda p: self.open_path(p))
        self.worklist_panel.filter_changed.connect(self._filter)
        self.layers_panel = LayersPanel()
        self.layers_panel.changed.connect(self._layer_changed)
        from app.review.signals import SignalsPanel

        self.signals = SignalsPanel()
        self.signals.hovered.connect(self._hover_signal)
        self.docks: dict[str, QtWidgets.QDockWidget] = {}
        for name, title, widget, area in (
                ("worklist", "Worklist", self.worklist_panel, QtCore.Qt.DockWidgetArea.LeftDockWidgetArea),
                ("layers", "Layers", self.layers_panel, QtCore.Qt.DockWidgetArea.LeftDockWidgetArea),
                ("diagnoses", "Diagnoses", self.diagnoses, QtCore.Qt.DockWidgetArea.RightDockWidgetArea),
                ("compare", "Model vs reader", self.compare, QtCore.Qt.DockWidgetArea.RightDockWidgetArea),
                ("signals", "Decoded leads", self.signals, QtCore.Qt.DockWidgetArea.RightDockWidgetArea)):
            dock = QtWidgets.QDockWidget(title, self)
            dock.setObjectName(name)
            dock.setWidget(widget)
            self.addDockWidget(area, dock)
            self.docks[name] = dock
        self.tabifyDockWidget(self.docks["diagnoses"], self.docks["compare"])
        # the decoded page keeps its paper aspect (square grid): it fits the tall right column
        self.tabifyDockWidget(self.docks["compare"], self.docks["signals"])
        self.docks["diagnoses"].raise_()
        self.docks["worklist"].hide()
        self.resizeDocks([self.docks["layers"], self.docks["diagnoses"]], [230, 560],
                         QtCore.Qt.Orientation.Horizontal)
        self.progress = QtWidgets.QProgressBar()
        self.progress.setMaximumWidth(220)
        self.progress.hide()
        self.cancel_button = QtWidgets.QPushButton("Cancel")
        self.cancel_button.hide()
        self.cancel_button.clicked.connect(self.cancel_analysis)
        self.statusBar().addPermanentWidget(self.progress)
        self.statusBar().addPermanentWidget(self.cancel_button)
        self.statusBar().showMessage("Open an ECG image or a folder (File ▸ Open, Ctrl+O).")
        self.autosave_timer = QtCore.QTimer(self, singleShot=True, interval=AUTOSAVE_MS)
        self.autosave_timer.timeout.connect(self.save_now)
        self.metrics_timer = QtCore.QTimer(self, singleShot=True, interval=METRICS_MS)
        self.metrics_timer.timeout.connect(self._measure)
        self._menus()

    def _restore(self) -> None:
        geometry = self.settings.value("window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        state = self.settings.value("window/state")
        if state is not None:
            self.restoreState(state)
        self.blind_action.setChecked(self.blinded)
        device = self.device if self.device != "auto" else str(self.settings.value("device", "auto"))
        self.device = device if device in self.device_actions else "auto"
        self.device_actions[self.device].setChecked(True)
        self.opacity.setValue(int(100 * float(self.settings.value("opacity", 0.7))))
        for name, action in self.layer_actions.items():
            action.setChecked(name != "geometry")
        self._update_recent()
        self._update_brush_label()

    def closeEvent(self, event: QtGui.QCloseEvent) -> None:
        self.save_now()
        self.analysing.cancel()
        self.measuring.cancel()
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/state", self.saveState())
        self.settings.sync()
        super().closeEvent(event)

    # ================================================================ opening
    def choose_file(self) -> None:
        suffixes = " ".join(f"*{s}" for s in IMAGE_SUFFIXES)
        path, _ = QtWidgets.QFileDialog.getOpenFileName(self, "Open ECG image", str(self.settings.value("last_folder", "")),
                                                        f"ECG images ({suffixes})")
        if path:
            self.open_path(Path(path))

    def choose_folder(self) -> None:
        path = QtWidgets.QFileDialog.getExistingDirectory(self, "Open a folder of ECGs",
                                                          str(self.settings.value("last_folder", "")))
        if path:
            self.open_path(Path(path))

    def dragEnterEvent(self, event: QtGui.QDragEnterEvent) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QtGui.QDropEvent) -> None:
        urls = [u for u in event.mimeData().urls() if u.isLocalFile()]
        if not urls:
            event.ignore()
            return
        event.setDropAction(QtCore.Qt.DropAction.CopyAction)  # never Move: the file manager would delete the scan
        event.accept()
        self.open_path(Path(urls[0].toLocalFile()))

    def open_path(self, path: Path | str, page: int | None = None) -> None:
        """Open an image (a PDF or TIFF with several pages asks which), or a folder as a worklist."""
        path = Path(path)
        if path.is_dir():
            from core.study.study import is_study

            if is_study(path):
                self.open_study(path)
                return
            self.study = None
            self.blind_action.setEnabled(True)
            images = list_images(path)
            if not images:
                self._tell(f"The folder {path.name} holds no ECG images (PNG, JPEG, TIFF, BMP, WebP or PDF).")
                return
            self.worklist = Worklist(images)
            for image in images:
                self._refresh_status(image)
            self.docks["worklist"].show()
            self.settings.setValue("last_folder", str(path))
            self.open_path(images[0])
            return
        self.save_now()
        if self.study is not None and (self.worklist is None or path not in self.worklist.paths):
            self.study = None  # an ECG outside the study: the reader's own blinding setting again
            self.blinded = self.settings.value("blinded", False, type=bool)
            self.blind_action.setChecked(self.blinded)
            self.blind_action.setEnabled(True)
        self._remember_recent(path)
        self.settings.setValue("last_folder", str(path.parent))
        if self.worklist is not None and path in self.worklist.paths:
            self.worklist.current = self.worklist.paths.index(path)
        self.doc = Document(path, page or 1)
        self.doc.layers["model"].opacity = self.opacity.value() / 100
        self.doc.layers["agreement"].visible = self.compare_mode == "agreement"
        for name in ("reader", "geometry"):  # what the reader chose to see stays as it was
            if name in self._shown_layers:
                self.doc.layers[name].visible = self._shown_layers[name]
        self.folder = None
        self._asked_page = page is not None
        self.canvas.set_image(None)
        self.canvas.set_side_by_side(None, None)
        self.signals.show_message("The decoded leads appear once the network has read the page.")
        self._signals_shown = None
        self.compare.show_metrics(None, None, "")
        self.diagnoses.show_message(f"Loading {path.name}…")
        self.statusBar().showMessage(f"Loading {path.name}…")
        self.setWindowTitle(f"{path.name} — ECG-AIO Review {core.__version__}")
        self._show_worklist()
        self._analyse()

    # ================================================================ the model's outputs
    def select_label(self, key: str) -> None:
        if key not in LABELS:
            return
        self.selected = key
        self.label_box.blockSignals(True)
        self.label_box.setCurrentIndex(LABELS.index(key))
        self.label_box.blockSignals(False)
        self.canvas.stroke_colour = QtGui.QColor(*READER_COLOURS[key])
        doc = self.doc
        ann = doc.annotations if doc else None
        self.compare.show_label(key, ann.status_of(key) if ann else None)
        self._show_model()
        self._redraw_reader()
        self._schedule_metrics(now=True)

    def _model_visible(self) -> bool:
        return self.doc is not None and self.doc.model_visible(self.blinded)

    def _show_model(self) -> None:
        doc = self.doc
        a = doc.analysis if doc else None
        if a is None:
            self.canvas.set_layer("model", None)
            return
        if not self._model_visible():
            self.diagnoses.show_message("Blinded reading: the network's findings and overlay are hidden until you "
                                        "mark this image done (Review ▸ Mark image done, Ctrl+D).")
            self.signals.show_message("Blinded reading: the network's decoded leads are hidden until you mark "
                                      "this image done.")
            self.canvas.set_layer("model", None)
            return
        if self._signals_shown is not a:
            self._signals_shown = a
            self.signals.set_signals(a.explanation.signals, a.signals_fs_hz, a.geometry, READING_NOTE, a.intervals)
        self.diagnoses.show_analysis(a, self.selected)
        self.diagnoses.select(self.selected)
        key = self.selected

        def job(cancel: threading.Event, _report: Callable[[Any], None]) -> tuple:
            # the map at the image's size (48 MB for a 12-MP photo) and its summaries: never on the event loop
            overlay = rgba_layer(overlay_alpha(reduced(a.explanation.saliency[key])), PURPLE)
            return key, a, where(a, key), warnings(a, key), overlay

        self.labelling.submit(job, self._label_shown, lambda m: self.statusBar().showMessage(m))

    def _label_shown(self, result: tuple) -> None:
        key, a, where, said, overlay = result
        doc = self.doc
        if doc is None or doc.analysis is not a or key != self.selected or not self._model_visible():
            return
        self.diagnoses.show_label(a, key, said, where)
        self.canvas.set_layer("model", overlay)
        self._apply_layers()
        self.overlay_shown.emit(key)

    def toggle_blinded(self) -> None:
        self.blinded = not self.blinded
        self.blind_action.setChecked(self.blinded)
        self.settings.setValue("blinded", self.blinded)
        self._show_model()
        self._apply_layers()
        self._schedule_metrics(now=True)

    # ================================================================ small things
    def _remember_recent(self, path: Path) -> None:
        recent = [p for p in (self.settings.value("recent") or []) if p != str(path)]
        self.settings.setValue("recent", [str(path), *recent][:RECENT_MAX])
        self._update_recent()

    def _update_recent(self) -> None:
        self.recent_menu.clear()
        recent = self.settings.value("recent") or []
        if isinstance(recent, str):
            recent = [recent]
        for p in recent:
            self.recent_menu.addAction(Path(p).name, lambda p=p: self.open_path(Path(p))).setToolTip(p)
        self.recent_menu.setEnabled(bool(recent))

    def _tell(self, message: str, title: str = "ECG-AIO Review") -> None:
        """One sentence in a window-modal box that never blocks the event loop."""
        box = QtWidgets.QMessageBox(QtWidgets.QMessageBox.Icon.Warning, title, message, parent=self)
        box.setWindowModality(QtCore.Qt.WindowModality.WindowModal)
        box.open()
        self.last_message = message

    def show_about(self) -> None:
        a = self.doc.analysis if self.doc else None
        model = f"{a.weights.name} {a.weights.version}" if a else "the shipped ECG-AIO network"
        QtWidgets.QMessageBox(QtWidgets.QMessageBox.Icon.Information, "About ECG-AIO Review",
                              f"ECG-AIO Review {core.__version__} with {model}. Runs offline: nothing leaves "
                              "this computer. Research use. Not a medical device: a physician reads every ECG.",
                              parent=self).open()
