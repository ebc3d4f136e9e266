"""Page understanding, the entry point: from the pixels of a scan or photo to its Geometry.

``detect_geometry(rgb)`` rectifies the page (``rectify``), turns it upright, measures its
scale (``calibrate``), finds its rows of traces and its layout (``panels``) and returns the
page's :class:`~core.page.geometry.Geometry` in the pixels of the image as given, with
confidences, or says why there is none: an image that is not an ECG is reported as such,
never forced into a layout. Work happens on a copy at most ``WORK_MAX_SIDE`` px.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from core.page.calibrate import (NOT_CALIBRATED, Calibration, channel_darkness, grid_calibrations,
                                 grid_signal, grid_span)
from core.page.geometry import Geometry
from core.page.panels import (LayoutFit, TraceRow, find_rows, fit_layout, ink_component_widths, ink_maps,
                              page_is_upside_down, quarter_turn_needed, trace_continuity, trace_plausibility,
                              PULSE_S)
from core.page.rectify import Rectification, rectify

WORK_MAX_SIDE = 1200
ROW_MM = 250.0  # a full row: 10 s at 25 mm/s
# below this layout confidence the layout found was right on 7 % of 132 studio pages (above it,
# on 78-99 %: bench_page, seed 2024, docs/page.md), so the reason says so
LAYOUT_DOUBT = 0.5
CLEAR_GRID = 0.6  # a grid hypothesis this confident that fits the rows is not overruled by their length or a far weaker grid
ROW_SPREAD_MARGIN_MM = 3.0   # a flat rectification must make the rows this much more equal to be chosen
MIN_CONTINUITY = 0.045  # trace rows are drawn lines, not lines of text (panels.trace_continuity)


@dataclass(frozen=True)
class PageResult:
    """What page understanding found.

    geometry: the page geometry in the pixels of the image as given, or None. is_ecg: the
    image shows an ECG (its geometry may still be None when it cannot be measured). reason:
    one sentence on what was found or why not. timings: milliseconds per stage.
    """

    geometry: Geometry | None
    is_ecg: bool
    reason: str
    timings: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"geometry": None if self.geometry is None else self.geometry.to_json(),
                "is_ecg": self.is_ecg, "reason": self.reason, "timings_ms": dict(self.timings)}


@dataclass(frozen=True)
class _Page:
    """A rectified, upright working copy: the rectification (work px -> rectified px), the
    rectified image, its ink and faint ink masks and grid signal."""

    rect: Rectification
    image: np.ndarray
    ink: np.ndarray
    faint: np.ndarray
    signal: np.ndarray


def detect_geometry(rgb: np.ndarray) -> PageResult:
    """Find the page geometry of an ECG image ((H, W, 3) uint8 RGB, as loaded)."""
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"expected an (H, W, 3) uint8 RGB image, got {rgb.shape} {rgb.dtype}")
    clock = _Clock()
    work, to_work = _working_copy(rgb)
    if float(work.std()) < 2.0:
        return PageResult(None, False, "Not an ECG: the image is blank.", clock.done())
    page, found = _calibrated(work, rectify(work))
    if found.calibration.ok and found.calibration.method != "grid" and page.rect.method == "grid":
        # no grid measured the scale, so the "grid" lines that set the perspective may have been
        # something else (text, traces, a shadow's edge), which bent gridless scans by up to 10 mm
        flat, again = _calibrated(work, rectify(work, grid_lines=False))
        if (again.calibration.ok and len(again.rows) >= len(found.rows)
                and _row_spread_mm(again) < _row_spread_mm(found) - ROW_SPREAD_MARGIN_MM):
            page, found = flat, again
    clock.lap("rectify and calibrate")
    cal, rows = found.calibration, found.rows
    if not cal.ok:
        return PageResult(None, found.seen_grid and found.seen_rows, _why_not(found), clock.done())
    k = cal.px_per_mm
    assert k is not None
    origin = _origin(page.rect)
    span = grid_span(page.signal, k)
    top = span[0] if span and span[0] > 2 * k[1] else None  # a grid cut by the image's top edge tells nothing
    fit = fit_layout(page.faint, rows, k, origin, top)
    clock.lap("panels")
    geometry = _geometry(rgb, to_work, page.rect, cal, fit, origin)
    doubt = " (uncertain: check the lead names)" if fit.layout_confidence < LAYOUT_DOUBT else ""
    reason = (f"ECG page, layout {fit.layout}{doubt}, {len(rows)} trace rows, calibrated from the {cal.method}."
              if fit.layout else f"ECG traces in {len(rows)} rows, calibrated from the {cal.method}, "
              "in a layout that is not one of 3x4, 3x4+1, 3x4+3, 6x2 or 12x1.")
    return PageResult(geometry, True, reason, clock.done())


# ---- stages --------------------------------------------------------------------------------------
def _working_copy(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The image at most WORK_MAX_SIDE px and the 3x3 map image px -> work px."""
    h, w = rgb.shape[:2]
    s = min(1.0, WORK_MAX_SIDE / max(h, w))
    if s == 1.0:
        return rgb, np.eye(3)
    size = (max(1, int(round(w * s))), max(1, int(round(h * s))))
    sx, sy = size[0] / w, size[1] / h
    to_work = np.array([[sx, 0, 0.5 * sx - 0.5], [0, sy, 0.5 * sy - 0.5], [0, 0, 1.0]])
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA), to_work


def _page(work: np.ndarray, rect: Rectification) -> _Page:
    image = rect.warp(work)
    d = channel_darkness(image)
    ink, faint = ink_maps(image, d)
    return _Page(rect, image, ink, faint, grid_signal(image, d, ink))


def _calibrated(work: np.ndarray, rect: Rectification) -> tuple[_Page, "_Scale"]:
    """The page upright under ``rect`` (quarter turns from the ink, half turns from the rows)
    and the scale its rows fit best."""
    page = _upright(work, rect)
    found = _calibrate(page)
    if found.rows and page_is_upside_down(found.rows):
        page = _page(work, page.rect.turned(2))
        found = _calibrate(page)
    return page, found


def _upright(work: np.ndarray, rect: Rectification) -> _Page:
    """The rectified page, turned a quarter when its trace rows run vertically."""
    page = _page(work, rect)
    if quarter_turn_needed(page.ink):
        page = _page(work, rect.turned(1))
    return page


@dataclass(frozen=True)
class _Scale:
    """The chosen scale and the rows found at it, and what was seen on the way: a clear grid
    (a grid hypothesis of confidence >= 0.3) and trace-like rows at any scale tried."""

    calibration: Calibration
    rows: list[TraceRow]
    seen_grid: bool
    seen_rows: bool


def _calibrate(page: _Page) -> _Scale:
    """The scale under which the trace rows look most like an ECG's: each grid hypothesis,
    and the scale the rows themselves give (their pulses or their length), are scored by
    their confidence and the rows' plausibility; none plausible = not calibrated. Rows that
    are lines of text, not drawn traces, are no ECG's at any scale (:func:`trace_continuity`)."""
    options: list[tuple[float, Calibration, list[TraceRow]]] = []
    components = ink_component_widths(page.ink)

    def plausibility(rows: list[TraceRow], k: tuple[float, float]) -> float:
        score = trace_plausibility(rows, k)
        return score if score > 0 and trace_continuity(components, rows, k) >= MIN_CONTINUITY else 0.0

    cals = grid_calibrations(page.signal)
    seen_rows = False
    for cal in cals:
        k = cal.px_per_mm
        rows = find_rows(page.ink, k, grid_span(page.signal, k))  # type: ignore[arg-type]
        seen_rows |= len(rows) >= 2
        options.append(((0.7 + 0.3 * cal.confidence) * plausibility(rows, k), cal, rows))  # type: ignore[arg-type]
    cal, rows = _calibrate_from_traces(page)
    grid_fits = any(o[0] > 0 for o in options)
    clear_grid_fits = any(o[0] > 0 and o[1].confidence >= CLEAR_GRID for o in options)
    if cal.ok and (len(rows) >= 3 or not grid_fits) and not (cal.method == "panels" and clear_grid_fits):
        # less exact than a grid: chosen only when no grid hypothesis fits the rows as well. A
        # scale from the rows' length makes them 250 mm by construction, so it always looks
        # plausible; against a clear grid it only says that glare or shadow shortened the rows
        options.append((0.6 * plausibility(rows, cal.px_per_mm), cal, rows))  # type: ignore[arg-type]
    if clear_grid_fits:
        # nor by a grid hypothesis far less sure of itself (a 5-mm lattice read as 6 mm across)
        options = [o for o in options if o[1].method != "grid" or o[1].confidence >= 0.5 * CLEAR_GRID]
    seen_grid = any(c.confidence >= 0.3 for c in cals)
    score, cal, rows = max(options, key=lambda o: o[0], default=(0.0, cal, rows))
    if score > 0:
        return _Scale(cal, rows, True, True)
    return _Scale(NOT_CALIBRATED, [], seen_grid, seen_rows or bool(rows))


def _row_spread_mm(found: _Scale) -> float:
    """How unequal the trace rows' lengths are (mm, their standard deviation): every row of a
    printed ECG runs the same width, so a rectification that makes them unequal is wrong.
    Infinite with fewer than three rows."""
    if len(found.rows) < 3 or found.calibration.px_per_mm is None:
        return float("inf")
    return float(np.std([(r.x1_px - r.x0_px) / found.calibration.px_per_mm[0] for r in found.rows]))


def _why_not(found: _Scale) -> str:
    """One sentence on why no geometry came back."""
    if found.seen_grid and found.seen_rows:
        return ("ECG paper with trace rows, but its scale could not be measured: the grid, "
                "pulses and rows do not agree on one.")
    if found.seen_grid:
        return "No ECG recognised: a grid-like pattern but no trace rows."
    if found.seen_rows:
        return "No ECG recognised: rows of dark marks, but no ECG grid, calibration pulses or regular trace rows."
    return "No ECG recognised: no printed grid, trace rows or calibration pulses."


def _calibrate_from_traces(page: _Page) -> tuple[Calibration, list[TraceRow]]:
    """Without a usable grid: guess a scale from the page width (a row of ~250 mm filling
    ~90 % of it), find rows, then measure the scale on their pulses (5 mm wide at 25 mm/s)
    or, failing that, on their length (250 mm). Square pixels are assumed.

    Without a grid the rows alone must make the case for an ECG: two or more pulses, or
    three or more evenly spaced rows of thin, trace-like ink; else no rows are returned.
    """
    w = page.image.shape[1]
    guess = 0.9 * w / ROW_MM
    rows = [r for r in find_rows(page.ink, (guess, guess)) if _thin(page.ink, r, guess)]
    pulses = [r.pulse for r in rows if r.pulse is not None]
    longest = max((r.x1_px - r.x0_px for r in rows), default=0.0)
    if len(pulses) >= 2:
        k = float(np.median([p.width_px for p in pulses])) / (PULSE_S * 25.0)
        if not 200 <= longest / k <= 290:  # a 50-mm/s pulse, or a pulse misread: trust the rows
            k = longest / ROW_MM
        method, conf = "pulse", 0.5
    elif len(rows) >= 3:
        k = longest / ROW_MM
        method, conf = "panels", 0.35
    else:
        return NOT_CALIBRATED, []
    if not (np.isfinite(k) and k > 0):  # rows or pulses of no length measure nothing
        return NOT_CALIBRATED, []
    rows = find_rows(page.ink, (k, k))
    if trace_plausibility(rows, (k, k)) <= 0:
        return NOT_CALIBRATED, rows
    return Calibration((k, k), method, conf), rows


def _thin(ink: np.ndarray, row: TraceRow, k: float) -> bool:
    """Is a row's ink a thin line (a trace), not a dark area? Over its extent, the median
    column holds at most ~1.5 mm of ink within 5 mm of the baseline."""
    h = ink.shape[0]
    b = int(row.baseline_px)
    band = ink[max(0, b - int(5 * k)):min(h, b + int(5 * k) + 1), int(row.x0_px):int(row.x1_px) + 1]
    return band.size > 0 and float(np.median(band.sum(axis=0))) <= 1.5 * k


def _origin(rect: Rectification) -> tuple[float, float]:
    """Rectified px of the page's top-left corner: the paper's when its outline was found,
    else the rectified image's."""
    if rect.page_quad_px is None:
        return 0.0, 0.0
    from core.page.geometry import apply_homography

    quad = apply_homography(rect.to_rect, rect.page_quad_px)
    return float(quad[:, 0].min()), float(quad[:, 1].min())


def _geometry(rgb: np.ndarray, to_work: np.ndarray, rect: Rectification, cal: Calibration,
              fit: LayoutFit, origin: tuple[float, float]) -> Geometry:
    """The Geometry in the pixels of ``rgb``: page mm -> rectified px -> work px -> image px."""
    kx, ky = cal.px_per_mm  # type: ignore[misc]
    page_to_rect = np.array([[kx, 0, origin[0]], [0, ky, origin[1]], [0, 0, 1.0]])
    h = np.linalg.inv(to_work) @ rect.from_rect @ page_to_rect
    confidence = {"calibration": round(cal.confidence, 3), "layout": round(fit.layout_confidence, 3),
                  "panels": round(fit.panels_confidence, 3)}
    size = (rgb.shape[1], rgb.shape[0])
    return Geometry.from_homography(size, fit.layout, fit.speed_mm_s, fit.gain_mm_mv, h / h[2, 2],
                                    fit.panels, confidence)


class _Clock:
    """Milliseconds per stage."""

    def __init__(self) -> None:
        self.start = self.last = time.perf_counter()
        self.laps: dict[str, float] = {}

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name] = round(1000 * (now - self.last), 1)
        self.last = now

    def done(self) -> dict[str, float]:
        self.laps["total"] = round(1000 * (time.perf_counter() - self.start), 1)
        return dict(self.laps)
