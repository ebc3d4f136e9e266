"""One reader's evidence masks for one image: painting, erasing, per-label status, undo.

Coordinates are loaded-image pixels (x right, y down), floats accepted. A mask is uint8 0/1,
H x W, allocated on the first edit of its label: a 12-MP photo costs 12 MB per drawn label,
and most readers draw one or two of the eight. Every edit goes through ``History`` (one drag =
one step), and ``version`` / ``label_version`` count pixel changes so that views and autosave
know what to redraw or rewrite without comparing masks.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from core.labels import LABELS
from core.review.history import BBox, History, Step, apply_step, diff_step

STATUSES: tuple[str, ...] = ("annotated", "not_visible", "not_assessable")
Point = tuple[float, float]
_SHIFT = 4  # cv2 fixed-point bits: stroke points keep 1/16 px of the pointer's precision
_ONE = 1 << _SHIFT


def _fixed(points: Sequence[Point]) -> np.ndarray:
    return np.round(np.asarray(points, dtype=np.float64).reshape(-1, 2) * _ONE).astype(np.int32)


@dataclass
class _Stroke:
    """A drag in progress: the pixels of ``bbox_px`` as they were when the drag began."""

    label: str
    radius_px: float
    erase: bool
    last: Point | None = None
    bbox_px: BBox | None = None
    before: np.ndarray | None = None


class Annotations:
    """One reader's masks, statuses and undo history for one image of ``size_px`` (W, H).

    Statuses are the reader's decisions rather than drawing, so undo does not change them.
    """

    def __init__(self, size_px: tuple[int, int]) -> None:
        self.size_px = (int(size_px[0]), int(size_px[1]))
        self.history = History()
        self.version = 0
        self.status: dict[str, str | None] = dict.fromkeys(LABELS)
        # core.review.store's bookkeeping: the folder last written or read and each label's
        # version then, so an autosave after a stroke rewrites only that label's PNG.
        self.saved_to: Path | None = None
        self.saved_versions: dict[str, int] = {}
        self._masks: dict[str, np.ndarray] = {}
        self._label_versions = dict.fromkeys(LABELS, 0)
        self._stroke: _Stroke | None = None

    def mask(self, label: str) -> np.ndarray:
        """The label's 0/1 mask, read-only (all zeros, not stored, if never drawn)."""
        m = self._masks.get(_check(label))
        view = (m if m is not None else np.zeros(self.size_px[::-1], np.uint8)).view()
        view.flags.writeable = False
        return view

    def is_empty(self, label: str) -> bool:
        m = self._masks.get(_check(label))
        return m is None or not m.any()

    def labels_drawn(self) -> list[str]:
        """Labels with at least one pixel drawn, in LABELS order."""
        return [label for label in LABELS if not self.is_empty(label)]

    def label_version(self, label: str) -> int:
        return self._label_versions[_check(label)]

    @property
    def mask_nbytes(self) -> int:
        """Bytes held by allocated masks (0 until something is drawn)."""
        return sum(m.nbytes for m in self._masks.values())

    def status_of(self, label: str) -> str | None:
        return self.status[_check(label)]

    def set_status(self, label: str, status: str | None) -> None:
        if status is not None and status not in STATUSES:
            raise ValueError(f"status must be one of {', '.join(STATUSES)} or None, not {status!r}.")
        self.status[_check(label)] = status

    def set_mask(self, label: str, mask: np.ndarray) -> None:
        """Replace a label's mask wholesale, without an undo step (loading from disk)."""
        if mask.shape != self.size_px[::-1]:
            raise ValueError(f"a {_check(label)} mask must be {self.size_px[0]} x {self.size_px[1]} px.")
        self._masks[_check(label)] = (np.asarray(mask) != 0).astype(np.uint8)
        self._changed(label, drawn=False)

    def begin_stroke(self, label: str, radius_px: float, erase: bool = False) -> None:
        self.end_stroke()
        self._stroke = _Stroke(_check(label), float(radius_px), erase)

    def extend_stroke(self, points_px: Sequence[Point]) -> BBox | None:
        """Paint round-capped segments from the previous point through ``points_px``.

        Only the growing bbox of the drag is copied (padded by half its size, so a long drag
        re-copies O(log length) times), never the whole mask. Returns the bbox painted, clipped
        to the image, or None when no pixel changed.
        """
        s = self._stroke
        if s is None:
            raise RuntimeError("extend_stroke needs begin_stroke first.")
        painted: BBox | None = None
        thickness = max(1, round(2 * s.radius_px))
        for point in points_px:
            a, b = s.last or point, (float(point[0]), float(point[1]))
            s.last = b
            box = self._clip(min(a[0], b[0]) - s.radius_px - 1, min(a[1], b[1]) - s.radius_px - 1,
                             max(a[0], b[0]) + s.radius_px + 2, max(a[1], b[1]) + s.radius_px + 2)
            mask = None if box is None else self._writable(s.label, s.erase)
            if mask is None:
                continue
            self._cover(s, mask, box)
            x0, y0, x1, y1 = box
            n_before = cv2.countNonZero(mask[y0:y1, x0:x1])
            p, q = (tuple(_fixed([pt])[0].tolist()) for pt in (a, b))
            if p == q:
                cv2.circle(mask, p, round(s.radius_px * _ONE), 0 if s.erase else 1, -1, cv2.LINE_8, _SHIFT)
            else:
                cv2.line(mask, p, q, 0 if s.erase else 1, thickness, cv2.LINE_8, _SHIFT)
            if cv2.countNonZero(mask[y0:y1, x0:x1]) != n_before:
                self._changed(s.label, drawn=not s.erase)
                painted = box if painted is None else _union(painted, box)
        return painted

    def end_stroke(self) -> Step | None:
        """Close the drag as ONE undo step (None if it changed nothing)."""
        s, self._stroke = self._stroke, None
        if s is None or s.bbox_px is None:
            return None
        x0, y0, x1, y1 = s.bbox_px
        step = diff_step(s.label, s.before, self._masks[s.label][y0:y1, x0:x1], s.bbox_px)
        if step is not None:
            self.history.push(step)
        return step

    def rectangle(self, label: str, p0: Point, p1: Point, erase: bool = False) -> BBox | None:
        """Fill the pixels between two corners (both corner pixels included)."""
        x0, x1 = sorted((round(p0[0]), round(p1[0])))
        y0, y1 = sorted((round(p0[1]), round(p1[1])))
        box = self._clip(x0, y0, x1 + 1, y1 + 1)
        return self._edit(label, box, erase, lambda m: m[box[1]:box[3], box[0]:box[2]].fill(0 if erase else 1))

    def lasso(self, label: str, polygon_px: Sequence[Point], erase: bool = False) -> BBox | None:
        """Fill a closed polygon (cv2.fillPoly, 1/16-px vertices); fewer than 3 points: None."""
        if len(polygon_px) < 3:
            return None
        poly = np.asarray(polygon_px, dtype=np.float64)
        box = self._clip(*(poly.min(axis=0) - 1), *(poly.max(axis=0) + 2))
        return self._edit(label, box, erase,
                          lambda m: cv2.fillPoly(m, [_fixed(polygon_px)], 0 if erase else 1, cv2.LINE_8, _SHIFT))

    def clear(self, label: str) -> BBox | None:
        """Erase the whole label as one step (undo brings it back)."""
        m = self._masks.get(_check(label))
        if m is None:
            return None
        x, y, w, h = cv2.boundingRect(m)
        box = (x, y, x + w, y + h) if w and h else None
        return self._edit(label, box, True, lambda m: m[y:y + h, x:x + w].fill(0))

    def undo(self) -> str | None:
        """Undo the last edit (closing a drag in progress); returns the label to redraw."""
        self.end_stroke()
        return self._apply(self.history.undo())

    def redo(self) -> str | None:
        self.end_stroke()
        return self._apply(self.history.redo())

    def _apply(self, step: Step | None) -> str | None:
        if step is None:
            return None
        apply_step(self._writable(step.label, erase=False), step)
        self._changed(step.label, drawn=False)
        return step.label

    def _edit(self, label: str, box: BBox | None, erase: bool,
              paint: Callable[[np.ndarray], object]) -> BBox | None:
        """One edit as one step: snapshot ``box``, paint, keep what changed."""
        _check(label)
        self.end_stroke()
        mask = None if box is None else self._writable(_check(label), erase)
        if mask is None:
            return None
        x0, y0, x1, y1 = box
        before = mask[y0:y1, x0:x1].copy()
        paint(mask)
        step = diff_step(label, before, mask[y0:y1, x0:x1], box)
        if step is None:
            return None
        self.history.push(step)
        self._changed(label, drawn=not erase)
        return step.bbox_px

    def _writable(self, label: str, erase: bool) -> np.ndarray | None:
        """The label's mask, allocated now unless erasing (erasing nothing allocates nothing)."""
        if label not in self._masks and not erase:
            self._masks[label] = np.zeros(self.size_px[::-1], np.uint8)
        return self._masks.get(label)

    def _changed(self, label: str, drawn: bool) -> None:
        """Count a pixel change; the reader drawing on an undecided label marks it annotated."""
        self.version += 1
        self._label_versions[label] += 1
        if drawn and self.status[label] is None:
            self.status[label] = "annotated"

    def _clip(self, x0: float, y0: float, x1: float, y1: float) -> BBox | None:
        w, h = self.size_px
        box = (max(0, math.floor(x0)), max(0, math.floor(y0)), min(w, math.ceil(x1)), min(h, math.ceil(y1)))
        return box if box[0] < box[2] and box[1] < box[3] else None

    def _cover(self, s: _Stroke, mask: np.ndarray, box: BBox) -> None:
        """Make the drag's snapshot cover ``box``; outside the old snapshot nothing is painted yet."""
        old = s.bbox_px
        if old is not None and old[0] <= box[0] and old[1] <= box[1] and old[2] >= box[2] and old[3] >= box[3]:
            return
        u = box if old is None else _union(old, box)
        pad_x, pad_y = max(32, (u[2] - u[0]) // 2), max(32, (u[3] - u[1]) // 2)
        new = self._clip(u[0] - pad_x, u[1] - pad_y, u[2] + pad_x, u[3] + pad_y)
        assert new is not None
        before = mask[new[1]:new[3], new[0]:new[2]].copy()
        if old is not None:
            before[old[1] - new[1]:old[3] - new[1], old[0] - new[0]:old[2] - new[0]] = s.before
        s.bbox_px, s.before = new, before


def _union(a: BBox, b: BBox) -> BBox:
    return (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))


def _check(label: str) -> str:
    if label not in LABELS:
        raise ValueError(f"unknown label {label!r}; known labels are {', '.join(LABELS)}.")
    return label
