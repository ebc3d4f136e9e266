"""`ecg-aio-review [IMAGE | FOLDER] [--page N] [--device auto|cpu|cuda] [--reader NAME]`.

Opens the review window on an ECG image, or on a folder as a worklist. Everything runs on this
computer: no network access, no telemetry, no update check.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

import core


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ecg-aio-review", description="Review a scanned or photographed 12-lead ECG: "
                                "what the network diagnoses, where it looked, and where you see the evidence.")
    p.add_argument("path", nargs="?", type=Path, help="an ECG image, PDF or multi-page TIFF, or a folder of them")
    p.add_argument("--page", type=int, default=None, help="page of a PDF or multi-page TIFF (1-based)")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--reader", default=None, help="your name, for your annotations (asked once otherwise)")
    p.add_argument("--version", action="version", version=f"ecg-aio-review {core.__version__}")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    QtWidgets.QApplication.setHighDpiScaleFactorRoundingPolicy(
        QtCore.Qt.HighDpiScaleFactorRoundingPolicy.PassThrough)
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv[:1])
    app.setApplicationName("ECG-AIO Review")
    app.setOrganizationName("ECG-AIO")
    pg.setConfigOptions(imageAxisOrder="row-major", antialias=True)
    from app.review.window import ReviewWindow

    window = ReviewWindow(reader=args.reader, device=args.device)
    window.show()
    if window.reader is None:
        QtCore.QTimer.singleShot(0, window.ask_reader)
    if args.path is not None:
        QtCore.QTimer.singleShot(0, lambda: window.open_path(args.path, args.page))
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
