"""`ecg-aio-review`: the review window (interim: open an ECG image and look at it).

The full review window (overlay, annotation, comparison) is a later issue; this window already
loads images off the event loop, through the same core.io function as the CLI.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

import core
from app.review.workers import run_in_thread


class ReviewWindow(QtWidgets.QMainWindow):
    """Main window: an image canvas and a status line."""

    def __init__(self) -> None:
        super().__init__()
        self.setWindowTitle(f"ECG-AIO Review {core.__version__}")
        self.resize(1200, 760)
        self.view = pg.GraphicsLayoutWidget()
        self.viewbox = self.view.addViewBox(lockAspect=True, invertY=True)
        self.image_item = pg.ImageItem(axisOrder="row-major")
        self.viewbox.addItem(self.image_item)
        self.setCentralWidget(self.view)
        open_action = self.menuBar().addMenu("&File").addAction("&Open ECG image…")
        open_action.setShortcut("Ctrl+O")
        open_action.triggered.connect(self.choose_file)
        self.statusBar().showMessage("Open an ECG image (File ▸ Open, Ctrl+O).")

    def choose_file(self) -> None:
        path, _ = QtWidgets.QFileDialog.getOpenFileName(
            self, "Open ECG image", "", "ECG images (*.png *.jpg *.jpeg *.bmp *.tif *.tiff *.webp *.pdf)")
        if path:
            self.open_image(Path(path))

    def open_image(self, path: Path) -> None:
        """Load an image in a worker thread; show it, or say in one sentence why not."""
        from core.io import load_image

        self.statusBar().showMessage(f"Loading {path.name}…")
        run_in_thread(lambda: load_image(path), self._show, self._fail)

    def _show(self, loaded: object) -> None:
        rgb: np.ndarray = loaded.rgb  # type: ignore[attr-defined]
        self.image_item.setImage(rgb)
        self.viewbox.autoRange(padding=0.01)
        w, h = loaded.size  # type: ignore[attr-defined]
        self.statusBar().showMessage(
            f"{Path(loaded.path).name}: {w} × {h} px. "  # type: ignore[attr-defined]
            "Diagnosis and overlays appear here once model weights are installed.")

    def _fail(self, message: str) -> None:
        self.statusBar().showMessage(message)
        box = QtWidgets.QMessageBox(QtWidgets.QMessageBox.Icon.Warning, "Cannot open this file", message,
                                    parent=self)
        box.open()  # window-modal, never blocks the event loop


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv if argv is None else argv
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(argv)
    pg.setConfigOptions(imageAxisOrder="row-major", antialias=True)
    window = ReviewWindow()
    window.show()
    if len(argv) > 1:
        QtCore.QTimer.singleShot(0, lambda: window.open_image(Path(argv[1])))
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
