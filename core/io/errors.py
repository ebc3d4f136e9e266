"""Errors raised when an input file cannot be used.

Each message is one sentence that names the file and says what is wrong with it, so the CLI
can print it as is and the review window can show it in a dialog.
"""
from __future__ import annotations


class ImageLoadError(ValueError):
    """An image or PDF cannot be opened (missing, unreadable, damaged, too large, not an image)."""


class RecordLoadError(ValueError):
    """A WFDB record or the labels table cannot be read, or is not a 12-lead ECG."""


def one_line(exc: BaseException) -> str:
    """An error as one line for a physician: the core's own message (written to be shown as
    is), or for an OS error the file and what the system said ('scan.jpg: permission denied')."""
    text = str(exc) or exc.__class__.__name__
    if isinstance(exc, OSError) and exc.filename and exc.strerror:
        text = f"{exc.filename}: {exc.strerror.lower()}"
    return " ".join(text.split())
