"""Run slow core calls off the Qt event loop and deliver the result back on it."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import shiboken6
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
            self._emit(self.signals.failed, str(exc) or exc.__class__.__name__)
        else:
            self._emit(self.signals.done, result)

    @staticmethod
    def _emit(signal: Any, value: Any) -> None:
        try:
            signal.emit(value)
        except RuntimeError:  # the application closed while this ran: nobody is left to tell
            pass


_live: set[_Task] = set()  # keep signal objects alive until delivered


def run_in_thread(fn: Callable[[], Any], on_done: Callable[[Any], None],
                  on_failed: Callable[[str], None], owner: QtCore.QObject | None = None) -> None:
    """Call ``fn()`` in the global thread pool; ``on_done``/``on_failed`` run in the GUI thread,
    and not at all once ``owner`` (the window that asked) has been closed and deleted."""
    task = _Task(fn)
    task.setAutoDelete(False)
    _live.add(task)

    def deliver(callback: Callable[[Any], None], value: Any) -> None:
        _live.discard(task)
        if owner is None or shiboken6.isValid(owner):
            callback(value)

    task.signals.done.connect(lambda r: deliver(on_done, r))
    task.signals.failed.connect(lambda m: deliver(on_failed, m))
    QtCore.QThreadPool.globalInstance().start(task)
