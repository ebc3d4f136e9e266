"""How the review window feels on this machine: open to first overlay, event-loop stalls, memory.

    QT_QPA_PLATFORM=offscreen python benchmarks/bench_review.py [--runs 3]

Measures, with the shipped network on the CPU:
- time from ``open_path`` to the purple overlay on screen (``overlay_shown``), for the bundled A4 sample
  (1754 × 1240) and for a 12-MP phone photo (a shared real photograph upscaled to 4000 × 3000,
  or the bundled photo sample when the shared data is absent), median of ``--runs``;
- the longest stall of the Qt event loop during those analyses and during drawing (a QTimer
  that should fire every 10 ms records the largest gap between its calls);
- the undo history's memory per stroke (500 brush strokes on the A4 page).
Prints a Markdown table.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from PySide6 import QtCore, QtWidgets  # noqa: E402

SAMPLE = REPO / "resources" / "samples" / "sample_scan.jpg"


class StallProbe(QtCore.QObject):
    """A 10-ms timer; ``worst_ms`` is the longest time between two of its calls."""

    def __init__(self) -> None:
        super().__init__()
        self.timer = QtCore.QTimer(self, interval=10, timerType=QtCore.Qt.TimerType.PreciseTimer)
        self.timer.timeout.connect(self._tick)
        self.last = time.perf_counter()
        self.worst_ms = 0.0

    def start(self) -> None:
        self.last, self.worst_ms = time.perf_counter(), 0.0
        self.timer.start()

    def stop(self) -> float:
        self.timer.stop()
        return self.worst_ms

    def _tick(self) -> None:
        now = time.perf_counter()
        self.worst_ms = max(self.worst_ms, (now - self.last) * 1000)
        self.last = now


def twelve_mp_photo(folder: Path) -> Path:
    """A real phone photograph from the shared data, upscaled to 4000 × 3000 (12 MP)."""
    from core.io.records import data_dir

    try:
        source = data_dir() / "images" / "photo_handheld_01.jpg"
        rgb = cv2.imread(str(source))
    except Exception:
        rgb = None
    if rgb is None:
        rgb = cv2.imread(str(REPO / "resources" / "samples" / "sample_photo.jpg"))
    path = folder / "photo_12mp.jpg"
    cv2.imwrite(str(path), cv2.resize(rgb, (4000, 3000), interpolation=cv2.INTER_CUBIC), [cv2.IMWRITE_JPEG_QUALITY, 92])
    return path


def wait_until(app: QtWidgets.QApplication, done, timeout_s: float = 300) -> None:  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    while not done():
        app.processEvents(QtCore.QEventLoop.ProcessEventsFlag.AllEvents, 5)
        time.sleep(0.002)
        if time.perf_counter() - t0 > timeout_s:
            raise TimeoutError("the window did not finish in time")


def open_to_overlay(app, window, path: Path, probe: StallProbe) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    shown: list[float] = []
    window.overlay_shown.connect(lambda _key: shown.append(time.perf_counter()))
    probe.start()
    t0 = time.perf_counter()
    window.open_path(path)
    wait_until(app, lambda: bool(shown))
    t_end = time.perf_counter() + 0.5  # what the window does on the event loop after it, counts too
    while time.perf_counter() < t_end:
        app.processEvents(QtCore.QEventLoop.ProcessEventsFlag.AllEvents, 5)
    stall = probe.stop()
    window.overlay_shown.disconnect()
    return shown[0] - t0, stall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([])
    from app.review.window import ReviewWindow
    from app.review.workers import freeze_startup_heap
    from core.review.annotations import Annotations

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        settings = QtCore.QSettings(str(folder / "s.ini"), QtCore.QSettings.Format.IniFormat)
        window = ReviewWindow(settings=settings, reader="bench", device="cpu")
        freeze_startup_heap()   # as ecg-aio-review's main does
        window.resize(1400, 900)
        window.show()
        probe = StallProbe()
        photo = twelve_mp_photo(folder)
        rows = []
        sample = folder / SAMPLE.name  # a copy: the strokes below are saved beside the image
        sample.write_bytes(SAMPLE.read_bytes())
        for name, path in (("A4 sample, 1754 × 1240", sample), ("12-MP phone photo, 4000 × 3000", photo)):
            open_to_overlay(app, window, path, probe)  # warm: the network loaded, caches filled
            times, stalls = [], []
            for _ in range(args.runs):
                t, s = open_to_overlay(app, window, path, probe)
                times.append(t)
                stalls.append(s)
            rows.append((name, statistics.median(times), max(stalls)))
            # drawing on this page: 20 strokes while the metrics recompute behind them
            window.select_label("PVC")
            window.set_tool("brush")
            h, w = window.doc.image.rgb.shape[:2]
            probe.start()
            for i in range(20):
                y = h * (0.2 + 0.03 * i)
                window._stroke([(w * 0.1 + k * w * 0.01, y) for k in range(40)])
                t_end = time.perf_counter() + 0.05
                while time.perf_counter() < t_end:
                    app.processEvents(QtCore.QEventLoop.ProcessEventsFlag.AllEvents, 5)
            wait_until(app, lambda: not window.measuring.busy and not window.metrics_timer.isActive())
            rows[-1] += (probe.stop(),)
        window.close()

    rng = np.random.default_rng(0)
    ann = Annotations((1754, 1240))
    for i in range(500):
        n = int(rng.integers(5, 31))
        start = rng.uniform((0, 0), (1754, 1240))
        points = start + np.cumsum(rng.normal(0, 15, (n, 2)), axis=0)
        ann.begin_stroke("PVC", float(rng.uniform(3, 12)))
        ann.extend_stroke([tuple(p) for p in points])
        ann.end_stroke()
    per_stroke = ann.history.nbytes / len(ann.history)

    print(f"Machine: {QtCore.QSysInfo.prettyProductName()}, {__import__('os').cpu_count()} CPU cores, "
          f"offscreen Qt, network on the CPU, median of {args.runs} runs after one warm-up\n")
    print("| page | open → overlay on screen (s) | longest event-loop stall, analysing (ms) | "
          "longest stall, 20 strokes with live metrics (ms) |")
    print("|---|---|---|---|")
    for name, t, stall, draw_stall in rows:
        print(f"| {name} | {t:.1f} | {stall:.0f} | {draw_stall:.0f} |")
    print(f"\nUndo history: {per_stroke / 1024:.1f} KB per stroke over 500 brush strokes on an A4 page "
          f"({ann.history.nbytes / 2**20:.2f} MB in all).")


if __name__ == "__main__":
    main()
