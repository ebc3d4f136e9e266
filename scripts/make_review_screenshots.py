"""Screenshots of the review window for docs/review.md and the README.

    xvfb-run -s "-screen 0 1600x1000x24" python scripts/make_review_screenshots.py [--out docs/images/review]

Opens, in a real (virtual) display, a real phone photograph from the shared data
(photo_handheld_01.jpg, ecg-image-kit, BSD-3) and the bundled scan sample, copied into a
temporary folder (nothing is written beside the shared data); then a blinded reader study of
those two and the report of a 4-page demo study (simulated readers). The reader's marking is drawn by
this script with the window's own brush — a coarse band over lead II standing in for a
physician's, not a clinical annotation.
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from PySide6 import QtCore, QtWidgets  # noqa: E402


def settle(app: QtWidgets.QApplication, seconds: float = 0.5) -> None:
    t_end = time.perf_counter() + seconds
    while time.perf_counter() < t_end:
        app.processEvents()
        time.sleep(0.01)


def wait_analysed(app: QtWidgets.QApplication, window) -> None:  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    while window.doc is None or window.doc.analysis is None or window.labelling.busy:
        app.processEvents()
        time.sleep(0.01)
        if time.perf_counter() - t0 > 300:
            raise TimeoutError("no analysis")
    settle(app, 0.5)


def select_and_wait(app: QtWidgets.QApplication, window, key: str) -> None:  # type: ignore[no-untyped-def]
    """Select a label and wait until its overlay and profile are drawn (a worker computes them)."""
    shown: list[str] = []
    window.overlay_shown.connect(shown.append)
    window.select_label(key)
    t0 = time.perf_counter()
    while key not in shown and time.perf_counter() - t0 < 60:
        app.processEvents()
        time.sleep(0.01)
    window.overlay_shown.disconnect()
    settle(app, 0.5)


def mark_lead(window, lead: str, rows: int = 1) -> None:  # type: ignore[no-untyped-def]
    """Brush along the middle of every panel of ``lead`` (the selected label), one drag each."""
    geometry = window.doc.analysis.geometry
    for panel in geometry.panels:
        if panel.lead != lead:
            continue
        (x0, y0), (x1, y1), (x2, y2), (x3, y3) = panel.quad_px
        for k in range(rows):
            f = 0.45 + 0.1 * k
            left = (x0 + (x3 - x0) * f, y0 + (y3 - y0) * f)
            right = (x1 + (x2 - x1) * f, y1 + (y2 - y1) * f)
            points = [(left[0] + (right[0] - left[0]) * t / 40, left[1] + (right[1] - left[1]) * t / 40) for t in range(41)]
            window._stroke(points)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "images" / "review")
    args = parser.parse_args()
    from core.io.records import data_dir

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv[:1])
    from app.review.window import ReviewWindow

    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "ward"
        folder.mkdir()
        photo = folder / "photo_handheld_01.jpg"
        shutil.copy(data_dir() / "images" / photo.name, photo)
        shutil.copy(REPO / "resources" / "samples" / "sample_scan.jpg", folder / "sample_scan.jpg")
        settings = QtCore.QSettings(str(Path(tmp) / "s.ini"), QtCore.QSettings.Format.IniFormat)
        window = ReviewWindow(settings=settings, reader="Dr Example", device="cpu")
        window.resize(1600, 1000)
        window.show()
        window.open_path(folder)
        wait_analysed(app, window)

        # 1. the photograph with the model's headline finding and its warnings
        select_and_wait(app, window, window.doc.analysis.headline())
        window.grab().save(str(args.out / "photo_overlay.png"))

        # 2. the reader marks lead II (P waves, sinus rhythm): agreement colours and metrics
        select_and_wait(app, window, "SR")
        window.set_tool("brush")
        for _ in range(3):
            window.change_brush(+1)
        mark_lead(window, "II", rows=2)
        window.set_compare_mode("agreement")
        window.docks["compare"].raise_()
        settle(app, 3.0)
        window.grab().save(str(args.out / "photo_compare.png"))
        window.export_report(None, args.out / "report.png")  # the one-page report of this comparison

        # 3. side by side: the model (left) and the reader (right), linked
        window.set_compare_mode("side_by_side")
        settle(app, 1.0)
        window.grab().save(str(args.out / "photo_side_by_side.png"))

        # 4. the scan with its page geometry, then its decoded leads
        window.set_compare_mode("overlay")
        window.next_image()
        wait_analysed(app, window)
        window.toggle_layer("geometry")
        window.docks["diagnoses"].raise_()
        settle(app, 1.0)
        window.grab().save(str(args.out / "scan_geometry.png"))
        window.docks["signals"].raise_()
        settle(app, 1.0)
        window.grab().save(str(args.out / "scan_decoded_leads.png"))
        window.close()

        # 5. a blinded reader study: the reader's own queue and progress, the model hidden
        from core.study.demo import make_demo_study
        from core.study.study import init_study

        ward = Path(tmp) / "study"
        ward.mkdir()
        for image in (photo, folder / "sample_scan.jpg"):
            shutil.copy(image, ward / image.name)
        init_study(ward, ("AFL", "PVC"), ("dr-a", "dr-b"), blinded=True, seed=0, name="ward round")
        window = ReviewWindow(settings=settings, reader="dr-a", device="cpu")
        window.resize(1600, 1000)
        window.show()
        window.open_path(ward)
        wait_analysed(app, window)
        window.docks["diagnoses"].raise_()
        settle(app, 0.5)
        window.grab().save(str(args.out / "study_reading.png"))

        # 6. a study's report in the window (the demo study: simulated readers)
        demo = Path(tmp) / "demo"
        make_demo_study(demo, n_images=4, seed=0)
        window.study_report(demo)
        t0 = time.perf_counter()
        while window.report_view is None and time.perf_counter() - t0 < 600:
            app.processEvents()
            time.sleep(0.01)
        settle(app, 1.0)
        window.report_view.resize(1100, 900)
        settle(app, 0.5)
        window.report_view.grab().save(str(args.out / "study_report.png"))
        window.close()
    print(f"screenshots in {args.out}")


if __name__ == "__main__":
    main()
