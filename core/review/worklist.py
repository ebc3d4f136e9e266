"""A folder of ECGs to read, one after another, with where each one stands.

A status only moves forward (new → analysed → annotated → reviewed): opening an ECG that was
already reviewed runs the network again, and that must not send it back to "analysed".
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.labels import LABELS

# What core.io.load_image reads (it decodes by content; these are the names it is given).
IMAGE_SUFFIXES: tuple[str, ...] = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".pdf")
STATUSES: tuple[str, ...] = ("new", "analysed", "annotated", "reviewed")
OUR_FOLDER_SUFFIX = ".ecg-aio"  # the review's own folder beside an image (annotations, outputs)


def natural_key(name: str) -> tuple[Any, ...]:
    """Sort key that orders digits by value, case-insensitively: ecg2 before ecg10."""
    return tuple(int(part) if part.isdigit() else part.casefold() for part in re.split(r"(\d+)", name))


def is_image(path: Path) -> bool:
    """A visible file whose suffix core.io.load_image reads (case-insensitive)."""
    return (path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith(".")
            and path.is_file())


def list_images(folder: str | Path) -> list[Path]:
    """The ECG images directly in ``folder`` (not its subfolders), in natural order.

    Hidden files (macOS ``._scan.png`` resource forks among them) and our own ``*.ecg-aio``
    folders are skipped.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"{folder} is not a folder")
    return sorted((p for p in folder.iterdir()
                   if not p.name.endswith(OUR_FOLDER_SUFFIX) and is_image(p)),
                  key=lambda p: natural_key(p.name))


def status_from_saved(meta: Mapping[str, Any]) -> str:
    """The status of an image from its saved annotation.json: 'reviewed' when marked reviewed,
    'annotated' when any label has a mask or a status, else 'new'."""
    if meta.get("reviewed"):
        return "reviewed"
    labels = meta.get("labels") or {}
    if any(isinstance(v, Mapping) and (v.get("mask") or v.get("status")) for v in labels.values()):
        return "annotated"
    return "new"


@dataclass
class Worklist:
    """The ECGs of one reading session, the one shown, and a filter.

    paths: the images in reading order. current: index into paths of the one shown.
    status: path -> one of STATUSES ('new' when absent). positives: path -> the labels the
    model called (core.labels order). The filter (set_filter) restricts next/previous/visible
    to images with that status and/or that positive label.
    """

    paths: list[Path]
    current: int = 0
    status: dict[Path, str] = field(default_factory=dict)
    positives: dict[Path, tuple[str, ...]] = field(default_factory=dict)
    status_filter: str | None = None
    label_filter: str | None = None

    @classmethod
    def from_folder(cls, folder: str | Path) -> "Worklist":
        """Every image of a folder (list_images), all new, the first one current."""
        return cls(list_images(folder))

    # ---- filter -------------------------------------------------------------------
    def set_filter(self, status: str | None = None, label: str | None = None) -> None:
        """Show only images with this status and/or this positive label (None: any)."""
        if status is not None and status not in STATUSES:
            raise ValueError(f"unknown status {status!r}; use one of {', '.join(STATUSES)}")
        if label is not None and label not in LABELS:
            raise ValueError(f"unknown label {label!r}; known labels are {', '.join(LABELS)}")
        self.status_filter, self.label_filter = status, label

    def _shown(self, path: Path) -> bool:
        return ((self.status_filter is None or self.status_of(path) == self.status_filter)
                and (self.label_filter is None or self.label_filter in self.positives.get(path, ())))

    def visible(self) -> list[Path]:
        """The images the filter lets through, in reading order."""
        return [p for p in self.paths if self._shown(p)]

    # ---- moving -------------------------------------------------------------------
    @property
    def current_path(self) -> Path | None:
        return self.paths[self.current] if 0 <= self.current < len(self.paths) else None

    def _step(self, direction: int) -> Path | None:
        i = self.current + direction
        while 0 <= i < len(self.paths):
            if self._shown(self.paths[i]):
                self.current = i
                return self.paths[i]
            i += direction
        return None

    def next(self) -> Path | None:
        """Move to the next visible image and return it; None (and stay) at the end."""
        return self._step(+1)

    def previous(self) -> Path | None:
        """Move to the previous visible image and return it; None (and stay) at the start."""
        return self._step(-1)

    # ---- state --------------------------------------------------------------------
    def status_of(self, path: Path) -> str:
        return self.status.get(Path(path), "new")

    def set_status(self, path: str | Path, status: str, reset: bool = False) -> str:
        """Move an image's status forward to ``status`` (never back unless ``reset``); returns
        the status it has now."""
        path = Path(path)
        if status not in STATUSES:
            raise ValueError(f"unknown status {status!r}; use one of {', '.join(STATUSES)}")
        if path not in self.paths:
            raise ValueError(f"{path} is not in this worklist")
        if reset or STATUSES.index(status) > STATUSES.index(self.status_of(path)):
            self.status[path] = status
        return self.status_of(path)

    def set_positives(self, path: str | Path, labels: Iterable[str]) -> None:
        """The labels the model called for an image (any order in, core.labels order kept)."""
        wanted = set(labels)
        unknown = wanted - set(LABELS)
        if unknown:
            raise ValueError(f"unknown label(s) {', '.join(sorted(unknown))}; known labels are {', '.join(LABELS)}")
        self.positives[Path(path)] = tuple(k for k in LABELS if k in wanted)

    def counts(self) -> dict[str, int]:
        """How many images have each status (all of them, whatever the filter)."""
        out = dict.fromkeys(STATUSES, 0)
        for p in self.paths:
            out[self.status_of(p)] += 1
        return out
