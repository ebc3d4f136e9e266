"""The review window, driven as a reader drives it (pytest-qt, offscreen, the shipped network).

Each test makes the window do something a physician does and checks what they would see: the
overlay on screen, the metrics in the panel, the files on disk, the sentence in the dialog.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from PySide6 import QtCore, QtGui, QtWidgets  # noqa: E402

from app.review.window import ReviewWindow  # noqa: E402
from core.review import store  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "resources" / "samples"
ANALYSIS_S = 120_000  # ms: the shipped network on this 2-core CPU takes a few seconds per page


@pytest.fixture
def settings(tmp_path: Path) -> QtCore.QSettings:
    return QtCore.QSettings(str(tmp_path / "settings.ini"), QtCore.QSettings.Format.IniFormat)


@pytest.fixture
def worklist(tmp_path: Path) -> Path:
    folder = tmp_path / "ward"
    folder.mkdir()
    for name in ("sample_scan.jpg", "sample_photo.jpg"):
        shutil.copy(SAMPLES / name, folder / name)
    return folder



def _window(qtbot, settings: QtCore.QSettings, reader: str | None = "Dr Test") -> ReviewWindow:  # type: ignore[no-untyped-def]
    window = ReviewWindow(settings=settings, reader=reader, device="cpu")
    qtbot.addWidget(window)
    window.resize(1200, 800)
    window.show()
    return window


def _open_and_wait(qtbot, window: ReviewWindow, path: Path) -> None:  # type: ignore[no-untyped-def]
    with qtbot.waitSignal(window.analysis_shown, timeout=ANALYSIS_S):
        window.open_path(path)


def _viewport_pos(window: ReviewWindow, x: float, y: float) -> QtCore.QPoint:
    scene = window.canvas.box.mapViewToScene(QtCore.QPointF(x, y))
    return window.canvas.mapFromScene(scene)


def drag(qtbot, window: ReviewWindow, points: list[tuple[float, float]]) -> None:  # type: ignore[no-untyped-def]
    """Press, move through ``points`` (image px) and release the left button, as a mouse does."""
    viewport = window.canvas.viewport()
    left, none = QtCore.Qt.MouseButton.LeftButton, QtCore.Qt.MouseButton.NoButton
    mods = QtCore.Qt.KeyboardModifier.NoModifier

    def send(kind: QtCore.QEvent.Type, pos: QtCore.QPoint, button: QtCore.Qt.MouseButton,
             buttons: QtCore.Qt.MouseButton) -> None:
        local = QtCore.QPointF(pos)
        event = QtGui.QMouseEvent(kind, local, QtCore.QPointF(viewport.mapToGlobal(pos)), button, buttons, mods)
        QtWidgets.QApplication.sendEvent(viewport, event)

    positions = [_viewport_pos(window, x, y) for x, y in points]
    send(QtCore.QEvent.Type.MouseButtonPress, positions[0], left, left)
    for pos in positions[1:]:
        send(QtCore.QEvent.Type.MouseMove, pos, none, left)
        qtbot.wait(5)
    send(QtCore.QEvent.Type.MouseButtonRelease, positions[-1], left, none)


def _drawn(metrics: dict | None) -> bool:
    return metrics is not None  # the metrics of a marking (None: nothing drawn yet)


def test_a_whole_reading_session(qtbot, settings: QtCore.QSettings, worklist: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    window = _window(qtbot, settings)
    with qtbot.waitSignal(window.analysis_shown, timeout=ANALYSIS_S) as shown:
        window.open_path(worklist)
    first = window.doc.path
    assert first.name == "sample_photo.jpg"  # natural order of the folder
    assert shown.args[0].image.path == str(first)
    qtbot.waitUntil(lambda: window.canvas.model_item.image is not None, timeout=30000)  # the purple overlay

    window.select_label("PVC")
    assert window.diagnoses.table.currentItem().text(0).startswith("PVC")
    window.set_tool("brush")
    ann = window.doc.annotations
    panel = window.doc.analysis.geometry.panels[1]
    (x0, y0), (x1, _), (_, y2), _ = panel.quad_px
    ym = (y0 + y2) / 2
    with qtbot.waitSignal(window.metrics_shown, timeout=30000, check_params_cb=_drawn) as first_metrics:
        drag(qtbot, window, [(x0 + 20 + 10 * i, ym) for i in range(30)])
    assert len(ann.history) == 1, "one drag is one undo step"
    assert not ann.is_empty("PVC")
    metrics_one = dict(first_metrics.args[0])
    assert window.compare.value("relevance_mass") == pytest.approx(metrics_one["relevance_mass"])

    with qtbot.waitSignal(window.metrics_shown, timeout=30000, check_params_cb=_drawn) as second_metrics:
        drag(qtbot, window, [(x1 + 20 + 5 * i, ym + 40 + 3 * np.sin(i)) for i in range(30)])  # the next lead
    assert len(ann.history) == 2
    assert second_metrics.args[0] != metrics_one, "the agreement follows the reader's strokes"
    marked = np.array(ann.mask("PVC"))

    window.undo()
    assert int(ann.mask("PVC").sum()) < int(marked.sum())
    window.redo()
    np.testing.assert_array_equal(ann.mask("PVC"), marked)

    window.mark_done()
    assert window.doc.reviewed
    saved = store.annotation_folder(first, "Dr Test")
    assert (saved / "PVC.png").is_file() and store.read_meta(saved)["reviewed"] is True

    window.next_image()
    qtbot.waitUntil(lambda: window.doc.analysis is not None, timeout=ANALYSIS_S)
    assert window.doc.path.name == "sample_scan.jpg"
    assert window.doc.annotations.is_empty("PVC")
    assert window.worklist.status_of(first) == "reviewed"
    window.previous_image()
    qtbot.waitUntil(lambda: window.doc.analysis is not None and window.doc.path == first, timeout=ANALYSIS_S)
    np.testing.assert_array_equal(window.doc.annotations.mask("PVC"), marked)

    pdf, png, csv = tmp_path / "report.pdf", tmp_path / "report.png", tmp_path / "metrics.csv"
    window.export_report(pdf, png, csv)
    assert pdf.read_bytes().startswith(b"%PDF") and png.stat().st_size > 10_000
    assert "PVC" in csv.read_text()
    window.close()

    again = _window(qtbot, settings, reader=None)  # the reader's name was remembered
    assert again.reader == "Dr Test"
    _open_and_wait(qtbot, again, first)
    np.testing.assert_array_equal(again.doc.annotations.mask("PVC"), marked)
    assert again.doc.reviewed
    assert (worklist / "sample_photo.jpg").read_bytes() == (SAMPLES / "sample_photo.jpg").read_bytes()


def test_the_newest_image_wins(qtbot, settings: QtCore.QSettings) -> None:  # type: ignore[no-untyped-def]
    """Opening a second image while the first is analysed shows the second's results only."""
    window = _window(qtbot, settings)
    shown: list[str] = []
    window.analysis_shown.connect(lambda a: shown.append(Path(a.image.path).name))
    window.open_path(SAMPLES / "sample_photo.jpg")
    qtbot.wait(300)  # the first analysis is under way
    window.open_path(SAMPLES / "sample_scan.jpg")
    qtbot.waitUntil(lambda: bool(shown), timeout=ANALYSIS_S)
    qtbot.wait(4000)  # time for a late first result to arrive, were it not dropped
    assert shown == ["sample_scan.jpg"]
    assert window.doc.analysis.image.path.endswith("sample_scan.jpg")
    assert window.canvas.image_item.image.shape[:2] == window.doc.image.rgb.shape[:2]


def test_a_bad_file_gets_one_sentence_and_the_window_stays_usable(qtbot, settings: QtCore.QSettings,
                                                                 tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "cat.png"
    bad.write_bytes(b"meow")
    window = _window(qtbot, settings)
    window.open_path(bad)
    qtbot.waitUntil(lambda: bool(window.last_message), timeout=30000)
    assert "cat.png" in window.last_message and window.last_message.count(". ") <= 1
    assert "Traceback" not in window.last_message
    assert window.canvas.image_item.image is None
    assert bad.read_bytes() == b"meow"
    _open_and_wait(qtbot, window, SAMPLES / "sample_scan.jpg")  # still usable


def test_without_weights_there_is_no_diagnosis_but_the_page_is_shown(qtbot, settings: QtCore.QSettings,
                                                                    tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("ECG_AIO_WEIGHTS", str(tmp_path / "missing" / "model_card.json"))
    window = _window(qtbot, settings)
    window.open_path(SAMPLES / "sample_scan.jpg")
    qtbot.waitUntil(lambda: "No diagnosis" in window.diagnoses.message.text(), timeout=30000)
    assert window.canvas.image_item.image is not None
    assert window.diagnoses.table.topLevelItemCount() == 0  # never a made-up result
    assert window.canvas.model_item.image is None


def test_blinded_reading_hides_the_model_until_done(qtbot, settings: QtCore.QSettings, worklist: Path) -> None:  # type: ignore[no-untyped-def]
    window = _window(qtbot, settings)
    window.toggle_blinded()
    _open_and_wait(qtbot, window, worklist / "sample_scan.jpg")
    assert window.diagnoses.table.topLevelItemCount() == 0
    assert "Blinded" in window.diagnoses.message.text()
    assert not window.canvas.model_item.isVisible() or window.canvas.model_item.image is None
    assert window.signals.intervals.text() == ""   # the network's reading of the intervals too
    with qtbot.waitSignal(window.overlay_shown, timeout=30000):
        window.mark_done()
    assert window.diagnoses.table.topLevelItemCount() == 8
    assert window.canvas.model_item.isVisible() and window.canvas.model_item.image is not None
    assert window.doc.analysis.intervals is not None
    assert window.doc.analysis.intervals.summary() in window.signals.intervals.text()


def test_calipers_measure_through_the_page_geometry(qtbot, settings: QtCore.QSettings) -> None:  # type: ignore[no-untyped-def]
    window = _window(qtbot, settings)
    _open_and_wait(qtbot, window, SAMPLES / "sample_scan.jpg")
    geometry = window.doc.analysis.geometry
    kx, _ = geometry.px_per_mm_xy
    panel = geometry.panels[0]
    (x0, y0), _, (_, y2), _ = panel.quad_px
    window._set_caliper_kind("RR")
    drag(qtbot, window, [(x0 + 10, (y0 + y2) / 2), (x0 + 10 + 10 * kx, (y0 + y2) / 2), (x0 + 10 + 20 * kx, (y0 + y2) / 2)])
    assert window.last_measurement.dt_ms == pytest.approx(800, abs=20)  # 20 mm at 25 mm/s
    assert "bpm" in window.statusBar().currentMessage()


CRASHING_SESSION = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from PySide6 import QtCore, QtWidgets
    app = QtWidgets.QApplication([])
    from app.review.window import ReviewWindow
    image, settings_path = Path(sys.argv[1]), sys.argv[2]
    window = ReviewWindow(settings=QtCore.QSettings(settings_path, QtCore.QSettings.Format.IniFormat),
                          reader="Dr Crash", device="cpu")
    window.show()
    window.open_path(image)
    while window.doc.image is None:
        app.processEvents(); time.sleep(0.01)
    window.set_tool("brush")
    window.select_label("PVC")
    for i in range(6):
        window._stroke([(200 + 40 * i, 300), (230 + 40 * i, 340)])
        t = time.time()
        while time.time() - t < 0.6:  # longer than the autosave delay
            app.processEvents(); time.sleep(0.01)
        print("stroke", i + 1, flush=True)
    while True:  # the reader keeps working until the machine dies
        app.processEvents(); time.sleep(0.01)
""")


def test_a_killed_session_loses_no_saved_stroke(tmp_path: Path) -> None:
    image = tmp_path / "ecg.jpg"
    shutil.copy(SAMPLES / "sample_scan.jpg", image)
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "ECG_AIO_ANNOTATIONS": str(tmp_path / "fallback"),
           "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-c", CRASHING_SESSION, str(image), str(tmp_path / "s.ini")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=REPO)
    try:
        for line in proc.stdout:  # type: ignore[union-attr]
            if line.strip() == "stroke 6":
                break
        else:
            pytest.fail(f"the session ended early: {proc.stderr.read()}")  # type: ignore[union-attr]
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait(timeout=30)
    folder = store.annotation_folder(image, "Dr Crash")
    annotations, meta = store.load(folder, (1754, 1240))
    assert meta["reader"] == "Dr Crash"
    ref = np.zeros((1240, 1754), np.uint8)
    import cv2

    for i in range(6):  # the same strokes, drawn independently of the window
        cv2.line(ref, (200 + 40 * i, 300), (230 + 40 * i, 340), 1, 1)
    assert annotations.labels_drawn() == ["PVC"]
    assert annotations.mask("PVC")[ref > 0].all(), "every stroke made before the kill is back"
    assert not any(p.name.endswith(".tmp") for p in folder.iterdir()), "no half-written file"
    assert image.read_bytes() == (SAMPLES / "sample_scan.jpg").read_bytes()


def test_what_is_drawn_on_screen_is_the_marking(qtbot, settings: QtCore.QSettings, worklist: Path) -> None:  # type: ignore[no-untyped-def]
    """Edits redraw only the tiles they touch; the result must equal a full redraw of the masks."""
    window = _window(qtbot, settings)
    _open_and_wait(qtbot, window, worklist / "sample_scan.jpg")  # a copy: strokes are saved beside it
    window.set_tool("brush")
    window.select_label("AF")
    window._stroke([(100.0, 300.0), (1500.0, 320.0)])
    window.select_label("PVC")
    window._stroke([(700.0, 100.0), (720.0, 1200.0)])  # crosses AF's stroke and a tile edge (512 px)
    window.set_tool("eraser")
    window._stroke([(650.0, 310.0), (800.0, 310.0)])
    window.set_tool("rectangle")
    window._edit(lambda a, k: a.rectangle(k, (1000, 1000), (1100, 1050)))
    shown = window.canvas.reader_item
    np.testing.assert_array_equal(shown.image, window._reader_rgba())
    tile = shown.TILE_PX
    for (i, j), item in shown._tiles.items():
        np.testing.assert_array_equal(item.image, shown.image[j * tile:(j + 1) * tile, i * tile:(i + 1) * tile])
    drawn = {(x // tile, y // tile) for y, x in zip(*np.nonzero(shown.image[..., 3]))}
    assert drawn <= set(shown._tiles), "every drawn pixel lies on a tile"
