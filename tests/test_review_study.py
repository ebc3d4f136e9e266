"""Reading a study in the window: the reader's own queue and progress, blinding until their
annotation is saved, a decision on every study label, and the study report shown in the window."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

pytest.importorskip("pytestqt")

from PySide6 import QtCore  # noqa: E402

from app.review.window import ReviewWindow  # noqa: E402
from core.review import store  # noqa: E402
from core.study.study import init_study, load_study, reader_order  # noqa: E402

SAMPLES = Path(__file__).resolve().parents[1] / "resources" / "samples"
ANALYSIS_MS = 120_000


@pytest.fixture
def study_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "study"
    folder.mkdir()
    for name in ("sample_scan.jpg", "sample_photo.jpg"):
        shutil.copy(SAMPLES / name, folder / name)
    init_study(folder, ("AFL", "PVC"), ("dr-a", "dr-b"), blinded=True, seed=3, name="ward")
    return folder



def test_a_reader_reads_a_blinded_study_in_their_own_order(qtbot, tmp_path: Path, study_folder: Path) -> None:  # type: ignore[no-untyped-def]
    settings = QtCore.QSettings(str(tmp_path / "s.ini"), QtCore.QSettings.Format.IniFormat)
    window = ReviewWindow(settings=settings, reader="dr-b", device="cpu")
    qtbot.addWidget(window)
    window.show()
    study = load_study(study_folder)
    with qtbot.waitSignal(window.analysis_shown, timeout=ANALYSIS_MS):
        window.open_path(study_folder)
    order = reader_order(study, "dr-b")
    assert [p.name for p in window.worklist.paths] == order
    assert window.doc.path.name == order[0]
    assert "0 / 2 done" in window.worklist_panel.counts.text()

    # blinded: no probabilities, no overlay, and the toggle is the study's, not the reader's
    assert window.blinded and not window.blind_action.isEnabled()
    assert window.diagnoses.table.topLevelItemCount() == 0
    assert window.canvas.model_item.image is None

    # not done before every study label has a decision
    window.mark_done()
    assert not window.doc.reviewed and "AFL" in window.last_message and "PVC" in window.last_message
    window.select_label("PVC")
    window.set_tool("brush")
    window._stroke([(400.0, 600.0), (700.0, 620.0)])
    window.select_label("AFL")
    window.set_label_status("not_visible")
    with qtbot.waitSignal(window.overlay_shown, timeout=30000):
        window.mark_done()
    assert window.doc.reviewed and window.diagnoses.table.topLevelItemCount() == 8
    saved = store.read_meta(store.annotation_folder(window.doc.path, "dr-b"))
    assert saved["reviewed"] and saved["labels"]["AFL"]["status"] == "not_visible"
    assert saved["labels"]["PVC"]["mask"] == "PVC.png"
    assert saved.get("seconds_spent", 0) > 0, "the time spent on the ECG is recorded"
    assert "1 / 2 done" in window.worklist_panel.counts.text()

    # the next ECG is blinded again until it is done
    window.next_image()
    qtbot.waitUntil(lambda: window.doc.analysis is not None, timeout=ANALYSIS_MS)
    assert window.doc.path.name == order[1]
    assert window.diagnoses.table.topLevelItemCount() == 0
    window.close()

    # reopened, the reader resumes at the first ECG they have not finished
    again = ReviewWindow(settings=settings, device="cpu")
    qtbot.addWidget(again)
    with qtbot.waitSignal(again.analysis_shown, timeout=ANALYSIS_MS):
        again.open_path(study_folder)
    assert again.reader == "dr-b" and again.doc.path.name == order[1]


def test_the_study_report_is_made_and_shown_in_the_window(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from core.study.demo import make_demo_study

    folder = tmp_path / "demo"
    study = make_demo_study(folder, n_images=2, seed=1)
    settings = QtCore.QSettings(str(tmp_path / "s.ini"), QtCore.QSettings.Format.IniFormat)
    window = ReviewWindow(settings=settings, reader=study.readers[0], device="cpu")
    qtbot.addWidget(window)
    window.show()
    window.study_report(folder)
    qtbot.waitUntil(lambda: window.report_view is not None, timeout=300_000)
    text = window.report_view.browser.toPlainText()
    assert "simulated readers" in text
    assert (folder / "report" / "report.pdf").is_file() and (folder / "report" / "summary.csv").is_file()
