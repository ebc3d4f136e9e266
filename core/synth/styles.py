"""How other ECG machines print: grid styles, machine headers, photocopies, a style draw.

The studio's own pages are one family (``PaperSpec`` defaults). Real pages come from GE,
Philips, Mortara and others, and often as photocopies: dotted or faint grids, measurement
blocks with patient fields and a QR code, grey or black-and-white copies, toner streaks. This
module holds what those looks need that is not geometry: ``random_style`` draws the style fields
of a ``PaperSpec`` (from a generator of its own, so the draws of the page itself stay as they
were), ``machine_header`` lays out a machine's header and footer in paper mm, and ``copy_page``
turns a printed page into a copy of it. The renderer (``core.synth.render``) draws them; none of
them moves a trace, so the geometry and the evidence masks stay exact.

Header text is drawn at random, independent of the record and its labels: the measurements are
the page's usual random numbers and the interpretation lines come from a fixed pool whatever the
page shows, so printed text never tells (or reliably contradicts) a label, and a model learns to
read the traces, not the header.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from core.synth.paper import (COPIES, FONT_NAMES, GRID_STYLES, LABEL_POSITIONS, SEPARATOR_STYLES,
                              PaperSpec)

FONT_FACES: dict[str, int] = {
    "sans": cv2.FONT_HERSHEY_SIMPLEX, "serif": cv2.FONT_HERSHEY_COMPLEX, "plain": cv2.FONT_HERSHEY_PLAIN,
    "duplex": cv2.FONT_HERSHEY_DUPLEX, "triplex": cv2.FONT_HERSHEY_TRIPLEX, "small": cv2.FONT_HERSHEY_COMPLEX_SMALL,
}
HEADER_STREAM, COPY_STREAM = 1, 2  # sub-streams of a spec's style_seed
# Interpretation lines a machine prints, drawn independent of the page (module docstring).
# None names a label (tests/test_styles.py checks): a page never states a rhythm or a finding.
STATEMENTS: tuple[str, ...] = (
    "Unconfirmed report", "No previous ECGs available", "Computer interpretation - review required",
    "Normal ECG", "Abnormal ECG", "Borderline ECG", "When compared with ECG of",
    "Interpretation requires physician review", "Technician: ______", "Referred by: ______",
    "Poor data quality, interpretation may be adversely affected", "Unconfirmed diagnosis",
)


@dataclass(frozen=True)
class HeaderValues:
    """The measurements a header prints: random, plausible, independent of the record.

    block: the studio header prints them as a block (True) or on one line; axes: P, R, T axes
    in degrees when the page's generator drew them (block headers), else None.
    """

    rate: int
    pr: int
    qrs: int
    qt: int
    qtc: int
    ident: str
    block: bool
    axes: tuple[int, int, int] | None


@dataclass(frozen=True)
class TextItem:
    """A line of text: bottom-left at (x_mm, y_mm) on the paper, capital height height_mm."""

    text: str
    x_mm: float
    y_mm: float
    height_mm: float


@dataclass(frozen=True)
class MachineHeader:
    """What a machine prints around the grid: text lines and filled boxes (x0, y0, x1, y1) in
    paper mm (the modules of a QR code, the bars of a barcode)."""

    texts: tuple[TextItem, ...]
    boxes: tuple[tuple[float, float, float, float], ...]


#: The PaperSpec fields a style sets (``random_style`` draws them all; a styled page's sidecar
#: records them, a studio page's leaves them out).
STYLE_FIELDS = ("grid_style", "header_style", "copy", "toner_streaks", "label_position", "separator_style",
                "font", "text_scale", "style_seed")


# ---- the style draw ----------------------------------------------------------------------
def _choice(rng: np.random.Generator, options: tuple[Any, ...], p: tuple[float, ...]) -> Any:
    return options[int(rng.choice(len(options), p=np.asarray(p) / np.sum(p)))]


def random_style(rng: np.random.Generator) -> dict[str, Any]:
    """PaperSpec style fields of a page from 'the world': a mix of machines' looks.

    Every field is drawn every time, in a fixed order, so one page's style depends only on
    ``rng`` (callers seed it per page from (seed, index, 'style')). About a third of the pages
    keep the studio's grid, and most keep colour; the studio's header still appears.
    """
    return {
        "grid_style": _choice(rng, GRID_STYLES, (0.36, 0.22, 0.08, 0.20, 0.14)),
        "header_style": _choice(rng, ("studio", "machine"), (0.3, 0.7)),
        "copy": _choice(rng, COPIES, (0.70, 0.12, 0.09, 0.09)),
        "toner_streaks": bool(rng.random() < 0.12),
        "label_position": _choice(rng, LABEL_POSITIONS, (0.2, 0.3, 0.25, 0.25)),
        "separator_style": _choice(rng, SEPARATOR_STYLES, (0.7, 0.3)),
        "font": _choice(rng, FONT_NAMES, (0.25, 0.25, 0.1, 0.15, 0.15, 0.1)),
        "text_scale": round(float(rng.uniform(0.8, 1.3)), 2),
        "style_seed": int(rng.integers(0, 2**31 - 1)),
    }


def style_rng(spec: PaperSpec, stream: int) -> np.random.Generator:
    """The generator of one kind of style content (header, copy) of a spec."""
    return np.random.default_rng([spec.style_seed, stream])


# ---- text measures -------------------------------------------------------------------------
def text_width_mm(text: str, font: str, height_mm: float) -> float:
    """Printed width (mm) of ``text`` whose capital height is ``height_mm`` (as render's _put_text)."""
    face = FONT_FACES[font]
    (_, cap), _ = cv2.getTextSize("H", face, 1.0, 1)
    (w, _), _ = cv2.getTextSize(text, face, 1.0, 1)
    return w * height_mm / cap


# ---- machine headers -----------------------------------------------------------------------
def machine_header(spec: PaperSpec, values: HeaderValues, rng: np.random.Generator) -> MachineHeader:
    """A GE- or Philips-like header in the paper above the grid: patient fields (placeholders and
    random digits), a measurement block, interpretation lines from ``STATEMENTS`` and a QR code
    or barcode. Everything stays between 3 mm from the paper's top and 1.5 mm above the grid."""
    gx0, gy0, gx1, _ = spec.grid_box_mm
    top, bottom = 3.0, gy0 - 1.5
    ident = values.ident if rng.random() < 0.5 else f"{int(rng.integers(10**6, 10**9))}"
    year = int(rng.integers(1930, 2006))
    dob = f"{int(rng.integers(1, 29)):02d}-{int(rng.integers(1, 13)):02d}-{year}"
    when = (f"{int(rng.integers(2012, 2026))}-{int(rng.integers(1, 13)):02d}-{int(rng.integers(1, 29)):02d} "
            f"{int(rng.integers(0, 24)):02d}:{int(rng.integers(0, 60)):02d}:{int(rng.integers(0, 60)):02d}")
    name = _choice(rng, ("Name: " + "_" * 14, f"Name: ANON-{int(rng.integers(0, 10**4)):04d}", "Name:",
                         "Name: XXXXXXXX, XXXX"), (0.3, 0.3, 0.2, 0.2))
    sex = _choice(rng, ("Male", "Female", "Unknown"), (0.45, 0.45, 0.1))
    axes = values.axes or tuple(int(v) for v in rng.integers(-60, 100, 3))
    statements = [STATEMENTS[i] for i in rng.choice(len(STATEMENTS), int(rng.integers(1, 4)), replace=False)]
    code = "qr" if rng.random() < 0.5 else ("barcode" if rng.random() < 0.6 else "none")
    if rng.random() < 0.5:  # GE-like: three columns and a code at the right
        patient = [name, f"ID: {ident}", f"DOB: {dob}", f"Sex: {sex}", when]
        meas = [("Vent. rate", f"{values.rate}", "BPM"), ("PR interval", f"{values.pr}", "ms"),
                ("QRS duration", f"{values.qrs}", "ms"), ("QT/QTc", f"{values.qt}/{values.qtc}", "ms"),
                ("P-R-T axes", " ".join(map(str, axes)), "")]
        rows = max(len(patient), len(meas), len(statements))
        height, step = _fit_lines(spec, rows, top, bottom)
        texts = [TextItem(t, gx0 + 1.0, top + height + i * step, height) for i, t in enumerate(patient)]
        x_meas = gx0 + 1.0 + max(text_width_mm(t, spec.font, height) for t in patient) + 6.0
        label_w = max(text_width_mm(m[0], spec.font, height) for m in meas) + 3.0
        value_w = max(text_width_mm(m[1], spec.font, height) for m in meas)
        for i, (label, value, unit) in enumerate(meas):
            y = top + height + i * step
            texts.append(TextItem(label, x_meas, y, height))
            vx = x_meas + label_w + value_w - text_width_mm(value, spec.font, height)  # right-aligned
            texts.append(TextItem(value, vx, y, height))
            if unit:
                texts.append(TextItem(unit, x_meas + label_w + value_w + 1.5, y, height))
        x_text = x_meas + label_w + value_w + 1.5 + text_width_mm("BPM", spec.font, height) + 6.0
    else:  # Philips-like: measurement lines across the top, statements below them
        lines = [f"ID: {ident}   {when}   {sex}   {2025 - year} yr   {name}",
                 f"Rate {values.rate}   PR {values.pr}   QRSD {values.qrs}   QT {values.qt}   QTc {values.qtc}",
                 f"--AXIS--   P {axes[0]}   QRS {axes[1]}   T {axes[2]}"]
        height, step = _fit_lines(spec, len(lines) + len(statements), top, bottom)
        texts = [TextItem(t, gx0 + 1.0, top + height + i * step, height) for i, t in enumerate(lines)]
        x_text = gx0 + 1.0
        statements = [""] * len(lines) + statements  # under the measurements
    texts += [TextItem(t, x_text, top + height + i * step, height) for i, t in enumerate(statements) if t]
    boxes: list[tuple[float, float, float, float]] = []
    code_w = 0.0
    if code == "qr":
        boxes, code_w = _qr(rng, gx1 - 1.0, top, min(14.0, bottom - top))
    elif code == "barcode":
        boxes, code_w = _barcode(rng, gx1 - 1.0, top, min(7.0, bottom - top))
    right = gx1 - 1.0 - code_w - 3.0
    texts = [t for t in texts if t.x_mm + text_width_mm(t.text, spec.font, t.height_mm) <= right]  # no overlap
    return MachineHeader(tuple(texts), tuple(boxes))


def _fit_lines(spec: PaperSpec, n: int, top: float, bottom: float) -> tuple[float, float]:
    """(capital height, line step) in mm so ``n`` lines fit between ``top`` and ``bottom``."""
    height = 2.4 * spec.text_scale
    height = min(height, (bottom - top) / (1.0 + 1.5 * (n - 1)))
    return max(height, 1.0), 1.5 * max(height, 1.0)


def _qr(rng: np.random.Generator, right: float, top: float, size: float) -> tuple[list, float]:
    """A QR-code-like square: 21 x 21 random modules with the three finder patterns."""
    n = 21
    module = max(size, 5.0) / n
    cells = rng.random((n, n)) < 0.5
    finder = np.zeros((7, 7), bool)
    finder[[0, 6], :] = finder[:, [0, 6]] = True
    finder[2:5, 2:5] = True
    for r, c in ((0, 0), (0, n - 7), (n - 7, 0)):
        cells[max(r - 1, 0):r + 8, max(c - 1, 0):c + 8] = False
        cells[r:r + 7, c:c + 7] = finder
    x0 = right - n * module
    boxes = [(x0 + c * module, top + r * module, x0 + (c + 1) * module, top + (r + 1) * module)
             for r, c in zip(*np.nonzero(cells))]
    return boxes, n * module


def _barcode(rng: np.random.Generator, right: float, top: float, height: float) -> tuple[list, float]:
    """A 1-D barcode: bars and gaps of 1-3 units (0.25 mm)."""
    widths = rng.integers(1, 4, 61) * 0.25
    x0 = right - float(widths.sum())
    edges = x0 + np.concatenate([[0.0], np.cumsum(widths)])
    boxes = [(edges[i], top, edges[i + 1], top + max(height, 4.0)) for i in range(0, len(widths), 2)]
    return boxes, float(widths.sum())


def machine_footer(spec: PaperSpec, high_hz: int, rng: np.random.Generator) -> str:
    """The line a machine prints under the grid: speed, gain, filters (and a page number)."""
    mains = _choice(rng, ("", "  50 Hz", "  60 Hz", "  F 50", "  AC 60"), (0.3, 0.2, 0.2, 0.15, 0.15))
    low = _choice(rng, ("0.05", "0.15", "0.5"), (0.6, 0.25, 0.15))
    page = "      Page 1 of 1" if rng.random() < 0.4 else ""
    return f"{spec.speed_mm_s:g} mm/s   {spec.gain_mm_mv:g} mm/mV   {low}-{high_hz} Hz{mains}{page}"


# ---- copies ---------------------------------------------------------------------------------
def copy_page(image: np.ndarray, ink_cover: np.ndarray, spec: PaperSpec) -> np.ndarray:
    """The page as a copier (and a worn toner cartridge) reprints it: (H, W, 3) uint8 RGB.

    ink_cover: (H, W) float32 0..1, how much of each pixel the trace (or the text) covers. 'grey' keeps grey
    levels with a copier's contrast (light lines fade, dark ones darken; a coloured grid may
    come out dark grey); 'bw' thresholds
    (the grid may vanish or turn black, by how dark it printed); 'halftone' dithers to black and
    white. A pixel the trace or text covers at least 40 % stays black in 'bw' and 'halftone', so
    the printed trace never breaks where the geometry says it is (and the text stays legible).
    """
    rng = style_rng(spec, COPY_STREAM)
    out = image
    if spec.copy != "none":
        # A copier sees a coloured grid darker than the eye does (real copies of red grids are
        # often dark grey): its grey lies between the luminance and the darkest channel.
        see = float(rng.uniform(0.0, 1.0))
        lum = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)
        grey = ((1.0 - see) * lum + see * image.min(axis=2).astype(np.float32)) / 255.0
        toner, paper = float(rng.uniform(0.04, 0.16)), float(rng.uniform(0.93, 1.0))
        if spec.copy == "grey":
            lift = float(rng.uniform(0.0, 0.12))  # light tones go white on a copier
            level = np.clip((grey - lift) / (1.0 - lift), 0.0, 1.0) ** float(rng.uniform(1.1, 2.2))
        else:
            trace = ink_cover >= 0.4
            if spec.copy == "bw":
                black = grey < float(rng.uniform(0.42, 0.78))
            else:  # a copier's contrast first: paper white, the grid's mid-greys darker, then dots
                lo, hi = float(rng.uniform(0.0, 0.35)), float(rng.uniform(0.8, 0.95))
                grey = np.clip((grey - lo) / (hi - lo), 0.0, 1.0)
                black = grey < _dither_threshold(grey.shape, rng, float(rng.uniform(1.0, 1.8)))
            level = np.where(black | trace, 0.0, 1.0).astype(np.float32)
        grey8 = np.clip((toner + (paper - toner) * level) * 255.0 + 0.5, 0, 255).astype(np.uint8)
        out = cv2.merge([grey8] * 3)
    if spec.toner_streaks:
        out = toner_streaks(out, rng)
    return out


def _dither_threshold(shape: tuple[int, ...], rng: np.random.Generator, gamma: float) -> np.ndarray:
    """Per-pixel thresholds: white noise (a scanner's halftone) or an ordered 4x4/8x8 Bayer
    screen; raised to ``gamma`` so light greys print sparse dots."""
    h, w = shape
    if rng.random() < 0.5:
        t = rng.random((h, w), dtype=np.float32)
    else:
        b = np.array([[0, 2], [3, 1]], np.float32)
        for _ in range(int(rng.integers(1, 3))):
            b = np.block([[4 * b, 4 * b + 2], [4 * b + 3, 4 * b + 1]])
        b = (b + 0.5) / b.size
        t = np.tile(b, (h // len(b) + 1, w // len(b) + 1))[:h, :w]
    return t ** gamma


def toner_streaks(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A copier's dark streaks (thin lines along the paper feed) and faded bands, (H, W, 3) uint8."""
    h, w = image.shape[:2]
    along_x = rng.random() < 0.5  # feed direction: streaks run along image rows or columns
    n, length = (h, w) if along_x else (w, h)
    shade = np.ones(n, np.float32)
    for _ in range(int(rng.integers(1, 5))):  # dark streaks 1-4 px wide
        c, width = int(rng.integers(0, n)), int(rng.integers(1, 5))
        shade[c:c + width] *= float(rng.uniform(0.45, 0.85))
    gain = np.ones(n, np.float32)
    for _ in range(int(rng.integers(0, 3))):  # faded bands where the drum lost toner
        c, width = int(rng.integers(0, n)), int(rng.integers(n // 60 + 1, n // 12 + 2))
        gain[c:c + width] = np.minimum(gain[c:c + width], float(rng.uniform(0.45, 0.8)))
    # strength varies slowly along the streak
    wobble = np.interp(np.arange(length), np.linspace(0, length, 6), rng.uniform(0.5, 1.0, 6)).astype(np.float32)
    dark = 1.0 - (1.0 - shade)[:, None] * wobble[None, :]          # (n, length)
    fade = gain[:, None] + (1.0 - gain)[:, None] * (1.0 - wobble[None, :]) * 0.5
    if not along_x:
        dark, fade = dark.T, fade.T
    img = image.astype(np.float32)
    ink = 255.0 - img
    img = 255.0 - ink * fade[..., None]  # faded: ink lighter
    img *= dark[..., None]  # streaks: darker
    return np.clip(img + 0.5, 0, 255).astype(np.uint8)
