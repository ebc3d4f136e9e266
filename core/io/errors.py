"""Errors raised when an input file cannot be used.

Each message is one sentence that names the file and says what is wrong with it, so the CLI
can print it as is and the review window can show it in a dialog.
"""
from __future__ import annotations


class ImageLoadError(ValueError):
    """An image or PDF cannot be opened (missing, unreadable, damaged, too large, not an image)."""


class RecordLoadError(ValueError):
    """A WFDB record or the labels table cannot be read, or is not a 12-lead ECG."""
