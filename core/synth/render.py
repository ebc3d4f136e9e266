"""Print an ECG onto paper: an RGB image of the page and its exact geometry.

The page is drawn through one affine map, paper mm -> image px, ``x_px = x_mm * sx - 0.5``,
``y_px = y_mm * sy - 0.5`` (pixel centres at integers, so the paper covers the image exactly);
the same map is the geometry's ``page_to_image``, and every trace point is drawn at
``geometry.signal_to_pixel`` of its sample, so the geometry says where the ink is to sub-pixel
accuracy. Images are RGB.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from core.labels import lead_caption, lead_sign
from core.page.geometry import Geometry, Panel
from core.synth.paper import CAL_PULSE_S, TRACE_COLOURS, PaperSpec, cal_lead_in_mm, layout_panels
from core.synth.sample import EcgSample
from core.synth.styles import (FONT_FACES, HEADER_STREAM, HeaderValues, copy_page, machine_footer,
                               machine_header, style_rng)

SHIFT = 4  # cv2 fixed-point bits: 1/16 px
AA_WIDTH_PX = 1.4  # ink width of cv2's 1-px anti-aliased line
GRID_RGB: dict[str, tuple[tuple[int, int, int], tuple[int, int, int]]] = {  # (major, minor)
    "red": ((226, 70, 78), (240, 150, 150)),
    "pink": ((236, 128, 156), (246, 188, 204)),
    "orange": ((236, 136, 70), (246, 190, 148)),
    "green": ((80, 165, 100), (165, 212, 175)),
    "blue": ((90, 128, 205), (165, 188, 236)),
    "grey": ((125, 125, 125), (190, 190, 190)),
}
MAJOR_MM, MINOR_MM = 0.2, 0.11  # grid line widths
TEXT_RGB = (25, 25, 25)
FONTS = FONT_FACES  # 'sans' and 'serif' are the studio's own; core.synth.styles adds others
FAINT = (0.4, 0.8)  # 'faint' grid: share of the minor and major lines' contrast that prints
DOT_MM = 0.25  # diameter of a dotted grid's dots
DASH_MM = (0.5, 0.25)  # 'dots' grid: 5-mm lines printed as dashes (pitch, length)


@dataclass(frozen=True)
class RenderedPage:
    """A clean printed page. image: (H, W, 3) uint8 RGB. geometry: exact (confidence 1).
    spec: the paper it was printed on."""

    image: np.ndarray
    geometry: Geometry
    spec: PaperSpec


def page_size_px(spec: PaperSpec) -> tuple[int, int]:
    """(W, H) px of the whole paper at ``spec.dpi``."""
    w, h = spec.size_mm
    return int(round(w * spec.dpi / 25.4)), int(round(h * spec.dpi / 25.4))


def page_affine(spec: PaperSpec, size: tuple[int, int]) -> np.ndarray:
    """3x3 map paper mm -> px that stretches the paper over exactly ``size`` = (W, H) px."""
    w, h = spec.size_mm
    sx, sy = size[0] / w, size[1] / h
    return np.array([[sx, 0.0, -0.5], [0.0, sy, -0.5], [0.0, 0.0, 1.0]])


def render_page(sample: EcgSample, spec: PaperSpec, rng: np.random.Generator,
                size: tuple[int, int] | None = None) -> RenderedPage:
    """Print ``sample`` on ``spec``'s paper: the whole paper at spec.dpi, or stretched over
    exactly ``size`` = (W, H) px (x and y px/mm then differ when the aspect does).

    ``rng`` draws the header's printed measurements and ID (independent of the labels). The
    spec's style (grid_style, header_style, copy, ...) draws its own content from
    ``spec.style_seed``, never from ``rng``: a page takes the same draws whatever its style.
    """
    size = tuple(int(v) for v in (size or page_size_px(spec)))  # type: ignore[assignment]
    affine = page_affine(spec, size)  # type: ignore[arg-type]
    panels = layout_panels(spec, sample.duration_s)
    exact = {"calibration": 1.0, "layout": 1.0, "panels": 1.0}
    geometry = Geometry.from_homography(size, spec.layout_name, spec.speed_mm_s,  # type: ignore[arg-type]
                                        spec.gain_mm_mv, affine, panels, exact)
    sx, sy = affine[0, 0], affine[1, 1]
    image = paper_background(size, (sx, sy), spec.grid_box_mm, spec.grid_offset_mm,  # type: ignore[arg-type]
                             spec.grid_colour, spec.paper_rgb, spec.grid_style)
    trace_ink = np.zeros(image.shape[:2], np.uint8)
    text_ink = np.zeros(image.shape[:2], np.uint8)
    lines = [trace_points(sample, geometry, p) for p in geometry.panels]
    lines += _calibration_pulses(geometry, spec) + _separators(geometry, spec)
    alpha = draw_lines(trace_ink, lines, spec.trace_width_mm * float(np.sqrt(sx * sy)))
    _draw_labels(text_ink, geometry, spec)
    _draw_header(text_ink, affine, spec, rng)
    _composite(image, trace_ink, TRACE_COLOURS[spec.trace_colour], alpha)
    _composite(image, text_ink, TEXT_RGB, 1.0)
    if spec.copy != "none" or spec.toner_streaks:
        ink = np.maximum(trace_ink.astype(np.float32) * np.float32(alpha), text_ink.astype(np.float32)) / 255.0
        image = copy_page(image, ink, spec)
    return RenderedPage(image=image, geometry=geometry, spec=spec)


def trace_points(sample: EcgSample, geometry: Geometry, panel: Panel,
                 t0_s: float | None = None, t1_s: float | None = None) -> np.ndarray:
    """Image px (N, 2) of the trace a panel prints between t0_s and t1_s (default: its span).

    The samples inside the span plus the signal interpolated at both ends; inverted for the
    Cabrera -aVR panel. Empty (0, 2) when the span holds no time of the record.
    """
    last = (sample.signals.shape[0] - 1) / sample.fs
    t0 = max(panel.t0_s if t0_s is None else t0_s, panel.t0_s, 0.0)
    t1 = min(panel.t1_s if t1_s is None else t1_s, panel.t1_s, last)
    if t1 <= t0:
        return np.zeros((0, 2))
    inner = np.arange(int(np.floor(t0 * sample.fs)) + 1, int(np.ceil(t1 * sample.fs))) / sample.fs
    t = np.concatenate([[t0], inner, [t1]])
    v = sample.lead(panel.lead).astype(np.float64)
    mv = np.interp(t, np.arange(len(v)) / sample.fs, v) * lead_sign(geometry.layout, panel.lead)
    return geometry.signal_to_pixel(panel, t, mv)


def draw_lines(ink: np.ndarray, lines: list[np.ndarray], width_px: float) -> float:
    """Draw anti-aliased polylines (px, sub-pixel) ``width_px`` wide into ``ink`` (0-255);
    returns the opacity to lay the ink down with.

    cv2's anti-aliased lines come only ~1.4, 3.5, 5.5 px wide, so a thin line is drawn once and
    made fainter, and a wide one as the union of 1-px lines shifted around a small disk.
    """
    fixed = [_fixed(pts) for pts in lines if len(pts)]
    reach = (width_px - AA_WIDTH_PX - 0.6) / 2  # overlapping AA edges add ~0.6 px
    if reach <= 0.05:
        cv2.polylines(ink, fixed, False, 255, 1, cv2.LINE_AA, SHIFT)
        return float(np.clip(width_px / AA_WIDTH_PX, 0.7, 1.0))
    for radius in np.linspace(0.0, reach, int(np.ceil(reach / 0.5)) + 1):
        n = 1 if radius == 0 else 8
        for angle in np.arange(n) * (2 * np.pi / n):
            shift = np.round(radius * np.array([np.cos(angle), np.sin(angle)]) * (1 << SHIFT)).astype(np.int32)
            cv2.polylines(ink, [f + shift for f in fixed], False, 255, 1, cv2.LINE_AA, SHIFT)
    return 1.0


def _fixed(pts: np.ndarray) -> np.ndarray:
    return np.round(np.asarray(pts) * (1 << SHIFT)).astype(np.int32).reshape(-1, 1, 2)


def _composite(image: np.ndarray, ink: np.ndarray, rgb: tuple[int, int, int], alpha: float) -> None:
    """Lay ink (0-255 coverage) of colour ``rgb`` over ``image`` in place (only where inked)."""
    ys, xs = np.nonzero(ink)
    a = ink[ys, xs].astype(np.float32)[:, None] * (alpha / 255.0)
    under = image[ys, xs].astype(np.float32)
    image[ys, xs] = (under + (np.asarray(rgb, np.float32) - under) * a + 0.5).astype(np.uint8)


# ---- paper and grid ---------------------------------------------------------------------------
def _line_cover(n: int, scale: float, origin_mm: float, pitch_mm: float, width_mm: float) -> np.ndarray:
    """Fraction of each of n pixels (along one axis) that lines of ``width_mm`` centred at
    ``origin_mm + k * pitch_mm`` cover: exact area anti-aliasing of axis-aligned lines."""
    def covered(x_mm: np.ndarray) -> np.ndarray:  # line measure in (-inf, x], up to a constant
        u = x_mm - (origin_mm - width_mm / 2)
        return np.floor(u / pitch_mm) * width_mm + np.minimum(np.mod(u, pitch_mm), width_mm)

    edges = np.arange(n + 1) / scale
    return (np.diff(covered(edges)) * scale).astype(np.float32)


def paper_background(size: tuple[int, int], scale: tuple[float, float], grid_box_mm: tuple[float, ...],
                     offset_mm: tuple[float, float], colour: str, paper_rgb: tuple[int, int, int],
                     style: str = "lines") -> np.ndarray:
    """The blank paper with its grid, (H, W, 3) uint8 RGB; ``style`` one of paper.GRID_STYLES.

    scale: (sx, sy) px per mm. The grid fills the pixels whose centres lie in ``grid_box_mm``;
    its lines start at the box's top-left + ``offset_mm``. It is cut from a cached sheet at a
    whole-pixel shift, so a grid line lies within 0.5 px of its place (the traces are exact).
    """
    w, h = size
    out = np.full((h, w, 3), 255, np.uint8)
    if colour != "none":
        sheet = _grid_sheet(size, scale, colour, style)
        x0, y0, x1, y1 = grid_box_mm
        cx0, cx1, dx = _span_on_sheet(x0, x1, x0 + offset_mm[0], scale[0], w)
        cy0, cy1, dy = _span_on_sheet(y0, y1, y0 + offset_mm[1], scale[1], h)
        out[cy0:cy1, cx0:cx1] = sheet[cy0 + dy:cy1 + dy, cx0 + dx:cx1 + dx]
    if tuple(paper_rgb) != (255, 255, 255):  # tinted paper: the tint multiplies the print
        out = cv2.multiply(out, (*map(float, paper_rgb), 0.0), scale=1 / 255)
    return out


def _span_on_sheet(lo_mm: float, hi_mm: float, origin_mm: float, scale: float, n: int) -> tuple[int, int, int]:
    """Along one axis: the pixels [first, stop) whose centres lie in [lo_mm, hi_mm], and the
    whole-pixel shift into the grid sheet that puts a major line at ``origin_mm``."""
    first, stop = max(0, int(np.ceil(lo_mm * scale - 0.5))), min(n, int(np.floor(hi_mm * scale - 0.5)) + 1)
    return first, stop, int(round(((-origin_mm) % 5.0) * scale))


@lru_cache(maxsize=16)
def _grid_sheet(size: tuple[int, int], scale: tuple[float, float], colour: str, style: str = "lines") -> np.ndarray:
    """A grid on white, 5 mm larger than ``size`` each way, major lines through page mm 0
    (cached: only size, scale, colour and style; the box and offset are cut from it).

    Styles: 'lines' 1-mm and 5-mm lines; 'faint' the same with the 1-mm lines at 40 % contrast;
    'major' 5-mm lines only; 'dotted' 1-mm grid as dots (in the major colour, as the small dots
    of Philips paper print) with solid 5-mm lines; 'dots' the dots and dashed 5-mm lines.
    """
    (sx, sy), grid = scale, GRID_RGB[colour]
    w, h = size[0] + int(np.ceil(5 * sx)) + 1, size[1] + int(np.ceil(5 * sy)) + 1
    cover = []
    for pitch, width in ((1.0, MINOR_MM), (5.0, MAJOR_MM)):
        v, hz = _line_cover(w, sx, 0.0, pitch, width)[None, :], _line_cover(h, sy, 0.0, pitch, width)[:, None]
        cover.append(v + hz - v * hz)
    if style != "lines":
        grid, cover = _styled_cover(style, grid, cover, (w, h), (sx, sy))
    keep = 1.0 - cover[1]
    channels = [keep * (255.0 + (m - 255.0) * cover[0]) + (M + 0.5) * cover[1] + 0.5 * keep
                for m, M in zip(grid[1], grid[0])]
    sheet = cv2.merge([c.astype(np.uint8) for c in channels])
    sheet.flags.writeable = False
    return sheet


def _styled_cover(style: str, grid: tuple[tuple[int, int, int], tuple[int, int, int]], cover: list[np.ndarray],
                  size: tuple[int, int], scale: tuple[float, float]) -> tuple[tuple, list[np.ndarray]]:
    """(major, minor) colours and [minor, major] coverage of a grid style other than 'lines'."""
    (w, h), (sx, sy) = size, scale
    major, minor = grid
    if style == "faint":
        fade = [tuple(255 - (255 - c) * k for c in rgb) for rgb, k in ((major, FAINT[1]), (minor, FAINT[0]))]
        return (fade[0], fade[1]), cover
    if style == "major":
        return grid, [np.zeros_like(cover[0]), cover[1]]
    dx, dy = _line_cover(w, sx, 0.0, 1.0, DOT_MM)[None, :], _line_cover(h, sy, 0.0, 1.0, DOT_MM)[:, None]
    dots = dx * dy  # the crossings of 0.25-mm lines: square dots
    if style == "dots":
        v, hz = _line_cover(w, sx, 0.0, 5.0, MAJOR_MM)[None, :], _line_cover(h, sy, 0.0, 5.0, MAJOR_MM)[:, None]
        ax, ay = _line_cover(w, sx, 0.0, *DASH_MM)[None, :], _line_cover(h, sy, 0.0, *DASH_MM)[:, None]
        v, hz = v * ay, hz * ax  # vertical lines dashed along y, horizontal ones along x
        cover = [cover[0], v + hz - v * hz]
    return (major, major), [dots, cover[1]]


# ---- marks around the traces ------------------------------------------------------------------
def _row_starts(geometry: Geometry) -> list[Panel]:
    return [p for p in geometry.panels if p.col == 0]


def _calibration_pulses(geometry: Geometry, spec: PaperSpec) -> list[np.ndarray]:
    """A 1 mV x 200 ms step at the left of every row, on the row's baseline."""
    pulses = []
    for p in _row_starts(geometry):
        xs = p.box_mm[0] - cal_lead_in_mm(spec) + 1.0
        xe, b, top = xs + CAL_PULSE_S * spec.speed_mm_s, p.baseline_mm, p.baseline_mm - spec.gain_mm_mv
        mm = np.array([[xs - 0.8, b], [xs, b], [xs, top], [xe, top], [xe, b], [xe + 0.8, b]])
        pulses.append(geometry.page_to_image_pts(mm))
    return pulses


def _separators(geometry: Geometry, spec: PaperSpec) -> list[np.ndarray]:
    """Short vertical ticks where one 3x4 column hands over to the next, or ('dotted') a dotted
    line through the whole row there, as Philips prints."""
    if not spec.separators or not spec.layout.startswith("3x4"):
        return []
    ticks = []
    for p in geometry.panels:
        if p.col > 0:
            x, b = p.box_mm[0], p.baseline_mm
            if spec.separator_style == "dotted":
                for y in np.arange(p.box_mm[1] + 0.25, p.box_mm[3], 0.8):
                    ticks.append(geometry.page_to_image_pts(np.array([[x, y], [x, y + 0.3]])))
            else:
                ticks.append(geometry.page_to_image_pts(np.array([[x, b - 2.5], [x, b + 2.5]])))
    return ticks


def _put_text(ink: np.ndarray, text: str, xy_mm: tuple[float, float], height_mm: float,
              affine: np.ndarray, font: int) -> None:
    """Write text whose capital height is ``height_mm``, bottom-left at the page point."""
    height_px = height_mm * affine[1, 1]
    (_, cap), _ = cv2.getTextSize("H", font, 1.0, 1)
    scale = height_px / cap
    x, y = affine[:2, :2] @ np.asarray(xy_mm) + affine[:2, 2]
    thick = max(1, int(round(scale * 1.4)))
    cv2.putText(ink, text, (int(round(x)), int(round(y))), font, scale, 255, thick, cv2.LINE_AA)


def _draw_labels(ink: np.ndarray, geometry: Geometry, spec: PaperSpec) -> None:
    affine = geometry.page_to_image
    font, height = FONTS[spec.font], 2.6 * spec.text_scale
    for p in geometry.panels:
        x = p.box_mm[0] + 1.0
        if spec.label_position == "top":
            y = p.box_mm[1] + height + 1.0
        elif spec.label_position == "below":
            y = p.baseline_mm + 4.0 + height
        elif spec.label_position == "above":  # GE MUSE: a few mm over the baseline
            y = p.baseline_mm - 4.0
        else:  # 'inline', Philips: standing on the baseline at the panel start, touching the trace
            x, y = p.box_mm[0] + 0.3, p.baseline_mm - 0.3
        _put_text(ink, lead_caption(geometry.layout, p.lead), (x, y), height, affine, font)  # type: ignore[arg-type]


def header_values(rng: np.random.Generator) -> HeaderValues:
    """The header's measurements and ID. Values are plausible but drawn at random, independent
    of the record and its labels, so the text can never give a diagnosis away."""
    rate = int(rng.integers(48, 125))
    pr, qrs, qt = int(rng.integers(120, 210)), int(rng.integers(76, 126)), int(rng.integers(330, 450))
    qtc = int(qt / np.sqrt(60.0 / rate))
    ident = f"{int(rng.integers(0, 10**6)):06d}"
    block = not rng.random() < 0.5
    axes = tuple(int(v) for v in rng.integers(-60, 100, 3)) if block else None
    return HeaderValues(rate, pr, qrs, qt, qtc, ident, block, axes)  # type: ignore[arg-type]


def header_text(spec: PaperSpec, rng: np.random.Generator) -> list[str]:
    """The studio's printed measurements (``header_values``): one line or a block."""
    return _studio_lines(spec, header_values(rng))


def _studio_lines(spec: PaperSpec, v: HeaderValues) -> list[str]:
    paper = f"{spec.speed_mm_s:g} mm/s  {spec.gain_mm_mv:g} mm/mV"
    if not v.block:
        return [f"Vent rate {v.rate} bpm   PR {v.pr} ms   QRS {v.qrs} ms   QT/QTc {v.qt}/{v.qtc} ms   {paper}   "
                f"ID {v.ident}"]
    axes = " ".join(str(a) for a in v.axes or ())
    return [f"ID: {v.ident}", f"Vent. rate    {v.rate} BPM", f"PR interval    {v.pr} ms",
            f"QRS duration   {v.qrs} ms", f"QT/QTc   {v.qt}/{v.qtc} ms", f"P-R-T axes   {axes}"]


def _draw_header(ink: np.ndarray, affine: np.ndarray, spec: PaperSpec, rng: np.random.Generator) -> None:
    """Header and footer. ``rng`` is drawn the same for every header_style (the machine's extra
    fields come from the spec's style_seed), so a style never shifts the page's later draws."""
    font = FONTS[spec.font]
    gx0, gy0, gx1, gy1 = spec.grid_box_mm
    style = style_rng(spec, HEADER_STREAM) if spec.header_style == "machine" else None
    if spec.header:
        values = header_values(rng)
        lines, height = _studio_lines(spec, values), 2.4 * spec.text_scale
        top = max(3.0, gy0 - 4.0 - len(lines) * height * 1.7)
        x = gx0 + (2.0 if len(lines) == 1 else float(rng.uniform(20.0, 60.0)))
        if style is None:
            for i, line in enumerate(lines):
                _put_text(ink, line, (x, top + height + i * height * 1.7), height, affine, font)
        else:
            _draw_machine_header(ink, affine, spec, values, style)
    if spec.size_mm[1] - gy1 >= 5.0:
        high_hz = int(rng.choice((40, 100, 150)))
        footer = (f"{spec.speed_mm_s:g}mm/s   {spec.gain_mm_mv:g}mm/mV   {high_hz}Hz" if style is None
                  else machine_footer(spec, high_hz, style))
        _put_text(ink, footer, (gx0 + 2.0, gy1 + 3.5), 2.2 * spec.text_scale, affine, font)


def _draw_machine_header(ink: np.ndarray, affine: np.ndarray, spec: PaperSpec, values: HeaderValues,
                         rng: np.random.Generator) -> None:
    header = machine_header(spec, values, rng)
    for t in header.texts:
        _put_text(ink, t.text, (t.x_mm, t.y_mm), t.height_mm, affine, FONTS[spec.font])
    for x0, y0, x1, y1 in header.boxes:
        (a, b), (c, d) = (affine[:2, :2] @ np.array([[x0, x1], [y0, y1]]) + affine[:2, 2:]).T
        cv2.rectangle(ink, (int(round(a)), int(round(b))), (int(round(c)) - 1, int(round(d)) - 1), 255, -1)
