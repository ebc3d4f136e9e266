"""The review window: menus, tool bar, canvas and panels around one ``core.review`` document.

It forwards the reader's input to the core model (``Annotations``, ``Worklist``, calipers) and
redraws what changed; the network runs in a worker (``Latest``: the newest request wins), and
the agreement metrics are recomputed in another after each stroke, debounced, so neither an
analysis nor a metric ever holds a stroke back.
"""
from __future__ import annotations

import datetime
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

import core
from app.review.canvas import TOOLS, Canvas, reduced, rgba_layer
from app.review.panels import ComparePanel, DiagnosesPanel, LayersPanel, WorklistPanel
from app.review.workers import Latest, one_sentence
from core.analyze import Analysis, analyze_path, where
from core.explain import PURPLE, overlay_alpha
from core.io import LoadedImage
from core.labels import BY_KEY, LABELS
from core.review import store
from core.review.document import Document, warnings
from core.review.palette import READER_COLOURS
from core.review.worklist import IMAGE_SUFFIXES, Worklist, list_images, status_from_saved

AUTOSAVE_MS = 400  # after the last edit: a burst of strokes is saved once, none is lost for long
METRICS_MS = 250  # after the last edit, the agreement metrics are recomputed
RECENT_MAX = 10
BRUSH_MM = (0.5, 1, 1.5, 2, 3, 4, 6, 8)  # brush diameters offered on a calibrated page
SHORTCUT_HELP: list[tuple[str, str]] = []  # (keys, what) — filled as actions are made; F1 shows it


def _settings() -> QtCore.QSettings:
    return QtCore.QSettings("ECG-AIO", "ECG-AIO Review")


class ReviewWindow(QtWidgets.QMainWindow):
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

    def _action(self, menu: QtWidgets.QMenu, text: str, slot: Callable[[], Any], keys: str | list[str] = "",
                checkable: bool = False, help_text: str | None = None) -> QtGui.QAction:
        action = menu.addAction(text)
        shortcuts = [keys] if isinstance(keys, str) else keys
        shortcuts = [k for k in shortcuts if k]
        if shortcuts:
            action.setShortcuts([QtGui.QKeySequence(k) for k in shortcuts])
            action.setShortcutContext(QtCore.Qt.ShortcutContext.WindowShortcut)
            SHORTCUT_HELP.append((", ".join(shortcuts), help_text or text.replace("&", "").rstrip("…")))
        action.setCheckable(checkable)
        action.triggered.connect(lambda checked=False: slot())
        self.addAction(action)  # shortcuts work even when the menu bar is hidden
        return action

    def _menus(self) -> None:
        SHORTCUT_HELP.clear()
        bar = self.menuBar()
        file = bar.addMenu("&File")
        self._action(file, "&Open ECG image…", self.choose_file, "Ctrl+O")
        self._action(file, "Open &folder as worklist…", self.choose_folder, "Ctrl+Shift+O")
        self.recent_menu = file.addMenu("Open &recent")
        file.addSeparator()
        self._action(file, "&Save annotation now", self.save_now, "Ctrl+S")
        self._action(file, "Save annotations &in another folder…", self.choose_save_folder)
        self._action(file, "&Export report (PDF, PNG, CSV)…", self.choose_export, "Ctrl+E")
        file.addSeparator()
        self._action(file, "&Quit", self.close, "Ctrl+Q")

        edit = bar.addMenu("&Edit")
        self._action(edit, "&Undo", self.undo, "Ctrl+Z")
        self._action(edit, "&Redo", self.redo, ["Ctrl+Shift+Z", "Ctrl+Y"])
        self._action(edit, "&Clear this label's marking", self.clear_label, "Delete")
        self._action(edit, "Set reader &name…", self.ask_reader)

        view = bar.addMenu("&View")
        self._action(view, "&Fit page", self.canvas.fit, "F")
        self._action(view, "&1:1 (one image pixel per screen pixel)", self.canvas.one_to_one, "Ctrl+1")
        self._action(view, "Zoom &in", lambda: self.canvas.zoom(1.25), ["Ctrl++", "Ctrl+=", "+"])
        self._action(view, "Zoom &out", lambda: self.canvas.zoom(0.8), ["Ctrl+-", "-"])
        for keys, (dx, dy), words in (("Left", (-0.1, 0), "Pan left"), ("Right", (0.1, 0), "Pan right"),
                                      ("Up", (0, -0.1), "Pan up"), ("Down", (0, 0.1), "Pan down")):
            self._action(view, words, lambda dx=dx, dy=dy: self.canvas.pan(dx, dy), keys)
        view.addSeparator()
        self.layer_actions: dict[str, QtGui.QAction] = {}
        for name, words, keys in (("model", "Model overlay (purple)", "M"), ("reader", "Your annotation", "A"),
                                  ("geometry", "Page geometry (lead boxes)", "G"),
                                  ("image", "ECG image", "")):
            self.layer_actions[name] = self._action(view, words, lambda n=name: self.toggle_layer(n), keys,
                                                    checkable=True, help_text=f"Show or hide: {words}")
        self._action(view, "Overlay opacity up", lambda: self.change_opacity(+0.1), "Shift+M")
        self._action(view, "Overlay opacity down", lambda: self.change_opacity(-0.1), "Ctrl+Shift+M")
        self._action(view, "Next comparison view (overlay, agreement, side by side)", self.cycle_compare_mode, "V")
        view.addSeparator()
        for name, dock in self.docks.items():
            view.addAction(dock.toggleViewAction())

        tools = bar.addMenu("&Tools")
        self.tool_actions: dict[str, QtGui.QAction] = {}
        group = QtGui.QActionGroup(self)
        for name, words, key in (("pan", "&Pan and zoom", "H"), ("brush", "&Brush", "B"), ("eraser", "&Eraser", "E"),
                                 ("rectangle", "&Rectangle fill", "R"), ("lasso", "&Lasso fill", "L"),
                                 ("caliper", "&Calipers (ms, mV)", "C")):
            action = self._action(tools, words, lambda n=name: self.set_tool(n), key, checkable=True)
            group.addAction(action)
            self.tool_actions[name] = action
        tools.addSeparator()
        self._action(tools, "Brush larger", lambda: self.change_brush(+1), "]")
        self._action(tools, "Brush smaller", lambda: self.change_brush(-1), "[")
        self.caliper_kind = "RR"
        calipers = tools.addMenu("Caliper &measures")
        kinds = QtGui.QActionGroup(self)
        for kind, key in (("RR", "Alt+1"), ("PR", "Alt+2"), ("QRS", "Alt+3"), ("QT", "Alt+4"), ("free", "Alt+5")):
            action = self._action(calipers, kind, lambda k=kind: self._set_caliper_kind(k), key, checkable=True,
                                  help_text=f"Caliper measures {kind}")
            action.setChecked(kind == "RR")
            kinds.addAction(action)

        labels = bar.addMenu("&Labels")
        for i, key in enumerate(LABELS):
            self._action(labels, f"{key} — {BY_KEY[key].name}", lambda k=key: self.select_label(k), str(i + 1),
                         help_text=f"Select label {key} ({BY_KEY[key].name})")

        review = bar.addMenu("&Review")
        self.done_action = self._action(review, "Mark image &done", self.mark_done, "Ctrl+D", checkable=True)
        self.blind_action = self._action(review, "&Blinded reading (hide the model until done)", self.toggle_blinded,
                                         "Ctrl+B", checkable=True)
        for status, words, key in (("annotated", "This label: &annotated", "Ctrl+Alt+A"),
                                   ("not_visible", "This label: feature &not visible", "Ctrl+Alt+N"),
                                   ("not_assessable", "This label: not a&ssessable", "Ctrl+Alt+S"),
                                   (None, "This label: &undecided", "Ctrl+Alt+U")):
            self._action(review, words, lambda s=status: self.set_label_status(s), key)
        review.addSeparator()
        self._action(review, "&Next image", self.next_image, ["PgDown", "N"])
        self._action(review, "&Previous image", self.previous_image, ["PgUp", "P"])

        study = bar.addMenu("&Study")
        self._action(study, "&Make a folder a reader study…", self.new_study)
        self._action(study, "Study &report…", self.study_report)

        analysis = bar.addMenu("&Analysis")
        self._action(analysis, "&Analyse again", self.reanalyse, "Ctrl+R")
        self._action(analysis, "&Cancel analysis", self.cancel_analysis, "Esc")
        device = analysis.addMenu("&Device")
        self.device_actions: dict[str, QtGui.QAction] = {}
        devices = QtGui.QActionGroup(self)
        for name, words in (("auto", "&Auto (CUDA when present)"), ("cpu", "&CPU"), ("cuda", "C&UDA")):
            action = self._action(device, words, lambda n=name: self.set_device(n), checkable=True)
            devices.addAction(action)
            self.device_actions[name] = action

        help_menu = bar.addMenu("&Help")
        self._action(help_menu, "&Keyboard shortcuts", self.show_shortcuts, "F1")
        self._action(help_menu, "&About", self.show_about)

        toolbar = self.addToolBar("Tools")
        toolbar.setObjectName("tools")
        for name in TOOLS:
            toolbar.addAction(self.tool_actions[name])
        toolbar.addSeparator()
        self.label_box = QtWidgets.QComboBox()
        for key in LABELS:
            self.label_box.addItem(QtGui.QIcon(_swatch(READER_COLOURS[key])), f"{key} — {BY_KEY[key].name}", key)
        self.label_box.currentIndexChanged.connect(lambda _i: self.select_label(self.label_box.currentData()))
        toolbar.addWidget(QtWidgets.QLabel(" Label "))
        toolbar.addWidget(self.label_box)
        self.brush_label = QtWidgets.QLabel()
        toolbar.addWidget(self.brush_label)
        self.opacity = QtWidgets.QSlider(QtCore.Qt.Orientation.Horizontal)
        self.opacity.setRange(0, 100)
        self.opacity.setMaximumWidth(120)
        self.opacity.setToolTip("Opacity of the model's purple overlay")
        self.opacity.valueChanged.connect(lambda v: self._set_opacity(v / 100))
        toolbar.addWidget(QtWidgets.QLabel(" Overlay "))
        toolbar.addWidget(self.opacity)
        toolbar.addSeparator()
        toolbar.addAction(self.done_action)
        toolbar.addAction(self.blind_action)

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
            quality = next((t for t in a.weights.limits if "decoder" in t), "")
            self.signals.set_signals(a.explanation.signals, a.weights.net.decoder_fs, a.geometry, quality)
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

    def _apply_layers(self) -> None:
        if self.doc is None:
            return
        self.layers_panel.show_layers(self.doc.layers)
        agreement = self.compare_mode == "agreement"
        for name, layer in self.doc.layers.items():
            visible = layer.visible
            if name == "model":
                visible = visible and not agreement and self._model_visible()
            if name == "reader" and self.compare_mode != "overlay":
                visible = False  # agreement colours show it; side by side shows it in its own view
            if name == "agreement":
                visible = visible and agreement and self._model_visible()
            self.canvas.set_layer_style(name, visible, layer.opacity)

    def _layer_changed(self, name: str, visible: bool, opacity: float) -> None:
        if self.doc is None:
            return
        layer = self.doc.layers[name]
        layer.visible, layer.opacity = visible, opacity
        self._shown_layers = {**self._shown_layers, name: visible}
        self.layer_actions[name].setChecked(visible)
        if name == "model":
            self.opacity.blockSignals(True)
            self.opacity.setValue(round(100 * opacity))
            self.opacity.blockSignals(False)
            self.settings.setValue("opacity", opacity)
        self._apply_layers()

    def toggle_layer(self, name: str) -> None:
        if self.doc is None:
            self.layer_actions[name].setChecked(name != "geometry")
            return
        layer = self.doc.layers[name]
        layer.visible = not layer.visible
        self._shown_layers = {**self._shown_layers, name: layer.visible}
        self.layer_actions[name].setChecked(layer.visible)
        self._apply_layers()

    def _set_opacity(self, value: float) -> None:
        self.settings.setValue("opacity", value)
        if self.doc is not None:
            self.doc.layers["model"].opacity = value
            self._apply_layers()

    def change_opacity(self, delta: float) -> None:
        self.opacity.setValue(int(round(self.opacity.value() + 100 * delta)))

    def set_compare_mode(self, mode: str) -> None:
        self.compare_mode = mode
        if self.doc is not None:
            self.doc.layers["agreement"].visible = mode == "agreement"
        index = self.compare.mode_box.findData(mode)
        if index != self.compare.mode_box.currentIndex():
            self.compare.mode_box.setCurrentIndex(index)
        self._apply_layers()
        self._side_by_side()

    def cycle_compare_mode(self) -> None:
        modes = [m for m, _ in ComparePanel.MODES]
        self.set_compare_mode(modes[(modes.index(self.compare_mode) + 1) % len(modes)])

    def _side_by_side(self) -> None:
        doc = self.doc
        if self.compare_mode != "side_by_side" or doc is None or doc.image is None:
            self.canvas.set_side_by_side(None, None)
            return
        self.canvas.set_side_by_side(doc.image.rgb, self._reader_rgba())

    # ================================================================ annotation
    def set_tool(self, name: str) -> None:
        self.canvas.tool = name
        self.tool_actions[name].setChecked(True)
        self.canvas.setCursor(QtCore.Qt.CursorShape.OpenHandCursor if name == "pan" else QtCore.Qt.CursorShape.CrossCursor)
        self._update_brush_label()

    def _px_per_mm(self) -> float | None:
        geometry = self.doc.geometry if self.doc else None
        if geometry is None or geometry.px_per_mm_xy is None:
            return None
        return float(np.mean(geometry.px_per_mm_xy))

    def change_brush(self, step: int) -> None:
        sizes = list(BRUSH_MM)
        i = min(range(len(sizes)), key=lambda j: abs(sizes[j] - self.brush_mm))
        self.brush_mm = sizes[max(0, min(len(sizes) - 1, i + step))]
        self.settings.setValue("brush_mm", self.brush_mm)
        self._update_brush_label()

    def _brush_radius_px(self) -> float:
        k = self._px_per_mm()
        if k is not None:
            return self.brush_mm * k / 2
        # not calibrated: the same size relative to a 280-mm wide page (the comparison's fallback)
        width = self.doc.image.size[0] if self.doc and self.doc.image else 1754
        return self.brush_mm * width / 280.0 / 2

    def _update_brush_label(self) -> None:
        radius = self._brush_radius_px()
        self.canvas.brush_radius_px = radius
        unit = f"{self.brush_mm:g} mm" if self._px_per_mm() is not None else f"{2 * radius:.0f} px (page not calibrated)"
        self.brush_label.setText(f"  Brush {unit} ([ and ])  ")

    def _annotations(self) -> Any:
        doc = self.doc
        if doc is None or doc.annotations is None:
            self.statusBar().showMessage("Open an ECG image to draw on it.")
            return None
        if self.reader is None:
            self.ask_reader()
            if self.reader is None:
                return None
        return doc.annotations

    def _stroke(self, points: list[tuple[float, float]]) -> None:
        ann = self._annotations()
        if ann is None:
            return
        ann.begin_stroke(self.selected, self._brush_radius_px(), erase=self.canvas.tool == "eraser")
        ann.extend_stroke(points)
        step = ann.end_stroke()
        if step is not None:
            self._edited(self.selected, step.bbox_px)

    def _edit(self, fn: Callable[[Any, str], Any]) -> None:
        ann = self._annotations()
        if ann is not None:
            bbox = fn(ann, self.selected)
            if bbox is not None:
                self._edited(self.selected, bbox)

    def clear_label(self) -> None:
        self._edit(lambda a, k: a.clear(k))

    def undo(self) -> None:
        if self.doc and self.doc.annotations and (label := self.doc.annotations.undo()) is not None:
            self._edited(label)

    def redo(self) -> None:
        if self.doc and self.doc.annotations and (label := self.doc.annotations.redo()) is not None:
            self._edited(label)

    def _edited(self, label: str, bbox_px: tuple[int, int, int, int] | None = None) -> None:
        """Redraw what an edit changed (only ``bbox_px`` when given), save soon, measure soon."""
        if bbox_px is None or self.canvas.reader_item.image is None or self.compare_mode == "side_by_side":
            self._redraw_reader()
        else:
            x0, y0, x1, y1 = bbox_px
            self._paint_reader(self.canvas.reader_item.image[y0:y1, x0:x1], (slice(y0, y1), slice(x0, x1)))
            self.canvas.update_reader(bbox_px)
        if label == self.selected and self.doc and self.doc.annotations:
            self.compare.show_label(label, self.doc.annotations.status_of(label))
        if self.worklist is not None and self.doc is not None:
            self.worklist.set_status(self.doc.path, "annotated")
            self._show_worklist()
        self.autosave_timer.start()
        self._schedule_metrics()

    def _set_status(self, status: str | None) -> None:
        ann = self._annotations()
        if ann is not None:
            ann.set_status(self.selected, status)
            self.autosave_timer.start()
            if self.worklist is not None and self.doc is not None and status is not None:
                self.worklist.set_status(self.doc.path, "annotated")
                self._show_worklist()

    def set_label_status(self, status: str | None) -> None:
        """The reader's call on the selected label (annotated, feature not visible, not assessable)."""
        self._set_status(status)
        ann = self.doc.annotations if self.doc else None
        if ann is not None:
            self.compare.show_label(self.selected, ann.status_of(self.selected))

    def _reader_rgba(self) -> np.ndarray | None:
        """Every drawn label's marking in its colour, the selected label on top (None: no image)."""
        doc = self.doc
        if doc is None or doc.annotations is None:
            return None
        w, h = doc.annotations.size_px
        rgba = np.zeros((h, w, 4), np.uint8)  # calloc: untouched pages cost nothing until drawn on
        self._paint_reader(rgba, (slice(0, h), slice(0, w)), cleared=True)
        return rgba

    def _paint_reader(self, rgba: np.ndarray, region: tuple[slice, slice], cleared: bool = False) -> None:
        """Paint the markings inside ``region`` of the image into ``rgba`` (that region's pixels)."""
        ann = self.doc.annotations  # type: ignore[union-attr]
        if not cleared:
            rgba[...] = 0
        for label in sorted(ann.labels_drawn(), key=lambda k: k == self.selected):  # selected on top
            m = ann.mask(label)[region].astype(bool)
            rgba[m] = (*READER_COLOURS[label], 255 if label == self.selected else 150)

    def _redraw_reader(self) -> None:
        doc, shown = self.doc, self.canvas.reader_item.image
        nothing = doc is None or doc.annotations is None or not doc.annotations.labels_drawn()
        if not (nothing and shown is not None and shown.shape[:2] == doc.annotations.size_px[::-1]
                and not self.canvas.reader_item._tiles):
            # (an empty page's layer is already empty: rebuilding 48 MB of a 12-MP photo would cost ~50 ms)
            self.canvas.set_layer("reader", self._reader_rgba())
        self._apply_layers()
        if self.compare_mode == "side_by_side":
            self._side_by_side()

    def mark_done(self) -> None:
        doc = self.doc
        if doc is None or doc.image is None:
            self.done_action.setChecked(False)
            return
        if self._annotations() is None:
            self.done_action.setChecked(doc.reviewed)
            return
        undecided = self._study_labels_undecided()
        if undecided and not doc.reviewed:
            self.done_action.setChecked(False)
            self._tell(f"Before marking this ECG done, mark the evidence of {', '.join(undecided)} or say "
                       "that the feature is not visible or not assessable (Review menu).", "Not done yet")
            return
        doc.reviewed = not doc.reviewed
        self.done_action.setChecked(doc.reviewed)
        if self.worklist is not None:
            self.worklist.set_status(doc.path, "reviewed" if doc.reviewed else "annotated", reset=True)
            self._show_worklist()
        self.save_now(force=True)
        self._show_model()
        self._apply_layers()
        self._schedule_metrics(now=True)
        self.statusBar().showMessage(f"{doc.path.name} marked {'done' if doc.reviewed else 'not done'}.")

    def toggle_blinded(self) -> None:
        self.blinded = not self.blinded
        self.blind_action.setChecked(self.blinded)
        self.settings.setValue("blinded", self.blinded)
        self._show_model()
        self._apply_layers()
        self._schedule_metrics(now=True)

    # ================================================================ saving
    def ask_reader(self) -> None:
        name, ok = QtWidgets.QInputDialog.getText(
            self, "Reader", "Your name (saved with your annotations; each reader's are kept apart):",
            text=self.reader or "")
        if ok and name.strip():
            try:
                store.safe_reader_name(name)
            except ValueError as exc:
                self._tell(str(exc))
                return
            self.set_reader(name.strip())

    def set_reader(self, name: str) -> None:
        self.save_now()
        self.reader = name
        self.settings.setValue("reader", name)
        if self.doc is not None and self.doc.image is not None:
            self._load_annotation()

    def _load_annotation(self) -> None:
        """This reader's saved annotation of the open image, wherever it was saved."""
        doc = self.doc
        if doc is None or doc.image is None or self.reader is None:
            return
        image = doc.image
        try:
            found = store.find_folder(doc.path, self.reader, doc.page, image.sha256)
            if found is not None:
                doc.annotations, meta = store.load(found, image.size)
                doc.reviewed = bool(meta.get("reviewed"))
                spent = meta.get("seconds_spent")
                self._seconds_before = float(spent) if isinstance(spent, (int, float)) else 0.0
            self.folder = found
        except ValueError as exc:
            self._tell(f"Your earlier annotation of this image could not be read ({str(exc).rstrip('.')}), so it "
                       "is left as it is and new strokes are not saved until you choose another folder (File ▸ "
                       "Save annotations in another folder).")
            self.folder = None
            self._save_blocked = True
            return
        self._save_blocked = False
        self.done_action.setChecked(doc.reviewed)
        self._redraw_reader()
        self.select_label(self.selected)

    def _target_folder(self) -> Path | None:
        doc = self.doc
        assert doc is not None and self.reader is not None
        if self.folder is not None:
            return self.folder
        beside = store.annotation_folder(doc.path, self.reader, doc.page)
        if store.is_writable(beside.parent.parent if doc.page == 1 else beside.parent.parent.parent):
            self.folder = beside
        else:
            base = store.fallback_base()
            self.folder = store.annotation_folder(doc.path, self.reader, doc.page, base)
            self._tell(f"The folder of {doc.path.name} is read-only, so your annotation is saved in "
                       f"{self.folder} instead (File ▸ Save annotations in another folder to choose).",
                       "Read-only folder")
        return self.folder

    def save_now(self, force: bool = False) -> None:
        """Write this reader's annotation of the open image (atomically), if anything changed."""
        self.autosave_timer.stop()
        doc = self.doc
        if doc is None or doc.image is None or doc.annotations is None or self.reader is None:
            return
        if self._save_blocked:
            return
        ann = doc.annotations
        if not force and ann.saved_to is None and not ann.labels_drawn() and not any(ann.status.values()) \
                and not doc.reviewed:
            return  # nothing drawn yet: no folder beside every image merely looked at
        if not force and self._saved_version == (id(ann), ann.version, tuple(ann.status.values())):
            return
        folder = self._target_folder()
        if folder is None:
            return
        a = doc.analysis
        try:
            store.save(folder, ann, reader=self.reader, image_name=doc.path.name, image_sha256=doc.image.sha256,
                       page=doc.page, model_version=a.weights.version if a else None, reviewed=doc.reviewed,
                       blinded=self.blinded, seconds_spent=self._seconds_before + time.monotonic() - self._opened_at)
        except OSError as exc:
            self._tell(f"Your annotation could not be saved in {folder} ({one_sentence(exc).rstrip('.')}); "
                       "choose another folder (File ▸ Save annotations in another folder).", "Not saved")
            self.folder = None
            return
        self._saved_version = (id(ann), ann.version, tuple(ann.status.values()))

    def choose_save_folder(self) -> None:
        if self.doc is None or self.reader is None:
            return
        path = QtWidgets.QFileDialog.getExistingDirectory(self, "Save annotations in")
        if path:
            self.folder = store.annotation_folder(self.doc.path, self.reader, self.doc.page, Path(path))
            self._save_blocked = False
            self.save_now(force=True)

    # ================================================================ comparison
    def _schedule_metrics(self, now: bool = False) -> None:
        if now:
            self.metrics_timer.stop()
            self._measure()
        else:
            self.metrics_timer.start()

    def _measure(self) -> None:
        from core.review.agreement import agreement_codes, agreement_image, live_metrics, per_lead_shares

        doc = self.doc
        a = doc.analysis if doc else None
        if doc is None or a is None or doc.annotations is None or doc.image is None or not self._model_visible():
            self.measuring.cancel()
            self.compare.show_metrics(None, None, "Blinded: agreement appears once you mark the image done."
                                      if doc is not None and a is not None and not self._model_visible() else "")
            self.canvas.set_layer("agreement", None)
            return
        key = self.selected
        maps, geometry, rgb = a.explanation.saliency, a.geometry, doc.image.rgb
        mask = np.array(doc.annotations.mask(key))  # a copy: the reader may draw on while this runs

        def job(cancel: threading.Event, _report: Callable[[Any], None]) -> dict[str, Any]:
            saliency = maps[key]  # at the image's size: made here, off the event loop
            codes = agreement_codes(saliency, mask)
            picture = agreement_image(np.full_like(rgb, 255), codes)  # colours only: the page shows beneath
            alpha = (codes > 0).astype(np.float32)
            layer = reduced(np.concatenate([picture, (alpha * 255).astype(np.uint8)[..., None]], axis=2))
            empty = not mask.any()
            return {"label": key, "metrics": None if empty else live_metrics(saliency, mask, geometry),
                    "shares": per_lead_shares(saliency, mask, geometry), "layer": layer, "empty": empty}

        self.measuring.submit(job, self._measured, lambda m: self.compare.show_metrics(None, None, m))

    def _measured(self, result: dict[str, Any]) -> None:
        if result["label"] != self.selected:
            return
        note = ("Draw where you see the evidence: the agreement appears as you draw."
                if result["empty"] else "Updated after each stroke.")
        self.compare.show_metrics(result["metrics"], result["shares"], note)
        self.canvas.set_layer("agreement", result["layer"])
        self._apply_layers()
        self.metrics_shown.emit(result["metrics"])

    # ================================================================ calipers and hover
    def _set_caliper_kind(self, kind: str) -> None:
        self.caliper_kind = kind
        self.set_tool("caliper")

    def _caliper(self, p0: tuple[float, float], p1: tuple[float, float]) -> None:
        from core.review.calipers import CaliperRefused, measure

        geometry = self.doc.geometry if self.doc else None
        try:
            m = measure(geometry, p0, p1, kind=self.caliper_kind, rr_ms=self.last_rr_ms)
        except CaliperRefused as exc:
            self.canvas.show_caliper(None)
            self.statusBar().showMessage(str(exc))
            return
        if m.kind == "RR":
            self.last_rr_ms = m.dt_ms
        self.last_measurement = m
        self.canvas.show_caliper(p0, p1)
        self.statusBar().showMessage(f"Caliper: {m.text()}")

    def _hover_image(self, x: float, y: float) -> None:
        geometry = self.doc.geometry if self.doc else None
        if geometry is None or geometry.page_to_image is None or self.signals.visibleRegion().isEmpty():
            return
        found = geometry.pixel_to_signal(x, y)
        self.signals.show_point(*(found[:2] if found else (None, None)))

    def _hover_signal(self, panel: int, t_s: float) -> None:
        doc = self.doc
        a = doc.analysis if doc else None
        if a is None or a.geometry is None or not 0 <= panel < len(a.geometry.panels):
            return
        from core.labels import LEADS, canonical_lead

        lead = LEADS.index(canonical_lead(a.geometry.panels[panel].lead.lstrip("-")))
        i = int(round(t_s * a.weights.net.decoder_fs))
        row = a.explanation.signals[lead]
        mv = float(row[i]) if 0 <= i < row.size and np.isfinite(row[i]) else 0.0
        (x, y), = a.geometry.signal_to_pixel(panel, np.array([t_s]), np.array([mv]))
        self.canvas.show_marker((float(x), float(y)))

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

    def show_shortcuts(self) -> None:
        rows = "".join(f"<tr><td><b>{keys}</b></td><td>{what}</td></tr>" for keys, what in SHORTCUT_HELP)
        box = QtWidgets.QMessageBox(QtWidgets.QMessageBox.Icon.Information, "Keyboard shortcuts",
                                    f"<table cellspacing=4>{rows}</table>"
                                    "<p>Mouse: wheel zooms, middle button drags the page, "
                                    "the left button draws with the tool chosen.</p>", parent=self)
        box.open()
        self.shortcut_box = box

    def show_about(self) -> None:
        a = self.doc.analysis if self.doc else None
        model = f"{a.weights.name} {a.weights.version}" if a else "the shipped ECG-AIO network"
        QtWidgets.QMessageBox(QtWidgets.QMessageBox.Icon.Information, "About ECG-AIO Review",
                              f"ECG-AIO Review {core.__version__} with {model}. Runs offline: nothing leaves "
                              "this computer. Research use. Not a medical device: a physician reads every ECG.",
                              parent=self).open()


def _swatch(rgb: tuple[int, int, int]) -> QtGui.QPixmap:
    pix = QtGui.QPixmap(14, 14)
    pix.fill(QtGui.QColor(*rgb))
    return pix

