"""The side panels: the worklist, the network's diagnoses, and model-vs-reader agreement.

Each panel draws what the window hands it and emits what the reader chose; none computes.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from core.analyze import Analysis
from core.compare import CELL_S
from core.explain import PURPLE
from core.labels import BY_KEY, LABELS, LEADS
from core.review.annotations import STATUSES
from core.review.document import sorted_labels
from core.review.palette import AGREEMENT_COLOURS, READER_COLOURS
from core.review.worklist import STATUSES as WORK_STATUSES

STATUS_WORDS = {None: "not yet marked", "annotated": "annotated", "not_visible": "feature not visible",
                "not_assessable": "not assessable"}
METRIC_WORDS = {
    "pearson_grid": ("grid r", "Pearson r over lead × 0.2-s cells"),
    "pearson_pixel": ("pixel r", "Pearson r of the smoothed maps, pixel by pixel"),
    "relevance_mass": ("relevance mass", "share of the model's attribution inside your marking"),
    "pointing_game": ("pointing game", "1 when the model's hottest pixel lies in your marking"),
    "dice_topk": ("Dice top-k", "overlap of the model's top pixels (as many as you marked) with your marking"),
}


def _swatch(rgb: tuple[int, int, int]) -> QtGui.QIcon:
    pix = QtGui.QPixmap(14, 14)
    pix.fill(QtGui.QColor(*rgb))
    return QtGui.QIcon(pix)


class WorklistPanel(QtWidgets.QWidget):
    """The images of a folder with their review status; filters by status or by positive label."""

    activated = QtCore.Signal(object)  # Path
    filter_changed = QtCore.Signal(object, object)  # status | None, label | None

    def __init__(self) -> None:
        super().__init__()
        self.status_box = QtWidgets.QComboBox()
        self.status_box.addItem("every status", None)
        for status in WORK_STATUSES:
            self.status_box.addItem(status, status)
        self.label_box = QtWidgets.QComboBox()
        self.label_box.addItem("any finding", None)
        for key in LABELS:
            self.label_box.addItem(f"{key} positive", key)
        self.list = QtWidgets.QListWidget()
        self.counts = QtWidgets.QLabel()
        layout = QtWidgets.QVBoxLayout(self)
        row = QtWidgets.QHBoxLayout()
        row.addWidget(self.status_box)
        row.addWidget(self.label_box)
        layout.addLayout(row)
        layout.addWidget(self.list)
        layout.addWidget(self.counts)
        self.status_box.currentIndexChanged.connect(self._filter)
        self.label_box.currentIndexChanged.connect(self._filter)
        self.list.itemActivated.connect(lambda item: self.activated.emit(item.data(QtCore.Qt.ItemDataRole.UserRole)))
        self.list.itemClicked.connect(lambda item: self.activated.emit(item.data(QtCore.Qt.ItemDataRole.UserRole)))

    def _filter(self) -> None:
        self.filter_changed.emit(self.status_box.currentData(), self.label_box.currentData())

    def show_items(self, items: list[tuple[Path, str]], current: Path | None, counts: dict[str, int]) -> None:
        self.list.blockSignals(True)
        self.list.clear()
        for path, status in items:
            item = QtWidgets.QListWidgetItem(f"{path.name}  —  {status}")
            item.setData(QtCore.Qt.ItemDataRole.UserRole, path)
            self.list.addItem(item)
            if path == current:
                self.list.setCurrentItem(item)
        self.list.blockSignals(False)
        self.counts.setText(", ".join(f"{n} {status}" for status, n in counts.items()))


class DiagnosesPanel(QtWidgets.QWidget):
    """Every label's probability against its threshold, sorted; warnings; where it looked."""

    label_selected = QtCore.Signal(str)

    def __init__(self) -> None:
        super().__init__()
        self.message = QtWidgets.QLabel("Open an ECG image (File ▸ Open, Ctrl+O).")
        self.message.setWordWrap(True)
        self.table = QtWidgets.QTreeWidget()
        self.table.setHeaderLabels(["Label", "Probability", "Threshold", "Call"])
        self.table.setRootIsDecorated(False)
        self.table.setAlternatingRowColors(True)
        self.table.itemSelectionChanged.connect(self._selected)
        self.warnings = QtWidgets.QLabel()
        self.warnings.setWordWrap(True)
        self.warnings.setStyleSheet("QLabel { color: #8a4b00; }")
        self.summary = QtWidgets.QLabel()
        self.summary.setWordWrap(True)
        self.profile = pg.PlotWidget(background="w")
        self.profile.setMinimumHeight(160)
        self.profile.setMenuEnabled(False)
        self.profile.setMouseEnabled(False, False)
        self.profile.setLabel("bottom", "time in its panel (s)")
        self.profile.getAxis("left").setTicks([[(i + 0.5, lead) for i, lead in enumerate(LEADS)]])
        self.profile.invertY(True)
        self.profile.setRange(xRange=(0, 10), yRange=(0, len(LEADS)), padding=0.02)  # 10 s × 12 leads, empty or not
        self.profile.disableAutoRange()
        self.profile_image = pg.ImageItem(axisOrder="row-major")
        self.profile_image.setColorMap(pg.ColorMap([0, 1], [(255, 255, 255), PURPLE]))
        self.profile.addItem(self.profile_image)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(self.message)
        layout.addWidget(self.table, 2)
        layout.addWidget(self.warnings)
        layout.addWidget(QtWidgets.QLabel("Where it looked (share of attribution per lead and 0.2 s):"))
        layout.addWidget(self.profile, 2)
        layout.addWidget(self.summary)
        self._keys: list[str] = []

    def show_message(self, text: str) -> None:
        """No analysis to show (loading, blinded, no weights): say why, clear the rest."""
        self.message.setText(text)
        self.table.blockSignals(True)  # clearing deselects: not the reader choosing a label
        self.table.clear()
        self.table.blockSignals(False)
        self.warnings.clear()
        self.summary.clear()
        self.profile_image.clear()
        self._keys = []

    def show_analysis(self, analysis: Analysis, selected: str) -> None:
        self.message.setText(f"{analysis.weights.name} {analysis.weights.version} on {analysis.device}. "
                             "Select a label to see where the network looked.")
        self.table.blockSignals(True)
        self.table.clear()
        self._keys = sorted_labels(analysis)
        for key in self._keys:
            p, thr = analysis.probability(key), analysis.weights.thresholds[key]
            call = "withheld" if analysis.withheld else "POSITIVE" if analysis.is_positive(key) else "negative"
            item = QtWidgets.QTreeWidgetItem([f"{key} — {BY_KEY[key].name}", f"{p:.2f}", f"{thr:.2f}", call])
            item.setData(0, QtCore.Qt.ItemDataRole.UserRole, key)
            item.setToolTip(0, f"Evidence: {BY_KEY[key].evidence}")
            if analysis.is_positive(key):
                font = item.font(0)
                font.setBold(True)
                for c in range(4):
                    item.setFont(c, font)
            self.table.addTopLevelItem(item)
            if key == selected:
                item.setSelected(True)
                self.table.setCurrentItem(item)
        for c in range(4):
            self.table.resizeColumnToContents(c)
        self.table.blockSignals(False)

    def show_label(self, analysis: Analysis, key: str, warnings: list[str], where: dict) -> None:
        """The selected label's warnings and its where-it-looked profile (leads × time);
        ``where`` is ``core.explain.where_it_looked``'s answer, computed off the event loop."""
        self.warnings.setText("\n".join(f"⚠ {w}" for w in warnings))
        self.warnings.setVisible(bool(warnings))
        self.summary.setText(where["summary"])
        if where["per_cell"] is None:
            self.profile_image.clear()
            return
        n_cells = int(np.ceil(10.0 / CELL_S))
        grid = np.zeros((len(LEADS), n_cells), np.float32)
        for panel, t0, _t1, share in where["per_cell"]:
            lead = analysis.geometry.panels[int(panel)].lead.lstrip("-")  # type: ignore[union-attr]
            if lead in LEADS:
                grid[LEADS.index(lead), min(n_cells - 1, int(t0 / CELL_S + 1e-6))] += share
        self.profile_image.setImage(grid, levels=(0, max(float(grid.max()), 1e-6)))
        self.profile_image.setRect(QtCore.QRectF(0, 0, n_cells * CELL_S, len(LEADS)))

    def select(self, key: str) -> None:
        for i in range(self.table.topLevelItemCount()):
            item = self.table.topLevelItem(i)
            if item.data(0, QtCore.Qt.ItemDataRole.UserRole) == key:
                self.table.setCurrentItem(item)

    def _selected(self) -> None:
        items = self.table.selectedItems()
        if items:
            self.label_selected.emit(items[0].data(0, QtCore.Qt.ItemDataRole.UserRole))


class ComparePanel(QtWidgets.QWidget):
    """Model vs reader for the selected label: how they are shown, the metrics, per-lead bars."""

    mode_changed = QtCore.Signal(str)
    status_changed = QtCore.Signal(object)

    MODES = (("overlay", "Overlay: model and reader"), ("agreement", "Agreement colours"),
             ("side_by_side", "Side by side"))

    def __init__(self) -> None:
        super().__init__()
        self.title = QtWidgets.QLabel()
        self.status_box = QtWidgets.QComboBox()
        for status in (None, *STATUSES):
            self.status_box.addItem(STATUS_WORDS[status], status)
        self.status_box.currentIndexChanged.connect(lambda _i: self.status_changed.emit(self.status_box.currentData()))
        self.mode_box = QtWidgets.QComboBox()
        for key, words in self.MODES:
            self.mode_box.addItem(words, key)
        self.mode_box.currentIndexChanged.connect(lambda _i: self.mode_changed.emit(self.mode_box.currentData()))
        legend = QtWidgets.QHBoxLayout()
        for key, words in (("both", "both"), ("model_only", "model only"), ("reader_only", "reader only")):
            swatch = QtWidgets.QLabel()
            swatch.setPixmap(_swatch(AGREEMENT_COLOURS[key]).pixmap(14, 14))
            legend.addWidget(swatch)
            legend.addWidget(QtWidgets.QLabel(words))
        legend.addStretch()
        self.metrics = QtWidgets.QTreeWidget()
        self.metrics.setHeaderLabels(["Agreement", "Value"])
        self.metrics.setRootIsDecorated(False)
        self.note = QtWidgets.QLabel()
        self.note.setWordWrap(True)
        self.bars = pg.PlotWidget(background="w")
        self.bars.setMinimumHeight(150)
        self.bars.setMenuEnabled(False)
        self.bars.setMouseEnabled(False, False)
        self.bars.getAxis("bottom").setTicks([[(i, lead) for i, lead in enumerate(LEADS)]])
        self.bars.setLabel("left", "share")
        self.bars.addLegend(offset=(-5, 5))
        self.model_bars = pg.BarGraphItem(x=np.arange(12) - 0.2, height=np.zeros(12), width=0.4,
                                          brush=pg.mkBrush(*PURPLE), name="model")
        self.reader_bars = pg.BarGraphItem(x=np.arange(12) + 0.2, height=np.zeros(12), width=0.4,
                                           brush=pg.mkBrush(230, 159, 0), name="reader")
        self.bars.addItem(self.model_bars)
        self.bars.addItem(self.reader_bars)
        form = QtWidgets.QFormLayout()
        form.addRow("Your call on this label:", self.status_box)
        form.addRow("Show:", self.mode_box)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addLayout(form)
        layout.addLayout(legend)
        layout.addWidget(self.metrics, 1)
        layout.addWidget(self.note)
        layout.addWidget(QtWidgets.QLabel("Per lead: share of the model's attribution and of your marking"))
        layout.addWidget(self.bars, 1)

    def show_label(self, key: str, status: str | None) -> None:
        self.title.setText(f"<b>{key} — {BY_KEY[key].name}</b>: mark {BY_KEY[key].evidence}.")
        self.status_box.blockSignals(True)
        self.status_box.setCurrentIndex(max(0, self.status_box.findData(status)))
        self.status_box.blockSignals(False)
        self.reader_bars.setOpts(brush=pg.mkBrush(*READER_COLOURS[key]))

    def show_metrics(self, metrics: dict[str, float | None] | None, shares: dict | None, note: str) -> None:
        self.metrics.clear()
        for key, value in (metrics or {}).items():
            words, tip = METRIC_WORDS.get(key, (key, ""))
            item = QtWidgets.QTreeWidgetItem([words, "—" if value is None else f"{value:.2f}"])
            item.setData(1, QtCore.Qt.ItemDataRole.UserRole, value)
            item.setToolTip(0, tip)
            self.metrics.addTopLevelItem(item)
        self.metrics.resizeColumnToContents(0)
        self.note.setText(note)
        model = np.zeros(12)
        reader = np.zeros(12)
        for lead, (m, r) in (shares or {}).items():
            name = lead.lstrip("-")
            if name in LEADS:
                model[LEADS.index(name)] += m or 0.0
                reader[LEADS.index(name)] += r or 0.0
        self.model_bars.setOpts(height=model)
        self.reader_bars.setOpts(height=reader)

    def value(self, key: str) -> float | None:
        """The metric shown for ``key`` (None when undefined or not shown)."""
        words = METRIC_WORDS.get(key, (key,))[0]
        for i in range(self.metrics.topLevelItemCount()):
            item = self.metrics.topLevelItem(i)
            if item.text(0) == words:
                return item.data(1, QtCore.Qt.ItemDataRole.UserRole)
        return None


class LayersPanel(QtWidgets.QWidget):
    """Each canvas layer's visibility and opacity, as napari's layer list shows them."""

    changed = QtCore.Signal(str, bool, float)  # layer name, visible, opacity

    WORDS = {"image": "ECG image", "model": "Model overlay (purple)", "reader": "Your annotation",
             "agreement": "Agreement colours", "geometry": "Page geometry"}

    def __init__(self) -> None:
        super().__init__()
        layout = QtWidgets.QGridLayout(self)
        self.boxes: dict[str, QtWidgets.QCheckBox] = {}
        self.sliders: dict[str, QtWidgets.QSlider] = {}
        for row, (name, words) in enumerate(reversed(self.WORDS.items())):  # top layer first
            box = QtWidgets.QCheckBox(words)
            slider = QtWidgets.QSlider(QtCore.Qt.Orientation.Horizontal)
            slider.setRange(0, 100)
            slider.setToolTip(f"Opacity of {words.lower()}")
            box.toggled.connect(lambda _on, n=name: self._emit(n))
            slider.valueChanged.connect(lambda _v, n=name: self._emit(n))
            layout.addWidget(box, row, 0)
            layout.addWidget(slider, row, 1)
            self.boxes[name], self.sliders[name] = box, slider
        layout.setRowStretch(len(self.WORDS), 1)

    def show_layers(self, layers: dict) -> None:  # name -> core.review.document.Layer
        for name, layer in layers.items():
            for widget in (self.boxes[name], self.sliders[name]):
                widget.blockSignals(True)
            self.boxes[name].setChecked(layer.visible)
            self.sliders[name].setValue(round(100 * layer.opacity))
            for widget in (self.boxes[name], self.sliders[name]):
                widget.blockSignals(False)

    def _emit(self, name: str) -> None:
        self.changed.emit(name, self.boxes[name].isChecked(), self.sliders[name].value() / 100)
