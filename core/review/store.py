"""The per-reader annotation store (DESIGN.md "Annotations"): a reader's files are theirs alone.

Beside the image, ``<image name>.ecg-aio/readers/<reader>/`` holds ``<LABEL>.png`` (uint8
0/255, image size, drawn labels only) and ``annotation.json`` (``ecg-aio/annotation@1``).
Pages after the first of a multi-page TIFF/PDF go one level deeper,
``<image name>.ecg-aio/page<N>/readers/<reader>/``, so the common single-page case keeps
exactly the layout of the design brief. When the image's folder is read-only the same tree
goes under a folder the reader chose or ``fallback_base()``. The source image is never written.
"""
from __future__ import annotations

import json
import math
import os
import re
import tempfile
import unicodedata
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import platformdirs

from core.atomic import encode_image, write_bytes, write_json
from core.labels import LABELS
from core.review.annotations import STATUSES, Annotations

SCHEMA = "ecg-aio/annotation@1"
JSON_NAME = "annotation.json"


def safe_reader_name(name: str) -> str:
    """A folder-safe form of a reader's name: letters, digits, '.', '-', '_' (at most 64)."""
    text = unicodedata.normalize("NFC", name).strip()
    safe = re.sub(r"[^\w.-]+", "_", text).strip("._-")[:64]
    if not safe:
        raise ValueError(f"the reader name {name!r} has no letters or digits to name a folder with.")
    return safe


def annotation_folder(image_path: str | Path, reader: str, page: int = 1, base: Path | None = None) -> Path:
    """Where a reader's files for one page of an image go: beside the image, or under ``base``."""
    image = Path(image_path)
    root = Path(base if base is not None else image.parent) / f"{image.name}.ecg-aio"
    if page > 1:
        root = root / f"page{page}"
    return root / "readers" / safe_reader_name(reader)


def fallback_base() -> Path:
    """The per-user folder for annotations of read-only images (env ECG_AIO_ANNOTATIONS overrides)."""
    env = os.environ.get("ECG_AIO_ANNOTATIONS")
    return Path(env) if env else Path(platformdirs.user_data_dir("ecg-aio-review")) / "annotations"


def is_writable(folder: str | Path) -> bool:
    """Whether files can be written in ``folder``, found by trying (permission bits lie on
    network shares and for root). Folders it had to create for the try are removed again."""
    folder = Path(folder).absolute()
    first_missing = next((p for p in [folder, *folder.parents][::-1] if not p.exists()), None)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
        return True
    except OSError:
        return False
    finally:
        if first_missing is not None:
            for p in [folder, *folder.parents]:
                try:
                    p.rmdir()
                except OSError:
                    break
                if p == first_missing:
                    break


def save(folder: str | Path, annotations: Annotations, *, reader: str, image_name: str,
         image_sha256: str, page: int, model_version: str | None, reviewed: bool, blinded: bool,
         seconds_spent: float | None = None) -> Path:
    """Write a reader's masks and annotation.json into ``folder``; returns the json's path.

    ``seconds_spent``: the total time this reader has spent on this image so far (a reader
    study records it per image); None keeps the value an earlier save wrote, if any.

    Each file is replaced atomically (temp + rename) and the json is written after the masks
    it names, and masks of labels that became empty are removed only after it: a kill at any
    moment leaves a json whose mask files all exist. A mask is rewritten only if its label
    changed since the last save or load into this folder, so an autosave after a stroke on a
    12-MP photo encodes one PNG (~0.03 s), not eight. A folder holding this reader's
    annotation of another image (same name, other sha256: two images in the fallback folder)
    raises FileExistsError instead of being overwritten.
    """
    if seconds_spent is not None and not (math.isfinite(seconds_spent) and seconds_spent >= 0):
        raise ValueError(f"the time spent on an image must be a number of seconds >= 0, not {seconds_spent!r}.")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / JSON_NAME
    try:
        previous = _read_json(path) if path.exists() else {}
    except ValueError:
        previous = {}  # the old file is unreadable; this save replaces it
    prior_image = previous.get("image") if isinstance(previous.get("image"), dict) else {}
    if prior_image.get("sha256", image_sha256) != image_sha256:
        raise FileExistsError(f"{folder} holds this reader's annotation of another image named "
                              f"{prior_image.get('name')!r}; choose another folder.")
    same_folder = annotations.saved_to is not None and Path(annotations.saved_to) == folder
    labels: dict[str, dict[str, Any]] = {}
    stale: list[Path] = []
    versions: dict[str, int] = {}
    for label in LABELS:
        png = folder / f"{label}.png"
        version = annotations.label_version(label)
        empty = annotations.is_empty(label)
        if empty:
            stale.append(png)
        elif not (same_folder and annotations.saved_versions.get(label) == version and png.exists()):
            write_bytes(png, encode_image(annotations.mask(label) * np.uint8(255), ".png"))
        versions[label] = version
        labels[label] = {"status": annotations.status_of(label), "mask": None if empty else png.name}
    now = datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    meta: dict[str, Any] = {
        "schema": SCHEMA, "reader": reader,
        "image": {"name": image_name, "sha256": image_sha256, "page": page},
        "model_version": model_version, "created": previous.get("created") or now, "modified": now,
        "reviewed": bool(reviewed), "blinded": bool(blinded), "labels": labels,
    }
    if seconds_spent is None:  # keep the earlier measurement (a hand-edited non-number is dropped)
        kept = previous.get("seconds_spent")
        usable = isinstance(kept, (int, float)) and not isinstance(kept, bool) and math.isfinite(kept) and kept >= 0
        seconds_spent = kept if usable else None
    if seconds_spent is not None:  # absent until measured: files written outside a study keep their form
        meta["seconds_spent"] = round(float(seconds_spent), 3)
    write_json(path, meta)
    for png in stale:
        png.unlink(missing_ok=True)
    annotations.saved_to, annotations.saved_versions = folder, versions  # only once all is written
    return path


def load(folder: str | Path, size_px: tuple[int, int]) -> tuple[Annotations, dict[str, Any]]:
    """A reader's saved annotations and the json's metadata; a folder without one: empty, {}.

    Raises ValueError with one sentence naming the file when the json or a mask is unreadable
    or a mask's size is not the image's (it was drawn on another image).
    """
    folder = Path(folder)
    annotations = Annotations(size_px)
    path = folder / JSON_NAME
    if not path.exists():
        return annotations, {}
    meta = _read_json(path)
    labels = meta.get("labels")
    if not isinstance(labels, dict):
        raise ValueError(f"{path} has no 'labels' table.")
    for label, entry in labels.items():
        if label not in LABELS or not isinstance(entry, dict):
            continue  # a label this version does not know
        status, name = entry.get("status"), entry.get("mask")
        if status is not None and status not in STATUSES:
            raise ValueError(f"{path} gives {label} the unknown status {status!r}.")
        if name is not None:
            annotations.set_mask(label, _read_mask(folder, name, annotations.size_px))
        annotations.set_status(label, status)
    annotations.saved_to = folder
    annotations.saved_versions = {label: annotations.label_version(label) for label in LABELS}
    return annotations, meta


def find_folder(image_path: str | Path, reader: str, page: int, sha256: str) -> Path | None:
    """The folder holding this reader's annotation of this very image (same sha256): beside
    the image, else under ``fallback_base()``; None if neither. A same-named image elsewhere
    (another sha256) must not open with this one's strokes. An unreadable json raises
    ValueError rather than being passed over, so that a new save never silently replaces it."""
    for base in (None, fallback_base()):
        folder = annotation_folder(image_path, reader, page, base)
        if (folder / JSON_NAME).exists():
            image = _read_json(folder / JSON_NAME).get("image")
            if isinstance(image, dict) and image.get("sha256") == sha256:
                return folder
    return None


def readers_of(image_path: str | Path, page: int = 1) -> list[str]:
    """Names of the readers with a saved annotation of this page beside the image."""
    readers = annotation_folder(image_path, "x", page).parent
    names = []
    for folder in sorted(readers.iterdir()) if readers.is_dir() else []:
        if (folder / JSON_NAME).is_file():
            try:
                names.append(str(_read_json(folder / JSON_NAME).get("reader") or folder.name))
            except ValueError:
                names.append(folder.name)
    return names


def read_meta(folder: str | Path) -> dict[str, Any]:
    """The annotation.json of a reader's folder without its masks ({} when there is none): a
    worklist reads each image's status from it without decoding a mask."""
    path = Path(folder) / JSON_NAME
    return _read_json(path) if path.is_file() else {}


def _read_json(path: Path) -> dict[str, Any]:
    try:
        meta = json.loads(path.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path} is not a readable annotation file ({exc}).") from None
    if not isinstance(meta, dict) or meta.get("schema") != SCHEMA:
        raise ValueError(f"{path} is not an {SCHEMA} file.")
    return meta


def _read_mask(folder: Path, name: Any, size_px: tuple[int, int]) -> np.ndarray:
    if not isinstance(name, str) or Path(name).name != name:
        raise ValueError(f"{folder / JSON_NAME} names a mask outside its folder: {name!r}.")
    path = folder / name
    try:
        data = np.frombuffer(path.read_bytes(), np.uint8)
    except FileNotFoundError:
        raise ValueError(f"{path} is missing, though {JSON_NAME} names it.") from None
    mask = cv2.imdecode(data, cv2.IMREAD_GRAYSCALE) if data.size else None
    if mask is None:
        raise ValueError(f"{path} is not a readable PNG image.")
    if mask.shape != (size_px[1], size_px[0]):
        raise ValueError(f"{path} is {mask.shape[1]} x {mask.shape[0]} px but the image is "
                         f"{size_px[0]} x {size_px[1]} px.")
    return mask > 127
