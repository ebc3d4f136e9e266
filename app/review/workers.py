"""Slow core calls off the Qt event loop; results come back on it, the newest request's only.

``Latest`` runs one kind of job (analysing an image, recomputing the agreement metrics): a new
``submit`` raises the previous job's cancel flag, and a result whose job is no longer the newest
is dropped, so the screen never shows an answer to a question nobody asks any more.
"""
from __future__ import annotations

import gc
import threading
import traceback
from collections.abc import Callable
from typing import Any

import shiboken6
from PySide6 import QtCore

from core.explain import Cancelled
from core.io.errors import one_line


def freeze_startup_heap() -> None:
    """Put every object alive now (the imported modules, Qt's wrappers, torch) beyond the
    cyclic garbage collector's reach. A full collection otherwise walks them all, holding the
    GIL, whenever a worker's allocations trigger one: the event loop's longest stall while
    analysing was 133 ms on the A4 sample and 136 ms on a 12-MP photo, and 44 and 56 ms with
    them frozen (``benchmarks/bench_review.py --runs 3``). Call once, after the window is
    built; garbage made later is collected as usual."""
    gc.freeze()


class _Signals(QtCore.QObject):
    done = QtCore.Signal(object)
    failed = QtCore.Signal(str)
    progress = QtCore.Signal(object)


class _Task(QtCore.QRunnable):
    def __init__(self, fn: Callable[..., Any], cancel: threading.Event) -> None:
        super().__init__()
        self.fn, self.cancel = fn, cancel
        self.signals = _Signals()  # created in the GUI thread: emissions are queued to it

    def run(self) -> None:
        try:
            result = self.fn(self.cancel, lambda value: self._emit(self.signals.progress, value))
        except Cancelled:
            return
        except Exception as exc:  # shown to the user as one sentence, never a traceback
            traceback.print_exc()
            self._emit(self.signals.failed, one_sentence(exc))
        else:
            self._emit(self.signals.done, result)

    @staticmethod
    def _emit(signal: Any, value: Any) -> None:
        try:
            signal.emit(value)
        except RuntimeError:  # the application closed while this ran: nobody is left to tell
            pass


def one_sentence(exc: BaseException) -> str:
    """What went wrong, in the words the core used (its errors are written for physicians)."""
    if isinstance(exc, MemoryError):
        return "There was not enough memory for this image; close other programs or use a smaller scan."
    text = one_line(exc)
    return text if text.endswith((".", "!", "?")) else text + "."


_live: set[_Task] = set()  # keep tasks (and their signal objects) alive until they report


class Latest(QtCore.QObject):
    """Run jobs of one kind in the global thread pool; only the newest one's result is delivered.

    ``submit(fn, on_done, on_failed, on_progress)``: ``fn(cancel: threading.Event, report)`` runs
    in a worker (``report(value)`` forwards progress); the callbacks run in the GUI thread, and
    not at all once a newer job was submitted, ``cancel()`` was called or ``owner`` was deleted.
    """

    def __init__(self, owner: QtCore.QObject | None = None) -> None:
        super().__init__(owner)
        self.owner = owner
        self.job_id = 0
        self._cancel: threading.Event | None = None

    @property
    def busy(self) -> bool:
        return self._cancel is not None

    def cancel(self) -> None:
        """Stop waiting for the running job (and ask it to stop at its next checkpoint)."""
        if self._cancel is not None:
            self._cancel.set()
        self._cancel = None
        self.job_id += 1

    def submit(self, fn: Callable[[threading.Event, Callable[[Any], None]], Any],
               on_done: Callable[[Any], None], on_failed: Callable[[str], None],
               on_progress: Callable[[Any], None] | None = None) -> int:
        self.cancel()
        job_id = self.job_id
        cancel = self._cancel = threading.Event()
        task = _Task(fn, cancel)
        task.setAutoDelete(False)
        _live.add(task)

        def current() -> bool:
            return job_id == self.job_id and (self.owner is None or shiboken6.isValid(self.owner))

        def finish(callback: Callable[[Any], None], value: Any) -> None:
            _live.discard(task)
            if current():
                self._cancel = None
                callback(value)

        task.signals.done.connect(lambda r: finish(on_done, r))
        task.signals.failed.connect(lambda m: finish(on_failed, m))
        if on_progress is not None:
            task.signals.progress.connect(lambda v: on_progress(v) if current() else None)
        QtCore.QThreadPool.globalInstance().start(task)
        return job_id
