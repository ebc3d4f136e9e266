"""Page geometry: where each printed lead panel lies, in paper mm and in image pixels.

Page coordinates are millimetres on the paper, origin at the paper's top-left corner, x right,
y down. Inside a panel, time t (s, in the record's own time) and voltage v (mV) sit at
``x_mm = box_mm[0] + (t - t0_s) * speed_mm_s`` and ``y_mm = baseline_mm - v * gain_mm_mv``;
``page_to_image`` (a 3x3 homography) takes page mm to pixels of the image as loaded.
JSON schema ``ecg-aio/geometry@1`` (DESIGN.md).
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

SCHEMA = "ecg-aio/geometry@1"
MAX_TIME_S = 60.0  # a panel shows record time within the first minute (records are 10 s)


class GeometryError(ValueError):
    """A page geometry's JSON cannot be used: the sentence names the field and what is wrong."""


def apply_homography(h: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Map (N, 2) points through a 3x3 homography; returns (N, 2) float64."""
    pts = np.asarray(pts, dtype=np.float64).reshape(-1, 2)
    homog = np.hstack([pts, np.ones((len(pts), 1))]) @ np.asarray(h, dtype=np.float64).T
    return homog[:, :2] / homog[:, 2:3]


@dataclass(frozen=True)
class Panel:
    """One printed lead segment.

    lead: lead name ('II'). row/col: position in the layout grid (rhythm strips have their
    own rows, col 0). t0_s/t1_s: the record time it shows (s). box_mm: (x0, y0, x1, y1) of the
    panel's area on the paper (mm). baseline_mm: y of 0 mV (mm). quad_px: the box's corners
    (tl, tr, br, bl) in image px. confidence: 0..1 (1 for rendered pages).
    """

    lead: str
    row: int
    col: int
    t0_s: float
    t1_s: float
    box_mm: tuple[float, float, float, float]
    baseline_mm: float
    quad_px: tuple[tuple[float, float], ...] = ()
    confidence: float = 1.0

    @property
    def mm_per_s(self) -> float:
        """Paper mm per record second along this box: its width over its time span (the nominal
        paper speed on a rendered page; what time registration measured on a read one)."""
        return (self.box_mm[2] - self.box_mm[0]) / (self.t1_s - self.t0_s)

    def to_json(self) -> dict[str, Any]:
        return {
            "lead": self.lead, "row": self.row, "col": self.col,
            "t0_s": self.t0_s, "t1_s": self.t1_s,
            "box_mm": list(self.box_mm), "baseline_mm": self.baseline_mm,
            "quad_px": [list(p) for p in self.quad_px], "confidence": self.confidence,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any], where: str = "panel") -> "Panel":
        """A panel from its JSON; raises GeometryError naming the field (``where``: how the
        message names this panel) when one is missing, of the wrong type, not finite, or out
        of range (t0_s < t1_s within 0-MAX_TIME_S s, a box with x0 < x1 and y0 < y1, a quad of
        four points)."""
        d = _mapping(d, where)
        t0, t1 = _number(d, "t0_s", where), _number(d, "t1_s", where)
        if not 0.0 <= t0 < t1 <= MAX_TIME_S:
            raise GeometryError(f"{where}: t0_s and t1_s must satisfy 0 <= t0_s < t1_s <= {MAX_TIME_S:g} s, "
                                f"got {t0:g} and {t1:g}")
        box = _numbers(d, "box_mm", where, 4)
        if not (box[0] < box[2] and box[1] < box[3]):
            raise GeometryError(f"{where}: box_mm must be [x0, y0, x1, y1] with x0 < x1 and y0 < y1, got {list(box)}")
        quad = d.get("quad_px") or []
        if not isinstance(quad, (list, tuple)) or len(quad) not in (0, 4):
            raise GeometryError(f"{where}: quad_px must be a list of 4 [x, y] points")
        lead = d.get("lead")
        if not isinstance(lead, str) or not lead:
            raise GeometryError(f"{where}: lead must be a lead name such as \"II\"")
        return cls(
            lead=lead, row=_integer(d, "row", where), col=_integer(d, "col", where),
            t0_s=t0, t1_s=t1, box_mm=box,  # type: ignore[arg-type]
            baseline_mm=_number(d, "baseline_mm", where),
            quad_px=tuple(_point(p, f"{where} quad_px[{i}]") for i, p in enumerate(quad)),
            confidence=_number(d, "confidence", where, default=1.0),
        )


@dataclass(frozen=True)
class Geometry:
    """Where the paper, its grid and its lead panels are in one image.

    image_size: (W, H) px. layout: '3x4+1' etc. or None. speed_mm_s, gain_mm_mv: paper scale.
    px_per_mm_xy: image px per paper mm along the page x / y axes at the centre of the panels,
    or None when not calibrated. page_to_image: 3x3 homography page mm -> image px, or None.
    confidence: {'calibration', 'layout', 'panels'} in 0..1.
    """

    image_size: tuple[int, int]
    layout: str | None
    speed_mm_s: float
    gain_mm_mv: float
    px_per_mm_xy: tuple[float, float] | None
    page_to_image: np.ndarray | None
    panels: tuple[Panel, ...] = ()
    confidence: dict[str, float] = field(default_factory=dict)

    # ---- construction -------------------------------------------------------------
    @classmethod
    def from_homography(
        cls, image_size: tuple[int, int], layout: str | None, speed_mm_s: float,
        gain_mm_mv: float, page_to_image: np.ndarray, panels: tuple[Panel, ...],
        confidence: dict[str, float] | None = None,
    ) -> "Geometry":
        """Build a geometry whose quads and px/mm are derived from the homography."""
        geo = cls(image_size=tuple(int(v) for v in image_size), layout=layout,  # type: ignore[arg-type]
                  speed_mm_s=speed_mm_s, gain_mm_mv=gain_mm_mv, px_per_mm_xy=None,
                  page_to_image=np.asarray(page_to_image, dtype=np.float64), panels=panels,
                  confidence=dict(confidence or {"calibration": 1.0, "layout": 1.0, "panels": 1.0}))
        return geo._derived()

    def _derived(self) -> "Geometry":
        h = self.page_to_image
        assert h is not None
        panels = tuple(
            replace(p, quad_px=tuple(map(tuple, apply_homography(h, _corners(p.box_mm)).round(2).tolist())))
            for p in self.panels
        )
        return replace(self, panels=panels, px_per_mm_xy=self._scale_at_centre(h, panels))

    @staticmethod
    def _scale_at_centre(h: np.ndarray, panels: tuple[Panel, ...]) -> tuple[float, float]:
        boxes = np.array([p.box_mm for p in panels]) if panels else np.array([[0, 0, 100, 100]])
        cx = (boxes[:, 0].min() + boxes[:, 2].max()) / 2
        cy = (boxes[:, 1].min() + boxes[:, 3].max()) / 2
        c, dx, dy = apply_homography(h, [[cx, cy], [cx + 1, cy], [cx, cy + 1]])
        return (round(float(np.linalg.norm(dx - c)), 4), round(float(np.linalg.norm(dy - c)), 4))

    def warped(self, h_old_to_new: np.ndarray, new_size: tuple[int, int]) -> "Geometry":
        """The geometry after the image was warped by the 3x3 pixel homography given."""
        assert self.page_to_image is not None
        h = np.asarray(h_old_to_new, dtype=np.float64) @ self.page_to_image
        return replace(self, page_to_image=h / h[2, 2], image_size=tuple(new_size))._derived()  # type: ignore[arg-type]

    # ---- mapping ------------------------------------------------------------------
    def page_to_image_pts(self, pts_mm: np.ndarray) -> np.ndarray:
        """Paper mm (N, 2) -> image px (N, 2)."""
        if self.page_to_image is None:
            raise ValueError("this page is not calibrated: no page-to-image mapping")
        return apply_homography(self.page_to_image, pts_mm)

    def image_to_page_pts(self, pts_px: np.ndarray) -> np.ndarray:
        """Image px (N, 2) -> paper mm (N, 2)."""
        if self.page_to_image is None:
            raise ValueError("this page is not calibrated: no page-to-image mapping")
        return apply_homography(np.linalg.inv(self.page_to_image), pts_px)

    def signal_to_pixel(self, panel: int | Panel, t_s: np.ndarray, mv: np.ndarray) -> np.ndarray:
        """(t s, v mV) samples of one panel -> image px (N, 2)."""
        p = self.panels[panel] if isinstance(panel, int) else panel
        t = np.asarray(t_s, dtype=np.float64).ravel()
        v = np.broadcast_to(np.asarray(mv, dtype=np.float64), t.shape).ravel()
        x_mm = p.box_mm[0] + (t - p.t0_s) * p.mm_per_s
        y_mm = p.baseline_mm - v * self.gain_mm_mv
        return self.page_to_image_pts(np.stack([x_mm, y_mm], axis=1))

    def panel_at(self, x_mm: float, y_mm: float) -> int | None:
        """Index of the panel whose box contains the page point, or None."""
        for i, p in enumerate(self.panels):
            x0, y0, x1, y1 = p.box_mm
            if x0 <= x_mm <= x1 and y0 <= y_mm <= y1:
                return i
        return None

    def pixel_to_signal(self, x_px: float, y_px: float) -> tuple[int, float, float] | None:
        """Image px -> (panel index, t s, v mV), or None when the point is on no panel."""
        (x_mm, y_mm), = self.image_to_page_pts(np.array([[x_px, y_px]]))
        i = self.panel_at(x_mm, y_mm)
        if i is None:
            return None
        p = self.panels[i]
        t = p.t0_s + (x_mm - p.box_mm[0]) / p.mm_per_s
        return i, float(t), float((p.baseline_mm - y_mm) / self.gain_mm_mv)

    # ---- JSON ---------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        h = self.page_to_image
        return {
            "schema": SCHEMA,
            "image_size": list(self.image_size),
            "layout": self.layout,
            "speed_mm_s": self.speed_mm_s,
            "gain_mm_mv": self.gain_mm_mv,
            "px_per_mm_xy": list(self.px_per_mm_xy) if self.px_per_mm_xy else None,
            "page_to_image": None if h is None else np.round(h, 9).tolist(),
            "confidence": dict(self.confidence),
            "panels": [p.to_json() for p in self.panels],
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "Geometry":
        """A geometry from its ``ecg-aio/geometry@1`` JSON, checked field by field: a missing
        or mistyped field, a number that is not finite or out of range (an image over the
        loader's pixel limit, a scale or speed <= 0, a singular page-to-image mapping, a panel's
        times outside 0-MAX_TIME_S s) raises GeometryError (a ValueError) with one sentence naming it."""
        from core.io.errors import MAX_PIXELS

        if not isinstance(d, dict):
            raise GeometryError(f"not a page geometry: expected a JSON object with schema {SCHEMA}, "
                                f"got {type(d).__name__ if d is not None else 'null'}")
        if d.get("schema") != SCHEMA:
            raise GeometryError(f"not a page geometry (schema {d.get('schema')!r}, expected {SCHEMA})")
        w, h = (_positive_int(v, "image_size") for v in _list(d, "image_size", "geometry", 2))
        if w * h > MAX_PIXELS:
            raise GeometryError(f"geometry: image_size {w}×{h} px is over the {MAX_PIXELS / 1e6:g} MP limit of an image")
        speed, gain = _number(d, "speed_mm_s", "geometry"), _number(d, "gain_mm_mv", "geometry")
        for key, value in (("speed_mm_s", speed), ("gain_mm_mv", gain)):
            if not 0 < value <= 1000:
                raise GeometryError(f"geometry: {key} must be a positive number of mm (at most 1000), got {value:g}")
        ppm = None if d.get("px_per_mm_xy") is None else _numbers(d, "px_per_mm_xy", "geometry", 2)
        if ppm is not None and not (ppm[0] > 0 and ppm[1] > 0):
            raise GeometryError(f"geometry: px_per_mm_xy must be two positive numbers, got {list(ppm)}")
        matrix = None
        if d.get("page_to_image") is not None:
            rows = _list(d, "page_to_image", "geometry", 3)
            matrix = np.array([_numbers({"row": r}, "row", "geometry page_to_image", 3) for r in rows])
            if not np.linalg.cond(matrix) < 1e12:
                raise GeometryError("geometry: page_to_image is a singular matrix (it maps the page onto a line)")
        layout = d.get("layout")
        if layout is not None and not isinstance(layout, str):
            raise GeometryError(f"geometry: layout must be a name such as \"3x4\" or null, got {layout!r}")
        panels = d.get("panels", [])
        if not isinstance(panels, (list, tuple)):
            raise GeometryError("geometry: panels must be a list")
        confidence = d.get("confidence", {})
        if not isinstance(confidence, dict):
            raise GeometryError("geometry: confidence must be an object such as {\"calibration\": 0.9}")
        return cls(
            image_size=(w, h), layout=layout, speed_mm_s=speed, gain_mm_mv=gain,
            px_per_mm_xy=ppm,  # type: ignore[arg-type]
            page_to_image=matrix,
            panels=tuple(Panel.from_json(p, f"panel {i}") for i, p in enumerate(panels)),
            confidence={str(k): _number(confidence, k, "geometry confidence") for k in confidence},
        )


# ---- checking JSON -------------------------------------------------------------------------------
def _mapping(d: Any, where: str) -> dict[str, Any]:
    if not isinstance(d, dict):
        raise GeometryError(f"{where}: expected a JSON object, got {type(d).__name__ if d is not None else 'null'}")
    return d


def _number(d: dict[str, Any], key: str, where: str, default: float | None = None) -> float:
    """d[key] as a finite float ('not finite' when NaN or infinite, a bool is no number)."""
    if key not in d and default is not None:
        return default
    if key not in d:
        raise GeometryError(f"{where}: the field {key!r} is missing")
    value = d[key]
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise GeometryError(f"{where}: {key} must be a number, got {value!r}")
    if not math.isfinite(value):
        raise GeometryError(f"{where}: {key} must be a finite number, got {value!r}")
    return float(value)


def _list(d: dict[str, Any], key: str, where: str, n: int) -> list[Any]:
    if key not in d:
        raise GeometryError(f"{where}: the field {key!r} is missing")
    value = d[key]
    if not isinstance(value, (list, tuple)) or len(value) != n:
        raise GeometryError(f"{where}: {key} must be a list of {n}, got {value!r}"[:200])
    return value


def _numbers(d: dict[str, Any], key: str, where: str, n: int) -> tuple[float, ...]:
    values = _list(d, key, where, n)
    return tuple(_number({key: v}, key, where) for v in values)


def _integer(d: dict[str, Any], key: str, where: str) -> int:
    value = _number(d, key, where)
    if value != int(value) or value < 0:
        raise GeometryError(f"{where}: {key} must be a whole number >= 0, got {value:g}")
    return int(value)


def _positive_int(value: Any, key: str) -> int:
    v = _number({key: value}, key, "geometry")
    if v != int(v) or v < 1:
        raise GeometryError(f"geometry: {key} must hold whole numbers of px >= 1, got {v:g}")
    return int(v)


def _point(p: Any, where: str) -> tuple[float, float]:
    if not isinstance(p, (list, tuple)) or len(p) != 2:
        raise GeometryError(f"{where}: a point must be [x, y], got {p!r}"[:200])
    return _number({"x": p[0]}, "x", where), _number({"y": p[1]}, "y", where)


def _corners(box: tuple[float, float, float, float]) -> np.ndarray:
    x0, y0, x1, y1 = box
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=np.float64)
