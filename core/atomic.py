"""Atomic file output: a file is either complete or absent, never half-written.

Every output goes to a temporary file in the target folder and is renamed into place
(``os.replace`` is atomic on one filesystem). ``OutputSet`` removes the files a run had
already written when the run fails or is interrupted, so a failed command leaves nothing.
"""
from __future__ import annotations

import io
import json
import os
import tempfile
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
    """Track files written by one run; on an exception (or Ctrl-C) remove them all.

    >>> with OutputSet(out_dir) as out:
    ...     write_json(out.path("result.json"), result)
    """

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self._created_folder = False
        self._written: list[Path] = []

    def __enter__(self) -> "OutputSet":
        if not self.folder.exists():
            self.folder.mkdir(parents=True)
            self._created_folder = True
        return self

    def path(self, name: str) -> Path:
        """A path in the output folder, remembered for clean-up if the run fails."""
        p = self.folder / name
        self._written.append(p)
        return p

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc_type is None:
            return
        for p in self._written:
            p.unlink(missing_ok=True)
        if self._created_folder and not any(self.folder.iterdir()):
            self.folder.rmdir()
