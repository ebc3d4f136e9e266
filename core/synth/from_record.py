"""Samples from real records: the signal of a WFDB record, its diagnoses and, where LUDB's
cardiologists delineated the waves, where on the trace each present label's evidence lies.

Evidence is never guessed: a present label whose evidence cannot be read off the delineation
(every CinC record; a LUDB beat pattern the rules below do not find) is left out of
``EcgSample.evidence`` and the reason is written to ``source["params"]["evidence_note"]``.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import wfdb
from scipy import signal as sps

from core.io.errors import RecordLoadError
from core.io.records import Record, RecordRow, read_record, record_path
from core.labels import BY_KEY, LEADS, PREMATURE_RR
from core.synth.sample import EcgSample, Evidence

FS_HZ = 500.0
DURATION_S = 10.0
HIGHPASS_HZ = 0.5  # AHA 2007 accepts down to 0.67 Hz for zero-phase filters; removes wander only
WIDE_QRS_S = 0.120
PVC_NO_P_S = 0.300  # no P wave this long before a PVC's QRS onset
CONDUCTED_SLACK_S = 0.020  # a PAC's QRS may be this much wider than the record's usual one
SAME_BEAT_S = 0.080  # QRS peaks of one beat in different leads lie this close
SAME_P_S = 0.100

_NEVER = np.iinfo(np.int64).max
_WAVE_SYMBOLS = {"p": "p", "N": "qrs", "t": "t"}


@dataclass(frozen=True)
class Waves:
    """One lead's delineated waves, each an (n, 3) int array of onset, peak, offset (samples).

    p: P waves. qrs: QRS complexes. t: T waves. Rows in time order.
    """

    p: np.ndarray
    qrs: np.ndarray
    t: np.ndarray


@dataclass(frozen=True)
class Beat:
    """One beat seen across leads (samples).

    qrs_on/qrs_off: earliest onset/latest offset over the leads (the span evidence covers).
    peak: median QRS peak. qrs_width: median over the leads of each lead's QRS duration; the
    cardiologists' per-lead marks scatter, so the earliest-to-latest span would read normal
    beats as ~130 ms. t_off: latest T offset, or qrs_off when no T is delineated.
    p_on/p_peak/p_off: the P wave before this QRS (after the previous QRS), or -1 when none.
    """

    qrs_on: int
    peak: int
    qrs_off: int
    qrs_width: int
    t_off: int
    p_on: int
    p_peak: int
    p_off: int


def sample_from_record(
    row: RecordRow, root: Path | None = None, *, highpass_hz: float | None = HIGHPASS_HZ
) -> EcgSample:
    """The record of ``row`` as a 10-s, 500-Hz EcgSample with its labels and evidence.

    highpass_hz: cut-off (Hz) of a zero-phase 2nd-order Butterworth high-pass that removes
    baseline wander; None keeps the signal as recorded.
    """
    path = record_path(row, root)
    record = _read_record_cached(str(path))
    signals = _prepare_signals(record, highpass_hz)
    waves = _read_delineation_cached(str(path))
    present = [key for key, value in row.labels.items() if value == 1]
    evidence, note = (
        _evidence(waves, present, record.fs)
        if waves is not None
        else ({}, {key: "the record has no wave delineation" for key in present})
    )
    params: dict[str, Any] = {
        "fs_original_hz": record.fs,
        "duration_original_s": round(record.duration_s, 4),
        "fs_hz": FS_HZ,
        "duration_s": DURATION_S,  # cut, or zero-padded at the end
        "highpass_hz": highpass_hz,  # baseline-wander removal; None = as recorded
        "highpass": None if highpass_hz is None else "butterworth order 2, zero-phase",
        "evidence_from": "LUDB cardiologists' delineation" if waves is not None else None,
        "evidence_note": note,
    }
    return EcgSample(
        signals=signals,
        fs=FS_HZ,
        labels=dict(row.labels),
        evidence=evidence,
        source={"kind": "record", "record": row.record, "params": params},
    )


@functools.lru_cache(maxsize=512)
def _read_record_cached(path: str) -> Record:
    record = read_record(path)
    record.signals.flags.writeable = False  # shared by every caller of the cache
    return record


@functools.lru_cache(maxsize=512)
def _read_delineation_cached(path: str) -> dict[str, Waves] | None:
    return read_delineation(Path(path))


def read_delineation(path: Path) -> dict[str, Waves] | None:
    """LUDB's per-lead wave delineation ({lead: Waves}), or None when the record has none.

    Files ``<path>.i`` ... ``<path>.v6``; symbols '(' onset, 'p'/'N'/'t' peak, ')' offset.
    A peak without its own onset and offset around it is skipped.
    """
    waves: dict[str, Waves] = {}
    for lead in LEADS:
        extension = lead.lower()
        if not path.with_name(f"{path.name}.{extension}").is_file():
            continue
        try:
            annotation = wfdb.rdann(str(path), extension)
        except Exception as e:  # wfdb raises assorted types on a damaged file
            raise RecordLoadError(
                f"The {lead} delineation of record {path.name} is damaged ({e})."
            ) from None
        waves[lead] = _parse_waves(annotation.sample, annotation.symbol)
    return waves or None


def _parse_waves(samples: np.ndarray, symbols: list[str]) -> Waves:
    symbol = np.asarray(symbols, dtype=str)
    samples = np.asarray(samples, dtype=np.int64)
    framed = np.zeros(len(symbol), bool)
    framed[1:-1] = (symbol[:-2] == "(") & (symbol[2:] == ")")
    found = {}
    for char, name in _WAVE_SYMBOLS.items():
        peaks = np.flatnonzero(framed & (symbol == char))
        found[name] = np.stack([samples[peaks - 1], samples[peaks], samples[peaks + 1]], axis=1)
    return Waves(**found)


def _prepare_signals(record: Record, highpass_hz: float | None) -> np.ndarray:
    """Resample to 500 Hz, remove wander, cut or zero-pad to exactly 10 s."""
    x = record.signals.astype(np.float64)
    if record.fs != FS_HZ:
        ratio = Fraction(FS_HZ / record.fs).limit_denominator(1000)
        x = sps.resample_poly(x, ratio.numerator, ratio.denominator, axis=0)
    if highpass_hz is not None:
        sos = sps.butter(2, highpass_hz, btype="highpass", fs=FS_HZ, output="sos")
        x = sps.sosfiltfilt(sos, x, axis=0, padlen=min(len(x) - 1, int(FS_HZ)))
    n = int(round(DURATION_S * FS_HZ))
    out = np.zeros((n, len(LEADS)), np.float32)
    out[: min(n, len(x))] = x[:n]
    return out


def _evidence(
    waves: dict[str, Waves], present: list[str], fs: float
) -> tuple[dict[str, tuple[Evidence, ...]], dict[str, str]]:
    """Evidence intervals (s) for each present label, and why any present label has none."""
    beats = find_beats(waves, fs)
    evidence: dict[str, tuple[Evidence, ...]] = {}
    note: dict[str, str] = {}
    for key in present:
        spans, reason = _label_spans(key, waves, beats, fs)
        items = _to_evidence(spans, fs)
        if items:
            evidence[key] = items
        else:
            note[key] = reason
    return evidence, note


def _label_spans(
    key: str, waves: dict[str, Waves], beats: list[Beat], fs: float
) -> tuple[list[tuple[str, int, int]], str]:
    """(lead, start, stop) in samples for one label, and the reason when there are none."""
    leads = [lead for lead in BY_KEY[key].evidence_leads if lead in waves]
    if key == "SR":
        spans = [(lead, on, off) for lead in leads for on, _, off in waves[lead].p]
        return spans, "no P wave is delineated in II, I or aVF"
    if key == "IAVB":
        spans = [(lead, p_on, q_on) for lead in leads for p_on, q_on in _pr_spans(waves[lead])]
        return spans, "no P wave followed by a QRS is delineated in II or V1"
    if key in ("LBBB", "RBBB"):
        spans = [(lead, on, off) for lead in leads for on, _, off in waves[lead].qrs]
        return spans, f"no QRS complex is delineated in {', '.join(BY_KEY[key].evidence_leads)}"
    if key in ("AF", "AFL"):
        peaks = np.array([beat.peak for beat in beats])
        spans = [(lead, a, b) for lead in leads for a, b in _between_qrs(waves[lead], peaks)]
        return spans, "fewer than two consecutive QRS complexes are delineated"
    if key == "PVC":  # the beat spans come from all leads, so they hold in every lead
        spans = [(lead, b.qrs_on, b.t_off) for b in pvc_beats(beats, fs) for lead in LEADS]
        return spans, (
            "no delineated beat is premature (RR < 85 % of the median), wide (QRS >= 120 ms) "
            "and without a P wave in the 300 ms before it"
        )
    if key == "PAC":
        spans = [(lead, b.p_on, b.p_off) for b in pac_beats(beats, fs) for lead in LEADS]
        return spans, (
            "no delineated beat is premature (RR < 85 % of the median) with a narrow QRS "
            "preceded by a P wave"
        )
    return [], f"no rule derives {key} evidence from a delineation"


def _to_evidence(spans: list[tuple[str, int, int]], fs: float) -> tuple[Evidence, ...]:
    """Sample spans as Evidence in s, clipped to the 10-s sample, ordered by lead then time."""
    items = []
    for lead, start, stop in spans:
        t0, t1 = max(0.0, start / fs), min(DURATION_S, stop / fs)
        if t1 > t0:
            items.append(Evidence(lead, t0, t1))
    return tuple(sorted(items, key=lambda e: (LEADS.index(e.lead), e.t0_s)))


def _pr_spans(lead_waves: Waves) -> list[tuple[int, int]]:
    """(P onset, QRS onset) in one lead, for each QRS whose last preceding wave is a P wave."""
    spans = []
    for q_on, _, _ in lead_waves.qrs:
        before = lead_waves.p[lead_waves.p[:, 2] <= q_on]
        if len(before) and not _wave_between(lead_waves.qrs, before[-1, 2], q_on):
            spans.append((int(before[-1, 0]), int(q_on)))
    return spans


def _wave_between(waves: np.ndarray, start: int, stop: int) -> bool:
    return bool(np.any((waves[:, 1] > start) & (waves[:, 1] < stop)))


def _between_qrs(lead_waves: Waves, beat_peaks: np.ndarray) -> list[tuple[int, int]]:
    """(QRS offset, next QRS onset) of consecutive complexes with no other beat between them."""
    qrs = lead_waves.qrs
    spans = []
    for (_, _, off), (on, _, _) in zip(qrs[:-1], qrs[1:]):
        if on > off and not np.any((beat_peaks > off) & (beat_peaks < on)):
            spans.append((int(off), int(on)))
    return spans


def find_beats(waves: dict[str, Waves], fs: float) -> list[Beat]:
    """Group the leads' QRS complexes into beats and attach each beat's P and T waves.

    A beat needs QRS delineations in at least half the leads, so one lead's stray mark is not
    a beat.
    """
    qrs = np.concatenate([w.qrs for w in waves.values()])
    if not len(qrs):
        return []
    qrs = qrs[np.argsort(qrs[:, 1])]
    groups = np.split(qrs, np.flatnonzero(np.diff(qrs[:, 1]) > SAME_BEAT_S * fs) + 1)
    groups = [g for g in groups if len(g) >= max(1, len(waves) // 2)]
    p_waves = np.concatenate([w.p for w in waves.values()])
    t_waves = np.concatenate([w.t for w in waves.values()])
    beats = []
    for i, group in enumerate(groups):
        q_on, q_off = int(group[:, 0].min()), int(group[:, 2].max())
        peak = int(np.median(group[:, 1]))
        width = int(np.median(group[:, 2] - group[:, 0]))
        previous_off = int(groups[i - 1][:, 2].max()) if i else -1
        next_on = int(groups[i + 1][:, 0].min()) if i + 1 < len(groups) else _NEVER
        p_on, p_peak, p_off = _p_before(p_waves, previous_off, q_on, SAME_P_S * fs)
        ts = t_waves[(t_waves[:, 1] > peak) & (t_waves[:, 1] < next_on)]
        t_off = int(ts[:, 2].max()) if len(ts) else q_off
        beats.append(Beat(q_on, peak, q_off, width, t_off, p_on, p_peak, p_off))
    return beats


def _p_before(
    p_waves: np.ndarray, after: int, before: int, same_wave: float
) -> tuple[int, int, int]:
    """The last P wave (over all leads) whose peak lies between two samples, or (-1, -1, -1).

    Leads mark one P wave at slightly different times; marks within ``same_wave`` samples of
    the latest peak are that wave, and its span is their earliest onset to latest offset.
    """
    inside = p_waves[(p_waves[:, 1] > after) & (p_waves[:, 1] < before)]
    if not len(inside):
        return -1, -1, -1
    last = inside[inside[:, 1] >= inside[:, 1].max() - same_wave]
    return int(last[:, 0].min()), int(np.median(last[:, 1])), int(last[:, 2].max())


def premature(beats: list[Beat]) -> np.ndarray:
    """Mask of beats whose RR (to the previous beat) is < 85 % of the median RR.

    The first beat has no RR and is never premature; fewer than 3 beats give no median.
    """
    peaks = np.array([b.peak for b in beats], dtype=np.float64)
    if len(peaks) < 3:
        return np.zeros(len(peaks), bool)
    rr = np.diff(peaks)
    return np.concatenate([[False], rr < PREMATURE_RR * np.median(rr)])


def pvc_beats(beats: list[Beat], fs: float) -> list[Beat]:
    """Premature, wide (QRS >= 120 ms) beats with no P wave in the 300 ms before the QRS."""
    return [
        b
        for b, early in zip(beats, premature(beats))
        if early
        and b.qrs_width >= WIDE_QRS_S * fs
        and (b.p_off < 0 or b.p_off < b.qrs_on - PVC_NO_P_S * fs)
    ]


def pac_beats(beats: list[Beat], fs: float) -> list[Beat]:
    """Premature beats preceded by a P wave whose QRS is conducted normally.

    Normally conducted: narrow (< 120 ms), or, in a record whose beats are all wide (bundle
    branch block), no more than 20 ms wider than its median beat.
    """
    if not beats:
        return []
    usual = float(np.median([b.qrs_width for b in beats]))
    limit = max(WIDE_QRS_S * fs, usual + CONDUCTED_SLACK_S * fs)
    return [
        b
        for b, early in zip(beats, premature(beats))
        if early and b.qrs_width < limit and b.p_peak >= 0
    ]
