"""Calibrate a rectified page: how many pixels one paper millimetre spans, along x and along y.

The printed grid has lines every 1 mm and darker ones every 5 mm, so the darkness profile of a
strip of paper is periodic. Each axis is measured on many thin strips (bands): the power
spectra of the strips' profiles are summed (incoherently, so a slight residual tilt or curl
does not blur the lines away), the 5-mm period is found as the harmonic comb that best
explains the spectrum's peaks, and is refined on its highest clear harmonic. Grey and
black-and-white grids work the same way as coloured ones: the signal is the darkness of the
darkest colour channel, which every grid colour darkens.

When the grid is too faint or absent the caller falls back to the calibration pulse or the
spacing of the lead panels (``core.page.panels``); when nothing is trustworthy the answer is
"not calibrated" (None), never a guess. All lengths are pixels of the rectified image unless
named ``_mm``.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from scipy import ndimage as ndi

BAND_PX = 48  # strip thickness across which a profile is averaged
MIN_PERIOD_PX = 2.2  # the 1-mm lines must span at least this many px to be seen
MIN_RATIO = 4.0  # spectral peak / local background for a harmonic to count as present
MAX_GRID_MM_PX = 40.0  # px per mm above which grid lines are not searched
ALIAS_FREE = 0.36  # cycles/px: above this, peaks may be harmonics folded back from beyond Nyquist


@dataclass(frozen=True)
class AxisPitch:
    """The grid along one image axis.

    pitch_px: px per 5 mm (the major-line period). strength: peak-to-background ratio of the
    comb (>= 1; ~1 = no grid). minor_seen: the 1-mm lines were resolved. harmonics: how many
    harmonics of the 5-mm period were clearly present.
    """

    pitch_px: float
    strength: float
    minor_seen: bool
    harmonics: int


@dataclass(frozen=True)
class Calibration:
    """Scale of a rectified page.

    px_per_mm: (x, y) px of the rectified image per paper mm, or None when not calibrated.
    method: 'grid', 'pulse', 'panels' (the rows' length) or 'none'. confidence: 0..1.
    """

    px_per_mm: tuple[float, float] | None
    method: str
    confidence: float

    @property
    def ok(self) -> bool:
        return self.px_per_mm is not None


NOT_CALIBRATED = Calibration(None, "none", 0.0)  # "not calibrated": no guess


def grid_signal(rgb: np.ndarray, darkness: np.ndarray | None = None, ink: np.ndarray | None = None
                ) -> np.ndarray:
    """Darkness of the darkest channel, float32 0..1, relative to the local paper white (so
    shadows and tinted paper do not matter): grid lines of any colour are > 0. Ink (traces,
    text) is blanked out, so the regular beats and rows of a trace cannot pass for a grid:
    ``ink`` when the caller has found it (``core.page.panels.ink_maps``), else whatever is
    dark in every channel. ``darkness``: the image's :func:`channel_darkness`, if known."""
    d = channel_darkness(rgb) if darkness is None else darkness
    signal = channel_max(d)
    blank = (channel_min(d) > 0.7) if ink is None else ink
    signal[cv2.dilate(blank.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0] = 0.0
    return signal


def channel_darkness(rgb: np.ndarray) -> np.ndarray:
    """(H, W, 3) float32 0..1: each channel's darkening relative to the local paper level of
    that channel (1 - value / paper)."""
    return np.dstack([_relative_darkness(np.ascontiguousarray(rgb[..., c])) for c in range(3)])


def channel_min(a: np.ndarray) -> np.ndarray:
    """Per-pixel minimum over the 3 channels of an (H, W, 3) array (cv2: much faster than
    a NumPy reduction over the last axis)."""
    return cv2.min(cv2.min(a[..., 0], a[..., 1]), a[..., 2])


def channel_max(a: np.ndarray) -> np.ndarray:
    """Per-pixel maximum over the 3 channels of an (H, W, 3) array."""
    return cv2.max(cv2.max(a[..., 0], a[..., 1]), a[..., 2])


def _relative_darkness(channel: np.ndarray) -> np.ndarray:
    """1 - channel / local paper level. The paper level is the local maximum over ~1/60 of
    the image, smoothed; computed on a coarse grid and interpolated back."""
    h, w = channel.shape
    k = max(5, int(round(max(h, w) / 60)) | 1)
    peak = cv2.dilate(channel, cv2.getStructuringElement(cv2.MORPH_RECT, (k, k)))
    step = max(1, k // 3)
    coarse = cv2.resize(peak, (max(1, w // step), max(1, h // step)), interpolation=cv2.INTER_NEAREST)
    coarse = cv2.GaussianBlur(coarse.astype(np.float32), (0, 0), 3.0)
    paper = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_LINEAR)
    return np.clip(1.0 - channel.astype(np.float32) / np.maximum(paper, 24.0), 0.0, 1.0)


# ---- the grid's period --------------------------------------------------------------------------
def band_spectrum(signal: np.ndarray, axis: int, band: int = BAND_PX) -> tuple[np.ndarray, np.ndarray]:
    """Summed power spectrum of profiles along ``axis`` (1: along x, profiles over thin
    horizontal bands) -> (frequencies cycles/px, power). A profile is the band's median, which
    keeps lines crossing the whole band and drops the traces that only pass through it. Profiles are mean-removed and
    Hann-windowed; zero-padded 4x for peak interpolation."""
    s = signal if axis == 1 else signal.T
    band = max(1, min(band, s.shape[0]))  # an image thinner than a band is one band
    n_bands = s.shape[0] // band
    profiles = np.median(s[: n_bands * band].reshape(n_bands, band, s.shape[1]), axis=1)
    profiles = profiles - profiles.mean(axis=1, keepdims=True)
    profiles *= np.hanning(s.shape[1])[None, :].astype(np.float32)
    n_fft = cv2.getOptimalDFTSize(4 * s.shape[1])
    power = (np.abs(np.fft.rfft(profiles, n=n_fft, axis=1)) ** 2).sum(axis=0)
    return np.fft.rfftfreq(n_fft), power


@dataclass(frozen=True)
class Spectrum:
    """The grid's spectrum along one axis: freqs (cycles/px), power (summed over bands) and
    ratio (power over its local background, for telling peaks from noise)."""

    freqs: np.ndarray
    power: np.ndarray
    ratio: np.ndarray

    def peak(self, f: float, tol: float) -> tuple[float, float, float]:
        """(frequency, ratio, power) of the highest point of ``ratio`` within f*(1 +- tol)
        (at least one bin either side), refined by a parabola through its log neighbours."""
        df = self.freqs[1]
        lo = max(1, min(int(f * (1 - tol) / df), int(round(f / df)) - 1))
        hi = min(len(self.ratio) - 2, max(int(np.ceil(f * (1 + tol) / df)), int(round(f / df)) + 1))
        if hi < lo:
            return f, 0.0, 0.0
        i = lo + int(np.argmax(self.ratio[lo:hi + 1]))
        a, b, c = np.log(self.ratio[i - 1:i + 2] + 1e-12)
        den = a - 2 * b + c
        shift = float(np.clip(0.5 * (a - c) / den, -0.5, 0.5)) if den < 0 else 0.0
        return (i + shift) * df, float(self.ratio[i]), float(self.power[i])

    def peaks(self, f_lo: float) -> tuple[np.ndarray, np.ndarray]:
        """(frequencies, weights 0..1) of the clear local maxima between f_lo and ALIAS_FREE;
        a peak's weight is its power in decades below the strongest peak's, 3 decades -> 0."""
        r, df = self.ratio, self.freqs[1]
        lo, hi = max(1, int(np.ceil(f_lo / df))), min(len(r) - 2, int(ALIAS_FREE / df))
        if hi <= lo + 2:
            return np.zeros(0), np.zeros(0)
        seg = r[lo - 1:hi + 1]
        idx = lo + np.flatnonzero((seg[1:-1] > seg[:-2]) & (seg[1:-1] >= seg[2:]) & (seg[1:-1] >= MIN_RATIO))
        if not len(idx):
            return np.zeros(0), np.zeros(0)
        freqs = np.array([self.peak(self.freqs[i], 0.0)[0] for i in idx])
        return freqs, self.weight(self.power[idx])

    def weight(self, power: np.ndarray | float) -> np.ndarray:
        """Power in decades relative to the strongest clear peak, mapped 3 decades below -> 0, equal -> 1."""
        top = self._top()
        return np.clip((np.log10(np.maximum(power, 1e-30) / top) + 3.0) / 3.0, 0.0, 1.0)

    def _top(self) -> float:
        df = self.freqs[1]
        lo, hi = max(1, int(np.ceil(1.0 / (5 * MAX_GRID_MM_PX) / df))), int(ALIAS_FREE / df)
        clear = self.ratio[lo:hi] >= MIN_RATIO
        return float(self.power[lo:hi][clear].max()) if clear.any() else float(self.power[lo:hi].max() + 1e-30)


def axis_spectrum(signal: np.ndarray, axis: int) -> Spectrum:
    """The grid's spectrum along one axis (1 = x, 0 = y)."""
    freqs, power = band_spectrum(signal, axis)
    bg = ndi.median_filter(power, size=max(9, len(power) // 40), mode="nearest")
    return Spectrum(freqs, power, power / np.maximum(bg, 1e-30))


def comb_candidates(spec: Spectrum, f_range: tuple[float, float]) -> list[tuple[float, float]]:
    """Plausible 5-mm grid frequencies (cycles/px, within f_range) along one axis with their
    comb scores: each of the clearest peaks (and the lowest clear ones: a fundamental is often
    not the strongest) is read as the 5-mm lines' harmonic k = 1, 2, 3, 4, 5 (the 1-mm lines)
    or 10 (their second harmonic)."""
    pf, pw = spec.peaks(min(f_range[0], 1.0 / (5 * MAX_GRID_MM_PX)))
    if not len(pf):
        return []
    clear = np.flatnonzero(pw >= 2.0 / 3.0)
    seeds = set(np.argsort(pw)[::-1][:8]) | set(clear[:4])
    out = []
    for i in sorted(seeds):
        for k in (1, 2, 3, 4, 5, 10):
            f5 = pf[i] / k
            if f_range[0] <= f5 <= f_range[1]:
                out.append((f5, comb_score(spec, f5, pf, pw)))
    return out


def comb_score(spec: Spectrum, f5: float, pf: np.ndarray, pw: np.ndarray) -> float:
    """How well the harmonic comb of f5 explains the spectrum, 0..1: the share of the peaks'
    weight lying on the comb, times the mean weight of the comb's first ten teeth (below
    ALIAS_FREE; a missing tooth weighs 0). A comb of half the frequency has half its teeth
    empty or faint; one of a multiple leaves peaks unexplained."""
    m = np.round(pf / f5)
    on = (m >= 1) & (np.abs(pf - m * f5) <= np.maximum(2 * spec.freqs[1], 0.006 * pf))
    recall = float(pw[on].sum() / max(pw.sum(), 1e-9))
    teeth = []
    for j in [j for j in range(1, 11) if j * f5 < ALIAS_FREE] or [1]:
        _, r, p = spec.peak(j * f5, 0.004)
        teeth.append(float(spec.weight(p)) if r >= MIN_RATIO else 0.0)
    return recall * float(np.mean(teeth))


def grid_pitches(signal: np.ndarray, max_aspect: float = 1.25, max_span_mm: float = 450.0,
                 limit: int = 8) -> list[tuple[AxisPitch, AxisPitch]]:
    """Hypotheses for the grid's 5-mm period along x and y (rectified px), best first; empty
    when no grid.

    Both axes are decided together: pairs of comb candidates whose x/y ratio is within
    ``max_aspect`` (rectification leaves the page's aspect only roughly right) and at whose
    scale the image spans at most ``max_span_mm`` of paper, ranked by their summed comb
    scores. Alternatives (a factor 2, 2.5 or 5 apart: major lines for minor, rows of traces
    for major lines) are kept for the caller to check against the traces.
    """
    spectra = [axis_spectrum(signal, axis) for axis in (1, 0)]
    cands = [comb_candidates(spec, (max(1.0 / (5 * MAX_GRID_MM_PX), 6.0 / signal.shape[1 - i]), 1.0 / 6.0))
             for i, spec in enumerate(spectra)]
    n_x, n_y = signal.shape[1], signal.shape[0]
    pairs = sorted(((sx + sy, fx, fy) for fx, sx in cands[0] for fy, sy in cands[1]
                    if 1 / max_aspect <= fx / fy <= max_aspect
                    and n_x * fx * 5 <= max_span_mm and n_y * fy * 5 <= max_span_mm), reverse=True)
    out: list[tuple[AxisPitch, AxisPitch]] = []
    for _, fx, fy in pairs:
        if len(out) >= limit:
            break
        if any(abs(fx * a.pitch_px - 1) < 0.03 and abs(fy * b.pitch_px - 1) < 0.03 for a, b in out):
            continue
        out.append((_axis_pitch(spectra[0], fx), _axis_pitch(spectra[1], fy)))
    return out


def _axis_pitch(spec: Spectrum, f5: float) -> AxisPitch:
    """An axis's pitch refined on its harmonics, with its comb score."""
    f5, count = _refine(spec, f5)
    minor = 5 * f5 < 0.48 and spec.peak(5 * f5, 0.004)[1] >= MIN_RATIO
    pf, pw = spec.peaks(1.0 / (5 * MAX_GRID_MM_PX))
    return AxisPitch(1.0 / f5, comb_score(spec, f5, pf, pw), bool(minor), count)


def grid_calibrations(signal: np.ndarray) -> list[Calibration]:
    """Scale hypotheses from the grid, best first (see :func:`grid_pitches`); confidence
    from the comb scores and how clearly the grid shows."""
    out = []
    for ax, ay in grid_pitches(signal):
        conf = float(np.clip(min(ax.strength, ay.strength) * 1.6, 0.0, 1.0))
        out.append(Calibration((ax.pitch_px / 5.0, ay.pitch_px / 5.0), "grid", round(conf, 3)))
    return out


def grid_span(signal: np.ndarray, k: tuple[float, float]) -> tuple[float, float] | None:
    """(top, bottom) y (px) of the printed grid, or None where no grid is seen.

    Each row's 'gridness' is the strength of its vertical lines' 5-mm period (coherent over
    50-mm segments, so a slight tilt does not matter; bare paper and its noise score ~0).
    The grid spans from the first to the last 10-mm stretch (gaps under 1.5 mm bridged) of
    rows reaching half the gridness over the page's middle.
    """
    kx, ky = k
    h, w = signal.shape
    seg = max(8, int(round(50 * kx)))
    n = w // seg
    if n == 0:
        return None
    wave = np.exp(-2j * np.pi * np.arange(seg) / (5.0 * kx)).astype(np.complex64)
    body = signal[:, : n * seg].reshape(h, n, seg)
    gridness = np.abs(body @ wave).mean(axis=1) / seg
    gridness = ndi.uniform_filter1d(gridness, max(2, int(round(2.0 * ky))))
    level = float(np.median(gridness[h // 4: 3 * h // 4]))
    if level <= 0:
        return None
    on = gridness >= 0.5 * level
    on = ndi.binary_closing(on, structure=np.ones(max(2, int(round(1.5 * ky))))) | on
    labels, count = ndi.label(on)
    stretches = [sl[0] for sl in ndi.find_objects(labels) if sl[0].stop - sl[0].start >= 10 * ky]
    if not stretches:
        return None
    return float(stretches[0].start), float(stretches[-1].stop - 1)


def _refine(spec: Spectrum, f5: float) -> tuple[float, int]:
    """Fundamental through the present harmonics j*f5, refined harmonic by harmonic (each
    prediction uses the estimate so far; harmonic j weighs j^2 log(ratio), so the highest
    clear one dominates). Returns (f5, harmonics present)."""
    js: list[float] = []
    fs: list[float] = []
    ws: list[float] = []
    for j in range(1, int(ALIAS_FREE / f5) + 1):
        f, r, _ = spec.peak(j * f5, 0.003)
        if r < MIN_RATIO:
            continue
        js.append(j)
        fs.append(f)
        ws.append(np.log(r) * j * j)
        jj, w = np.array(js), np.array(ws)
        f5 = float((w * jj * np.array(fs)).sum() / (w * jj * jj).sum())
    return f5, len(js)
