"""`ecg-aio-review [IMAGE | FOLDER] [--page N] [--device auto|cpu|cuda] [--reader NAME] [--self-test]`.

Opens the review window on an ECG image, or on a folder as a worklist. Everything runs on this
computer: no network access, no telemetry, no update check.

``--self-test`` checks an installation or a PyInstaller bundle end to end (docs/packaging.md):
the weights load and verify, the bundled sample is analysed through ``core.analyze.analyze_path``
(the window's own path) and its result is sane, and the window opens on it and paints. One line
per check, exit 0; exit 1 with one sentence on the first failure.

In the bundle this file is also the entry point of the ``ecg-aio`` executable (build.spec): run
under that name, it is the command line (``app.cli``).
"""
from __future__ import annotations

import time

_STARTED = time.perf_counter()  # before the heavy imports: the fallback origin of "cold start"

import argparse
import json
import math
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

import core

SELF_TEST_WAIT_S = 120  # for one step (the window, the analysis): far above the 2-core CPU's seconds


def resources() -> Path:
    """The resources folder, found as the weights are (core.model.weights.REPO: the source tree,
    or the bundle's sys._MEIPASS when frozen). Imported here, not at the top: it imports torch,
    which ``--version`` and ``--help`` need not wait for."""
    from core.model.weights import REPO

    return REPO / "resources"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ecg-aio-review", description="Review a scanned or photographed 12-lead ECG: "
                                "what the network diagnoses, where it looked, and where you see the evidence.")
    p.add_argument("path", nargs="?", type=Path, help="an ECG image, PDF or multi-page TIFF, or a folder of them")
    p.add_argument("--page", type=int, default=None, help="page of a PDF or multi-page TIFF (1-based)")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--reader", default=None, help="your name, for your annotations (asked once otherwise)")
    p.add_argument("--self-test", action="store_true",
                   help="check this installation: load the weights, analyse the bundled sample, open the window "
                        "on it (offscreen where there is no display), print one line per check; exit 0, or 1 "
                        "with one sentence")
    p.add_argument("--version", action="version", version=f"ecg-aio-review {core.__version__}")
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if args.self_test and args.path is not None:
        parser.error("--self-test analyses the bundled sample; give no IMAGE")
    if args.self_test and sys.platform.startswith("linux") and not os.environ.get("QT_QPA_PLATFORM") \
            and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        os.environ["QT_QPA_PLATFORM"] = "offscreen"  # a headless machine (CI, a server): check all but the screen
    QtWidgets.QApplication.setHighDpiScaleFactorRoundingPolicy(
        QtCore.Qt.HighDpiScaleFactorRoundingPolicy.PassThrough)
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv[:1])
    app.setApplicationName("ECG-AIO Review")
    app.setOrganizationName("ECG-AIO")
    icon = resources() / "icons" / "ecg-aio.png"
    if icon.is_file():
        app.setWindowIcon(QtGui.QIcon(str(icon)))
    pg.setConfigOptions(imageAxisOrder="row-major", antialias=True)
    if args.self_test:
        return SelfTest(app, device=args.device).run()
    from app.review.window import ReviewWindow
    from app.review.workers import freeze_startup_heap

    window = ReviewWindow(reader=args.reader, device=args.device)
    window.show()
    freeze_startup_heap()
    if window.reader is None:
        QtCore.QTimer.singleShot(0, window.ask_reader)
    if args.path is not None:
        QtCore.QTimer.singleShot(0, lambda: window.open_path(args.path, args.page))
    return app.exec()


# ==================================================================== self-test
class SelfTestFailed(Exception):
    """One check failed; the message is the sentence printed."""


def process_age_s() -> tuple[float, str]:
    """Seconds since this process started, and since when: the kernel's start time on Linux
    (it includes the bundle's bootloader and the interpreter's start), else since this module
    began importing (what happened before that is not counted)."""
    try:
        with open("/proc/self/stat", encoding="ascii") as f:
            start_ticks = int(f.read().rsplit(")", 1)[1].split()[19])  # field 22: starttime
        with open("/proc/uptime", encoding="ascii") as f:
            uptime_s = float(f.read().split()[0])
        return max(0.0, uptime_s - start_ticks / os.sysconf("SC_CLK_TCK")), "process start"
    except (OSError, ValueError, IndexError, AttributeError):
        return time.perf_counter() - _STARTED, "app.review.main began importing"


def _quiet_offscreen(_mode: QtCore.QtMsgType, _context: QtCore.QMessageLogContext, message: str) -> None:
    """Qt's messages to stderr, less the offscreen platform's note on every window shown."""
    if "propagateSizeHints" not in message:
        print(message, file=sys.stderr, flush=True)


class _PaintWatch(QtCore.QObject):
    """Counts paint events delivered to one window's widgets: ``seen`` as the event filter sees
    each (before its delivery), ``paints`` on the event loop's next turn (after it)."""

    def __init__(self, window: QtWidgets.QWidget) -> None:
        super().__init__()
        self.window = window
        self.paints = 0
        self.seen = 0

    def eventFilter(self, obj: QtCore.QObject, event: QtCore.QEvent) -> bool:
        if event.type() == QtCore.QEvent.Type.Paint and isinstance(obj, QtWidgets.QWidget) \
                and obj.window() is self.window:
            self.seen += 1
            QtCore.QTimer.singleShot(0, self._delivered)
        return False

    def _delivered(self) -> None:
        self.paints = self.seen


class SelfTest:
    """The checks of ``--self-test``, in the order a user meets them: window, weights, analysis."""

    def __init__(self, app: QtWidgets.QApplication, device: str = "auto") -> None:
        self.app = app
        self.device = device
        self.failures: list[str] = []
        self.sample = resources() / "samples" / "sample_scan.jpg"

    def line(self, ok: bool, check: str, words: str) -> None:
        print(f"{'ok  ' if ok else 'FAIL'} {check:<13} {words}", flush=True)
        if not ok:
            self.failures.append(f"{check}: {words}")

    def require(self, ok: bool, check: str, words: str) -> None:
        self.line(ok, check, words)
        if not ok:
            raise SelfTestFailed(f"{check}: {words}")

    def wait_until(self, done: Callable[[], bool], timeout_s: float = SELF_TEST_WAIT_S) -> bool:
        """Run the event loop until ``done()`` or ``timeout_s``; returns ``done()``."""
        if done():
            return True
        loop = QtCore.QEventLoop()
        deadline = time.monotonic() + timeout_s
        timer = QtCore.QTimer(interval=5)
        timer.timeout.connect(lambda: loop.quit() if done() or time.monotonic() > deadline else None)
        timer.start()
        loop.exec()
        timer.stop()
        return done()

    def run(self) -> int:
        frozen = getattr(sys, "frozen", False)
        where = f"bundle {Path(sys.executable).parent}" if frozen else f"source {resources().parent}"
        import torch  # already imported by core.model.weights: named here for its version

        print(f"ecg-aio-review {core.__version__} self-test: {where}; Python {sys.version.split()[0]}, "
              f"torch {torch.__version__}, Qt {QtCore.qVersion()}, platform {self.app.platformName()}", flush=True)
        QtCore.qInstallMessageHandler(_quiet_offscreen)
        with tempfile.TemporaryDirectory(prefix="ecg-aio-self-test-") as tmp:
            os.environ.setdefault("ECG_AIO_ANNOTATIONS", str(Path(tmp) / "annotations"))  # nothing is saved anyway
            try:
                self._checks(Path(tmp))
            except SelfTestFailed:
                pass
            except Exception as exc:  # noqa: BLE001 (any fault of the installation is a failed check)
                from app.review.workers import one_sentence

                self.line(False, "self-test", one_sentence(exc))
        total, origin = process_age_s()
        if self.failures:
            sentence = self.failures[0].rstrip(".") + "."
            print(f"ecg-aio-review: self-test failed: {sentence}", file=sys.stderr, flush=True)
            return 1
        print(f"ok   {'total':<13} self-test passed in {total:.2f} s since {origin}", flush=True)
        return 0

    def _checks(self, tmp: Path) -> None:
        from app.review.window import ReviewWindow
        from core.analyze import Analysis, model_for
        from core.model.weights import WeightsError, default_card_path

        self.require(core.__version__ != "0+unknown", "version",
                     f"ecg-aio-review {core.__version__}" if core.__version__ != "0+unknown" else
                     "the version is unknown: the package metadata is missing (pip install -e . or rebuild)")
        # the window, as `ecg-aio-review IMAGE` shows it: settings of its own, so the user's recent
        # files and layout are untouched; no reader, so no annotation is written anywhere
        settings = QtCore.QSettings(str(tmp / "settings.ini"), QtCore.QSettings.Format.IniFormat)
        window = ReviewWindow(settings=settings, reader=None, device=self.device)
        watch = _PaintWatch(window)
        self.app.installEventFilter(watch)
        try:
            window.show()
            painted = self.wait_until(lambda: watch.paints > 0)
            cold, origin = process_age_s()
            self.require(painted, "window", f"first window painted {cold:.2f} s after {origin}" if painted else
                         f"the window did not paint within {SELF_TEST_WAIT_S} s")

            t0 = time.perf_counter()
            card = default_card_path()
            try:
                _, weights = model_for(self.device)  # the window's analysis reuses this (core.analyze caches it)
            except WeightsError as exc:
                self.require(False, "weights", str(exc))
            self.require(True, "weights", f"{weights.name} {weights.version}, {len(weights.labels)} labels, sha256 "
                         f"{weights.sha256[:12]}… verified, from {card} in {time.perf_counter() - t0:.2f} s")

            self.require(self.sample.is_file(), "sample", str(self.sample) if self.sample.is_file() else
                         f"the bundled sample {self.sample} is missing")
            shown: list[Analysis] = []
            overlays: list[str] = []
            window.analysis_shown.connect(shown.append)
            window.overlay_shown.connect(overlays.append)
            t0 = time.perf_counter()
            window.open_path(self.sample)
            done = self.wait_until(lambda: bool(shown) or bool(window.doc and window.doc.error))
            if window.doc is not None and window.doc.error:
                self.require(False, "analysis", window.doc.error)
            if not done:
                self.require(False, "analysis", f"the window showed no analysis within {SELF_TEST_WAIT_S} s")
            a = shown[0]
            t_ms = a.timings_ms
            self.line(True, "analysis", f"{self.sample.name} analysed through core.analyze.analyze_path on {a.device} "
                      f"in {time.perf_counter() - t0:.2f} s (page reader {t_ms.get('page', 0) / 1000:.2f} s, "
                      f"explanations {t_ms.get('jacobian', 0) / 1000:.2f} s)")
            self._check_analysis(a)

            painted_before = watch.seen
            overlay = self.wait_until(lambda: bool(overlays) and watch.paints > painted_before)
            self.require(overlay, "window", f"painted the analysis and the purple overlay of {overlays[0]}"
                         if overlay else f"the window did not draw the overlay within {SELF_TEST_WAIT_S} s")
            if self.failures:
                raise SelfTestFailed(self.failures[0])
        finally:
            self.app.removeEventFilter(watch)
            window.close()
            window.deleteLater()
            self.app.processEvents()

    def _check_analysis(self, a: Any) -> None:
        import numpy as np

        probs = np.asarray(a.explanation.probabilities, dtype=float)
        ok = probs.shape == (len(a.weights.labels),) and bool(np.all(np.isfinite(probs))) \
            and bool(np.all((probs >= 0) & (probs <= 1)))
        self.line(ok, "probabilities", f"{probs.size} finite, in [0, 1]" if ok else
                  f"the network's probabilities are not all finite numbers in [0, 1]: {probs.round(4).tolist()}")

        h, w = a.image.rgb.shape[:2]
        bad = [k for k in a.labels if a.explanation.saliency[k].shape != (h, w)
               or not np.all(np.isfinite(a.explanation.saliency[k])) or float(a.explanation.saliency[k].min()) < 0
               or float(a.explanation.saliency[k].max()) <= 0]
        self.line(not bad, "saliency", f"{len(a.labels)} maps of {w}×{h} px, finite, non-negative, not empty"
                  if not bad else f"the saliency maps of {', '.join(bad)} are not finite, non-negative maps the "
                  f"size of the {w}×{h} page")

        reader, g = a.page_reader, a.geometry
        ok = reader is not None and reader.is_ecg and g is not None
        self.line(ok, "page reader", f"{reader.reason} Layout {g.layout}, {len(g.panels)} panels."
                  if ok else f"the page reader did not read the sample's page ({reader.reason if reader else 'none'})")

        truth = self._sample_truth(self.sample)
        for key in a.labels:
            p, threshold = a.probability(key), float(a.weights.thresholds[key])
            call = "positive" if a.is_positive(key) else "negative"
            known = truth.get(key)
            ok = math.isfinite(p) and 0 < threshold < 1 and (known is None or (known == 1) == a.is_positive(key))
            said = "" if known is None else f"; the sample is {'positive' if known == 1 else 'negative'}"
            self.line(ok, f"label {key}", f"p {p:.4f} {'≥' if call == 'positive' else '<'} threshold {threshold:.4f}: "
                      f"{call}{said}")

    @staticmethod
    def _sample_truth(sample: Path) -> dict[str, int]:
        """The sample's known labels from its synth sidecar (resources/samples/sample_scan.json)."""
        try:
            labels = json.loads(sample.with_suffix(".json").read_text(encoding="utf-8"))["labels"]
            return {str(k): int(v) for k, v in labels.items()}
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return {}


CLI_NAME = "ecg-aio"


def _frozen_entry() -> int:
    """The bundle's entry point (build.spec): the review window, or the command line when called
    ``ecg-aio`` (a symbolic link to this executable on Linux and macOS, whose argv[0] names it; a
    console executable of that name on Windows)."""
    import multiprocessing

    multiprocessing.freeze_support()  # DataLoader workers (spawned on Windows and macOS)
    if CLI_NAME not in {Path(sys.argv[0]).stem.lower(), Path(sys.executable).stem.lower()}:
        return main()
    if sys.argv[1:2] == ["--self-test"]:  # `ecg-aio --self-test`: the window's check, printed to a console
        return main(sys.argv[1:])           # (Windows: the window's own executable has none)
    from app.cli import main as cli_main

    return cli_main()


if __name__ == "__main__":
    sys.exit(_frozen_entry() if getattr(sys, "frozen", False) else main())
