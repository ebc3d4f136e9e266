"""The Qt binding the window runs on keeps Python's reference counts right.

PySide6 6.12.0 dropped a reference to ``None`` on every call of a void Qt method; the review
window makes thousands of such calls a minute (hover, repaint), and the interpreter aborted
with "none_dealloc" mid-session. pyproject.toml excludes that release; this test would catch
the next one like it.
"""
from __future__ import annotations

import sys

import pytest

pytest.importorskip("pytestqt")

from PySide6 import QtWidgets  # noqa: E402


def test_void_qt_calls_keep_none_alive(qtbot) -> None:  # type: ignore[no-untyped-def]
    item = QtWidgets.QGraphicsRectItem()
    before = sys.getrefcount(None)
    for _ in range(2000):
        item.setVisible(True)
        item.setPos(1.0, 2.0)
    lost = before - sys.getrefcount(None)
    assert lost < 100, f"{lost} references to None lost in 4000 Qt calls: this PySide6 release is broken"
