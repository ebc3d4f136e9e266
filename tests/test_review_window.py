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


def test_window_shows_the_networks_finding_as_a_purple_overlay(qtbot, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import torch

    from app.review import main as review
    from core.labels import LABELS
    from core.model.network import EcgAio, NetConfig
    from core.model.preprocess import InputSpec
    from core.model.weights import save_weights

    torch.manual_seed(0)
    card = save_weights(EcgAio(NetConfig(width=8)), {
        "name": "ECG-AIO test", "version": "0", "thresholds": {k: 0.5 for k in LABELS},
        "input": InputSpec(height=96, width=192).to_json(), "training": {}, "metrics": {}}, tmp_path)
    monkeypatch.setenv("ECG_AIO_WEIGHTS", str(card))
    review._model.cache_clear()
    window = review.ReviewWindow()
    qtbot.addWidget(window)
    window.open_image(SAMPLES / "sample_scan.jpg")
    qtbot.waitUntil(lambda: "Purple overlay" in window.statusBar().currentMessage(), timeout=60000)
    shown = window.image_item.image
    assert shown.shape[:2] == (1240, 1754)
    purple = (shown[..., 2].astype(int) - shown[..., 1].astype(int)) > 60  # blue well above green
    assert purple.any()
    review._model.cache_clear()


def test_window_without_weights_says_so_in_the_status_line(qtbot, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from app.review import main as review

    monkeypatch.setenv("ECG_AIO_WEIGHTS", str(tmp_path / "missing" / "model_card.json"))
    review._model.cache_clear()
    window = review.ReviewWindow()
    qtbot.addWidget(window)
    window.open_image(SAMPLES / "sample_scan.jpg")
    qtbot.waitUntil(lambda: "No diagnosis" in window.statusBar().currentMessage(), timeout=30000)
    assert window.image_item.image is not None  # the image itself is still shown
    review._model.cache_clear()
