"""A reader study: one folder of ECG images, a ``study.json`` that says what to read and who
reads it, and each reader's annotations in the review's own per-reader store.

The study file (``ecg-aio/study@1``) is read strictly: a study is the record of an experiment,
and a typo that silently dropped a reader, a label or an image would change its result without
anyone noticing. Every refusal is one sentence naming the file.

Each reader reads the images in their own randomised order, so that the order an image is seen
in (fatigue, learning the task on the first ten) does not fall on the same images for every
reader. The order is a pure function of (seed, reader, image name) through SHA-256, the same on
every machine, Python and NumPy version: NumPy's Generator streams are not promised to stay the
same across versions (NEP 19), and a reader who reopens a study next year must find the queue
they left.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from core.atomic import write_json
from core.labels import LABELS
from core.review import store
from core.review.worklist import list_images

SCHEMA = "ecg-aio/study@1"
STUDY_FILE = "study.json"

_REQUIRED = ("schema", "name", "labels", "readers", "blinded", "seed", "images")
_OPTIONAL = ("simulated_readers", "reader_notes", "truth")


@dataclass(frozen=True)
class Study:
    """One reader study.

    folder: the study's folder (images and study.json). labels: the label keys the readers
    annotate (core.labels order). readers: the readers' names as they are shown; their folders
    are ``core.review.store.safe_reader_name`` of them. blinded: readers see no model output for
    an image until their annotation of it is saved. seed: the seed of every reader's order.
    images: the image file names in the folder, in list order. simulated_readers: the readers
    are simulated (every report's title says so). reader_notes: reader -> a sentence on where
    their masks come from (e.g. derived from delineations). truth: image -> label -> 1/0 or
    None (unknown), the diagnoses known for the images, if any.
    """

    folder: Path
    name: str
    labels: tuple[str, ...]
    readers: tuple[str, ...]
    blinded: bool
    seed: int
    images: tuple[str, ...]
    simulated_readers: bool = False
    reader_notes: dict[str, str] = field(default_factory=dict)
    truth: dict[str, dict[str, int | None]] = field(default_factory=dict)

    @property
    def path(self) -> Path:
        """The study file."""
        return Path(self.folder) / STUDY_FILE

    def image_path(self, name: str) -> Path:
        """The path of one of the study's images."""
        if name not in self.images:
            raise ValueError(f"{name!r} is not an image of the study in {self.folder}.")
        return Path(self.folder) / name

    def to_json(self) -> dict[str, Any]:
        """The study.json object (the folder is where the file lies, not part of it)."""
        return {
            "schema": SCHEMA, "name": self.name, "labels": list(self.labels),
            "readers": list(self.readers), "blinded": bool(self.blinded), "seed": int(self.seed),
            "images": list(self.images), "simulated_readers": bool(self.simulated_readers),
            "reader_notes": dict(self.reader_notes),
            "truth": {image: dict(row) for image, row in self.truth.items()},
        }

    @classmethod
    def from_json(cls, folder: str | Path, d: Any) -> Study:
        """A Study from a study.json object, checked strictly (ValueError, one sentence naming
        the file, on anything it does not expect)."""
        folder = Path(folder)
        src = folder / STUDY_FILE
        if not isinstance(d, dict) or d.get("schema") != SCHEMA:
            found = d.get("schema") if isinstance(d, dict) else None
            raise ValueError(f"{src} is not an {SCHEMA} file (its schema is {found!r}).")
        unknown = sorted(set(d) - set(_REQUIRED) - set(_OPTIONAL))
        if unknown:
            raise ValueError(f"{src} has keys this version does not know: {', '.join(unknown)}.")
        missing = [key for key in _REQUIRED if key not in d]
        if missing:
            raise ValueError(f"{src} lacks {', '.join(missing)}.")
        name = d["name"]
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"{src} gives the study no name.")
        labels = _labels(d["labels"], src)
        readers = _readers(d["readers"], src)
        for key in ("blinded", "simulated_readers"):
            if not isinstance(d.get(key, False), bool):
                raise ValueError(f"{src} gives {key} {d[key]!r}, not true or false.")
        seed = d["seed"]
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ValueError(f"{src} gives the seed {seed!r}, not a whole number >= 0.")
        images = _images(d["images"], folder, src)
        notes = d.get("reader_notes") or {}
        if not isinstance(notes, dict) or not all(isinstance(v, str) for v in notes.values()):
            raise ValueError(f"{src} has reader_notes that are not reader -> sentence.")
        strangers = sorted(set(notes) - set(readers))
        if strangers:
            raise ValueError(f"{src} has notes on readers not in the study: {', '.join(strangers)}.")
        truth = _truth(d.get("truth") or {}, images, src)
        return cls(folder=folder, name=name, labels=labels, readers=readers, blinded=d["blinded"],
                   seed=seed, images=images, simulated_readers=d.get("simulated_readers", False),
                   reader_notes=dict(notes), truth=truth)


def _labels(value: Any, src: Path) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{src} names no labels to annotate.")
    unknown = [v for v in value if v not in LABELS]
    if unknown:
        raise ValueError(f"{src} names the unknown label(s) {', '.join(map(repr, unknown))}; "
                         f"known labels are {', '.join(LABELS)}.")
    if len(set(value)) != len(value):
        raise ValueError(f"{src} names a label twice.")
    return tuple(value)


def _readers(value: Any, src: Path) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{src} names no readers.")
    seen: dict[str, str] = {}
    for reader in value:
        try:
            folder = store.safe_reader_name(reader).casefold()  # case-insensitive disks: a == A
        except ValueError:
            raise ValueError(f"{src} names the reader {reader!r}, which has no letters or digits "
                             f"to name a folder with.") from None
        if folder in seen:
            raise ValueError(f"{src} names the readers {seen[folder]!r} and {reader!r}, whose "
                             f"annotations would share one folder; give each reader a distinct name.")
        seen[folder] = reader
    return tuple(value)


def _images(value: Any, folder: Path, src: Path) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{src} lists no images.")
    for name in value:
        if Path(name).name != name or name in (".", ".."):
            raise ValueError(f"{src} lists {name!r}, which is not a file name in the study folder.")
        if not (folder / name).is_file():
            raise ValueError(f"{src} lists the image {name!r}, which is not in {folder}.")
    if len(set(value)) != len(value):
        raise ValueError(f"{src} lists an image twice.")
    return tuple(value)


def _truth(value: Any, images: tuple[str, ...], src: Path) -> dict[str, dict[str, int | None]]:
    if not isinstance(value, dict):
        raise ValueError(f"{src} has a truth that is not image -> label -> 1, 0 or null.")
    truth: dict[str, dict[str, int | None]] = {}
    for image, row in value.items():
        if image not in images:
            raise ValueError(f"{src} gives the truth for {image!r}, which is not a study image.")
        if not isinstance(row, dict) or not all(
                k in LABELS and (v is None or (type(v) is int and v in (0, 1))) for k, v in row.items()):
            raise ValueError(f"{src} gives {image!r} a truth that is not label -> 1, 0 or null.")
        truth[image] = dict(row)
    return truth


def is_study(folder: str | Path) -> bool:
    """Whether ``folder`` holds a study file (not whether it is a valid one: load_study says)."""
    return (Path(folder) / STUDY_FILE).is_file()


def load_study(folder: str | Path) -> Study:
    """The study in ``folder`` (or the study.json given itself); ValueError, one sentence, when
    there is none or it is not a valid ``ecg-aio/study@1`` file."""
    folder = Path(folder)
    if folder.name == STUDY_FILE and folder.is_file():
        folder = folder.parent
    path = folder / STUDY_FILE
    if not path.is_file():
        raise ValueError(f"{folder} is not a study: it has no {STUDY_FILE} (make one with "
                         f"`ecg-aio study init`).")
    try:
        d = json.loads(path.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path} is not readable JSON ({exc}).") from None
    return Study.from_json(folder, d)


def save_study(study: Study) -> Path:
    """Write the study file atomically, after checking it as load_study would; its path."""
    Study.from_json(study.folder, study.to_json())
    return write_json(study.path, study.to_json())


def init_study(folder: str | Path, labels: Iterable[str], readers: Sequence[str], blinded: bool = True,
               seed: int = 0, name: str | None = None, images: Sequence[str] | None = None,
               simulated_readers: bool = False, reader_notes: Mapping[str, str] | None = None,
               truth: Mapping[str, Mapping[str, int | None]] | None = None,
               overwrite: bool = False) -> Study:
    """Make ``folder`` a study and write its study.json; the Study.

    labels: label keys in any case (written in core.labels order). images: file names in the
    folder (default: every image directly in it, core.review.worklist.list_images order).
    name: default the folder's name. An existing study.json is refused unless ``overwrite``:
    its readers' orders and annotations belong to it. ValueError, one sentence, for a folder
    without images, an unknown label, and reader names that are missing, unsafe or would share
    a folder.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"{folder} is not a folder.")
    if is_study(folder) and not overwrite:
        raise ValueError(f"{folder} is already a study ({STUDY_FILE} exists); choose another folder "
                         f"or overwrite it.")
    keys = [str(label).strip().upper() for label in labels]
    unknown = [k for k in keys if k not in LABELS]
    if unknown:
        raise ValueError(f"unknown label(s) {', '.join(unknown)}; known labels are {', '.join(LABELS)}.")
    if not keys:
        raise ValueError("a study needs at least one label to annotate.")
    if len(set(keys)) != len(keys):
        raise ValueError(f"the label list {', '.join(keys)} names a label twice.")
    names = [p.name for p in list_images(folder)] if images is None else list(images)
    if not names:
        raise ValueError(f"{folder} has no ECG images to make a study of.")
    study = Study.from_json(folder, {
        "schema": SCHEMA, "name": name if name is not None else folder.resolve().name,
        "labels": [k for k in LABELS if k in keys], "readers": list(readers), "blinded": blinded,
        "seed": seed, "images": names, "simulated_readers": simulated_readers,
        "reader_notes": dict(reader_notes or {}),
        "truth": {image: dict(row) for image, row in (truth or {}).items()},
    })
    save_study(study)
    return study


def _check_reader(study: Study, reader: str) -> None:
    if reader not in study.readers:
        raise ValueError(f"{reader!r} is not a reader of the study in {study.folder} "
                         f"(its readers: {', '.join(study.readers)}).")


def reader_order(study: Study, reader: str) -> list[str]:
    """The reader's own randomised order of the study's images.

    Images sort by SHA-256 of ``"{seed}:{reader}:{image}"``: a uniformly random permutation per
    (seed, reader), the same on every machine and in every run (no ``hash()``, whose strings are
    salted per process, and no NumPy stream, which may change between versions). Adding an image
    to a study slots it in without reshuffling the others.
    """
    _check_reader(study, reader)

    def key(image: str) -> bytes:
        return hashlib.sha256(f"{study.seed}:{reader}:{image}".encode()).digest()

    return sorted(study.images, key=key)


def reader_folder(study: Study, image: str, reader: str) -> Path:
    """The folder of one reader's annotation of one study image (core.review.store layout)."""
    _check_reader(study, reader)
    return store.annotation_folder(study.image_path(image), reader)


def is_done(study: Study, image: str, reader: str) -> bool:
    """Whether the reader has saved their annotation of the image and marked it done
    (``reviewed: true``). An unreadable annotation.json raises ValueError naming it."""
    return store.read_meta(reader_folder(study, image, reader)).get("reviewed") is True


def reader_progress(study: Study, reader: str) -> tuple[int, int]:
    """(images the reader has marked done, images in the study): the "23 / 60" of the queue."""
    return sum(is_done(study, image, reader) for image in study.images), len(study.images)


def load_reader_masks(study: Study, image: str, reader: str, size_px: tuple[int, int]
                      ) -> tuple[dict[str, np.ndarray], dict[str, str | None], dict[str, Any]]:
    """One reader's annotation of one image, for the study's labels: masks (bool H x W, all
    False where nothing is drawn), statuses (one of core.review.annotations.STATUSES or None)
    and annotation.json's metadata ({} when the reader has saved nothing). ``size_px`` is the
    image's (W, H); a mask of another size raises ValueError (it was drawn on another image)."""
    annotations, meta = store.load(reader_folder(study, image, reader), size_px)
    masks = {label: annotations.mask(label).astype(bool) for label in study.labels}
    statuses = {label: annotations.status_of(label) for label in study.labels}
    return masks, statuses, meta
