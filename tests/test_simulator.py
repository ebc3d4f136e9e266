"""The 12-lead simulator: identities, rhythms, conduction findings and evidence, measured
from the signals (noise-free where a measurement needs it) and checked against the params."""
from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from scipy.signal import find_peaks

from core.labels import BY_KEY, LABELS, LEADS
from core.synth.simulator import sample_labels, simulate

FS = 500.0
SEEDS = range(40)
_IND = [LEADS.index(name) for name in ("I", "II", "V1", "V2", "V3", "V4", "V5", "V6")]
GALLERY = {
    "SR": {"SR"}, "AF": {"AF"}, "AFL": {"AFL"}, "PVC": {"SR", "PVC"}, "PAC": {"SR", "PAC"},
    "IAVB": {"SR", "IAVB"}, "LBBB": {"SR", "LBBB"}, "RBBB": {"SR", "RBBB"},
}


def _clean(labels: set[str], seed: int):
    return simulate(labels, np.random.default_rng(seed), noise=False)


def _col(name: str) -> int:
    return LEADS.index(name)


def _magnitude(signals: np.ndarray) -> np.ndarray:
    """Spatial magnitude over the 8 independent leads, mV."""
    return np.linalg.norm(signals[:, _IND].astype(float), axis=1)


def _r_times(signals: np.ndarray, fs: float, share: float = 0.3) -> np.ndarray:
    """Beat times (s) detected as spatial-velocity peaks over ``share`` of the maximum."""
    velocity = np.linalg.norm(np.diff(signals[:, _IND].astype(float), axis=0), axis=1) * fs
    peaks, _ = find_peaks(velocity, height=share * velocity.max(), distance=int(0.25 * fs))
    return peaks / fs


def _measured_qrs(sample) -> list[tuple[str, float, float, float, float]]:
    """(kind, onset, offset, onset in params, J point in params) of every fully visible
    beat; onset and offset measured from the signal."""
    p = sample.source["params"]
    out = []
    for t0, j, kind in zip(p["beat_times_s"], p["qrs_offset_s"], p["beat_kinds"]):
        if 0.05 < t0 < sample.duration_s - 0.4:
            out.append((kind, *_qrs_extent(sample.signals, sample.fs, t0), t0, j))
    return out


def _p_onset_lead_ii(signals: np.ndarray, fs: float, start_s: float, qrs_on_s: float) -> float:
    """P onset in lead II: going back from the largest |II| in [start, QRS onset) to the last
    sample below 2 % of it."""
    x = np.abs(signals[:, _col("II")].astype(float))
    a, b = int(start_s * fs), int(qrs_on_s * fs)
    peak = a + int(np.argmax(x[a:b]))
    return (np.flatnonzero(x[:peak] < 0.02 * x[peak])[-1] + 1) / fs


def _t_free_windows(params: dict, duration_s: float) -> list[tuple[float, float]]:
    """Stretches from each T offset to the next QRS onset (ventricles silent), s; the start
    of the record is left out (the T of a beat before it may still be running)."""
    starts = params["t_offset_s"]
    stops = params["beat_times_s"][1:] + [duration_s]
    return [(a, b) for a, b in zip(starts, stops) if b > a]


def _dominant_rate(x: np.ndarray, fs: float, windows, min_s: float = 0.15) -> float | None:
    """Dominant rate (/min, 180-420) of x from its autocorrelation over the samples inside
    the windows only (pairs may straddle windows; each window is detrended first).
    None when too few pairs exist at some lag."""
    lags = np.arange(int(60 / 420 * fs), int(60 / 180 * fs) + 1)
    y, mask = np.zeros(x.size), np.zeros(x.size)
    for a, b in windows:
        i, j = int(a * fs), min(int(b * fs), x.size)
        if j - i >= min_s * fs:
            k = np.arange(j - i)
            y[i:j] = x[i:j] - np.polyval(np.polyfit(k, x[i:j], 1), k)
            mask[i:j] = 1.0
    num = np.array([np.dot(y[:-lag], y[lag:]) for lag in lags])
    den = np.array([np.dot(mask[:-lag], mask[lag:]) for lag in lags])
    return None if den.min() < fs else 60 * fs / lags[np.argmax(num / den)]


def _qrs_extent(signals: np.ndarray, fs: float, near_s: float) -> tuple[float, float]:
    """QRS onset and offset (s) of a noise-free signal from its spatial magnitude m: around
    the peak of m within [near − 20 ms, near + 200 ms], the last sample before and the first
    sample after it below 2 % of the peak (the simulator's own definition, in lead space)."""
    m = _magnitude(signals)
    a, b = max(int((near_s - 0.02) * fs), 0), min(int((near_s + 0.2) * fs), m.size)
    peak = a + int(np.argmax(m[a:b]))
    before = np.flatnonzero(m[:peak] < 0.02 * m[peak])
    after = np.flatnonzero(m[peak:] < 0.02 * m[peak])
    return (before[-1] + 1) / fs, (peak + after[0] - 1) / fs


# --- basics ---------------------------------------------------------------------------


def test_same_seed_same_sample_other_seed_other_sample():
    a, b = (simulate({"SR", "PVC", "RBBB"}, np.random.default_rng(7)) for _ in range(2))
    c = simulate({"SR", "PVC", "RBBB"}, np.random.default_rng(8))
    assert np.array_equal(a.signals, b.signals)
    assert a.source == b.source and a.evidence == b.evidence
    assert not np.allclose(a.signals, c.signals)


@pytest.mark.parametrize("labels", list(GALLERY.values()) + [{"AF", "PVC", "LBBB"}])
def test_shape_labels_and_json_params(labels):
    s = simulate(labels, np.random.default_rng(1))
    assert s.signals.shape == (5000, 12) and s.signals.dtype == np.float32
    assert s.fs == FS and np.all(np.isfinite(s.signals))
    assert s.labels == {key: int(key in labels) for key in LABELS}
    assert set(s.evidence) == set(labels)
    assert s.source["kind"] == "sim" and s.source["record"] is None
    assert json.loads(json.dumps(s.source)) == s.source


def test_duration_and_rate_arguments():
    s = simulate({"AFL"}, np.random.default_rng(2), duration_s=5.0, fs=250.0)
    assert s.signals.shape == (1250, 12) and s.duration_s == pytest.approx(5.0)
    assert all(0.0 <= t < 5.0 for t in s.source["params"]["beat_times_s"])


@pytest.mark.parametrize("labels", [{"SR", "AF"}, {"AF", "PAC"}, {"AFL", "IAVB"},
                                    {"SR", "LBBB", "RBBB"}, {"SR", "STEMI"}, set()])
def test_rejects_labels_it_cannot_show(labels):
    with pytest.raises(ValueError):
        simulate(labels, np.random.default_rng(0))


@pytest.mark.parametrize("seed", range(6))
def test_einthoven_and_goldberger_hold(seed):
    s = simulate(sample_labels(np.random.default_rng(seed)), np.random.default_rng(seed))
    lead = {name: s.lead(name).astype(np.float64) for name in LEADS}
    np.testing.assert_allclose(lead["III"], lead["II"] - lead["I"], atol=1e-5)
    np.testing.assert_allclose(lead["aVR"], -(lead["I"] + lead["II"]) / 2, atol=1e-5)
    np.testing.assert_allclose(lead["aVL"], lead["I"] - lead["II"] / 2, atol=1e-5)
    np.testing.assert_allclose(lead["aVF"], lead["II"] - lead["I"] / 2, atol=1e-5)


def test_noise_is_bounded_and_in_its_bands():
    for seed in range(10):
        labels = sample_labels(np.random.default_rng(seed))
        noisy = simulate(labels, np.random.default_rng(seed)).signals.astype(float)
        clean = simulate(labels, np.random.default_rng(seed), noise=False).signals.astype(float)
        noise = noisy - clean
        assert np.abs(noise).max() < 0.5 + 0.05 + 0.15
        spectrum = np.abs(np.fft.rfft(noise, axis=0)) * 2 / noise.shape[0]
        freq = np.fft.rfftfreq(noise.shape[0], 1 / FS)
        for hz in (50.0, 60.0):
            assert spectrum[np.argmin(abs(freq - hz))].max() <= 0.05 + 0.01
        gap = (freq > 0.7) & (freq < 15.0)  # between wander and muscle noise: nothing
        assert spectrum[gap].max() < 0.01


def test_sample_labels_are_consistent_and_balanced():
    draws = [sample_labels(np.random.default_rng(i)) for i in range(1000)]
    for keys in draws:
        assert len(keys & {"SR", "AF", "AFL"}) == 1
        assert not (keys & {"PAC", "IAVB"}) or "SR" in keys
        assert not {"LBBB", "RBBB"} <= keys
        simulate(keys, np.random.default_rng(0), duration_s=2.0)  # every draw is simulable
    count = Counter(key for keys in draws for key in keys)
    n_sr = count["SR"]
    for key, share in (("SR", 0.45), ("AF", 0.25), ("AFL", 0.30), ("PVC", 0.30),
                       ("LBBB", 0.15), ("RBBB", 0.15)):
        assert abs(count[key] / 1000 - share) < 0.05, key
    assert abs(count["PAC"] / n_sr - 0.25) < 0.07 and abs(count["IAVB"] / n_sr - 0.20) < 0.07


# --- intervals measured from the signal -----------------------------------------------------


@pytest.mark.parametrize("labels,low,high", [({"SR"}, 0.120, 0.200), ({"SR", "IAVB"}, 0.200, 0.350),
                                             ({"SR", "IAVB", "RBBB"}, 0.200, 0.350)])
def test_pr_interval_in_lead_ii(labels, low, high):
    measured = []
    for seed in SEEDS:
        s = _clean(labels, seed)
        p = s.source["params"]
        assert low < p["pr_ms"] / 1e3 <= high
        for i in range(1, len(p["beat_times_s"]) - 1):
            if p["p_onset_s"][i] is None or p["p_onset_s"][i] < p["t_offset_s"][i - 1] + 0.05:
                continue  # P on the preceding T: no clean onset to measure
            qrs_on, _ = _qrs_extent(s.signals, s.fs, p["beat_times_s"][i])
            start = max(p["t_offset_s"][i - 1], qrs_on - 0.45)
            p_on = _p_onset_lead_ii(s.signals, s.fs, start, qrs_on)
            measured.append(qrs_on - p_on)
            assert abs(qrs_on - p_on - p["pr_ms"] / 1e3) < 0.006
    assert len(measured) > 5 * len(SEEDS)
    assert low <= min(measured) and max(measured) <= high + 0.005


@pytest.mark.parametrize("labels,kind", [({"SR"}, "N"), ({"SR", "LBBB"}, "N"),
                                         ({"SR", "RBBB"}, "N"), ({"SR", "PVC"}, "V"),
                                         ({"SR", "PVC", "RBBB"}, "V")])
def test_qrs_width_from_the_signal(labels, kind):
    wide = kind == "V" or labels & {"LBBB", "RBBB"}
    widths = []
    for seed in SEEDS:
        s = _clean(labels, seed)
        p_s = s.source["params"]["p_ms"] / 1e3
        hidden = np.array(s.source["params"]["blocked_p_onset_s"] + [-1.0])
        centre = hidden + p_s / 2
        for k, on, off, t0, j in _measured_qrs(s):  # a P at the QRS onset or J point hides it
            near = (np.abs(centre - t0) < p_s / 2 + 0.02) | (np.abs(centre - j) < p_s / 2 + 0.05)
            if k == kind and not near.any():
                widths.append(off - on)
        if kind == "N":
            beats = [(on, off) for k, on, off, _, _ in _measured_qrs(s) if k == "N"]
            assert abs(beats[0][1] - beats[0][0] - s.source["params"]["qrs_ms"] / 1e3) < 0.008
    assert len(widths) >= len(SEEDS) // 2
    if wide:
        assert min(widths) >= 0.120 and max(widths) <= 0.26
    else:
        assert max(widths) < 0.110 and min(widths) > 0.06


def test_beats_in_params_are_where_the_signal_has_them():
    for seed in range(20):
        s = _clean(sample_labels(np.random.default_rng(seed)), seed)
        detected = _r_times(s.signals, s.fs, 0.15)  # PVCs are slow
        for t0 in s.source["params"]["beat_times_s"]:
            if 0.3 < t0 < s.duration_s - 0.3:
                assert np.min(np.abs(detected - t0)) < 0.2


def test_rr_irregular_in_af_and_regular_in_plain_sr():
    def cv(labels, seed):
        rr = np.diff(_r_times(_clean(labels, seed).signals, FS))
        return rr.std() / rr.mean()

    af = [cv({"AF"}, seed) for seed in SEEDS]
    sr = [cv({"SR"}, seed) for seed in SEEDS]
    assert min(af) > 0.08 and np.median(af) > 0.15
    assert max(sr) < 0.06
    rates = [_clean({"AF"}, seed).source["params"]["rate_bpm"] for seed in SEEDS]
    assert 60 <= min(rates) and max(rates) <= 170


def test_flutter_rate_and_polarity_between_qrs_complexes():
    measured, polarity = 0, []
    for seed in range(80):
        s = _clean({"AFL"}, seed)
        p = s.source["params"]
        assert 240 <= p["flutter_rate_bpm"] <= 340
        windows = _t_free_windows(p, s.duration_s)
        rate = _dominant_rate(s.lead("II"), s.fs, windows)
        if rate is None:
            continue  # 2:1 and fast 3:1: no F wave free of QRS-T to measure
        measured += 1
        assert abs(rate / p["flutter_rate_bpm"] - 1) < 0.04
        for name in ("II", "V1"):
            seg = np.concatenate([s.lead(name)[int(a * FS): int(b * FS)] for a, b in windows])
            seg = seg - np.median(seg)
            polarity.append((name, seg.max() + seg.min()))  # < 0: negative deflections dominate
    assert measured >= 15
    assert all(v < 0 for name, v in polarity if name == "II")
    assert np.mean([v > 0 for name, v in polarity if name == "V1"]) > 0.9


def test_flutter_qrs_locked_to_f_waves():
    for seed in range(20):
        p = _clean({"AFL"}, seed).source["params"]
        cycle = 60 / p["flutter_rate_bpm"]
        n_cycles = np.diff(p["beat_times_s"]) / cycle
        after_pvc = np.array(p["beat_kinds"][1:]) == "V"
        assert np.allclose(n_cycles[~after_pvc], np.round(n_cycles[~after_pvc]), atol=1e-3)
        assert set(np.round(n_cycles[~after_pvc]).astype(int)) <= {2, 3, 4}


# --- premature beats ------------------------------------------------------------------------


def _pvc_and_pac_intervals(labels: set[str], kind: str):
    """(pre, post, sinus RR) around every isolated premature beat of ``kind``, from the
    measured QRS onsets; sinus RR = median interval between consecutive sinus beats."""
    out = []
    for seed in SEEDS:
        s = _clean(labels, seed)
        beats = _measured_qrs(s)
        kinds = [b[0] for b in beats]
        onsets = np.array([b[1] for b in beats])
        nn = [b - a for a, b, k0, k1 in zip(onsets, onsets[1:], kinds, kinds[1:])
              if k0 == k1 == "N"]
        for i in range(1, len(beats) - 1):
            if kinds[i] == kind and kinds[i - 1] == kinds[i + 1] == "N":
                out.append((onsets[i] - onsets[i - 1], onsets[i + 1] - onsets[i], np.median(nn)))
    return np.array(out)


def test_pvc_premature_with_full_compensatory_pause():
    x = _pvc_and_pac_intervals({"SR", "PVC"}, "V")
    assert len(x) >= len(SEEDS) // 2
    assert np.all(x[:, 0] <= 0.8 * x[:, 2] + 0.01)
    assert np.all(np.abs((x[:, 0] + x[:, 1]) / (2 * x[:, 2]) - 1) < 0.1)


def test_pac_premature_with_non_compensatory_pause():
    x = _pvc_and_pac_intervals({"SR", "PAC"}, "A")
    assert len(x) >= len(SEEDS)
    assert np.all(x[:, 0] <= 0.85 * x[:, 2] + 0.01)
    assert np.all(x[:, 0] + x[:, 1] < 0.97 * 2 * x[:, 2])


def test_pvc_count_pattern_no_p_and_discordant_t():
    for seed in SEEDS:
        s = _clean({"SR", "PVC"}, seed)
        p = s.source["params"]
        kinds = p["beat_kinds"]
        assert 1 <= kinds.count("V") <= 4
        if p["pvc_pattern"] == "couplet":
            assert "VV" in "".join(kinds)
        for i in (i for i, k in enumerate(kinds) if k == "V"):
            assert p["p_onset_s"][i] is None
            on, off = p["beat_times_s"][i], p["qrs_offset_s"][i]
            qrs = s.signals[int(on * FS): int(off * FS)].astype(float)
            t = s.signals[int(off * FS): int(p["t_offset_s"][i] * FS)].astype(float)
            lead = int(np.argmax(np.abs(qrs.sum(axis=0))))
            assert np.sign(qrs[:, lead].sum()) != np.sign(t[:, lead].sum())
            assert np.abs(qrs).max() >= 0.9


def test_pac_p_wave_differs_from_sinus_p():
    compared = 0
    for seed in SEEDS:
        s = _clean({"SR", "PAC"}, seed)
        p = s.source["params"]
        kinds, x = p["beat_kinds"], s.signals[:, _IND].astype(float)
        sinus = [i for i, k in enumerate(kinds) if k == "N" and (p["p_onset_s"][i] or -1) > 0]
        for i in (i for i, k in enumerate(kinds) if k == "A" and i > 0):
            if p["p_onset_s"][i] < p["t_offset_s"][i - 1]:
                continue  # on the T wave: its shape is not the P's alone
            ref = x[int(p["p_onset_s"][sinus[0]] * FS): int(p["p_offset_s"][sinus[0]] * FS)]
            pac = x[int(p["p_onset_s"][i] * FS): int(p["p_offset_s"][i] * FS)]
            a, b = ref.mean(axis=0), pac.mean(axis=0)
            assert a @ b / np.linalg.norm(a) / np.linalg.norm(b) < 0.9
            compared += 1
    assert compared >= 5


# --- bundle branch blocks -------------------------------------------------------------------


def _first_qrs(labels: set[str], seed: int):
    s = _clean(labels, seed)
    on, off = _qrs_extent(s.signals, s.fs, s.source["params"]["beat_times_s"][1])
    return s.signals[int(on * FS): int(off * FS) + 1].astype(float)


def test_rbbb_terminal_r_prime_in_v1_and_broad_s_in_i_v6():
    s_in_i = []
    for seed in SEEDS:
        qrs = _first_qrs({"SR", "RBBB"}, seed)
        late = qrs[2 * len(qrs) // 3:]
        v1 = late[:, _col("V1")]
        assert v1.max() > 0.1 and v1.max() > -v1.min()
        assert late[:, _col("V6")].min() < -0.05
        s_in_i.append(late[:, _col("I")].min())
    assert np.mean(np.array(s_in_i) < -0.05) > 0.9


def test_lbbb_negative_v1_and_no_septal_q_in_i_v6():
    for seed in SEEDS:
        qrs = _first_qrs({"SR", "LBBB"}, seed)
        v1 = qrs[:, _col("V1")]
        assert -v1.min() > 2 * v1.max()
        first = qrs[: int(0.02 * FS)]
        assert first[:, _col("I")].min() > -0.05 and first[:, _col("V6")].min() > -0.05


# --- evidence -------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(30))
def test_evidence_inside_the_record_in_the_right_leads(seed):
    labels = sample_labels(np.random.default_rng(seed))
    s = simulate(labels, np.random.default_rng(seed))
    for key in labels:
        items = s.evidence[key]
        assert items, key
        assert {e.lead for e in items} == set(BY_KEY[key].evidence_leads)
        assert all(0.0 <= e.t0_s < e.t1_s <= s.duration_s for e in items)


def _spans(sample, key: str) -> list[tuple[float, float]]:
    return sorted({(e.t0_s, e.t1_s) for e in sample.evidence[key]})


def test_evidence_covers_the_right_waves():
    for seed in range(15):
        s = _clean({"SR", "PVC", "IAVB", "RBBB"}, seed)
        p = s.source["params"]
        qrs = list(zip(p["beat_times_s"], p["qrs_offset_s"], p["beat_kinds"]))
        ii = s.lead("II")
        for a, b in _spans(s, "SR"):  # P waves: a deflection in II, before (not in) a QRS
            assert np.abs(ii[int(a * FS): int(b * FS)]).max() > 0.04
            assert not any(a < off - 1e-3 and b > on + 1e-3 for on, off, _ in qrs)
        for a, b in _spans(s, "PVC"):
            assert sum(abs(a - on) < 1e-3 and k == "V" for on, _, k in qrs) == 1
            assert b - a > 0.3
        for a, b in _spans(s, "IAVB"):
            assert any(abs(b - on) < 1e-3 for on, _, _ in qrs) or b == s.duration_s
            assert b - a > 0.2 or a == 0.0 or b == s.duration_s
        for a, b in _spans(s, "RBBB"):
            assert 0.12 <= b - a or a == 0.0 or b >= s.duration_s - 1e-6
            assert any(abs(a - on) < 1e-3 and k == "N" for on, _, k in qrs) or a == 0.0
    for seed in range(15):
        for key in ("AF", "AFL"):
            s = _clean({key}, seed)
            p = s.source["params"]
            spans = _spans(s, key)
            gaps = sum(b - a for a, b in spans)
            busy = sum(min(off, s.duration_s) - on
                       for on, off in zip(p["beat_times_s"], p["qrs_offset_s"]))
            assert abs(gaps + busy - s.duration_s) < 0.12  # the baseline is all but the QRSs
            for on, off in zip(p["beat_times_s"], p["qrs_offset_s"]):
                assert not any(a < off - 1e-3 and b > on + 1e-3 for a, b in spans)


def test_pac_evidence_covers_the_premature_p_and_the_t_it_sits_on():
    for seed in SEEDS:
        s = _clean({"SR", "PAC"}, seed)
        p = s.source["params"]
        spans = _spans(s, "PAC")
        assert spans
        for i in (i for i, k in enumerate(p["beat_kinds"]) if k == "A" and i > 0):
            p_on, p_off = p["p_onset_s"][i], p["p_offset_s"][i]
            a, b = next((a, b) for a, b in spans if a <= max(p_on, 0.0) + 1e-4 <= b)
            assert b >= p_off - 1e-4 and b <= p["beat_times_s"][i] + 1e-4
            if p_on < p["t_offset_s"][i - 1]:  # on the T wave: the T is marked too
                assert b >= p["t_offset_s"][i - 1] - 1e-4


# --- speed and the gallery ------------------------------------------------------------------


@pytest.mark.slow
def test_simulate_takes_under_10_ms():
    labels = [sample_labels(np.random.default_rng(i)) for i in range(200)]
    for keys in labels[:10]:
        simulate(keys, np.random.default_rng(0))
    times = []
    for i, keys in enumerate(labels):
        start = time.perf_counter()
        simulate(keys, np.random.default_rng(i))
        times.append(time.perf_counter() - start)
    assert np.median(times) < 0.010


def plot_gallery(out: Path, seed: int = 0) -> list[Path]:
    """One ECG-paper-like figure (12 leads × 10 s, 25 mm/s, 10 mm/mV) per label."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, labels in GALLERY.items():
        s = simulate(labels, np.random.default_rng(seed))
        t = np.arange(s.signals.shape[0]) / s.fs
        fig, ax = plt.subplots(figsize=(250 / 25.4 * 0.8, 12 * 25 / 25.4 * 0.8), dpi=110)
        for k, (step, colour, width) in enumerate(((0.04, "#f6cccc", 0.3), (0.2, "#e58f8f", 0.7))):
            for x in np.arange(0, 10 + 1e-9, step):
                ax.axvline(x, color=colour, lw=width, zorder=k)
            for y in np.arange(-30, 2 + 1e-9, step * 2.5):
                ax.axhline(y, color=colour, lw=width, zorder=k)
        for i, lead in enumerate(LEADS):
            ax.plot(t, s.signals[:, i] - 2.5 * i, "k", lw=0.7, zorder=3)
            ax.text(0.03, 0.5 - 2.5 * i, lead, fontsize=8, zorder=4)
        ax.set(xlim=(0, 10), ylim=(-29.5, 1.5), xticks=[], yticks=[])
        ax.set_title(f"{name}: " + ", ".join(sorted(labels)), fontsize=9)
        fig.tight_layout()
        paths.append(out / f"{name}.png")
        fig.savefig(paths[-1])
        plt.close(fig)
    return paths


@pytest.mark.slow
def test_gallery_is_written(tmp_path):
    paths = plot_gallery(Path("/tmp/sim_gallery"))
    assert all(path.stat().st_size > 10_000 for path in paths)
