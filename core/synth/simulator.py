"""Physiological 12-lead ECG simulator: rhythms, conduction findings, noise and evidence.

A patient is a cardiac dipole (``core.synth.waves``) with random axis, rotation, amplitudes
and wave widths, seen through a per-patient Dower transform. A rhythm is a list of beats
(QRS onset times and kinds: 'N' conducted, 'A' premature atrial, 'V' premature ventricular)
plus, in AF and flutter, continuous atrial activity. Times are s, amplitudes mV, rates /min.
"""
from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import numpy as np

from core.labels import BY_KEY, LABELS
from core.synth import waves
from core.synth.sample import EcgSample, Evidence
from core.synth.waves import Wave

RHYTHMS: tuple[str, ...] = ("SR", "AF", "AFL")
_LEAD_IN_S = 1.6  # beats start this long before t = 0 so the record opens mid-rhythm
_QRS_REF_S = 0.09  # QRS duration the QTc range refers to, s


@dataclass(frozen=True)
class Focus:
    """A ventricular ectopic focus: its QRS and T waves and its QT (QRS onset to T end), s."""

    qrs: Wave
    t: Wave
    qt_s: float


@dataclass(frozen=True)
class Heart:
    """One patient's wave shapes, already rotated and sized, and their timing.

    p, p_ectopic: sinus and premature-atrial P waves. qrs, t: the conducted beat.
    foci: the ventricular ectopic foci. qt_s: QT of conducted beats (QRS onset to T offset),
    s. pr_s: P onset to QRS onset of sinus beats, s; pr_pac_s: the same for PACs, s.
    """

    p: Wave
    p_ectopic: Wave
    qrs: Wave
    t: Wave
    qt_s: float
    pr_s: float
    pr_pac_s: float
    foci: tuple[Focus, ...]


@dataclass(frozen=True)
class Beats:
    """A rhythm: per beat QRS onset (s), kind ('N', 'A' or 'V'), the onset of the P wave it
    conducts (s, NaN if none) and its ventricular focus (index into ``Heart.foci``, −1 if
    none); plus sinus P waves that were not conducted (hidden in a PVC), onsets in s."""

    qrs_s: np.ndarray
    kind: np.ndarray
    p_s: np.ndarray
    focus: np.ndarray
    blocked_p_s: np.ndarray


def sample_labels(rng: np.random.Generator) -> frozenset[str]:
    """A random, clinically consistent label set for training.

    One rhythm: SR 45 %, AF 25 %, AFL 30 %. PVC with any rhythm (30 %); PAC (25 %) and IAVB
    (20 %) only with SR; LBBB 15 % or RBBB 15 % (never both).
    """
    rhythm = str(rng.choice(RHYTHMS, p=[0.45, 0.25, 0.30]))
    u = rng.random(4)
    keys = {rhythm}
    keys |= {"PVC"} if u[0] < 0.30 else set()
    if rhythm == "SR":
        keys |= {"PAC"} if u[1] < 0.25 else set()
        keys |= {"IAVB"} if u[2] < 0.20 else set()
    keys |= {"LBBB"} if u[3] < 0.15 else {"RBBB"} if u[3] < 0.30 else set()
    return frozenset(keys)


def _checked(labels: Collection[str]) -> frozenset[str]:
    """The labels as a set, or ValueError if the simulator cannot show them together."""
    keys = frozenset(labels)
    unknown = keys - set(LABELS)
    rhythms = keys & set(RHYTHMS)
    if unknown:
        raise ValueError(f"unknown label(s) {sorted(unknown)}; known: {', '.join(LABELS)}")
    if len(rhythms) != 1:
        raise ValueError(f"exactly one rhythm of {RHYTHMS} is needed, got {sorted(rhythms)}")
    if keys & {"PAC", "IAVB"} and "SR" not in keys:
        raise ValueError("PAC and IAVB are simulated with sinus rhythm only")
    if {"LBBB", "RBBB"} <= keys:
        raise ValueError("LBBB and RBBB exclude each other")
    return keys


def _patient_dower(rng: np.random.Generator) -> np.ndarray:
    """The Dower matrix with per-patient scatter (torso shape, electrode placement)."""
    scatter = rng.normal(0.0, [[0.04], [0.04]] + [[0.1]] * 6, waves.DOWER.shape)
    return waves.DOWER * (1.0 + scatter) + rng.normal(0.0, 0.04, waves.DOWER.shape)


def _conducted_qrs(keys: frozenset[str], rng: np.random.Generator) -> Wave:
    """The QRS of a conducted beat (unit size), with its duration drawn for the findings."""
    if "LBBB" in keys:
        return waves.lbbb_qrs(rng).stretched_to(rng.uniform(0.125, 0.17))
    if "RBBB" in keys:
        return waves.rbbb_qrs(rng, rng.uniform(0.125, 0.16))
    return waves.normal_qrs(rng).stretched_to(rng.uniform(0.07, 0.10))


def _t_direction(keys: frozenset[str], qrs: Wave, rng: np.random.Generator) -> np.ndarray:
    """T-wave direction: concordant normally, discordant (secondary) in bundle branch block."""
    base = waves.normal_t_direction(rng)
    if "LBBB" in keys:
        return waves.discordant_direction(rng, waves.mean_vector(qrs), base, 0.85)
    if "RBBB" in keys:  # secondary T change opposite the slow terminal (R') forces
        return waves.discordant_direction(rng, qrs.vec_mv[-1], base, 0.45)
    return base


def _heart(keys: frozenset[str], rr_s: float, rng: np.random.Generator,
           dower: np.ndarray) -> Heart:
    """Draw one patient's waves for a mean ventricular cycle of ``rr_s`` seconds."""
    low = -50 if "LBBB" in keys else -35  # LBBB often comes with a leftward axis
    turn = waves.rotation(*rng.uniform([-15, -20, low], [15, 20, 35]))
    qrs = _conducted_qrs(keys, rng)
    t = waves.t_wave(rng, _t_direction(keys, qrs, rng)).rotated(turn)
    gain = 1.2 if "LBBB" in keys else 1.0
    qrs = waves.sized(qrs.rotated(turn), dower, gain * rng.uniform(0.8, 2.0))
    # Fridericia QT, lengthened by the extra QRS width of a bundle branch block
    qt = rng.uniform(0.38, 0.44) * rr_s ** (1 / 3) + max(qrs.duration_s - _QRS_REF_S, 0.0)
    t = t.stretched_to(min(rng.uniform(0.16, 0.25), qt - qrs.duration_s - 0.02))
    t_peak = np.clip(np.abs(qrs.leads(dower)).max() * rng.uniform(0.2, 0.45), 0.15, 0.8)
    t = waves.sized(t, dower, t_peak)
    p = waves.sinus_p(rng).rotated(waves.rotation(0, 0, rng.uniform(-10, 10)))
    p = waves.sized(p.stretched_to(rng.uniform(0.08, 0.115)), dower, rng.uniform(0.08, 0.22), "II")
    p_ect = waves.ectopic_p(rng, p).stretched_to(rng.uniform(0.06, 0.11))
    p_ect = waves.sized(p_ect, dower, rng.uniform(0.08, 0.2))
    pr = rng.uniform(0.215, 0.35) if "IAVB" in keys else rng.uniform(0.125, 0.195)
    n_foci = 1 if rng.random() < 0.7 else int(rng.integers(2, 4))
    foci = tuple(_focus(rng, dower, qt) for _ in range(n_foci))
    return Heart(p, p_ect, qrs, t, qt, pr, pr + rng.uniform(0.0, 0.04), foci)


def _focus(rng: np.random.Generator, dower: np.ndarray, qt_s: float) -> Focus:
    """A ventricular ectopic focus: wide bizarre QRS (120-200 ms, 1-3 mV), discordant T."""
    qrs = waves.pvc_qrs(rng).stretched_to(rng.uniform(0.125, 0.2))
    qrs = waves.sized(qrs, dower, rng.uniform(1.0, 2.5))  # III, aVR... may reach 3 mV
    qt = qt_s + qrs.duration_s - _QRS_REF_S + rng.uniform(0.0, 0.04)
    direction = waves.discordant_direction(rng, waves.mean_vector(qrs), np.zeros(3), 1.0)
    t_dur = min(rng.uniform(0.2, 0.28), qt - qrs.duration_s - 0.02)
    t = waves.t_wave(rng, direction).stretched_to(t_dur)
    return Focus(qrs, waves.sized(t, dower, rng.uniform(0.3, 0.9)), qt)


def _sinus_rate(keys: frozenset[str], rng: np.random.Generator) -> float:
    """Sinus rate, /min: mostly 60-100, sometimes brady (45-60) or tachy (100-130)."""
    band = rng.choice(3, p=[0.15, 0.7, 0.15])
    rate = rng.uniform(*[(45, 60), (60, 100), (100, 130)][band])
    return min(rate, rng.uniform(50, 95)) if "IAVB" in keys else rate


def _sinus_p_times(start_s: float, rr_s: float, duration_s: float, pac: set[int],
                   couple: np.ndarray, reset: np.ndarray, jitter: np.ndarray,
                   resp: tuple[float, float, float]) -> tuple[list, list]:
    """P onsets (s) and kinds ('N' sinus, 'A' premature atrial) of a sinus node modulated by
    respiration (sinus arrhythmia: relative amplitude, Hz, phase). The P at index i in
    ``pac`` is premature (``couple[i-1]`` of a cycle) and resets the node, which fires
    again a cycle (plus ``reset``) later: a non-compensatory pause."""
    amp, hz, phase = resp
    p, kind = [start_s], ["N"]
    i = 0
    while p[-1] < duration_s + 0.5:
        rr = rr_s * (1.0 + amp * np.sin(2 * np.pi * hz * p[-1] + phase)) * jitter[i]
        if i + 1 in pac:
            p += [p[-1] + couple[i] * rr, p[-1] + (couple[i] + 1.0 + reset[i]) * rr]
            kind += ["A", "N"]
            i += 2
        else:
            p.append(p[-1] + rr)
            kind.append("N")
            i += 1
    return p, kind


def _sinus_beats(keys: frozenset[str], rng: np.random.Generator, rr_s: float,
                 heart: Heart, duration_s: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """QRS onsets, kinds and conducted P onsets of sinus rhythm (with PACs if labelled)."""
    n_max = int((duration_s + _LEAD_IN_S + 2 * rr_s) / (0.5 * rr_s)) + 4
    jitter = 1.0 + rng.normal(0.0, 0.008, n_max)
    # a PAC comes >= 15 % early, after the previous T where the rate allows
    c_min = min(0.75, max(0.5, (heart.qt_s + 0.03 - (heart.pr_pac_s - heart.pr_s)) / rr_s))
    couple = rng.uniform(c_min, 0.78, n_max)
    reset = rng.uniform(0.0, 0.06, n_max)
    resp = (rng.uniform(0.0, 0.06), rng.uniform(0.15, 0.35), rng.uniform(0, 2 * np.pi))
    start = -_LEAD_IN_S - rr_s * rng.uniform(0, 1)
    pac: set[int] = set()
    if "PAC" in keys:  # choose PACs among visible cycles, then rerun with the node resets
        p, _ = _sinus_p_times(start, rr_s, duration_s, pac, couple, reset, jitter, resp)
        ok = np.flatnonzero((np.array(p) > 0.6) & (np.array(p) < duration_s - 2.0 * rr_s))
        for i in rng.permutation(ok)[: int(rng.integers(1, 4))]:
            if all(abs(i - j) >= 3 for j in pac):
                pac.add(int(i))
    p, kind = _sinus_p_times(start, rr_s, duration_s, pac, couple, reset, jitter, resp)
    p, kind = np.array(p), np.array(kind)
    qrs = p + np.where(kind == "A", heart.pr_pac_s, heart.pr_s)
    return qrs, kind, p


def _af_beats(rng: np.random.Generator, rr_s: float, heart: Heart,
              duration_s: float) -> np.ndarray:
    """Irregularly irregular QRS onsets: independent log-normal RR around ``rr_s``."""
    sd = rng.uniform(0.15, 0.3)
    n = int((duration_s + _LEAD_IN_S + 1) / (0.5 * rr_s)) + 4
    rr = rr_s * np.exp(rng.normal(-0.5 * sd**2, sd, n))
    rr = np.maximum(rr, 0.85 * heart.qt_s + 0.05)  # the ventricles must have repolarised
    qrs = -_LEAD_IN_S - rng.uniform(0, rr_s) + np.cumsum(rr)
    return qrs[qrs < duration_s + 0.5]


def _flutter_conduction(rng: np.random.Generator) -> tuple[str, np.ndarray]:
    """AV conduction of flutter: '2:1', '3:1', '4:1' or 'variable', and 64 ratios to use."""
    name = str(rng.choice(["2:1", "3:1", "4:1", "variable"], p=[0.45, 0.1, 0.2, 0.25]))
    if name == "variable":
        return name, rng.choice([2, 3, 4], size=64, p=[0.5, 0.15, 0.35])
    return name, np.full(64, int(name[0]))


def _flutter_beats(ratios: np.ndarray, f_rate: float, phase0: float, av_s: float,
                   duration_s: float) -> np.ndarray:
    """QRS onsets locked to F waves: the F wave starting at (k − phase0)·60/f_rate conducts
    after ``av_s`` s, every ratios[i]-th wave."""
    cycle = 60.0 / f_rate
    k0 = np.ceil((-_LEAD_IN_S) / cycle + phase0)
    k = k0 + np.concatenate([[0], np.cumsum(ratios)])
    qrs = (k - phase0) * cycle + av_s
    return qrs[qrs < duration_s + 0.5]


def _pvc_candidates(kind: np.ndarray, qrs: np.ndarray, duration_s: float) -> np.ndarray:
    """Indices of beats that may become PVCs: conducted, with conducted visible neighbours."""
    ok = np.zeros(qrs.size, bool)
    ok[1:-1] = (qrs[:-2] >= 0.0) & (qrs[2:] <= duration_s - 0.3)
    ok[1:-1] &= (kind[:-2] == "N") & (kind[1:-1] == "N") & (kind[2:] == "N")
    return np.flatnonzero(ok)


def _pvc_slots(idx: np.ndarray, rng: np.random.Generator) -> tuple[str, list[int]]:
    """A PVC pattern and the beats it turns into PVCs (1-4, among ``idx``)."""
    pattern = str(rng.choice(["isolated", "bigeminy", "trigeminy", "couplet"],
                             p=[0.55, 0.15, 0.15, 0.15]))
    start = int(rng.choice(idx)) if idx.size else -1
    step = {"bigeminy": 2, "trigeminy": 3, "couplet": 1}.get(pattern)
    if step:
        run = [start + step * m for m in range(2 if step == 1 else int(rng.integers(2, 5)))]
        run = [j for j in run if j in set(idx)]
        if len(run) >= 2:
            return pattern, run
    chosen: list[int] = []
    for j in rng.permutation(idx)[: int(rng.integers(1, 5))]:
        if all(abs(int(j) - c) >= 2 for c in chosen):
            chosen.append(int(j))
    return "isolated", sorted(chosen)


def _with_pvcs(beats: Beats, heart: Heart, rhythm: str, duration_s: float,
               rng: np.random.Generator) -> tuple[Beats, str]:
    """Turn chosen beats into PVCs, each after the previous beat's T wave and >= 20 % early.
    In SR the sinus node is undisturbed: the sinus P of a replaced beat is hidden in the PVC
    and the next sinus beat conducts (full compensatory pause). In AF and flutter, beats that
    fall in the PVC's refractory period are dropped."""
    qrs, kind, p = beats.qrs_s.copy(), beats.kind.copy(), beats.p_s.copy()
    focus = beats.focus.copy()
    idx = _pvc_candidates(kind, qrs, duration_s)
    pattern, slots = _pvc_slots(idx, rng)
    same_focus = len(heart.foci) == 1 or pattern != "isolated"
    rr_ref, couple = np.median(np.diff(qrs)), rng.uniform(0.45, 0.75)
    blocked, drop, done = list(beats.blocked_p_s), np.zeros(qrs.size, bool), []

    def place(j: int) -> bool:
        prev, cycle = qrs[j - 1], (qrs[j] - qrs[j - 1] if rhythm == "SR" else rr_ref)
        prev_qt = heart.foci[focus[j - 1]].qt_s if kind[j - 1] == "V" else heart.qt_s
        latest = 0.8 * (qrs[j] - prev)
        gap = max(couple * cycle, min(prev_qt + 0.02, latest))  # after the T if it can be
        if drop[j - 1] or drop[j] or not 0.85 * prev_qt <= gap <= latest:
            return False
        at = prev + gap
        f = 0 if same_focus else int(rng.integers(len(heart.foci)))
        if rhythm == "SR":  # the sinus P still fires, just before or inside the PVC
            blocked.append(p[j])
        qrs[j], kind[j], p[j], focus[j] = at, "V", np.nan, f
        done.append(j)
        if rhythm != "SR":
            drop[:] |= (np.arange(qrs.size) > j) & (qrs < at + heart.foci[f].qt_s + 0.1)
        return True

    for j in slots:
        place(j)
    for j in rng.permutation(idx) if not done else ():
        if place(int(j)):  # the plan did not fit this rhythm: one PVC wherever one fits
            break
    keep = ~drop
    out = Beats(qrs[keep], kind[keep], p[keep], focus[keep], np.array(blocked))
    return out, pattern if len(done) >= 2 else "isolated"


def _render(heart: Heart, beats: Beats, n: int, fs: float) -> np.ndarray:
    """The ventricular and P-wave dipole (n, 3), mV."""
    conducted = beats.kind != "V"
    onsets = beats.qrs_s[conducted]
    parts = [
        (heart.p, np.concatenate([beats.p_s[beats.kind == "N"], beats.blocked_p_s])),
        (heart.p_ectopic, beats.p_s[beats.kind == "A"]),
        (heart.qrs, onsets),
        (heart.t, onsets + heart.qt_s - heart.t.duration_s),
    ]
    for f, focus in enumerate(heart.foci):
        at = beats.qrs_s[beats.focus == f]
        parts += [(focus.qrs, at), (focus.t, at + focus.qt_s - focus.t.duration_s)]
    parts = [(w, on[np.isfinite(on)]) for w, on in parts]
    return waves.render(parts, n, fs)


# Electrodes RA, LA, LL, C1..C6 -> leads I, II, V1..V6 (V leads against Wilson's terminal)
_ELECTRODES = np.zeros((9, 8))
_ELECTRODES[[1, 2], [0, 1]] = 1.0
_ELECTRODES[0, :2] = -1.0
_ELECTRODES[:3, 2:] = -1.0 / 3.0
_ELECTRODES[3:, 2:] = np.eye(6)


def _noise(rng: np.random.Generator, n: int, fs: float) -> tuple[np.ndarray, dict]:
    """Electrode noise seen in leads I, II, V1..V6, (n, 8) mV, and its strengths.

    Made at the 9 electrodes so that the limb-lead identities still hold. Each electrode gets
    at most half of each strength, so no lead exceeds it: baseline wander 0.05-0.5 Hz up to
    0.5 mV, mains 50 or 60 Hz up to 0.05 mV, muscle noise 20-150 Hz up to about 0.1 mV.
    """
    t = np.arange(n) / fs
    wander = 0.5 * rng.beta(1.2, 3.0)  # mostly small, now and then strong
    mains, emg = 0.05 * rng.beta(0.8, 3.0), 0.1 * rng.beta(0.8, 3.0)
    coarse = np.arange(0.0, t[-1] + 0.2, 0.1)  # wander is smooth: draw it at 10 Hz
    hz, amp = rng.uniform(0.05, 0.5, (2, 9)), rng.uniform(0.0, 0.25, (2, 9)) * wander
    angle = 2 * np.pi * (coarse[:, None, None] * hz[None] + rng.random((2, 9))[None])
    slow = np.sum(amp[None] * np.sin(angle), axis=1)
    out = np.stack([np.interp(t, coarse, slow[:, e]) for e in range(9)], axis=1)
    mains_hz = float(rng.choice([50.0, 60.0]))
    phase = 2 * np.pi * rng.random(9)
    hum = rng.uniform(0.0, 0.5, 9) * mains
    out += np.outer(np.sin(2 * np.pi * mains_hz * t), hum * np.cos(phase))
    out += np.outer(np.cos(2 * np.pi * mains_hz * t), hum * np.sin(phase))
    out += _muscle(rng, t, fs, emg)
    strengths = {"wander_mv": round(float(wander), 4), "mains_hz": mains_hz,
                 "mains_mv": round(float(mains), 4), "emg_mv": round(float(emg), 4)}
    return out @ _ELECTRODES, strengths


def _muscle(rng: np.random.Generator, t: np.ndarray, fs: float, peak_mv: float) -> np.ndarray:
    """Muscle noise at 9 electrodes (n, 9): Gaussian noise limited to 20-150 Hz, drawn in the
    frequency domain, in bursts; SD peak_mv / 5 at most, so peaks stay near ``peak_mv``."""
    n = t.size
    freq = np.fft.rfftfreq(n, 1.0 / fs)
    band = np.flatnonzero((freq >= 20.0) & (freq <= min(150.0, fs / 2 - 1)))
    spectrum = np.zeros((9, freq.size), complex)
    spectrum[:, band] = rng.normal(size=(9, band.size)) + 1j * rng.normal(size=(9, band.size))
    sd = peak_mv / 5.0 * rng.uniform(0.3, 1.0, 9)
    spectrum *= (sd * n / np.sqrt(4.0 * band.size))[:, None]  # E|c|^2 = 2: var = 4 m s^2 / n^2
    bursts = np.clip(0.6 + 0.5 * waves.smooth_noise(rng, t, 1.0), 0.0, 1.5)
    return np.fft.irfft(spectrum, n, axis=1).T * bursts[:, None]


def _segments(on: np.ndarray, off: np.ndarray,
              duration_s: float) -> tuple[np.ndarray, np.ndarray]:
    """The stretches between complexes: each offset to the next onset, plus both ends."""
    order = np.argsort(on)
    on, off = on[order], off[order]
    return np.concatenate([[0.0], off]), np.concatenate([on, [duration_s]])


def _ends(heart: Heart, beats: Beats) -> tuple[np.ndarray, np.ndarray]:
    """QRS offset (J point) and T offset of every beat, s."""
    qrs_dur = np.array([heart.foci[f].qrs.duration_s if f >= 0 else heart.qrs.duration_s
                        for f in beats.focus])
    qt = np.array([heart.foci[f].qt_s if f >= 0 else heart.qt_s for f in beats.focus])
    return beats.qrs_s + qrs_dur, beats.qrs_s + qt


def _evidence(keys: frozenset[str], heart: Heart, beats: Beats,
              duration_s: float) -> dict[str, tuple[Evidence, ...]]:
    """Evidence intervals of every present label (see ``simulate``), clipped to the record."""
    kind, qrs, p = beats.kind, beats.qrs_s, beats.p_s
    qrs_end, t_end = _ends(heart, beats)
    conducted = kind != "V"
    spans: dict[str, tuple[np.ndarray, np.ndarray]] = {
        "SR": (p[kind == "N"], p[kind == "N"] + heart.p.duration_s),
        "IAVB": (p[conducted], qrs[conducted]),
        "PVC": (qrs[~conducted], t_end[~conducted]),
        "LBBB": (qrs[conducted], qrs_end[conducted]),
        "RBBB": (qrs[conducted], qrs_end[conducted]),
        "AF": _segments(qrs, qrs_end, duration_s),
        "AFL": _segments(qrs, qrs_end, duration_s),
    }
    pac = np.flatnonzero(kind == "A")  # never the first beat: PACs are drawn inside the record
    pac_on, pac_off = p[pac], p[pac] + heart.p_ectopic.duration_s
    t_on = t_end[pac - 1] - np.where(kind[pac - 1] == "V", np.nan, heart.t.duration_s)
    sits = (pac_on < t_end[pac - 1]) & (pac_off > t_on)
    spans["PAC"] = (np.where(sits, np.minimum(pac_on, t_on), pac_on),
                    np.where(sits, np.maximum(pac_off, t_end[pac - 1]), pac_off))
    return {key: _intervals(*spans[key], BY_KEY[key].evidence_leads, duration_s)
            for key in LABELS if key in keys}


def _intervals(t0: np.ndarray, t1: np.ndarray, leads: tuple[str, ...],
               duration_s: float) -> tuple[Evidence, ...]:
    """Each interval [t0, t1] clipped to the record, in each lead; empty ones dropped."""
    t0, t1 = np.clip(t0, 0.0, duration_s), np.clip(t1, 0.0, duration_s)
    keep = np.isfinite(t0) & np.isfinite(t1) & (t1 > t0)
    return tuple(Evidence(lead, float(a), float(b))
                 for a, b in zip(t0[keep], t1[keep]) for lead in leads)


def _sinus_rhythm(keys: frozenset[str], rng: np.random.Generator, dower: np.ndarray,
                  duration_s: float) -> tuple[Heart, Beats, dict]:
    rate = _sinus_rate(keys, rng)
    heart = _heart(keys, 60.0 / rate, rng, dower)
    qrs, kind, p = _sinus_beats(keys, rng, 60.0 / rate, heart, duration_s)
    params = {"rate_bpm": rate, "pr_ms": 1e3 * heart.pr_s}
    if "PAC" in keys:
        params["pr_pac_ms"] = 1e3 * heart.pr_pac_s
    return heart, Beats(qrs, kind, p, np.full(qrs.size, -1), np.zeros(0)), params


def _fibrillation_rhythm(keys: frozenset[str], rng: np.random.Generator, dower: np.ndarray,
                         duration_s: float) -> tuple[Heart, Beats, dict]:
    rate = rng.uniform(60, 170)
    heart = _heart(keys, 60.0 / rate, rng, dower)
    qrs = _af_beats(rng, 60.0 / rate, heart, duration_s)
    params = {"rate_bpm": rate, "f_wave_rate_bpm": rng.uniform(350, 600),
              "f_wave_mv": rng.uniform(0.02, 0.2)}
    return heart, _conducted(qrs), params


def _flutter_rhythm(keys: frozenset[str], rng: np.random.Generator, dower: np.ndarray,
                    duration_s: float) -> tuple[Heart, Beats, dict]:
    f_rate = rng.uniform(240, 340)
    name, ratios = _flutter_conduction(rng)
    rate = f_rate / np.mean(ratios[:12])
    heart = _heart(keys, 60.0 / rate, rng, dower)
    phase0, av = rng.random(), rng.uniform(0.14, 0.28)
    qrs = _flutter_beats(ratios, f_rate, phase0, av, duration_s)
    params = {"rate_bpm": rate, "flutter_rate_bpm": f_rate, "conduction": name,
              "flutter_phase": phase0, "flutter_mv": rng.uniform(0.1, 0.3), "av_delay_ms": 1e3 * av}
    return heart, _conducted(qrs), params


def _conducted(qrs: np.ndarray) -> Beats:
    """Beats conducted from AF or flutter: no P waves."""
    return Beats(qrs, np.full(qrs.size, "N"), np.full(qrs.size, np.nan), np.full(qrs.size, -1),
                 np.zeros(0))


_RHYTHM_MAKERS = {"SR": _sinus_rhythm, "AF": _fibrillation_rhythm, "AFL": _flutter_rhythm}


def _rhythm(keys: frozenset[str], rng: np.random.Generator, dower: np.ndarray,
            duration_s: float) -> tuple[Heart, Beats, dict]:
    """Draw the heart and its beats (PVCs included) and the parameters used (JSON-ready)."""
    rhythm = next(k for k in RHYTHMS if k in keys)
    heart, beats, params = _RHYTHM_MAKERS[rhythm](keys, rng, dower, duration_s)
    if "PVC" in keys:
        beats, pattern = _with_pvcs(beats, heart, rhythm, duration_s, rng)
        params.update(pvc_pattern=pattern, pvc_foci=len(heart.foci))
    params.update(rhythm=rhythm, qrs_ms=1e3 * heart.qrs.duration_s, qt_ms=1e3 * heart.qt_s,
                  p_ms=1e3 * heart.p.duration_s)
    return heart, beats, params


def _atrial(keys: frozenset[str], params: dict, rng: np.random.Generator, t: np.ndarray,
            dower: np.ndarray) -> np.ndarray:
    """Continuous atrial activity (n, 3) of AF or flutter, sized in V1 (AF) or II (AFL)."""
    if "AF" in keys:
        f = waves.fibrillation(rng, t, params["f_wave_rate_bpm"])
        v1 = f @ dower[waves.lead_index("V1")]
        return f * params["f_wave_mv"] / np.percentile(np.abs(v1), 98)
    if "AFL" in keys:
        f = waves.flutter(rng, t, params["flutter_rate_bpm"], params["flutter_phase"])
        return f * params["flutter_mv"] / np.ptp(f @ dower[waves.lead_index("II")])
    return np.zeros((t.size, 3))


def _beat_params(heart: Heart, beats: Beats, duration_s: float) -> dict:
    """Per-beat timing of the beats whose QRS starts inside the record (lists, s)."""
    seen = (beats.qrs_s >= 0.0) & (beats.qrs_s < duration_s)
    qrs_end, t_end = _ends(heart, beats)
    p_dur = np.where(beats.kind == "A", heart.p_ectopic.duration_s, heart.p.duration_s)

    def listed(x: np.ndarray) -> list:
        return [round(float(v), 4) if np.isfinite(v) else None for v in x[seen]]

    blocked = beats.blocked_p_s
    return {
        "beat_times_s": listed(beats.qrs_s),
        "beat_kinds": [str(k) for k in beats.kind[seen]],
        "qrs_offset_s": listed(qrs_end),
        "t_offset_s": listed(t_end),
        "p_onset_s": listed(beats.p_s),
        "p_offset_s": listed(beats.p_s + p_dur),
        "pvc_focus": [int(f) for f in beats.focus[seen]],
        "blocked_p_onset_s": [round(float(v), 4) for v in blocked if 0.0 <= v < duration_s],
    }


def simulate(labels: Collection[str], rng: np.random.Generator, duration_s: float = 10.0,
             fs: float = 500.0, *, noise: bool = True) -> EcgSample:
    """Simulate a 12-lead ECG (mV, ``fs`` Hz, ``duration_s`` s) showing exactly ``labels``.

    labels: one of SR/AF/AFL plus any of PVC; PAC and IAVB (with SR only); LBBB or RBBB.
    rng: the only source of randomness. noise: add baseline wander, mains hum and muscle
    noise (each of random strength); False gives the clean signal of the same patient.

    ``source['params']`` holds the parameters used (JSON-ready): rates /min, durations ms,
    and per beat whose QRS starts in the record its QRS onset, J point, T offset and P onset
    and offset (s) and kind ('N' conducted, 'A' PAC, 'V' PVC). Wave onsets and offsets
    follow ``core.synth.waves.Wave`` (2 % of the wave's own dipole magnitude). Evidence, per
    present label in its ``evidence_leads``, clipped to [0, duration_s]: SR each conducted
    sinus P wave; AF and AFL each QRS offset to the next QRS onset (and the record's ends);
    PVC each PVC's QRS onset to T offset; PAC each premature P wave, widened to the T wave it
    overlaps; IAVB each P onset to QRS onset; LBBB and RBBB each conducted QRS onset to J.
    """
    keys = _checked(labels)
    n = int(round(duration_s * fs))
    t = np.arange(n) / fs
    dower = _patient_dower(rng)
    heart, beats, params = _rhythm(keys, rng, dower, duration_s)
    dipole = _render(heart, beats, n, fs) + _atrial(keys, params, rng, t, dower)
    independent = dipole @ dower.T
    strengths = {"wander_mv": 0.0, "mains_hz": None, "mains_mv": 0.0, "emg_mv": 0.0}
    if noise:
        extra, strengths = _noise(rng, n, fs)
        independent += extra
    params.update(_beat_params(heart, beats, duration_s), noise=strengths)
    params = {k: round(float(v), 4) if isinstance(v, float) else v for k, v in params.items()}
    return EcgSample(
        signals=waves.to_leads(independent),
        fs=float(fs),
        labels={key: int(key in keys) for key in LABELS},
        evidence=_evidence(keys, heart, beats, duration_s),
        source={"kind": "sim", "record": None, "params": params},
    )
