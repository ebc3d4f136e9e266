"""The interim review window: opens an image off the event loop, or says why it cannot."""
from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("pytestqt")

from app.review.main import ReviewWindow  # noqa: E402

SAMPLES = Path(__file__).resolve().parents[1] / "resources" / "samples"


def test_window_opens_a_sample(qtbot) -> None:  # type: ignore[no-untyped-def]
    window = ReviewWindow()
    qtbot.addWidget(window)
    window.show()
    window.open_image(SAMPLES / "sample_photo.jpg")
    qtbot.waitUntil(lambda: window.image_item.image is not None, timeout=10000)
    h, w = window.image_item.image.shape[:2]
    assert (w, h) == (1754, 1240)
    assert "sample_photo.jpg" in window.statusBar().currentMessage()


def test_window_reports_a_bad_file_in_one_sentence(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "cat.png"
    bad.write_bytes(b"meow")
    window = ReviewWindow()
    qtbot.addWidget(window)
    window.open_image(bad)
    qtbot.waitUntil(lambda: "cat.png" in window.statusBar().currentMessage(), timeout=10000)
    assert window.image_item.image is None
    assert bad.read_bytes() == b"meow"
