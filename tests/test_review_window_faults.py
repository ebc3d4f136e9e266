"""The review window where a reading session leaves the happy path (pytest-qt, offscreen, the shipped network).

Multi-page files, a read-only image folder, keyboard-only work, a device that is not there,
drag and drop, recent files, a damaged saved annotation and a cancelled analysis: each test
does what a physician does and checks what they would see (the page on screen, the sentence
in the dialog, the files on disk). The network is never mocked.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from PIL import Image  # noqa: E402
from PySide6 import QtCore, QtGui, QtWidgets  # noqa: E402

from app.review.window import ReviewWindow  # noqa: E402
from core.labels import LABELS  # noqa: E402
from core.review import store  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "resources" / "samples"
ANALYSIS_S = 120_000  # ms: the shipped network on a 2-core CPU takes a few seconds per page
Key = QtCore.Qt.Key
Mod = QtCore.Qt.KeyboardModifier


@pytest.fixture
def settings(tmp_path: Path) -> QtCore.QSettings:
    return QtCore.QSettings(str(tmp_path / "settings.ini"), QtCore.QSettings.Format.IniFormat)



@pytest.fixture(autouse=True)
def no_analysis_left_running(qtbot):  # type: ignore[no-untyped-def]
    """A test that ends with an analysis under way waits for it, so the next test has both cores."""
    yield
    QtCore.QThreadPool.globalInstance().waitForDone(ANALYSIS_S)


@pytest.fixture(scope="module")
def two_page_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A PDF and a TIFF whose page 1 is the bundled scan and page 2 the bundled photo."""
    folder = tmp_path_factory.mktemp("two_pages")
    scan = Image.open(SAMPLES / "sample_scan.jpg").convert("RGB")
    photo = Image.open(SAMPLES / "sample_photo.jpg").convert("RGB")
    pdf, tif = folder / "two_pages.pdf", folder / "two_pages.tif"
    # fresh copies for each file: Pillow's PDF writer leaves JPEG settings on the images it saved
    scan.copy().save(pdf, save_all=True, append_images=[photo.copy()], resolution=200.0)  # 200 dpi: same px
    scan.copy().save(tif, save_all=True, append_images=[photo.copy()], compression="tiff_deflate")
    return {"pdf": pdf, "tif": tif}


def _window(qtbot, settings: QtCore.QSettings, reader: str | None = "Dr Test",  # type: ignore[no-untyped-def]
            device: str = "cpu") -> ReviewWindow:
    window = ReviewWindow(settings=settings, reader=reader, device=device)
    qtbot.addWidget(window)
    window.resize(1200, 800)
    window.show()
    qtbot.waitExposed(window)
    return window


def _open_and_wait(qtbot, window: ReviewWindow, path: Path) -> None:  # type: ignore[no-untyped-def]
    with qtbot.waitSignal(window.analysis_shown, timeout=ANALYSIS_S,
                          check_params_cb=lambda a: Path(a.image.path) == Path(path)):
        window.open_path(path)


def _press(qtbot, window: ReviewWindow, key: Key, modifiers: Mod = Mod.NoModifier) -> None:  # type: ignore[no-untyped-def]
    """A key pressed as on a keyboard: the window is active and the key goes to the focused widget."""
    if QtWidgets.QApplication.activeWindow() is not window:
        window.activateWindow()
        window.raise_()
        qtbot.waitUntil(lambda: QtWidgets.QApplication.activeWindow() is window, timeout=5000)
    qtbot.keyClick(QtWidgets.QApplication.focusWidget() or window, key, modifiers)


def _one_sentence(message: str) -> bool:
    """One plain sentence: no line break, no traceback, one full stop and it is at the end."""
    text = message.strip()
    return (bool(text) and "\n" not in text and "Traceback" not in text and text[-1] in ".!?"
            and re.search(r"[.!?]\s", text[:-1]) is None)


def _visible_page_dialogs(window: ReviewWindow) -> list[QtWidgets.QInputDialog]:
    return [d for d in window.findChildren(QtWidgets.QInputDialog) if d.isVisible()]


def _shown_pixels(window: ReviewWindow) -> np.ndarray:
    image = window.canvas.image_item.image
    assert image is not None, "no page on screen"
    return np.asarray(image)


def _mean_diff(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute difference of two pages (a PDF page may be rendered a pixel wider)."""
    assert a.ndim == b.ndim and all(abs(m - n) <= 2 for m, n in zip(a.shape, b.shape)), (a.shape, b.shape)
    h, w = min(a.shape[0], b.shape[0]), min(a.shape[1], b.shape[1])
    return float(np.abs(a[:h, :w].astype(np.int16) - b[:h, :w].astype(np.int16)).mean())


def _told(window: ReviewWindow) -> str:
    """The last sentence the window showed in a dialog ('' when none yet)."""
    return getattr(window, "last_message", "") or ""


# ================================================================ 1. multi-page PDF and TIFF
@pytest.mark.parametrize("kind", ["pdf", "tif"])
def test_a_two_page_file_asks_which_page_and_shows_page_two(qtbot, settings: QtCore.QSettings,  # type: ignore[no-untyped-def]
                                                             two_page_files: dict[str, Path], kind: str) -> None:
    path = two_page_files[kind]
    scan = np.asarray(Image.open(SAMPLES / "sample_scan.jpg").convert("RGB"))
    photo = np.asarray(Image.open(SAMPLES / "sample_photo.jpg").convert("RGB"))
    window = _window(qtbot, settings)
    shown: list = []
    window.analysis_shown.connect(shown.append)
    window.open_path(path)
    qtbot.waitUntil(lambda: bool(_visible_page_dialogs(window)), timeout=60_000)
    dialog, = _visible_page_dialogs(window)
    assert path.name in dialog.labelText() and "2 pages" in dialog.labelText()
    assert _mean_diff(_shown_pixels(window), scan) < 12, "page 1 is shown while the reader chooses"

    dialog.findChild(QtWidgets.QSpinBox).setValue(2)
    ok = dialog.findChild(QtWidgets.QDialogButtonBox).button(QtWidgets.QDialogButtonBox.StandardButton.Ok)
    with qtbot.waitSignal(window.analysis_shown, timeout=ANALYSIS_S, check_params_cb=lambda a: a.image.page == 2):
        qtbot.mouseClick(ok, QtCore.Qt.MouseButton.LeftButton)
    assert window.doc.page == 2 and window.doc.analysis.image.page == 2
    on_screen = _shown_pixels(window)
    assert _mean_diff(on_screen, photo) < 12 < _mean_diff(on_screen, scan), "page 2's pixels are on screen"
    assert window.diagnoses.table.topLevelItemCount() == len(LABELS)
    qtbot.waitUntil(lambda: window.canvas.model_item.image is not None, timeout=30000)  # page 2's overlay
    assert not _visible_page_dialogs(window), "asked once, not again for the page chosen"
    assert shown[-1] is window.doc.analysis, "no late page-1 result replaced page 2"

    window._stroke([(300.0, 400.0), (500.0, 420.0)])  # page 2's annotation goes in page 2's folder
    window.save_now()
    assert (store.annotation_folder(path, "Dr Test", page=2) / store.JSON_NAME).is_file()
    assert not (store.annotation_folder(path, "Dr Test", page=1) / store.JSON_NAME).exists()


def test_a_page_past_the_end_gets_one_sentence_and_the_window_stays_usable(qtbot, settings: QtCore.QSettings,  # type: ignore[no-untyped-def]
                                                                           two_page_files: dict[str, Path]) -> None:
    pdf = two_page_files["pdf"]
    window = _window(qtbot, settings)
    window.open_path(pdf, page=3)
    qtbot.waitUntil(lambda: bool(_told(window)), timeout=30_000)
    assert pdf.name in window.last_message
    assert _one_sentence(window.last_message), window.last_message
    assert window.canvas.image_item.image is None
    assert window.diagnoses.table.topLevelItemCount() == 0
    _open_and_wait(qtbot, window, SAMPLES / "sample_scan.jpg")  # still usable
    assert window.diagnoses.table.topLevelItemCount() == len(LABELS)


# ================================================================ 2. read-only image folder
READ_ONLY_SESSION = textwrap.dedent("""
    import json, os, sys, time
    from pathlib import Path
    from PySide6 import QtCore, QtWidgets
    app = QtWidgets.QApplication([])
    from app.review.window import ReviewWindow
    image, settings_path = Path(sys.argv[1]), sys.argv[2]
    window = ReviewWindow(settings=QtCore.QSettings(settings_path, QtCore.QSettings.Format.IniFormat),
                          reader="Dr Read", device="cpu")
    window.show()
    window.open_path(image)
    deadline = time.time() + 60
    while window.doc.image is None and time.time() < deadline:
        app.processEvents(); time.sleep(0.01)
    window.set_tool("brush")
    window._stroke([(300.0, 400.0), (500.0, 420.0), (700.0, 400.0)])
    t = time.time()
    while time.time() - t < 1.5:  # well past the autosave delay
        app.processEvents(); time.sleep(0.01)
    print(json.dumps({"message": getattr(window, "last_message", None),
                      "loaded": window.doc.image is not None}), flush=True)
    os._exit(0)  # the analysis may still run: this session ends here
""")


def _without_root_override() -> list[str]:
    """The command prefix that runs a child without root's permission override ([] when not root)."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root and setpriv (util-linux) is not installed: a read-only folder "
                    "cannot be made read-only for root")
    return [setpriv, "--bounding-set=-dac_override", "--inh-caps=-all"]


def test_a_read_only_folder_saves_elsewhere_and_says_where(tmp_path: Path) -> None:
    prefix = _without_root_override()
    folder = tmp_path / "archive"
    folder.mkdir()
    image = folder / "ecg.jpg"
    shutil.copy(SAMPLES / "sample_scan.jpg", image)
    fallback = tmp_path / "fallback"
    folder.chmod(0o555)
    try:
        probe = subprocess.run([*prefix, sys.executable, "-c", f"open({str(folder / 'probe')!r}, 'w')"],
                               capture_output=True, text=True)
        if probe.returncode == 0:
            (folder / "probe").unlink()
            pytest.skip("this process cannot make a folder read-only for its child (setpriv could not drop "
                        "CAP_DAC_OVERRIDE here)")
        env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "ECG_AIO_ANNOTATIONS": str(fallback),
               "PYTHONPATH": str(REPO)}
        proc = subprocess.run([*prefix, sys.executable, "-c", READ_ONLY_SESSION, str(image), str(tmp_path / "s.ini")],
                              capture_output=True, text=True, env=env, cwd=REPO, timeout=180)
    finally:
        folder.chmod(0o755)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["loaded"], proc.stderr[-3000:]
    saved = store.annotation_folder(image, "Dr Read", 1, fallback)
    message = result["message"] or ""
    assert "read-only" in message and image.name in message, message
    assert str(saved) in message, f"the message says where the annotation went: {message}"
    assert _one_sentence(message), message
    annotations, meta = store.load(saved, (1754, 1240))
    assert meta["reader"] == "Dr Read" and annotations.labels_drawn(), "the stroke was saved in the fallback"
    assert sorted(p.name for p in folder.iterdir()) == ["ecg.jpg"], "nothing written beside the image"
    assert image.read_bytes() == (SAMPLES / "sample_scan.jpg").read_bytes()


# ================================================================ 3. keyboard only
def _shortcut_box_keys(box: QtWidgets.QMessageBox) -> set[str]:
    keys: set[str] = set()
    for cell in re.findall(r"<b>(.*?)</b>", box.text()):
        for part in cell.split(", "):
            keys.add(QtGui.QKeySequence(part).toString())
    return keys


def _reader_on_screen(window: ReviewWindow) -> bool:
    """Is any of the reader's marking drawn on the canvas?"""
    image = window.canvas.reader_item.image
    return image is not None and bool(image[..., 3].any())


def test_a_reading_session_by_keyboard_only(qtbot, settings: QtCore.QSettings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ward = tmp_path / "ward"
    ward.mkdir()
    for name in ("sample_scan.jpg", "sample_photo.jpg"):
        shutil.copy(SAMPLES / name, ward / name)
    window = _window(qtbot, settings)
    with qtbot.waitSignal(window.analysis_shown, timeout=ANALYSIS_S):
        window.open_path(ward)
    first = window.doc.path
    assert first.name == "sample_photo.jpg"

    for i, label in enumerate(LABELS):  # digits choose the label
        _press(qtbot, window, Key(Key.Key_1.value + i))
        assert window.selected == label and window.label_box.currentData() == label, label
    _press(qtbot, window, Key.Key_5)
    label = LABELS[4]

    _press(qtbot, window, Key.Key_B)
    assert window.canvas.tool == "brush" and window.tool_actions["brush"].isChecked()
    ann = window.doc.annotations
    window._stroke([(400.0, 500.0), (600.0, 520.0), (800.0, 500.0)])
    marked = np.array(ann.mask(label))
    assert marked.any()
    _press(qtbot, window, Key.Key_Z, Mod.ControlModifier)
    assert ann.is_empty(label) and not _reader_on_screen(window)
    _press(qtbot, window, Key.Key_Z, Mod.ControlModifier | Mod.ShiftModifier)
    np.testing.assert_array_equal(ann.mask(label), marked)
    assert _reader_on_screen(window)
    _press(qtbot, window, Key.Key_Z, Mod.ControlModifier)
    assert ann.is_empty(label)
    _press(qtbot, window, Key.Key_Y, Mod.ControlModifier)
    np.testing.assert_array_equal(ann.mask(label), marked)

    qtbot.waitUntil(lambda: window.canvas.model_item.image is not None, timeout=30000)
    assert window.canvas.model_item.isVisible()
    _press(qtbot, window, Key.Key_M)
    assert not window.canvas.model_item.isVisible() and not window.layer_actions["model"].isChecked()
    _press(qtbot, window, Key.Key_M)
    assert window.canvas.model_item.isVisible() and window.layer_actions["model"].isChecked()

    # Ctrl+B (blinded reading) is checked in a child process below: with a label chosen, it crashes the window

    _press(qtbot, window, Key.Key_D, Mod.ControlModifier)
    assert window.doc.reviewed and window.done_action.isChecked()
    assert store.read_meta(store.annotation_folder(first, "Dr Test"))["reviewed"] is True

    _press(qtbot, window, Key.Key_F1)
    box = window.shortcut_box
    qtbot.waitUntil(box.isVisible, timeout=5000)
    listed = _shortcut_box_keys(box)
    every = {seq.toString() for action in window.actions() for seq in action.shortcuts()}
    assert every and every <= listed, f"not in the F1 box: {sorted(every - listed)}"
    qtbot.keyClick(box, Key.Key_Escape)
    qtbot.waitUntil(lambda: not box.isVisible(), timeout=5000)

    with qtbot.waitSignal(window.analysis_shown, timeout=ANALYSIS_S,
                          check_params_cb=lambda a: Path(a.image.path).name == "sample_scan.jpg"):
        _press(qtbot, window, Key.Key_PageDown)
    assert window.doc.path.name == "sample_scan.jpg" and window.doc.annotations.is_empty(label)
    with qtbot.waitSignal(window.analysis_shown, timeout=ANALYSIS_S,
                          check_params_cb=lambda a: Path(a.image.path) == first):
        _press(qtbot, window, Key.Key_PageUp)
    assert window.doc.path == first and window.doc.reviewed
    np.testing.assert_array_equal(window.doc.annotations.mask(label), marked)


KEYBOARD_BLINDING = textwrap.dedent("""
    import json, sys, time
    from PySide6 import QtCore, QtWidgets
    from PySide6.QtTest import QTest
    app = QtWidgets.QApplication([])
    from app.review.window import ReviewWindow
    image, settings_path = sys.argv[1], sys.argv[2]
    window = ReviewWindow(settings=QtCore.QSettings(settings_path, QtCore.QSettings.Format.IniFormat),
                          reader="Dr Keys", device="cpu")
    window.resize(1200, 800)
    window.show()
    shown = []
    window.analysis_shown.connect(shown.append)
    window.open_path(image)
    deadline = time.time() + 120
    while not shown and time.time() < deadline:
        app.processEvents(); time.sleep(0.01)
    window.activateWindow()
    QTest.qWaitForWindowActive(window)

    def press(key, mods=QtCore.Qt.KeyboardModifier.NoModifier):
        QTest.keyClick(QtWidgets.QApplication.focusWidget() or window, key, mods)
        app.processEvents()

    def state(step):
        print(json.dumps({"step": step, "analysed": bool(shown), "selected": window.selected,
                          "blinded": window.blinded, "rows": window.diagnoses.table.topLevelItemCount(),
                          "model_visible": window.canvas.model_item.isVisible(),
                          "model_drawn": window.canvas.model_item.image is not None}), flush=True)

    press(QtCore.Qt.Key.Key_5)  # a label the reader chose (not the network's headline)
    state("chosen")
    press(QtCore.Qt.Key.Key_B, QtCore.Qt.KeyboardModifier.ControlModifier)
    state("blinded")
    press(QtCore.Qt.Key.Key_B, QtCore.Qt.KeyboardModifier.ControlModifier)
    deadline = time.time() + 30  # the overlay is drawn in a worker
    while window.canvas.model_item.image is None and time.time() < deadline:
        app.processEvents(); time.sleep(0.01)
    state("unblinded")
""")


def test_ctrl_b_blinds_and_unblinds_a_reading_in_progress(tmp_path: Path) -> None:
    """Ctrl+B during a reading, after the reader chose a label (a child process: a crash fails the test only)."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "ECG_AIO_ANNOTATIONS": str(tmp_path / "fallback"),
           "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-X", "faulthandler", "-c", KEYBOARD_BLINDING,
                           str(SAMPLES / "sample_scan.jpg"), str(tmp_path / "s.ini")],
                          capture_output=True, text=True, env=env, cwd=REPO, timeout=300)
    states = {s["step"]: s for s in (json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{"))}
    assert states.get("chosen", {}).get("analysed"), proc.stderr[-3000:]
    assert states["chosen"]["selected"] == LABELS[4]
    crash = proc.stderr[proc.stderr.find("Fatal Python error"):].split("Extension modules")[0]
    assert proc.returncode == 0, f"the window crashed (exit {proc.returncode}) after {list(states)}: {crash[:2500]}"
    blinded, unblinded = states["blinded"], states["unblinded"]
    assert blinded["blinded"] and blinded["rows"] == 0 and not blinded["model_visible"]
    assert not unblinded["blinded"] and unblinded["rows"] == len(LABELS) and unblinded["model_visible"]
    assert unblinded["model_drawn"] and unblinded["selected"] == LABELS[4]


def test_no_two_actions_share_a_shortcut(qtbot, settings: QtCore.QSettings) -> None:  # type: ignore[no-untyped-def]
    """An ambiguous shortcut does nothing at all in Qt: every key must belong to one action."""
    window = _window(qtbot, settings)
    owners: dict[str, list[str]] = {}
    for action in window.findChildren(QtGui.QAction):
        for seq in action.shortcuts():
            owners.setdefault(seq.toString(), []).append(action.text())
    assert owners and not {k: v for k, v in owners.items() if len(v) > 1}


# ================================================================ 4. device menu
@pytest.mark.parametrize("start", ["cpu", "auto"])
def test_choosing_cuda_without_a_gpu_keeps_the_device_and_says_so(qtbot, settings: QtCore.QSettings,  # type: ignore[no-untyped-def]
                                                                  start: str) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA: the fault cannot be shown here")
    window = _window(qtbot, settings, device=start)
    window.device_actions["cuda"].trigger()  # Analysis ▸ Device ▸ CUDA
    assert window.device == start
    assert window.device_actions[start].isChecked() and not window.device_actions["cuda"].isChecked()
    assert settings.value("device", "auto") != "cuda"
    assert not window.analysing.busy
    assert "CUDA" in window.last_message
    assert _one_sentence(window.last_message), window.last_message


# ================================================================ 5. drag and drop
def _drag_and_drop(window: ReviewWindow, target: QtWidgets.QWidget, path: Path) -> tuple[bool, bool, Any]:
    """Drag ``path`` from a file manager over ``target`` and drop it, as Qt delivers it to the
    window (enter, then a move pre-accepted as the enter was, then the drop). Returns whether
    the move was accepted (the pointer shows that a drop is possible), whether the drop was
    accepted and the drop action the file manager is told."""
    mime = QtCore.QMimeData()
    mime.setUrls([QtCore.QUrl.fromLocalFile(str(path))])
    actions = QtCore.Qt.DropAction.CopyAction | QtCore.Qt.DropAction.MoveAction | QtCore.Qt.DropAction.LinkAction
    pos = QtCore.QPointF(target.mapTo(window, target.rect().center()))
    none, mods = QtCore.Qt.MouseButton.NoButton, Mod.NoModifier
    win = window.windowHandle()
    enter = QtGui.QDragEnterEvent(pos.toPoint(), actions, mime, none, mods)
    QtWidgets.QApplication.sendEvent(win, enter)
    move = QtGui.QDragMoveEvent(pos.toPoint(), actions, mime, none, mods)
    if enter.isAccepted() and enter.dropAction() != QtCore.Qt.DropAction.IgnoreAction:
        move.setDropAction(enter.dropAction())
        move.accept()
    QtWidgets.QApplication.sendEvent(win, move)
    drop = QtGui.QDropEvent(pos, actions, mime, none, mods)
    if move.isAccepted():
        QtWidgets.QApplication.sendEvent(win, drop)
    return move.isAccepted(), drop.isAccepted(), drop.dropAction()  # (the events die with ``mime``)


def test_dropping_a_file_on_the_page_opens_it(qtbot, settings: QtCore.QSettings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    image = tmp_path / "dropped ecg.jpg"
    shutil.copy(SAMPLES / "sample_photo.jpg", image)
    window = _window(qtbot, settings)
    with qtbot.waitSignal(window.analysis_shown, timeout=ANALYSIS_S,
                          check_params_cb=lambda a: Path(a.image.path) == image):
        droppable, _, _ = _drag_and_drop(window, window.canvas, image)
        assert droppable, "the pointer says the file can be dropped on the page"
    assert window.doc.path == image and image.name in window.windowTitle()
    assert window.diagnoses.table.topLevelItemCount() == len(LABELS)


def test_a_drop_tells_the_file_manager_it_was_taken(qtbot, settings: QtCore.QSettings) -> None:  # type: ignore[no-untyped-def]
    window = _window(qtbot, settings)
    _, accepted, action = _drag_and_drop(window, window.canvas, SAMPLES / "sample_scan.jpg")
    assert window.doc is not None and window.doc.path.name == "sample_scan.jpg"
    window.cancel_analysis()
    assert accepted and action == QtCore.Qt.DropAction.CopyAction, \
        f"the file manager is told the drop was refused (accepted={accepted}, action={action})"


# ================================================================ 6. recent files
def _recent_entries(window: ReviewWindow) -> list[tuple[str, str]]:
    file_menu = next(a.menu() for a in window.menuBar().actions() if a.text().replace("&", "") == "File")
    recent = next(a.menu() for a in file_menu.actions() if a.menu() is not None and "recent" in a.text().lower())
    assert recent.isEnabled()
    return [(a.text(), a.toolTip()) for a in recent.actions()]


def test_recent_files_newest_first_and_remembered(qtbot, settings: QtCore.QSettings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    first, second = tmp_path / "first.jpg", tmp_path / "second.jpg"
    shutil.copy(SAMPLES / "sample_scan.jpg", first)
    shutil.copy(SAMPLES / "sample_photo.jpg", second)
    window = _window(qtbot, settings)
    window.open_path(first)
    _open_and_wait(qtbot, window, second)
    expected = [(second.name, str(second)), (first.name, str(first))]
    assert _recent_entries(window) == expected
    window.close()
    settings.sync()

    again = _window(qtbot, QtCore.QSettings(settings.fileName(), QtCore.QSettings.Format.IniFormat), reader=None)
    assert _recent_entries(again) == expected  # the next session: same list, same order
    file_menu = next(a.menu() for a in again.menuBar().actions() if a.text().replace("&", "") == "File")
    recent = next(a.menu() for a in file_menu.actions() if a.menu() is not None and "recent" in a.text().lower())
    with qtbot.waitSignal(again.analysis_shown, timeout=ANALYSIS_S, check_params_cb=lambda a: Path(a.image.path) == first):
        recent.actions()[1].trigger()
    assert _recent_entries(again) == expected[::-1]


# ================================================================ 7. a damaged saved annotation
def test_a_damaged_saved_annotation_is_reported_and_never_overwritten(qtbot, settings: QtCore.QSettings,  # type: ignore[no-untyped-def]
                                                                      tmp_path: Path) -> None:
    image = tmp_path / "ecg.jpg"
    shutil.copy(SAMPLES / "sample_scan.jpg", image)
    saved = store.annotation_folder(image, "Dr Test")
    saved.mkdir(parents=True)
    garbage = b'{"schema": "ecg-aio/annotation@1", "labels": {"PVC": \x00\xff garbage'
    (saved / store.JSON_NAME).write_bytes(garbage)
    window = _window(qtbot, settings)
    _open_and_wait(qtbot, window, image)
    assert _told(window), "the reader is told"
    assert store.JSON_NAME in window.last_message or image.name in window.last_message, window.last_message
    window.select_label("PVC")
    window.set_tool("brush")
    window._stroke([(300.0, 400.0), (500.0, 420.0)])
    qtbot.wait(1000)  # past the autosave delay
    window.save_now()
    window.close()
    assert (saved / store.JSON_NAME).read_bytes() == garbage
    assert sorted(p.name for p in saved.iterdir()) == [store.JSON_NAME]
    assert _one_sentence(window.last_message), window.last_message


# ================================================================ 8. cancel
@pytest.mark.parametrize("delay_ms", [0, 500])
def test_a_cancelled_analysis_shows_nothing_until_analysed_again(qtbot, settings: QtCore.QSettings,  # type: ignore[no-untyped-def]
                                                                 delay_ms: int) -> None:
    window = _window(qtbot, settings)
    shown: list = []
    window.analysis_shown.connect(shown.append)
    window.open_path(SAMPLES / "sample_scan.jpg")
    if delay_ms:
        qtbot.wait(delay_ms)
    assert window.analysing.busy and window.cancel_button.isVisible(), "an analysis is under way"
    window.cancel_analysis()
    assert QtCore.QThreadPool.globalInstance().waitForDone(30_000), "the cancelled analysis stops"
    qtbot.wait(1000)  # any late result would be delivered by now
    assert shown == [] and window.doc.analysis is None
    assert "cancelled" in window.diagnoses.message.text().lower()
    assert window.diagnoses.table.topLevelItemCount() == 0
    assert window.canvas.model_item.image is None
    assert window.progress.isHidden() and window.cancel_button.isHidden()

    with qtbot.waitSignal(window.analysis_shown, timeout=ANALYSIS_S):
        _press(qtbot, window, Key.Key_R, Mod.ControlModifier)
    assert len(shown) == 1 and window.doc.analysis is shown[0]
    assert window.diagnoses.table.topLevelItemCount() == len(LABELS)
    qtbot.waitUntil(lambda: window.canvas.model_item.image is not None, timeout=30000)
