"""Run slow core calls off the Qt event loop and deliver the result back on it."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6 import QtCore


class _Signals(QtCore.QObject):
    done = QtCore.Signal(object)
    failed = QtCore.Signal(str)


class _Task(QtCore.QRunnable):
    def __init__(self, fn: Callable[[], Any]) -> None:
        super().__init__()
        self.fn = fn
        self.signals = _Signals()

    def run(self) -> None:
        try:
            result = self.fn()
        except Exception as exc:  # shown to the user as one sentence, never a traceback
            self.signals.failed.emit(str(exc) or exc.__class__.__name__)
        else:
            self.signals.done.emit(result)


_live: set[_Task] = set()  # keep signal objects alive until delivered


def run_in_thread(fn: Callable[[], Any], on_done: Callable[[Any], None],
                  on_failed: Callable[[str], None]) -> None:
    """Call ``fn()`` in the global thread pool; ``on_done``/``on_failed`` run in the GUI thread."""
    task = _Task(fn)
    task.setAutoDelete(False)
    _live.add(task)
    task.signals.done.connect(lambda r: (_live.discard(task), on_done(r)))
    task.signals.failed.connect(lambda m: (_live.discard(task), on_failed(m)))
    QtCore.QThreadPool.globalInstance().start(task)
