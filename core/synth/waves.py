"""Wave shapes of the cardiac dipole and their projection onto the 12 leads.

The heart is one current dipole (a vectorcardiogram, VCG) in Frank axes: X to the patient's
left, Y to the feet, Z to the back; amplitudes in mV. Each wave (P, QRS, T) is a sum of
asymmetric Gaussian bumps, each with its own 3-D direction (as in ECGSYN and the dipole models
after it). The leads come from the Dower transform; III, aVR, aVL and aVF are computed from I
and II, so the Einthoven and Goldberger relations hold exactly.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import ArrayLike

# Dower et al. 1980/1988: standard leads from Frank X, Y, Z. Rows I, II, V1..V6.
DOWER = np.array(
    [
        [0.632, -0.235, 0.059],
        [0.235, 1.066, -0.132],
        [-0.515, 0.157, -0.917],
        [0.044, 0.164, -1.387],
        [0.882, 0.098, -1.277],
        [1.213, 0.127, -0.601],
        [1.125, 0.127, -0.086],
        [0.831, 0.076, 0.230],
    ]
)
INDEPENDENT_LEADS: tuple[str, ...] = ("I", "II", "V1", "V2", "V3", "V4", "V5", "V6")

THRESHOLD = 0.02  # a wave starts and ends where its dipole magnitude crosses 2 % of its peak
_GRID_S = 0.0005  # grid on which wave extents are found, s
_SPAN_SD = 4.0  # a bump is evaluated within this many widths of its centre


@dataclass(frozen=True)
class Wave:
    """One wave of the cardiac dipole: a sum of asymmetric Gaussian bumps.

    t_s: (k,) bump centres, s after the wave's onset. left_s, right_s: (k,) bump widths (SD)
    before and after the centre, s. vec_mv: (k, 3) peak dipole of each bump in Frank axes, mV.
    duration_s: onset to offset, s. Onset and offset are the first and last instants at which
    the Euclidean norm of the wave's own dipole (the sum of its bumps, nothing else) exceeds
    ``THRESHOLD`` (2 %) of that norm's maximum; by construction the onset is at 0.
    """

    t_s: np.ndarray
    left_s: np.ndarray
    right_s: np.ndarray
    vec_mv: np.ndarray
    duration_s: float

    def scaled(self, time: float = 1.0, amplitude: float = 1.0) -> "Wave":
        """Stretch the wave in time by ``time`` and its amplitude by ``amplitude``."""
        return replace(
            self,
            t_s=self.t_s * time,
            left_s=self.left_s * time,
            right_s=self.right_s * time,
            vec_mv=self.vec_mv * amplitude,
            duration_s=self.duration_s * time,
        )

    def rotated(self, rotation: np.ndarray) -> "Wave":
        """Apply a 3×3 rotation to every bump's direction (extent is unchanged)."""
        return replace(self, vec_mv=self.vec_mv @ rotation.T)

    def stretched_to(self, duration_s: float) -> "Wave":
        """The same wave stretched in time to last ``duration_s`` seconds."""
        return self.scaled(time=duration_s / self.duration_s)

    def leads(self, dower: np.ndarray) -> np.ndarray:
        """The wave sampled at 1 kHz in the 8 independent leads, (m, 8) mV (for sizing)."""
        t = np.arange(0.0, self.duration_s + 1e-9, 0.001)
        return _dipole(t, self.t_s, self.left_s, self.right_s, self.vec_mv) @ dower.T


def _bumps(t: np.ndarray, centre: np.ndarray, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Asymmetric unit Gaussians; t (..., m) against centres (..., k) broadcast to (..., m, k)."""
    d = t[..., :, None] - centre[..., None, :]
    sd = np.where(d < 0.0, left[..., None, :], right[..., None, :])
    return np.exp(-0.5 * (d / sd) ** 2)


def _dipole(t: np.ndarray, centre: np.ndarray, left: np.ndarray, right: np.ndarray,
            vec: np.ndarray) -> np.ndarray:
    """Dipole (m, 3) of bumps at times t (m,), mV."""
    return _bumps(t, centre, left, right) @ vec


def make_wave(t_s: ArrayLike, left_s: ArrayLike, right_s: ArrayLike, vec_mv: ArrayLike) -> Wave:
    """Build a ``Wave`` from bump parameters, shifted so that its onset (2 % rule) is at 0 s.

    t_s: bump centres, s (any origin). left_s, right_s: widths before/after the centre, s.
    vec_mv: (k, 3) bump peaks in Frank axes, mV.
    """
    t_s, left_s, right_s = (np.asarray(a, dtype=float) for a in (t_s, left_s, right_s))
    vec_mv = np.asarray(vec_mv, dtype=float).reshape(-1, 3)
    lo = np.min(t_s - _SPAN_SD * left_s)
    hi = np.max(t_s + _SPAN_SD * right_s)
    grid = np.arange(lo, hi + _GRID_S, _GRID_S)
    norm = np.linalg.norm(_dipole(grid, t_s, left_s, right_s, vec_mv), axis=1)
    above = np.flatnonzero(norm > THRESHOLD * norm.max())
    onset, offset = grid[above[0]], grid[above[-1]]
    return Wave(t_s - onset, left_s, right_s, vec_mv, float(offset - onset))


def render(waves: list[tuple[Wave, np.ndarray]], n: int, fs: float) -> np.ndarray:
    """Sum waves placed at onset times into an (n, 3) dipole signal, mV.

    waves: pairs (wave, onsets in s). Every bump is evaluated on its own window of samples
    (±4 widths), so the cost grows with the number of bumps, not with their product with n.
    """
    parts = [(w, np.asarray(on, dtype=float)) for w, on in waves if np.size(on)]
    if not parts:
        return np.zeros((n, 3))
    centre = np.concatenate([(on[:, None] + w.t_s[None, :]).ravel() for w, on in parts])
    left = np.concatenate([np.tile(w.left_s, on.size) for w, on in parts])
    right = np.concatenate([np.tile(w.right_s, on.size) for w, on in parts])
    vec = np.concatenate([np.tile(w.vec_mv, (on.size, 1)) for w, on in parts])
    half = int(np.ceil(_SPAN_SD * max(left.max(), right.max()) * fs))
    idx = np.round(centre * fs).astype(int)[:, None] + np.arange(-half, half + 1)[None, :]
    d = idx / fs - centre[:, None]
    g = np.exp(-0.5 * (d / np.where(d < 0.0, left[:, None], right[:, None])) ** 2)
    keep = (idx >= 0) & (idx < n)
    idx, g = idx[keep], g[keep]
    rows = np.repeat(np.arange(centre.size)[:, None], 2 * half + 1, axis=1)[keep]
    return np.stack([np.bincount(idx, g * vec[rows, k], minlength=n) for k in range(3)], axis=1)


def to_leads(independent: np.ndarray) -> np.ndarray:
    """(n, 8) leads I, II, V1..V6 -> (n, 12) float32 in ``LEADS`` order.

    The augmented limb leads and III are computed in float32 from the float32 I and II, so
    III = II − I, aVR = −(I + II)/2, aVL = I − II/2 and aVF = II − I/2 hold to rounding.
    """
    x = independent.astype(np.float32)
    lead_i, lead_ii = x[:, 0], x[:, 1]
    limb = np.stack(
        [
            lead_i,
            lead_ii,
            lead_ii - lead_i,
            -(lead_i + lead_ii) / np.float32(2.0),
            lead_i - lead_ii / np.float32(2.0),
            lead_ii - lead_i / np.float32(2.0),
        ],
        axis=1,
    )
    return np.concatenate([limb, x[:, 2:]], axis=1)


def rotation(x_deg: float, y_deg: float, z_deg: float) -> np.ndarray:
    """3×3 rotation about Frank X, then Y, then Z, by angles in degrees."""
    ax, ay, az = np.deg2rad([x_deg, y_deg, z_deg])
    cx, sx, cy, sy, cz, sz = np.cos(ax), np.sin(ax), np.cos(ay), np.sin(ay), np.cos(az), np.sin(az)
    rx = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rz = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    return rz @ ry @ rx


def lead_index(name: str) -> int:
    """Column of a lead in the (n, 8) independent-lead arrays."""
    return INDEPENDENT_LEADS.index(name)



def sized(wave: Wave, dower: np.ndarray, peak_mv: float, lead: str | None = None) -> Wave:
    """Scale a wave so that its largest absolute deflection is ``peak_mv`` (mV).

    lead: the lead whose deflection is set (one of ``INDEPENDENT_LEADS``); None = the largest
    over the 8 independent leads.
    """
    x = wave.leads(dower)
    top = np.abs(x[:, lead_index(lead)] if lead else x).max()
    return wave.scaled(amplitude=peak_mv / top)


def mean_vector(wave: Wave) -> np.ndarray:
    """Time integral of a wave's dipole (mV·s): its mean electrical axis in 3-D."""
    width = np.sqrt(np.pi / 2.0) * (wave.left_s + wave.right_s)
    return width @ wave.vec_mv


def _unit(v: np.ndarray) -> np.ndarray:
    """v scaled to unit length (along its last axis)."""
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def _wobble(vec: ArrayLike, rng: np.random.Generator, sd: float) -> np.ndarray:
    """Directions plus Gaussian scatter of ``sd`` mV per axis."""
    vec = np.asarray(vec, dtype=float)
    return vec + rng.normal(0.0, sd, vec.shape)


def sinus_p(rng: np.random.Generator) -> Wave:
    """Sinus P wave: right-atrial then left-atrial bump, left-inferior axis (unit size)."""
    axis = np.deg2rad(rng.uniform(15.0, 55.0))
    ra = [0.45 * np.cos(axis), 0.55 * np.sin(axis) + 0.1, -0.25]
    la = [0.55 * np.cos(axis) + 0.05, 0.45 * np.sin(axis), rng.uniform(0.0, 0.25)]
    sd = rng.uniform(0.012, 0.018, 2)
    return make_wave([0.0, rng.uniform(0.022, 0.035)], sd, sd * rng.uniform(0.9, 1.3, 2),
                     _wobble([ra, la], rng, 0.04))


def ectopic_p(rng: np.random.Generator, sinus: Wave) -> Wave:
    """P wave from an ectopic atrial focus: a direction at least 75° away from the sinus P."""
    ref = _unit(mean_vector(sinus))
    while True:
        d = _unit(rng.normal(size=3))
        if d @ ref < 0.25:
            break
    n = int(rng.integers(1, 3))
    t = np.cumsum(rng.uniform(0.0, 0.03, n))
    sd = rng.uniform(0.010, 0.020, n)
    vec = d[None, :] * rng.uniform(0.6, 1.0, (n, 1)) + rng.normal(0.0, 0.1, (n, 3))
    return make_wave(t, sd, sd * rng.uniform(0.8, 1.3, n), vec)


_NORMAL_QRS = (  # septal, anterior-apical, left-ventricular free wall, basal terminal
    (0.012, 0.006, [-0.12, -0.03, -0.19]),
    (0.027, 0.007, [0.49, 0.19, -0.21]),
    (0.042, 0.009, [1.6, 0.8, 0.9]),
    (0.062, 0.009, [-0.27, -0.15, 0.23]),
)


def _qrs_bumps(rng: np.random.Generator, table: tuple) -> tuple[np.ndarray, ...]:
    """Bump centres, widths and directions of a QRS table, each with patient scatter."""
    t = np.array([row[0] for row in table]) + rng.normal(0.0, 0.002, len(table))
    sd = np.array([row[1] for row in table]) * rng.uniform(0.85, 1.15, len(table))
    vec = _wobble([row[2] for row in table], rng, 0.08)
    return t, sd, sd * rng.uniform(0.9, 1.15, len(table)), vec


def normal_qrs(rng: np.random.Generator) -> Wave:
    """Narrow QRS of normal conduction (septal q/r, then left-inferior-posterior forces)."""
    return make_wave(*_qrs_bumps(rng, _NORMAL_QRS))


def rbbb_qrs(rng: np.random.Generator, duration_s: float) -> Wave:
    """Right bundle branch block: normal initial forces, then a slow right-anterior terminal
    bump (R′ in V1, broad S in I and V6) placed so that the QRS lasts ``duration_s``."""
    t, left, right, vec = _qrs_bumps(rng, _NORMAL_QRS[:3])
    vec[2, 2] *= rng.uniform(0.3, 0.6)  # the unopposed right-anterior forces shrink V1's S
    rv = _wobble([-0.65, 0.0, -0.75], rng, 0.08) * rng.uniform(0.7, 1.1)
    sd = rng.uniform(0.018, 0.026)
    t = np.append(t, 0.085)
    for _ in range(3):  # the offset moves almost 1:1 with the terminal bump
        wave = make_wave(t, np.append(left, sd), np.append(right, sd * 1.2), np.vstack([vec, rv]))
        t[-1] += duration_s - wave.duration_s
    return wave


def lbbb_qrs(rng: np.random.Generator) -> Wave:
    """Left bundle branch block: no septal q (initial forces leftward), then a slow, notched
    left-posterior activation (QS or rS in V1, broad notched R in I, aVL, V5, V6)."""
    table = (
        (0.014, 0.015, [0.2, 0.05, -0.05]),
        (0.045, 0.02, [0.75, 0.25, 0.65]),
        (0.088 + rng.uniform(-0.008, 0.008), 0.02, [0.75, 0.05, 0.55]),
        (0.118, 0.018, [0.3, -0.1, 0.2]),
    )
    return make_wave(*_qrs_bumps(rng, table))


def t_wave(rng: np.random.Generator, direction: np.ndarray) -> Wave:
    """A T wave along ``direction`` (unit size): slow upstroke, faster downstroke."""
    left = rng.uniform(0.045, 0.06)
    return make_wave([0.0], [left], [left * rng.uniform(0.55, 0.8)], [_unit(direction)])


def normal_t_direction(rng: np.random.Generator) -> np.ndarray:
    """Normal T-wave direction: leftward, inferior, slightly anterior (concordant with QRS)."""
    return _unit(_wobble([0.55, 0.30, -0.35], rng, 0.12))


def discordant_direction(rng: np.random.Generator, against: np.ndarray,
                         base: np.ndarray, weight: float) -> np.ndarray:
    """A T direction pulled away from ``against`` (secondary ST-T change) by ``weight``."""
    return _unit((1.0 - weight) * base - weight * _unit(against) + rng.normal(0.0, 0.1, 3))


def pvc_qrs(rng: np.random.Generator) -> Wave:
    """QRS of a premature ventricular beat: slow, broad, from a random focus (unit size)."""
    origin = rng.choice(4)
    d = _unit(np.array([[0.4, 0.9, 0.6], [-0.5, 0.3, -0.9], [0.2, -0.9, 0.3],
                        rng.normal(size=3)])[origin] + rng.normal(0.0, 0.25, 3))
    late = rotation(*rng.uniform(-90.0, 90.0, 3)) @ d  # the wavefront turns as it spreads
    vec = np.array([0.45 * d, d, 0.5 * late]) + rng.normal(0.0, 0.1, (3, 3))
    t = np.array([0.02, 0.06, 0.1]) + rng.normal(0.0, 0.006, 3)
    sd = rng.uniform(0.015, 0.028, 3)
    return make_wave(t, sd, sd * rng.uniform(0.8, 1.3, 3), vec)


def smooth_noise(rng: np.random.Generator, t: np.ndarray, step_s: float) -> np.ndarray:
    """Unit-variance random curve with knots every ``step_s`` seconds, linearly joined."""
    knots = np.arange(t[0] - step_s, t[-1] + 2 * step_s, step_s)
    return np.interp(t, knots, rng.normal(size=knots.size))


def fibrillation(rng: np.random.Generator, t: np.ndarray, rate_per_min: float) -> np.ndarray:
    """Atrial fibrillatory f waves (n, 3), unit size: two wandering oscillators near
    ``rate_per_min`` whose rate, shape, amplitude and direction drift from wave to wave;
    strongest anteriorly (V1), visible in II."""
    dt = t[1] - t[0]
    out = np.zeros((t.size, 3))
    main = _unit(_wobble([-0.2, 0.45, -0.85], rng, 0.15))
    for d, gain in ((main, 1.0), (_unit(main + rng.normal(0.0, 0.6, 3)), rng.uniform(0.3, 0.6))):
        hz = rate_per_min / 60.0 * rng.uniform(0.9, 1.1)
        hz = hz * np.clip(1.0 + 0.12 * smooth_noise(rng, t, 0.25), 0.7, 1.3)
        phase = 2.0 * np.pi * np.cumsum(hz) * dt + rng.uniform(0, 2 * np.pi)
        wave = np.sin(phase) + 0.4 * smooth_noise(rng, t, 0.3) * np.sin(2 * phase + 1.0)
        envelope = np.clip(0.6 + 0.4 * smooth_noise(rng, t, 0.3), 0.1, 1.2)
        out += gain * (envelope * wave)[:, None] * d[None, :]
    return out


def _sawtooth_table() -> np.ndarray:
    """One cycle of a typical flutter wave as seen in II (peak-to-peak 1), 512 points."""
    knots_x = [0.0, 0.5, 0.74, 0.9, 1.0]
    knots_y = [0.0, -0.3, -1.0, 0.1, 0.0]
    phase = np.arange(512) / 512
    y = np.interp(phase, knots_x, knots_y)
    spectrum = np.fft.rfft(y)
    spectrum[0] = 0.0
    spectrum[10:] = 0.0
    y = np.fft.irfft(spectrum, 512)
    return y / np.ptp(y)


_SAWTOOTH = _sawtooth_table()


def flutter(rng: np.random.Generator, t: np.ndarray, rate_per_min: float,
            phase0: float) -> np.ndarray:
    """Typical (counter-clockwise) flutter F waves (n, 3), unit size.

    A sawtooth whose dominant deflection is negative in the inferior leads and positive in V1,
    with no isoelectric baseline. Cycle k starts at t = (k − phase0) · 60 / rate_per_min s.
    """
    cycles = t * rate_per_min / 60.0 + phase0
    idx = (np.mod(cycles, 1.0) * 512).astype(int)
    lag = (idx + int(rng.uniform(0.05, 0.2) * 512)) % 512
    main = _unit(_wobble([0.45, 0.8, 0.6], rng, 0.08))
    side = _unit(_wobble([0.0, 0.2, 1.0], rng, 0.2))
    return _SAWTOOTH[idx, None] * main[None, :] + 0.25 * _SAWTOOTH[lag, None] * side[None, :]
