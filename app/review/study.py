"""Reader-study views: the dialog that makes a folder a study, and the report viewer.

The study itself (its file, each reader's order, progress, the agreement table) is
``core.study``; these widgets only ask for its settings and show its report.
"""
from __future__ import annotations

from pathlib import Path

from PySide6 import QtCore, QtWidgets

from core.labels import BY_KEY, LABELS


class NewStudyDialog(QtWidgets.QDialog):
    """Name, labels to annotate, readers, blinding and the seed of the readers' orders."""

    def __init__(self, folder: Path, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Make {folder.name} a reader study")
        self.name = QtWidgets.QLineEdit(folder.name)
        self.readers = QtWidgets.QLineEdit()
        self.readers.setPlaceholderText("reader names, separated by commas")
        self.blinded = QtWidgets.QCheckBox("Blinded: readers see the network only after saving their annotation")
        self.blinded.setChecked(True)
        self.seed = QtWidgets.QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.label_boxes = {key: QtWidgets.QCheckBox(f"{key} — {BY_KEY[key].name}") for key in LABELS}
        for key in ("AFL", "PVC"):  # the paper's two conditions
            self.label_boxes[key].setChecked(True)
        labels = QtWidgets.QGroupBox("Labels to annotate")
        grid = QtWidgets.QGridLayout(labels)
        for i, box in enumerate(self.label_boxes.values()):
            grid.addWidget(box, i // 2, i % 2)
        form = QtWidgets.QFormLayout()
        form.addRow("Study name", self.name)
        form.addRow("Readers", self.readers)
        form.addRow("Seed of the readers' orders", self.seed)
        buttons = QtWidgets.QDialogButtonBox(QtWidgets.QDialogButtonBox.StandardButton.Ok
                                             | QtWidgets.QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(labels)
        layout.addWidget(self.blinded)
        layout.addWidget(buttons)

    def values(self) -> dict:
        """The keyword arguments of ``core.study.study.init_study`` the reader chose."""
        return {"name": self.name.text().strip() or None,
                "labels": tuple(k for k, box in self.label_boxes.items() if box.isChecked()),
                "readers": tuple(r.strip() for r in self.readers.text().split(",") if r.strip()),
                "blinded": self.blinded.isChecked(), "seed": int(self.seed.value())}


class ReportView(QtWidgets.QDialog):
    """A study report (its HTML, with its plots) in a plain text browser: no web engine, offline."""

    def __init__(self, html_path: Path, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Study report — {html_path.parent.parent.name}")
        self.resize(1000, 800)
        self.browser = QtWidgets.QTextBrowser()
        self.browser.setOpenLinks(False)  # nothing leaves the machine: links are not followed
        self.browser.setSource(QtCore.QUrl.fromLocalFile(str(html_path)))
        folder = QtWidgets.QLabel(f"Files: <code>{html_path.parent}</code> (Markdown, HTML, PDF, CSV, JSON)")
        folder.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(self.browser)
        layout.addWidget(folder)
