"""Real 12-lead ECG records (WFDB) and their diagnoses (``labels.csv``) from the shared data.

Data layout (see the data folder's README): ``<data>/labels.csv`` and
``<data>/records/<source>/<id>.hea`` with ``.dat`` (LUDB) or ``.mat`` (CinC) signal files.
"""
from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import wfdb

from core.io.errors import RecordLoadError
from core.labels import LABELS, LEADS, canonical_lead

_UNKNOWN = "?"
_HEADER_SUFFIXES = (".hea", ".dat", ".mat")


def data_dir() -> Path:
    """The shared data folder: ``$ECG_AIO_DATA`` if set, else ``../shared/data`` beside the repo."""
    override = os.environ.get("ECG_AIO_DATA")
    if override:
        return Path(override)
    return Path(__file__).resolve().parents[2].parent / "shared" / "data"


@dataclass(frozen=True)
class Record:
    """One ECG record.

    name: record name (file stem). signals: (n, 12) float32 mV, columns in ``core.labels.LEADS``
    order, missing samples (NaN) set to 0. fs: sampling rate, Hz.
    """

    name: str
    signals: np.ndarray
    fs: float

    @property
    def duration_s(self) -> float:
        return self.signals.shape[0] / self.fs


@dataclass(frozen=True)
class RecordRow:
    """One row of ``labels.csv``.

    source: 'ludb' | 'cinc'. record: path under ``records/`` without extension ('ludb/1').
    split: 'train' | 'eval'. labels: {key: 1 | 0 | None} for every key of ``core.labels.LABELS``
    (None = the source cannot say). dx: the source's own diagnosis text or codes.
    """

    source: str
    record: str
    split: str
    labels: dict[str, int | None]
    dx: str


def read_record(path: str | os.PathLike[str]) -> Record:
    """Read a WFDB record (``path`` without extension) as 12 leads in mV in standard order.

    Lead names in the header are matched case-insensitively ('avr' -> 'aVR').
    Raises RecordLoadError when the header or signal file is missing or unreadable, or the
    record does not hold the 12 standard leads.
    """
    stem = _strip_suffix(Path(path))
    name = stem.name
    if not stem.with_suffix(".hea").is_file():
        raise RecordLoadError(f"{name}.hea does not exist, so record {name} cannot be read.")
    try:
        raw = wfdb.rdrecord(str(stem), physical=True)
    except FileNotFoundError as e:
        missing = Path(e.filename).name if e.filename else "its signal file"
        raise RecordLoadError(f"Record {name} cannot be read: {missing} is missing.") from None
    except Exception as e:  # wfdb raises many types (ValueError, IndexError, ...) on damage
        raise RecordLoadError(f"Record {name} is damaged and cannot be read ({e}).") from None
    columns = _lead_columns(name, list(raw.sig_name or []))
    if raw.p_signal is None or raw.p_signal.ndim != 2:
        raise RecordLoadError(f"Record {name} holds no signal samples.")
    signals = np.nan_to_num(raw.p_signal[:, columns], nan=0.0).astype(np.float32)
    return Record(name=name, signals=np.ascontiguousarray(signals), fs=float(raw.fs))


def read_labels(root: Path | None = None) -> tuple[RecordRow, ...]:
    """All rows of ``<root>/labels.csv`` (root defaults to :func:`data_dir`); '?' becomes None."""
    path = (root if root is not None else data_dir()) / "labels.csv"
    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
    except FileNotFoundError:
        raise RecordLoadError(f"{path.name} does not exist in {path.parent}.") from None
    needed = {"source", "record", "split", "dx_original", *LABELS}
    if rows and not needed <= set(rows[0]):
        missing = ", ".join(sorted(needed - set(rows[0])))
        raise RecordLoadError(f"{path.name} lacks the column(s) {missing}.")
    return tuple(_parse_row(row, path.name, i) for i, row in enumerate(rows, start=2))


def record_path(row: RecordRow, root: Path | None = None) -> Path:
    """Where a row's record lives, without extension."""
    return (root if root is not None else data_dir()) / "records" / row.record


def _strip_suffix(path: Path) -> Path:
    return path.with_suffix("") if path.suffix.lower() in _HEADER_SUFFIXES else path


def _lead_columns(name: str, sig_names: list[str]) -> list[int]:
    """Column of each standard lead in the file, in ``LEADS`` order."""
    found: dict[str, int] = {}
    for column, sig_name in enumerate(sig_names):
        try:
            found.setdefault(canonical_lead(sig_name), column)
        except ValueError:
            continue
    missing = [lead for lead in LEADS if lead not in found]
    if missing:
        raise RecordLoadError(
            f"Record {name} is not a 12-lead ECG: it lacks lead(s) {', '.join(missing)}."
        )
    return [found[lead] for lead in LEADS]


def _parse_row(row: dict[str, str], file_name: str, line: int) -> RecordRow:
    labels: dict[str, int | None] = {}
    for key in LABELS:
        value = row[key].strip()
        if value not in ("0", "1", _UNKNOWN):
            raise RecordLoadError(
                f"{file_name} line {line} has {key}={value!r}; expected 1, 0 or {_UNKNOWN}."
            )
        labels[key] = None if value == _UNKNOWN else int(value)
    return RecordRow(
        source=row["source"],
        record=row["record"],
        split=row["split"],
        labels=labels,
        dx=row["dx_original"],
    )
