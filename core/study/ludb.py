"""A study read by real experts: LUDB's records printed by the studio, and one reader, "LUDB
cardiologists", whose masks come from the cardiologists' wave delineations.

LUDB (Kalyakulina et al., IEEE Access 8, 2020; ODC-By 1.0) gives 200 10-s 12-lead records
whose P, QRS and T waves cardiologists delineated lead by lead. ``core.synth.from_record``
turns a delineation into each present label's evidence intervals by the rule of
ECG_FACTS.md (SR: the P waves in II, I, aVF; AF/AFL: QRS offset to the next QRS onset in the
evidence leads; PVC: the premature wide QRS-T in every lead; ...), and never guesses: a label
whose evidence the delineation does not show gets no intervals. Each record is printed once
on studio paper and then shown in each domain (the clean printout, a phone photograph of the
same printout ...), its evidence masks carried through the same warp as the image.

The reader's statuses: "annotated" where the page carries the label and a mask exists;
"not_visible" where the record does not carry it (labels.csv says 0); "not_assessable" where
the record carries it but no evidence could be derived from the delineation or none of it is
printed on the page. The masks are derived, not drawn, and the study says so in
``reader_notes``; nothing is written into the shared data.
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from core.atomic import write_jpeg
from core.intervals import average_rr_s
from core.io.records import RecordRow, data_dir, read_labels, record_path
from core.labels import LABELS
from core.review import store
from core.review.annotations import Annotations
from core.study.study import STUDY_FILE, Study, init_study
from core.synth.degrade import DOMAINS, degrade
from core.synth.from_record import find_beats, premature, read_delineation, sample_from_record
from core.synth.masks import label_masks
from core.synth.paper import random_spec
from core.synth.render import render_page
from core.synth.sample import EcgSample

READER = "LUDB cardiologists"
READER_NOTE = (
    "masks derived from the LUDB cardiologists' wave delineations (P, QRS and T onsets and "
    "offsets, lead by lead) by the evidence rule of ECG_FACTS.md, not drawn by them; "
    "'not_assessable' where the record carries the label but the delineation does not show its "
    "evidence or none of it is printed on the page"
)
# 150 DPI: Letter is 1650 x 1275 px (2.1 MP), the resolution of a typical scan; printing,
# photographing and saving a record in two domains then takes ~1 s on one core of this CPU.
LUDB_DPI = 150
# JPEG (quality 92, the studio's) for every domain: a clean 150-DPI page with its 1-mm grid is
# 2.2-2.8 MB as PNG and ~0.9 MB as JPEG; the 200 x 2 pages then take ~0.25 GB, not 0.55 GB.


def ludb_rows(records: Sequence[str] | None = None, root: Path | None = None) -> list[RecordRow]:
    """labels.csv's LUDB rows in record-number order; ``records`` ("12" or "ludb/12") picks some.

    ValueError, one sentence, when the shared data has no LUDB rows or a named record is not one.
    """
    rows = sorted((r for r in read_labels(root) if r.source == "ludb"), key=lambda r: _number(r))
    if not rows:
        raise ValueError(f"{(root or data_dir()) / 'labels.csv'} lists no LUDB records.")
    if records is None:
        return rows
    by_id = {r.record.split("/")[-1]: r for r in rows}
    wanted = [str(r).split("/")[-1] for r in records]
    unknown = [r for r in wanted if r not in by_id]
    if unknown:
        what = "is not a LUDB record" if len(unknown) == 1 else "are not LUDB records"
        raise ValueError(f"{', '.join(unknown)} {what} (LUDB records are 1-{len(rows)}).")
    return [by_id[r] for r in dict.fromkeys(wanted)]


def delineated_intervals(row: RecordRow) -> dict[str, float | None]:
    """The cardiologists' intervals of a LUDB record in ms, as ``core.intervals`` reads them:
    medians over the beats that are not premature of PR (P onset to QRS onset), QRS (each
    lead's own onset to offset, median over leads: the leads' marks scatter), QT (earliest QRS
    onset to latest T offset), and the average RR of all beats as ``core.intervals`` takes it
    (median, or mean in an irregular rhythm). None where the delineation does
    not give one (PR without a P wave before at least half the beats)."""
    fs = 500.0  # LUDB's sample rate, which its delineation counts in
    beats = find_beats(read_delineation(record_path(row)) or {}, fs)
    none = {"rr_ms": None, "pr_ms": None, "qrs_ms": None, "qt_ms": None}
    if len(beats) < 3:
        return none
    ms = 1000.0 / fs
    regular = [b for b, early in zip(beats, premature(beats)) if not early]
    pr = [(b.qrs_on - b.p_on) * ms for b in regular if b.p_on >= 0]
    qt = [(b.t_off - b.qrs_on) * ms for b in regular if b.t_off > b.qrs_off]

    def median(values: list[float]) -> float | None:
        return float(np.median(values)) if len(values) >= 2 else None

    return {"rr_ms": average_rr_s(np.diff([b.peak for b in beats]) * ms / 1000.0) * 1000.0,
            "pr_ms": median(pr) if len(pr) >= len(regular) / 2 else None,
            "qrs_ms": median([b.qrs_width * ms for b in regular]),
            "qt_ms": median(qt)}


def make_ludb_study(folder: str | Path, domains: Sequence[str] = ("clean", "photo"), n_records: int | None = None,
                    labels: Sequence[str] | None = None, seed: int = 0,
                    progress: Callable[[int, int], None] | None = None, *,
                    records: Sequence[str] | None = None) -> Study:
    """Print LUDB's records by the studio into ``folder`` and save the LUDB cardiologists'
    derived masks as one reader's annotations; the Study.

    domains: the studio's domains (core.synth.degrade.DOMAINS), each record printed once and
    shown in each. n_records: the first n records by number (default all 200); ``records``
    names some instead ("12" or "ludb/12"). labels: default every label that at least one of
    these records carries with evidence derived from its delineation. seed: the paper and the
    degradations (page of record k in domain d depends only on (seed, k, d)). progress(done,
    total) after each page. Images are ``ludb_<id>_<domain>.jpg``. The
    folder may exist but not hold a study; study.json is written last, so a folder with one
    is complete. All 200 records x clean, photo: about 1 min on this 2-core CPU
    (20 s reading the records and their delineations, then ~0.09 s a page).
    """
    folder = Path(folder)
    domains = _check_domains(domains)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"the seed must be a whole number >= 0, not {seed!r}.")
    shared = data_dir().resolve()
    if folder.resolve() == shared or shared in folder.resolve().parents:
        raise ValueError(f"{folder} is inside the shared data folder, which is read-only; choose another folder.")
    if (folder / STUDY_FILE).exists():
        raise ValueError(f"{folder} already holds a study; choose an empty folder for the LUDB study.")
    rows = ludb_rows(records)
    if n_records is not None:
        if n_records < 1:
            raise ValueError("the LUDB study needs at least one record.")
        rows = rows[:n_records]
    samples = [sample_from_record(row) for row in rows]
    keys = _study_labels(labels, samples)
    folder.mkdir(parents=True, exist_ok=True)
    images: list[str] = []
    truth: dict[str, dict[str, int | None]] = {}
    total = len(rows) * len(domains)
    if progress:
        progress(0, total)  # the records are read (~0.1 s each); the pages follow
    for row, sample in zip(rows, samples):
        for name in _write_record(folder, row, sample, keys, domains, seed):
            images.append(name)
            truth[name] = {label: row.labels[label] for label in keys}
            if progress:
                progress(len(images), total)
    what = f"{len(rows)} record{'s' if len(rows) != 1 else ''}"
    return init_study(folder, keys, (READER,), blinded=True, seed=seed,
                      name=f"LUDB: {what} printed by the studio ({', '.join(domains)})", images=images,
                      simulated_readers=False, reader_notes={READER: READER_NOTE}, truth=truth)


def mask_counts(study: Study) -> dict[str, dict[str, int]]:
    """Per study label, from the saved annotations: records and pages that carry it (truth
    1), pages and records with a derived mask ("annotated"), and pages "not_assessable"."""
    counts: dict[str, dict[str, Any]] = {
        label: {"records_positive": set(), "pages_positive": 0, "records_with_mask": set(),
                "pages_with_mask": 0, "pages_not_assessable": 0} for label in study.labels}
    for image in study.images:
        record = image.split("_")[1] if image.startswith("ludb_") else image
        labels = store.read_meta(store.annotation_folder(study.image_path(image), READER)).get("labels", {})
        for label, c in counts.items():
            status = (labels.get(label) or {}).get("status")
            if study.truth.get(image, {}).get(label) == 1:
                c["records_positive"].add(record)
                c["pages_positive"] += 1
            if status == "annotated":
                c["records_with_mask"].add(record)
                c["pages_with_mask"] += 1
            elif status == "not_assessable":
                c["pages_not_assessable"] += 1
    return {label: {k: len(v) if isinstance(v, set) else v for k, v in c.items()} for label, c in counts.items()}


def _write_record(folder: Path, row: RecordRow, sample: EcgSample, labels: tuple[str, ...],
                  domains: tuple[str, ...], seed: int) -> list[str]:
    """Print one record once, show it in each domain, and save the image and the reader's
    annotation of each; the image names."""
    number = _number(row)
    rng = np.random.default_rng([seed, number])
    page = render_page(sample, random_spec(rng, dpi=LUDB_DPI), rng)
    masks = label_masks(sample, page.geometry)
    names = []
    for domain in domains:
        degraded = degrade(page.image, domain, np.random.default_rng([seed, number, DOMAINS.index(domain)]))
        name = f"ludb_{number:03d}_{domain}.jpg"
        path = folder / name
        write_jpeg(path, degraded.image)
        annotations = Annotations((degraded.image.shape[1], degraded.image.shape[0]))
        for label in labels:
            mask = masks.get(label)
            mask = degraded.warp.apply_mask(mask) if mask is not None else None
            if row.labels[label] == 0:
                annotations.set_status(label, "not_visible")
            elif mask is not None and mask.any():
                annotations.set_mask(label, mask)
                annotations.set_status(label, "annotated")
            else:  # carried, but the delineation shows no evidence (or it is not printed)
                annotations.set_status(label, "not_assessable")
        store.save(store.annotation_folder(path, READER), annotations, reader=READER, image_name=name,
                   image_sha256=hashlib.sha256(path.read_bytes()).hexdigest(), page=1, model_version=None,
                   reviewed=True, blinded=True)
        names.append(name)
    return names


def _study_labels(labels: Sequence[str] | None, samples: list[EcgSample]) -> tuple[str, ...]:
    """The given labels in core.labels order, or those some record carries with evidence."""
    if labels is None:
        found = tuple(k for k in LABELS if any(s.labels[k] == 1 and s.evidence.get(k) for s in samples))
        if not found:
            raise ValueError("none of these LUDB records carries a label whose evidence the delineation shows.")
        return found
    unknown = [k for k in labels if k not in LABELS]
    if unknown or not labels:
        raise ValueError(f"the study's labels must be among {', '.join(LABELS)}, not {', '.join(unknown) or 'none'}.")
    return tuple(k for k in LABELS if k in labels)


def _check_domains(domains: Sequence[str]) -> tuple[str, ...]:
    domains = tuple(domains)
    unknown = [d for d in domains if d not in DOMAINS]
    if unknown or not domains or len(set(domains)) != len(domains):
        raise ValueError(f"domains must be distinct ones of {', '.join(DOMAINS)}, not {', '.join(domains) or 'none'}.")
    return domains


def _number(row: RecordRow) -> int:
    return int(row.record.split("/")[-1])


__all__ = ["LUDB_DPI", "READER", "READER_NOTE", "ludb_rows", "make_ludb_study", "mask_counts"]
