"""Atomic file output: a file is either complete or absent, never half-written.

Every output goes to a temporary file in the target folder and is renamed into place
(``os.replace`` is atomic on one filesystem). ``OutputSet`` writes a run's files into a staging
folder beside its target and moves them in only when the run succeeds: a run that fails or is
interrupted (Ctrl-C, SIGTERM handled as Ctrl-C) leaves the target exactly as it was. Given
``replace``, it puts the whole new folder in place of the old in one step, so no file of an
earlier run stays beside the new ones.
"""
from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import io
import json
import os
import shutil
import signal
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

import cv2
import numpy as np


def _file_mode() -> int:
    """rw for everyone the umask allows (mkstemp alone would make files private, 0600)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


_MODE = _file_mode()


def write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; returns the path."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, _MODE)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_json(path: str | Path, obj: Any) -> Path:
    """Write an object as indented UTF-8 JSON, atomically."""
    return write_bytes(path, (json.dumps(obj, indent=2, ensure_ascii=False) + "\n").encode())


def write_png(path: str | Path, image: np.ndarray) -> Path:
    """Write an RGB (H, W, 3) or grey (H, W) uint8 image as PNG, atomically."""
    return write_bytes(path, encode_image(image, ".png"))


def write_jpeg(path: str | Path, image: np.ndarray, quality: int = 92) -> Path:
    """Write an RGB uint8 image as JPEG, atomically."""
    return write_bytes(path, encode_image(image, ".jpg", quality))


def encode_image(image: np.ndarray, ext: str, quality: int = 92) -> bytes:
    """Encode an RGB or grey uint8 array to PNG/JPEG bytes."""
    bgr = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    params = [cv2.IMWRITE_JPEG_QUALITY, quality] if ext == ".jpg" else []
    ok, buf = cv2.imencode(ext, bgr, params)
    if not ok:
        raise ValueError(f"could not encode image as {ext}")
    return buf.tobytes()


def write_npy(path: str | Path, array: np.ndarray) -> Path:
    """Write a NumPy array as .npy, atomically (never pickled)."""
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=False)
    return write_bytes(path, buf.getvalue())


class OutputSet:
    """The files of one run, written into a staging folder and moved into ``folder`` only
    when the run succeeds; on an exception (or Ctrl-C) the staging folder is removed and
    ``folder`` is left exactly as it was (earlier files of the same names included).

    >>> with OutputSet(out_dir) as out:
    ...     write_json(out.path("result.json"), result)

    replace: None adds the run's files to ``folder`` (replacing files of the same names, each
    atomically). Or a test of a file name that says which names an earlier run of this kind
    writes: the new folder then takes the old one's place as a whole (``swap_folders``) and
    the old one is deleted. A folder holding any other name is refused (ValueError, before
    anything is written), so a user's own files are never removed.
    """

    def __init__(self, folder: str | Path, replace: Callable[[str], bool] | None = None) -> None:
        self.folder = Path(folder)
        self.replace = replace
        self._stage: Path | None = None

    def __enter__(self) -> OutputSet:
        if self.replace is not None:
            check_replaceable(self.folder, self.replace)
        parent = self.folder.parent
        parent.mkdir(parents=True, exist_ok=True)
        # A signal that lands here, after the staging folder exists but before the with-block
        # is entered, would skip __exit__: the folder is made with signals held back, and
        # removed again if the interruption (delivered as they are released) lands in here.
        try:
            with _signals_deferred():
                self._stage = Path(tempfile.mkdtemp(prefix=f".{self.folder.name}.", suffix=".staging", dir=parent))
                os.chmod(self._stage, 0o777 & ~_umask())
        except BaseException:
            if self._stage is not None:
                shutil.rmtree(self._stage, ignore_errors=True)
                self._stage = None
            raise
        return self

    def path(self, name: str) -> Path:
        """Where to write ``name`` (a relative path) during the run: in the staging folder."""
        assert self._stage is not None, "OutputSet.path is for use inside its with-block"
        p = self._stage / name
        p.parent.mkdir(parents=True, exist_ok=True)
        return p

    def target(self, name: str) -> Path:
        """Where ``name`` will be once the run has succeeded."""
        return self.folder / name

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        stage, self._stage = self._stage, None
        assert stage is not None
        with _signals_deferred():  # a Ctrl-C now would leave half the staging folder behind
            try:
                if exc_type is None:
                    self._commit(stage)
            finally:
                shutil.rmtree(stage, ignore_errors=True)

    def _commit(self, stage: Path) -> None:
        if self.replace is not None or not self.folder.exists():
            if self.folder.exists():
                check_replaceable(self.folder, self.replace or (lambda name: True))
                swap_folders(stage, self.folder)  # the old set is now at ``stage``: deleted on exit
            else:
                os.replace(stage, self.folder)
            return
        for src in sorted(p for p in stage.rglob("*") if p.is_file()):
            dst = self.folder / src.relative_to(stage)
            dst.parent.mkdir(parents=True, exist_ok=True)
            os.replace(src, dst)


@contextlib.contextmanager
def _signals_deferred() -> Iterator[None]:
    """SIGINT and SIGTERM held back while the block runs (delivered when it ends), where the
    system allows it (POSIX, main thread): putting a finished set in place and deleting the
    staging folder take milliseconds and must not stop half-way."""
    can = hasattr(signal, "pthread_sigmask") and threading.current_thread() is threading.main_thread()
    if not can:
        yield
        return
    held = {signal.SIGINT, signal.SIGTERM}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


def check_replaceable(folder: Path, owned: Callable[[str], bool]) -> None:
    """Raise ValueError with one sentence unless ``folder`` is absent, or a folder whose every
    entry ``owned(name)`` accepts (hidden temporary files aside)."""
    if not folder.exists():
        return
    if not folder.is_dir():
        raise ValueError(f"{folder} is a file, not a folder; choose a folder for the results")
    foreign = sorted(p.name for p in folder.iterdir() if not (p.name.startswith(".") and p.name.endswith(".tmp"))
                     and not owned(p.name))
    if foreign:
        more = f" and {len(foreign) - 1} more" if len(foreign) > 1 else ""
        raise ValueError(f"{folder} holds files that are not results of this command ({foreign[0]}{more}); "
                         "choose an empty folder or one it wrote")


_RENAME_EXCHANGE = 2


def _renameat2() -> Any:
    """glibc's renameat2 (Linux 3.15+, glibc 2.28+), or None."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    return fn


def swap_folders(new: Path, folder: Path) -> None:
    """Put folder ``new`` in the place of the existing ``folder``; afterwards the old folder's
    contents are at ``new``. One atomic exchange on Linux (renameat2 RENAME_EXCHANGE); elsewhere
    (or on a filesystem without it) two renames, the first undone if the second fails, so a
    reader sees the old folder, the new one, or for a moment none — never a mixture."""
    fn = _renameat2()
    if fn is not None:
        at_fdcwd = -100
        if fn(at_fdcwd, os.fsencode(new), at_fdcwd, os.fsencode(folder), _RENAME_EXCHANGE) == 0:
            return
    aside = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".old", dir=folder.parent))
    os.rmdir(aside)
    os.replace(folder, aside)
    try:
        os.replace(new, folder)
    except BaseException:
        os.replace(aside, folder)
        raise
    os.replace(aside, new)
