"""Samples from records: signals, labels, and evidence read off cardiologists' delineations.

A hand-written record with a known delineation (regular beats, one PVC, one PAC) checks every
rule exactly; real LUDB and CinC records check that the rules give clinically sane answers.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import wfdb

from core.io import RecordRow, data_dir, read_labels
from core.labels import LABELS, LEADS
from core.synth.from_record import (
    Waves,
    find_beats,
    pac_beats,
    pvc_beats,
    read_delineation,
    sample_from_record,
)
from core.synth.sample import EcgSample

FS = 500
# QRS onsets (samples): regular beats every 400 (800 ms), a PVC at 1700 (RR 500 ms) followed by
# a compensatory pause, and a PAC at 3760 (RR 620 ms) that resets the rhythm. Its P wave starts
# just after the previous T wave ends (LUDB marks waves one after another, never overlapping).
NORMAL_ONSETS = [250, 650, 1050, 1450, 2250, 2650, 3050, 3450, 4160, 4560]
PVC_ONSET, PAC_ONSET = 1700, 3760


def _normal_beat(q: int) -> list[tuple[int, str]]:
    """P 100 ms, PR 160 ms, QRS 90 ms, T to 440 ms after QRS onset."""
    return [
        (q - 80, "("), (q - 55, "p"), (q - 30, ")"),
        (q, "("), (q + 20, "N"), (q + 45, ")"),
        (q + 120, "("), (q + 170, "t"), (q + 220, ")"),
    ]


def _pvc(q: int) -> list[tuple[int, str]]:
    """No P wave; QRS 140 ms; T ends 500 ms after QRS onset."""
    return [(q, "("), (q + 30, "N"), (q + 70, ")"), (q + 150, "("), (q + 200, "t"), (q + 250, ")")]


def _write_hand_record(root: Path, labels: dict[str, int]) -> RecordRow:
    folder = root / "records" / "hand"
    folder.mkdir(parents=True)
    t = np.arange(10 * FS) / FS
    wander = 1.0 + 0.3 * np.sin(2 * np.pi * 0.15 * t)  # 1 mV offset + slow drift
    signals = np.stack([wander + 0.05 * k * np.sin(2 * np.pi * 7 * t) for k in range(12)], axis=1)
    wfdb.wrsamp(
        "rec", fs=FS, units=["mV"] * 12, sig_name=[lead.lower() for lead in LEADS],
        p_signal=signals, fmt=["16"] * 12, write_dir=str(folder),
    )
    marks = [m for q in NORMAL_ONSETS for m in _normal_beat(q)] + _pvc(PVC_ONSET)
    marks += _normal_beat(PAC_ONSET)
    marks.append((4900, "N"))  # a stray peak without onset/offset: must be ignored
    marks.sort()
    for lead in LEADS:
        # wfdb writes only all-letter extensions; LUDB's 'v1'... are the same files renamed
        wfdb.wrann(
            "rec", "tmp", np.array([m[0] for m in marks]), symbol=[m[1] for m in marks],
            fs=FS, write_dir=str(folder),
        )
        (folder / "rec.tmp").rename(folder / f"rec.{lead.lower()}")
    full = {key: labels.get(key, 0) for key in LABELS}
    return RecordRow(source="ludb", record="hand/rec", split="train", labels=full, dx="")


def _spans(sample: EcgSample, label: str, lead: str) -> list[tuple[float, float]]:
    return [(e.t0_s, e.t1_s) for e in sample.evidence[label] if e.lead == lead]


def _assert_spans(actual: list[tuple[float, float]], expected: list[tuple[float, float]]) -> None:
    assert len(actual) == len(expected)
    np.testing.assert_allclose(np.array(actual), np.array(expected), atol=1e-6)


def test_hand_record_evidence(tmp_path: Path) -> None:
    labels = {"SR": 1, "PVC": 1, "PAC": 1, "IAVB": 1, "RBBB": 1, "AF": 1}
    sample = sample_from_record(_write_hand_record(tmp_path, labels), root=tmp_path)
    p_beats = sorted(NORMAL_ONSETS + [PAC_ONSET])

    assert set(sample.evidence) == set(labels)
    assert sample.source["params"]["evidence_note"] == {}
    expected_p = [((q - 80) / FS, (q - 30) / FS) for q in p_beats]
    for lead in ("II", "I", "aVF"):
        _assert_spans(_spans(sample, "SR", lead), expected_p)
    assert {e.lead for e in sample.evidence["SR"]} == {"II", "I", "aVF"}

    for lead in LEADS:
        _assert_spans(_spans(sample, "PVC", lead), [(3.4, 3.9)])
        _assert_spans(_spans(sample, "PAC", lead), [(7.36, 7.46)])

    expected_pr = [((q - 80) / FS, q / FS) for q in p_beats]
    _assert_spans(_spans(sample, "IAVB", "V1"), expected_pr)
    assert {e.lead for e in sample.evidence["IAVB"]} == {"II", "V1"}

    all_qrs = sorted([(q, q + 45) for q in p_beats] + [(PVC_ONSET, PVC_ONSET + 70)])
    _assert_spans(_spans(sample, "RBBB", "V2"), [(a / FS, b / FS) for a, b in all_qrs])
    between = [(a[1] / FS, b[0] / FS) for a, b in zip(all_qrs[:-1], all_qrs[1:])]
    _assert_spans(_spans(sample, "AF", "II"), between)


def test_absent_labels_get_no_evidence_and_unfound_ones_a_note(tmp_path: Path) -> None:
    row = _write_hand_record(tmp_path, {"SR": 1, "LBBB": 1})
    folder = tmp_path / "records" / "hand"
    for lead in ("i", "avl", "v1", "v5", "v6"):  # LBBB's evidence leads lose their delineation
        (folder / f"rec.{lead}").unlink()
    sample = sample_from_record(row, root=tmp_path)
    assert set(sample.evidence) == {"SR"}
    assert set(sample.source["params"]["evidence_note"]) == {"LBBB"}


def test_signals_are_10_s_at_500_hz_without_wander(tmp_path: Path) -> None:
    row = _write_hand_record(tmp_path, {"SR": 1})
    sample = sample_from_record(row, root=tmp_path)
    raw = sample_from_record(row, root=tmp_path, highpass_hz=None)

    assert sample.fs == 500.0 and sample.signals.shape == (5000, 12)
    assert sample.signals.dtype == np.float32
    assert abs(float(np.median(raw.lead("I")))) > 0.8  # the 1 mV offset as recorded
    assert np.abs(np.median(sample.signals, axis=0)).max() < 0.05
    # the 7 Hz content is kept: V6's 0.55 mV sine keeps its amplitude
    middle = sample.lead("V6")[1000:4000]
    assert np.ptp(middle) == pytest.approx(1.1, abs=0.1)
    assert sample.source["params"]["highpass_hz"] == 0.5
    assert raw.source["params"]["highpass_hz"] is None


def test_short_record_at_another_rate_is_resampled_and_padded(tmp_path: Path) -> None:
    folder = tmp_path / "records" / "x"
    folder.mkdir(parents=True)
    t = np.arange(4 * 250) / 250.0
    signals = np.repeat(np.sin(2 * np.pi * 2 * t)[:, None], 12, axis=1)
    wfdb.wrsamp("short", fs=250, units=["mV"] * 12, sig_name=list(LEADS), p_signal=signals,
                fmt=["16"] * 12, write_dir=str(folder))
    row = RecordRow("cinc", "x/short", "train", {key: 0 for key in LABELS}, "")
    sample = sample_from_record(row, root=tmp_path, highpass_hz=None)
    assert sample.signals.shape == (5000, 12)
    t500 = np.arange(2000) / 500.0
    np.testing.assert_allclose(sample.lead("II")[100:1900], np.sin(2 * np.pi * 2 * t500)[100:1900],
                               atol=0.02)
    assert np.all(sample.signals[2000:] == 0.0)
    assert sample.source["params"]["fs_original_hz"] == 250.0


def test_repeated_loads_do_not_share_arrays(tmp_path: Path) -> None:
    row = _write_hand_record(tmp_path, {"SR": 1})
    first = sample_from_record(row, root=tmp_path)
    first.signals[:] = 99.0
    assert sample_from_record(row, root=tmp_path).signals.max() < 10.0


# --- real records -----------------------------------------------------------------------------

DATA = data_dir()
needs_data = pytest.mark.skipif(
    not (DATA / "labels.csv").is_file(),
    reason=f"shared data not found at {DATA} (set ECG_AIO_DATA)",
)


def _row(record: str) -> RecordRow:
    return next(row for row in read_labels() if row.record == record)


@needs_data
def test_ludb_sinus_rhythm_p_waves() -> None:
    row = _row("ludb/1")
    assert row.labels["SR"] == 1
    sample = sample_from_record(row)
    assert sample.signals.shape == (5000, 12)
    assert (sample.source["kind"], sample.source["record"]) == ("record", "ludb/1")
    waves = read_delineation(DATA / "records" / "ludb" / "1")
    for lead in ("II", "I", "aVF"):
        spans = _spans(sample, "SR", lead)
        assert len(spans) >= 4
        qrs_onsets = waves[lead].qrs[:, 0] / FS
        for t0, t1 in spans:
            assert 0.040 <= t1 - t0 <= 0.160
            gap = qrs_onsets[qrs_onsets >= t1] - t1
            assert len(gap) and gap.min() < 0.2  # a QRS follows the P wave within 200 ms


@needs_data
def test_ludb_first_degree_block_pr_is_long() -> None:
    row = _row("ludb/13")
    assert row.labels["IAVB"] == 1
    sample = sample_from_record(row)
    prs = np.array([e.t1_s - e.t0_s for e in sample.evidence["IAVB"]])
    assert {e.lead for e in sample.evidence["IAVB"]} == {"II", "V1"}
    assert len(prs) >= 8 and prs.min() > 0.200


@needs_data
def test_ludb_pvc_is_found() -> None:
    sample = sample_from_record(_row("ludb/105"))  # sinus rhythm with two PVCs
    starts = sorted({round(e.t0_s, 3) for e in sample.evidence["PVC"]})
    assert len(starts) == 2
    assert {e.lead for e in sample.evidence["PVC"]} == set(LEADS)
    assert all(0.25 <= e.t1_s - e.t0_s <= 0.7 for e in sample.evidence["PVC"])


@needs_data
def test_cinc_record_has_labels_but_no_evidence() -> None:
    row = next(r for r in read_labels() if r.source == "cinc" and r.labels["SR"] == 1)
    sample = sample_from_record(row)
    assert sample.signals.shape == (5000, 12)
    assert sample.labels == row.labels and sample.evidence == {}
    present = {key for key, value in row.labels.items() if value == 1}
    assert set(sample.source["params"]["evidence_note"]) == present


def _waves_all_leads(onsets: list[int], widths: list[int], p_gap: list[int | None]) -> dict:
    """The same delineation in every lead: QRS at onsets with widths; a 50-sample P wave
    ending p_gap samples before the QRS (None = no P wave); T waves omitted."""
    qrs = np.array([(q, q + w // 2, q + w) for q, w in zip(onsets, widths)])
    p = np.array([(q - g - 50, q - g - 25, q - g) for q, g in zip(onsets, p_gap) if g is not None])
    lead = Waves(p=p.reshape(-1, 3), qrs=qrs, t=np.zeros((0, 3), np.int64))
    return {name: lead for name in LEADS}


def test_premature_wide_beat_after_a_p_wave_is_not_a_pvc() -> None:
    onsets = [0, 400, 800, 1050, 1600, 2000]  # the 4th beat is premature (RR 250 of 400)
    for gap, is_pvc in ((None, True), (160, True), (60, False)):  # P ends 320 / 120 ms before
        gaps = [30, 30, 30, gap, 30, 30]
        beats = find_beats(_waves_all_leads(onsets, [45, 45, 45, 70, 45, 45], gaps), FS)
        assert [b.qrs_on for b in pvc_beats(beats, FS)] == ([1050] if is_pvc else [])


def test_pac_in_bundle_branch_block_keeps_the_usual_wide_qrs() -> None:
    onsets = [0, 400, 800, 1050, 1450, 1850]
    widths = [70, 70, 72, 74, 70, 70]  # every beat 140 ms wide: the block conducts them all
    beats = find_beats(_waves_all_leads(onsets, widths, [30] * 6), FS)
    assert [b.qrs_on for b in pac_beats(beats, FS)] == [1050]
    assert pvc_beats(beats, FS) == []
    widths[3] = 100  # 200 ms: no longer conducted like the others
    beats = find_beats(_waves_all_leads(onsets, widths, [30] * 6), FS)
    assert pac_beats(beats, FS) == []
