"""Every test keeps the per-user annotation folder to itself: a read-only image's annotation
goes under ``$ECG_AIO_ANNOTATIONS`` (core.review.store.fallback_base), never the developer's."""
from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def private_annotations(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ECG_AIO_ANNOTATIONS", str(tmp_path / "fallback"))
