"""Reading WFDB records and labels.csv: hand-written records with known samples; the real data."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import wfdb

from core.io import RecordLoadError, data_dir, read_labels, read_record
from core.labels import LABELS, LEADS

DATA = data_dir()
needs_data = pytest.mark.skipif(
    not (DATA / "labels.csv").is_file(),
    reason=f"shared data not found at {DATA} (set ECG_AIO_DATA)",
)


def _write_record(folder: Path, name: str, names: list[str], signals: np.ndarray) -> Path:
    """A 500-Hz WFDB record (.hea + .dat) with the given lead names and samples (mV)."""
    wfdb.wrsamp(
        name, fs=500, units=["mV"] * len(names), sig_name=names, p_signal=signals,
        fmt=["16"] * len(names), write_dir=str(folder),
    )
    return folder / name


def _lead_signals(n: int) -> np.ndarray:
    """Lead k (in LEADS order) is a sine of amplitude 0.1 * (k + 1) mV: every column is unique."""
    t = np.arange(n) / 500.0
    return np.stack([0.1 * (k + 1) * np.sin(2 * np.pi * 1.3 * t + k) for k in range(12)], axis=1)


def test_leads_are_matched_by_name_in_any_case_and_order(tmp_path: Path) -> None:
    expected = _lead_signals(1000)
    order = np.random.default_rng(0).permutation(12)
    names = [LEADS[k].upper() if k % 2 else LEADS[k].lower() for k in order]
    path = _write_record(tmp_path, "shuffled", names, expected[:, order])

    record = read_record(path)

    assert record.name == "shuffled" and record.fs == 500.0
    assert record.signals.dtype == np.float32 and record.signals.shape == (1000, 12)
    np.testing.assert_allclose(record.signals, expected, atol=1e-3)
    assert record.duration_s == pytest.approx(2.0)


def test_missing_samples_become_zero(tmp_path: Path) -> None:
    signals = _lead_signals(500)
    signals[100:110, 3] = np.nan
    record = read_record(_write_record(tmp_path, "gaps", list(LEADS), signals))
    assert np.isfinite(record.signals).all()
    assert np.all(record.signals[100:110, 3] == 0.0)


def test_path_may_carry_the_header_suffix(tmp_path: Path) -> None:
    path = _write_record(tmp_path, "r1", list(LEADS), _lead_signals(200))
    assert read_record(path.with_suffix(".hea")).signals.shape == (200, 12)


def test_missing_header(tmp_path: Path) -> None:
    with pytest.raises(RecordLoadError, match=r"^ghost.hea does not exist"):
        read_record(tmp_path / "ghost")


def test_missing_signal_file(tmp_path: Path) -> None:
    path = _write_record(tmp_path, "nodat", list(LEADS), _lead_signals(200))
    path.with_suffix(".dat").unlink()
    with pytest.raises(RecordLoadError, match=r"nodat\.dat is missing"):
        read_record(path)


def test_record_without_all_12_leads(tmp_path: Path) -> None:
    path = _write_record(tmp_path, "limbs", list(LEADS[:6]), _lead_signals(200)[:, :6])
    with pytest.raises(RecordLoadError, match=r"limbs is not a 12-lead ECG: it lacks lead\(s\) V1"):
        read_record(path)


def test_damaged_header(tmp_path: Path) -> None:
    path = _write_record(tmp_path, "bad", list(LEADS), _lead_signals(200))
    path.with_suffix(".hea").write_text("this is not a header\n\x00\x01")
    with pytest.raises(RecordLoadError, match=r"^Record bad is damaged"):
        read_record(path)


def test_labels_file_missing(tmp_path: Path) -> None:
    with pytest.raises(RecordLoadError, match=r"labels\.csv does not exist"):
        read_labels(tmp_path)


def test_labels_bad_value(tmp_path: Path) -> None:
    header = "source,record,fs,n_samples,split," + ",".join(LABELS) + ",dx_original,patient\n"
    row = "ludb,ludb/1,500,5000,train,1,0,0,0,0,0,0,yes,x,1\n"
    (tmp_path / "labels.csv").write_text(header + row)
    with pytest.raises(RecordLoadError, match=r"labels\.csv line 2 has RBBB='yes'"):
        read_labels(tmp_path)


def test_data_dir_follows_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ECG_AIO_DATA", str(tmp_path))
    assert data_dir() == tmp_path
    monkeypatch.delenv("ECG_AIO_DATA")
    assert data_dir().parts[-2:] == ("shared", "data")


@needs_data
def test_labels_csv() -> None:
    rows = read_labels()
    assert len(rows) == 443
    assert sum(row.split == "train" for row in rows) == 337
    assert {row.source for row in rows} == {"ludb", "cinc"}
    assert all(set(row.labels) == set(LABELS) for row in rows)
    assert sum(row.labels["SR"] is None for row in rows) == 60  # '?' in the file
    first = next(row for row in rows if row.record == "ludb/1")
    assert first.labels == {key: int(key == "SR") for key in LABELS}
    assert first.dx.startswith("Rhythm: Sinus bradycardia.")


@needs_data
@pytest.mark.parametrize("record", ["ludb/1", "cinc/A0001", "cinc/HR00001"])
def test_real_record(record: str) -> None:
    path = DATA / "records" / record
    if not path.with_suffix(".hea").is_file():
        pytest.skip(f"{record} not in this copy of the data")
    rec = read_record(path)
    assert rec.signals.shape == (5000, 12) and rec.signals.dtype == np.float32 and rec.fs == 500.0

    lead = dict(zip(LEADS, rec.signals.T))
    # peak-to-peak over each 1-s window: about one QRS each, whatever the baseline wander
    qrs_pp = np.median(np.ptp(lead["II"].reshape(10, 500), axis=1))
    assert 0.3 <= qrs_pp <= 5.0
    # Einthoven: II = I + III, and Goldberger: aVR = -(I + II) / 2
    assert np.median(np.abs(lead["II"] - (lead["I"] + lead["III"]))) < 0.05
    assert np.median(np.abs(lead["aVR"] + (lead["I"] + lead["II"]) / 2)) < 0.05
