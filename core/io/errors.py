"""Errors raised when an input file cannot be used, and the one safe way to read one.

Each message is one sentence that names the file and says what is wrong with it, so the CLI
can print it as is and the review window can show it in a dialog. ``read_regular_file`` reads
an input file only once it is known to be a regular file of a sane size.
"""
from __future__ import annotations

import os
import stat
from pathlib import Path

#: The largest image accepted (W x H px), checked from the header before any pixel is decoded:
#: the image loader's, the compare maps' and a page geometry's limit.
MAX_PIXELS = 100_000_000


class ImageLoadError(ValueError):
    """An image or PDF cannot be opened (missing, unreadable, damaged, too large, not an image)."""


class InputFileError(ValueError):
    """An input file other than an image (a map, a geometry, a recipe) cannot be used."""


class RecordLoadError(ValueError):
    """A WFDB record or the labels table cannot be read, or is not a 12-lead ECG."""


def one_line(exc: BaseException) -> str:
    """An error as one line for a physician: the core's own message (written to be shown as
    is), or for an OS error the file and what the system said ('scan.jpg: permission denied')."""
    text = str(exc) or exc.__class__.__name__
    if isinstance(exc, OSError) and exc.filename and exc.strerror:
        text = f"{exc.filename}: {exc.strerror.lower()}"
    return " ".join(text.split())


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a file"


def read_regular_file(path: str | os.PathLike[str], what: str = "file", max_bytes: int = 1 << 30,
                      error: type[ValueError] = InputFileError, name: str | None = None) -> bytes:
    """The bytes of an input file, refusing at once whatever is not a readable regular file.

    A named pipe would wait for a writer and /dev/zero never ends, so the file is opened without
    blocking and checked (``os.fstat``) before a byte is read; a folder, a missing or unreadable
    file, an empty one, or one over ``max_bytes`` is refused too. Raises ``error`` with one
    sentence naming the file (``name``, default the file name); ``what``: what the file should
    be ('image file', 'geometry file'), for the sentence.
    """
    shown = name or Path(path).name or os.fspath(path)
    if Path(path).is_dir():  # Windows reports a folder as "permission denied"
        raise error(f"{shown} is a folder, not {_article(what)}.")
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except FileNotFoundError:
        raise error(f"{shown} does not exist.") from None
    except PermissionError:
        raise error(f"{shown} cannot be read: permission denied.") from None
    except OSError as e:
        raise error(f"{shown} cannot be read: {e.strerror or e}.") from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise error(f"{shown} is a folder, not {_article(what)}.")
        if not stat.S_ISREG(info.st_mode):
            raise error(f"{os.fspath(path)} is not a regular file but {_kind(info.st_mode)}; "
                        f"choose {_article(what)} saved on disk.")
        if info.st_size > max_bytes:
            raise error(f"{shown} is {info.st_size / 2**20:,.0f} MiB, over the {max_bytes / 2**20:,.0f}-MiB "
                        f"limit for {_article(what)}.")
        with os.fdopen(fd, "rb", closefd=True) as f:
            fd = -1
            data = f.read(max_bytes + 1)
    except OSError as e:
        raise error(f"{shown} cannot be read: {e.strerror or e}.") from None
    finally:
        if fd >= 0:
            os.close(fd)
    if len(data) > max_bytes:
        raise error(f"{shown} grew over {max_bytes / 2**20:,.0f} MiB while it was read.")
    if not data:
        raise error(f"{shown} is empty (0 bytes).")
    return data


def _article(what: str) -> str:
    return f"an {what}" if what[:1] in "aeiou" else f"a {what}"
