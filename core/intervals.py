"""The ECG's intervals read off its twelve leads: heart rate, RR, PR, QRS and QT with QTc.

A physician reads an interval across the leads, not in one: the QRS starts where the earliest
lead leaves the baseline and ends where the last one returns. ``measure_intervals`` does the
same on whatever leads are printed at each moment (on a 3 x 4 page three leads per column and
the rhythm strip), the way the 12SL and Glasgow programs build a global measurement:

- **Beats** are the peaks of the leads' pooled slope energy (5-30 Hz band, each lead scaled
  by its own spread, so that one tall lead does not decide), at least 250 ms apart, steep in at
  least half the leads printed throughout them (a line crossing one lead, a lead-change stroke
  at a column boundary, is not a beat), and not a much gentler peak within 360 ms of a beat
  (its T wave, Pan & Tompkins' rule).
- **QRS onset and offset**: where that energy, walking out from the beat's peak, falls below
  a small share of its height above the record's baseline level, or turns up again at a dip
  below 15 % of it. A lead read off paper steps by a pixel now and then, and those steps keep
  the energy above 2 %: without the dip rule, QRS read 22 ms long on LUDB ``train`` records
  printed as scans (8 ms with it) and 42 ms long on photographs (16 ms), while on the
  records' own leads the rule changes the median error by 1 ms.
- **T end**: in each lead with a T wave, Zhang et al.'s area indicator (IEEE TBME 2006): the
  point after the T wave's peak where the area between the trace over the preceding 130 ms
  and that point's level is largest, which is where the descent flattens out. It depends on
  an area, not on one slope, so the reading's jitter moves it little (on LUDB ``train`` it
  read QT to a median 12 ms of the cardiologists, the tangent method to 22 ms). The beat's T
  end is the median over the leads.
- **P onset**: where the leads' pooled deviation before the QRS, walking back from the P
  wave's peak, falls below a share of that peak; no P (atrial fibrillation, a junctional
  beat) when the deviation is not above the baseline's noise.

Each interval is the median over the beats that have it, so one mis-read beat does not move
it; a PVC's wide QRS is not the ECG's QRS duration, and beats more than 15 % premature are
left out of PR, QRS and QT. The heart rate is the average one (``average_rr_s``). The constants were chosen on LUDB's ``train`` records against the
cardiologists' delineation (``benchmarks/bench_intervals.py`` measures them on ``eval``).
"""
from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass

import numpy as np
from scipy import signal as sps

from core.labels import PREMATURE_RR

QRS_BAND_HZ = (5.0, 30.0)
WAVE_LOWPASS_HZ = 12.0     # P and T: a 12-Hz low-pass keeps their shape, drops the reading's jitter
MIN_RR_S = 0.25            # 240 bpm
T_WAVE_S = 0.36            # a peak this soon after a beat ...
T_WAVE_ENERGY = 0.25       # ... with under this share of its slope energy (half its slope) is a T wave
BEAT_LEADS = 0.5           # a beat is steep in at least this share of the leads printed there
BEAT_STEEP = 0.5           # ... reaching half its own 95th-percentile squared slope (0.25 took a stroke
                           # at a lead change on the bundled real scan for a beat; LUDB train unchanged)
BEAT_SEEN = 0.1            # ... or steep in one and at least this slope in that share (a wide PVC)
BEAT_HEIGHT = 0.3          # a beat's integrated energy reaches this share of the 98th percentile
QRS_ON_SHARE = 0.02        # onset: energy falls to this share of the beat's height above the floor
QRS_OFF_SHARE = 0.04
QRS_DIP_SHARE = 0.15       # ... or at its first dip below this share (a read lead's steps never fall to 2 %)
QRS_SEARCH_S = 0.12        # how far from the energy peak a QRS onset or offset may lie
T_SEARCH_S = (0.10, 0.65)  # the T wave's end lies this long after the QRS offset ...
T_RR_SHARE = 0.85          # ... and before this share of the RR after the QRS onset
T_MIN_MV = 0.05            # a lead's T wave counts when it rises this far from the baseline
T_END_QUANTILE = 0.5       # the beat's T end: this quantile of the leads' T ends
T_AREA_S = 0.13            # the area indicator's window
P_SEARCH_S = (0.04, 0.30)  # the P wave's peak lies this long before the QRS onset
P_ON_SHARE = 0.1
P_MIN_MV = 0.02            # pooled P deviation needed to call a P wave present
RR_IRREGULAR = 0.15        # RRs whose interquartile range exceeds this share of their median are irregular
MIN_RUN_S = 0.6            # a stretch of a lead shorter than this is not filtered or used


@dataclass(frozen=True)
class BeatMarks:
    """One beat's global marks in seconds from the record's start; None where not found."""

    r_s: float
    qrs_on_s: float
    qrs_off_s: float
    p_on_s: float | None
    t_end_s: float | None
    premature: bool


@dataclass(frozen=True)
class Intervals:
    """The record's intervals in ms (medians over beats), None where they cannot be read.

    rr_ms: the average beat-to-beat interval (median in a regular rhythm, mean in an irregular
    one); heart_rate_bpm = 60000 / rr_ms. pr_ms: P onset to QRS
    onset (None without P waves). qrs_ms: QRS onset to offset. qt_ms: QRS onset to T end.
    qtc_bazett_ms = QT / sqrt(RR s), qtc_fridericia_ms = QT / cbrt(RR s).
    """

    beats: tuple[BeatMarks, ...]
    rr_ms: float | None
    heart_rate_bpm: float | None
    pr_ms: float | None
    qrs_ms: float | None
    qt_ms: float | None
    qtc_bazett_ms: float | None
    qtc_fridericia_ms: float | None

    def summary(self) -> str:
        """One line as a physician writes it, e.g. 'HR 72 bpm, PR 160 ms, QRS 92 ms, QT/QTc 380/410 ms'."""
        parts = []
        if self.heart_rate_bpm is not None:
            parts.append(f"HR {self.heart_rate_bpm:.0f} bpm")
        parts.append("PR " + ("—" if self.pr_ms is None else f"{self.pr_ms:.0f} ms"))
        if self.qrs_ms is not None:
            parts.append(f"QRS {self.qrs_ms:.0f} ms")
        if self.qt_ms is not None:
            qtc = "" if self.qtc_bazett_ms is None else f"/{self.qtc_bazett_ms:.0f}"
            parts.append(f"QT/QTc{'' if not qtc else ' (Bazett)'} {self.qt_ms:.0f}{qtc} ms")
        return ", ".join(parts) if self.beats else "no beats found"

    def as_dict(self) -> dict[str, float | int | None]:
        """The intervals (rounded to 1 ms) and the number of beats, for result.json."""
        values = {k: v for k, v in asdict(self).items() if k != "beats"}
        return {"beats": len(self.beats), **{k: None if v is None else round(float(v), 1) for k, v in values.items()}}


NO_INTERVALS = Intervals((), None, None, None, None, None, None, None)


def qtc_bazett_ms(qt_ms: float, rr_ms: float) -> float:
    """Bazett's QTc = QT / sqrt(RR in s) (ECG_FACTS.md)."""
    return qt_ms / math.sqrt(rr_ms / 1000.0)


def qtc_fridericia_ms(qt_ms: float, rr_ms: float) -> float:
    """Fridericia's QTc = QT / cbrt(RR in s); less biased than Bazett's at fast rates."""
    return qt_ms / (rr_ms / 1000.0) ** (1 / 3)


def measure_intervals(signals: np.ndarray, fs: float) -> Intervals:
    """The intervals of a (leads, n) mV signal at ``fs`` Hz, NaN where a lead is not printed.

    Works on any subset of leads at each moment; a record with under two beats gives
    ``NO_INTERVALS``, one without P waves or T waves gives None for PR or QT."""
    with warnings.catch_warnings():  # leads not printed at a moment are NaN there, by design
        warnings.simplefilter("ignore", RuntimeWarning)
        return _measure(np.asarray(signals, np.float64), fs)


def _measure(x: np.ndarray, fs: float) -> Intervals:
    if x.ndim != 2 or x.shape[1] < int(2 * fs):
        return NO_INTERVALS
    qrs_band = _banded(x, fs, QRS_BAND_HZ)
    waves = _banded(x, fs, (0.5, WAVE_LOWPASS_HZ))
    scaled = _scaled_slope(qrs_band, fs)
    energy = _pooled_slope(scaled, fs)
    peaks = _supported(_beats(energy, fs), scaled, fs)
    if len(peaks) < 2:
        return NO_INTERVALS
    rr = np.diff(peaks) / fs
    median_rr = float(np.median(rr))
    floor = float(np.nanpercentile(energy, 30))
    beats = []
    for i, peak in enumerate(peaks):
        on, off = _qrs_span(energy, int(peak), floor, fs)
        previous_rr = rr[i - 1] if i else None
        premature = previous_rr is not None and previous_rr < PREMATURE_RR * median_rr
        next_on = peaks[i + 1] if i + 1 < len(peaks) else None
        rr_here = (next_on - peak) / fs if next_on is not None else median_rr
        t_end = _t_end(waves, on, off, rr_here, fs)
        prev_end = beats[-1].t_end_s if beats and beats[-1].t_end_s is not None else None
        p_on = _p_onset(waves, on, fs, None if prev_end is None else int(prev_end * fs))
        beats.append(BeatMarks(float(peak / fs), on / fs, off / fs, None if p_on is None else p_on / fs,
                               None if t_end is None else t_end / fs, bool(premature)))
    regular = [b for b in beats if not b.premature]
    rr_ms = average_rr_s(rr) * 1000.0

    def median_ms(values: list[float]) -> float | None:
        return float(np.median(values)) * 1000.0 if values else None

    pr = median_ms([b.qrs_on_s - b.p_on_s for b in regular if b.p_on_s is not None]) \
        if sum(b.p_on_s is not None for b in regular) >= max(2, len(regular) // 2) else None
    qrs = median_ms([b.qrs_off_s - b.qrs_on_s for b in regular])
    qt = median_ms([b.t_end_s - b.qrs_on_s for b in regular if b.t_end_s is not None])
    return Intervals(
        tuple(beats), rr_ms, 60000.0 / rr_ms, pr, qrs, qt,
        None if qt is None else qtc_bazett_ms(qt, rr_ms),
        None if qt is None else qtc_fridericia_ms(qt, rr_ms))


def average_rr_s(rr_s: np.ndarray) -> float:
    """The rhythm's average RR (s): the median of a regular rhythm (one missed or extra beat
    does not move it), the mean of an irregular one (in atrial fibrillation the median reports
    the shorter intervals' faster rate). Irregular: the RRs' interquartile range over
    ``RR_IRREGULAR`` of their median."""
    median = float(np.median(rr_s))
    q25, q75 = np.percentile(rr_s, [25, 75])
    return float(np.mean(rr_s)) if (q75 - q25) > RR_IRREGULAR * median else median


def _runs(finite: np.ndarray, min_len: int) -> list[tuple[int, int]]:
    """[start, stop) of the stretches where ``finite`` holds, at least ``min_len`` long."""
    edges = np.flatnonzero(np.diff(np.r_[0, finite.astype(np.int8), 0]))
    return [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2]) if b - a >= min_len]


def _banded(x: np.ndarray, fs: float, band_hz: tuple[float, float]) -> np.ndarray:
    """Each lead's printed stretches band-passed on their own (zero phase); NaN elsewhere.
    Filtering across a gap would ring at every column boundary of a 3 x 4 page."""
    high = min(band_hz[1], 0.45 * fs)
    sos = sps.butter(2, (band_hz[0], high), btype="bandpass", fs=fs, output="sos")
    out = np.full_like(x, np.nan)
    for lead in range(x.shape[0]):
        for a, b in _runs(np.isfinite(x[lead]), int(MIN_RUN_S * fs)):
            out[lead, a:b] = sps.sosfiltfilt(sos, x[lead, a:b], padlen=min(b - a - 1, int(0.3 * fs)))
    return out


def _scaled_slope(x: np.ndarray, fs: float) -> np.ndarray:
    """Each lead's squared slope over its own 95th-percentile slope (1 at that slope)."""
    slope = np.gradient(x, axis=1) * fs
    scale = np.nanpercentile(np.abs(slope), 95, axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (slope / np.where(scale > 0, scale, np.nan)) ** 2


def _supported(peaks: np.ndarray, scaled: np.ndarray, fs: float) -> np.ndarray:
    """The peaks where at least ``BEAT_LEADS`` of the leads printed throughout the 40 ms around
    them reach ``BEAT_STEEP`` of their own 95th-percentile squared slope (of all leads printed
    there when none spans them), or one does and that share reach ``BEAT_SEEN``: a PVC's wide
    QRS is rounded in most leads (on the bundled scan 0.09-0.42 in V4-V6, 3.1 in lead II's
    rhythm strip). A QRS shows in nearly every lead at once; a line crossing one lead does not.
    Where a printer changes lead it draws a stroke from one lead's level to the next in every
    row at once, which only the leads printed across the change (a rhythm strip) tell from a
    beat: on the bundled real scan, counting every lead printed there took that stroke for an
    18th beat of the 17 printed. Trimming each lead's ends instead changed how many leads the
    pooled energy averages at each moment, and beats were lost (3 of 11 on LUDB 2 as a 3 x 4
    page)."""
    half = int(0.04 * fs)
    keep = []
    for p in peaks:
        seg = scaled[:, max(0, p - half):p + half + 1]
        printed = np.isfinite(seg).all(axis=1)   # a lead that starts or ends here carries the lead change
        if not printed.any():
            printed = np.isfinite(seg).any(axis=1)
        if not printed.any():
            continue
        most = np.nanmax(np.where(np.isfinite(seg[printed]), seg[printed], 0.0), axis=1)
        steep = most >= BEAT_STEEP
        if steep.mean() >= BEAT_LEADS or (steep.any() and (most >= BEAT_SEEN).mean() >= BEAT_LEADS):
            keep.append(p)
    return np.array(keep, int)


def _pooled_slope(scaled: np.ndarray, fs: float) -> np.ndarray:
    """The leads' mean scaled squared slope (``_scaled_slope``), smoothed over 20 ms; NaN where
    no lead is printed."""
    pooled = np.nanmean(scaled, axis=0) if np.isfinite(scaled).any() else np.full(scaled.shape[1], np.nan)
    k = max(1, int(0.02 * fs))
    filled = np.nan_to_num(pooled)
    return np.where(np.isfinite(pooled), np.convolve(filled, np.ones(k) / k, mode="same"), np.nan)


def _beats(energy: np.ndarray, fs: float) -> np.ndarray:
    """Sample indices of the beats' energy peaks."""
    k = max(1, int(0.1 * fs))
    integrated = np.convolve(np.nan_to_num(energy), np.ones(k) / k, mode="same")
    top = np.percentile(integrated, 98)
    if top <= 0:
        return np.zeros(0, int)
    found, _ = sps.find_peaks(integrated, distance=int(MIN_RR_S * fs), height=BEAT_HEIGHT * top)
    # the integrated peak trails the complex: take the energy's own peak near it
    half = int(0.06 * fs)
    peaks = [a + int(np.nanargmax(energy[a:b])) for a, b in
             ((max(0, p - half), min(len(energy), p + half)) for p in found) if np.isfinite(energy[a:b]).any()]
    beats: list[int] = []
    for peak in peaks:   # Pan & Tompkins' rule: soon after a beat, a much gentler slope is its T wave
        if beats and peak - beats[-1] < T_WAVE_S * fs and energy[peak] < T_WAVE_ENERGY * energy[beats[-1]]:
            continue
        beats.append(peak)
    return np.array(beats, int)


def _qrs_span(energy: np.ndarray, peak: int, floor: float, fs: float) -> tuple[int, int]:
    """QRS onset and offset (samples) around an energy peak."""
    height = energy[peak] - floor
    reach = int(QRS_SEARCH_S * fs)
    dip = floor + QRS_DIP_SHARE * height
    on = peak
    limit = floor + QRS_ON_SHARE * height
    while on > max(0, peak - reach) and np.isfinite(energy[on - 1]) and energy[on - 1] > limit:
        if energy[on] < dip and energy[on - 1] > energy[on]:
            break
        on -= 1
    off = peak
    limit = floor + QRS_OFF_SHARE * height
    while off < min(len(energy) - 1, peak + reach) and np.isfinite(energy[off + 1]) and energy[off + 1] > limit:
        if energy[off] < dip and energy[off + 1] > energy[off]:
            break
        off += 1
    return on, off


def _isoelectric(waves: np.ndarray, qrs_on: int, fs: float) -> np.ndarray:
    """Each lead's level just before the QRS (the PR segment), NaN where not printed."""
    a, b = max(0, qrs_on - int(0.04 * fs)), max(1, qrs_on - int(0.01 * fs))
    seg = waves[:, a:b]
    with np.errstate(all="ignore"):
        return np.nanmedian(seg, axis=1) if seg.size and np.isfinite(seg).any() else np.full(len(waves), np.nan)


def _t_end(waves: np.ndarray, qrs_on: int, qrs_off: int, rr_s: float, fs: float) -> int | None:
    """The beat's T end (samples) by the area indicator, a quantile over the leads."""
    a = qrs_off + int(T_SEARCH_S[0] * fs)
    b = min(waves.shape[1], qrs_off + int(T_SEARCH_S[1] * fs), qrs_on + int(T_RR_SHARE * rr_s * fs))
    if b - a < int(0.08 * fs):
        return None
    iso = _isoelectric(waves, qrs_on, fs)
    ends = []
    for lead in range(len(waves)):
        seg = waves[lead, a:b] - iso[lead]
        if not np.isfinite(iso[lead]) or not np.isfinite(seg).all():
            continue
        top = int(np.argmax(np.abs(seg)))
        if abs(seg[top]) < T_MIN_MV or top >= len(seg) - 2:
            continue
        tail = np.sign(seg[top]) * seg[top:]
        end = top + _area_end(tail, fs)
        ends.append(a + end)
    if not ends:
        return None
    return int(round(float(np.quantile(ends, T_END_QUANTILE))))


def _area_end(tail: np.ndarray, fs: float) -> float:
    """Zhang et al.'s (IEEE TBME 2006) area indicator: the T end is where the area between the
    wave's trace over the preceding ``T_AREA_S`` and that point's level is
    largest (``tail`` starts at the T wave's peak, turned upright)."""
    w = max(2, int(T_AREA_S * fs))
    c = np.r_[0.0, np.cumsum(tail)]
    idx = np.arange(len(tail))
    start = np.maximum(idx + 1 - w, 0)
    area = (c[idx + 1] - c[start]) - tail * (idx + 1 - start)
    return float(np.argmax(area))


def _p_onset(waves: np.ndarray, qrs_on: int, fs: float, after: int | None) -> int | None:
    """The P wave's onset before a QRS onset (samples), or None when no P wave stands out."""
    a = max(0, qrs_on - int(P_SEARCH_S[1] * fs), (after or 0))
    b = qrs_on - int(P_SEARCH_S[0] * fs)
    if b - a < int(0.04 * fs):
        return None
    iso = _isoelectric(waves, qrs_on, fs)
    window = waves[:, a:b] - iso[:, None]
    rows = np.isfinite(window).all(axis=1)
    if not rows.any():
        return None
    deviation = np.sqrt(np.mean(window[rows] ** 2, axis=0))
    top = int(np.argmax(deviation))
    level = float(np.min(deviation[: top + 1]))
    if deviation[top] - level < P_MIN_MV:
        return None
    limit = level + P_ON_SHARE * (deviation[top] - level)
    on = top
    while on > 0 and deviation[on - 1] > limit:
        on -= 1
    return a + on
