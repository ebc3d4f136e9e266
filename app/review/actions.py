"""The window's menus, actions, keyboard shortcuts and tool bar, and the F1 list of the shortcuts.

``ActionsMixin._menus`` makes every action on the window itself (its shortcut works even when
the menu bar is hidden) and records its keys in ``SHORTCUT_HELP``; each action calls one of
``ReviewWindow``'s methods.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6 import QtCore, QtGui, QtWidgets

from app.review.canvas import TOOLS
from core.labels import BY_KEY, LABELS
from core.review.palette import READER_COLOURS

SHORTCUT_HELP: list[tuple[str, str]] = []  # (keys, what) — filled as actions are made; F1 shows it


class ActionsMixin:
    """Part of ``ReviewWindow``: its menus, shortcuts and tool bar, and the F1 box that lists them."""

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

    def show_shortcuts(self) -> None:
        rows = "".join(f"<tr><td><b>{keys}</b></td><td>{what}</td></tr>" for keys, what in SHORTCUT_HELP)
        box = QtWidgets.QMessageBox(QtWidgets.QMessageBox.Icon.Information, "Keyboard shortcuts",
                                    f"<table cellspacing=4>{rows}</table>"
                                    "<p>Mouse: wheel zooms, middle button drags the page, "
                                    "the left button draws with the tool chosen.</p>", parent=self)
        box.open()
        self.shortcut_box = box


def _swatch(rgb: tuple[int, int, int]) -> QtGui.QPixmap:
    pix = QtGui.QPixmap(14, 14)
    pix.fill(QtGui.QColor(*rgb))
    return pix
