"""The reader's marking of the evidence: the tools, the brush size in mm, strokes and fills
forwarded to ``core.review.annotations``, undo and redo, each label's status, the reader's
layer redrawn (only the edited box when it can be), and marking an image done.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from PySide6 import QtCore

from core.review.palette import READER_COLOURS

BRUSH_MM = (0.5, 1, 1.5, 2, 3, 4, 6, 8)  # brush diameters offered on a calibrated page


class AnnotatingMixin:
    """Part of ``ReviewWindow``: drawing the reader's annotation and marking the image done."""

    # ================================================================ annotation
    def set_tool(self, name: str) -> None:
        self.canvas.tool = name
        self.tool_actions[name].setChecked(True)
        self.canvas.setCursor(QtCore.Qt.CursorShape.OpenHandCursor if name == "pan" else QtCore.Qt.CursorShape.CrossCursor)
        self._update_brush_label()

    def _px_per_mm(self) -> float | None:
        geometry = self.doc.geometry if self.doc else None
        if geometry is None or geometry.px_per_mm_xy is None:
            return None
        return float(np.mean(geometry.px_per_mm_xy))

    def change_brush(self, step: int) -> None:
        sizes = list(BRUSH_MM)
        i = min(range(len(sizes)), key=lambda j: abs(sizes[j] - self.brush_mm))
        self.brush_mm = sizes[max(0, min(len(sizes) - 1, i + step))]
        self.settings.setValue("brush_mm", self.brush_mm)
        self._update_brush_label()

    def _brush_radius_px(self) -> float:
        k = self._px_per_mm()
        if k is not None:
            return self.brush_mm * k / 2
        # not calibrated: the same size relative to a 280-mm wide page (the comparison's fallback)
        width = self.doc.image.size[0] if self.doc and self.doc.image else 1754
        return self.brush_mm * width / 280.0 / 2

    def _update_brush_label(self) -> None:
        radius = self._brush_radius_px()
        self.canvas.brush_radius_px = radius
        unit = f"{self.brush_mm:g} mm" if self._px_per_mm() is not None else f"{2 * radius:.0f} px (page not calibrated)"
        self.brush_label.setText(f"  Brush {unit} ([ and ])  ")

    def _annotations(self) -> Any:
        doc = self.doc
        if doc is None or doc.annotations is None:
            self.statusBar().showMessage("Open an ECG image to draw on it.")
            return None
        if self.reader is None:
            self.ask_reader()
            if self.reader is None:
                return None
        return doc.annotations

    def _stroke(self, points: list[tuple[float, float]]) -> None:
        ann = self._annotations()
        if ann is None:
            return
        ann.begin_stroke(self.selected, self._brush_radius_px(), erase=self.canvas.tool == "eraser")
        ann.extend_stroke(points)
        step = ann.end_stroke()
        if step is not None:
            self._edited(self.selected, step.bbox_px)

    def _edit(self, fn: Callable[[Any, str], Any]) -> None:
        ann = self._annotations()
        if ann is not None:
            bbox = fn(ann, self.selected)
            if bbox is not None:
                self._edited(self.selected, bbox)

    def clear_label(self) -> None:
        self._edit(lambda a, k: a.clear(k))

    def undo(self) -> None:
        if self.doc and self.doc.annotations and (label := self.doc.annotations.undo()) is not None:
            self._edited(label)

    def redo(self) -> None:
        if self.doc and self.doc.annotations and (label := self.doc.annotations.redo()) is not None:
            self._edited(label)

    def _edited(self, label: str, bbox_px: tuple[int, int, int, int] | None = None) -> None:
        """Redraw what an edit changed (only ``bbox_px`` when given), save soon, measure soon."""
        if bbox_px is None or self.canvas.reader_item.image is None or self.compare_mode == "side_by_side":
            self._redraw_reader()
        else:
            x0, y0, x1, y1 = bbox_px
            self._paint_reader(self.canvas.reader_item.image[y0:y1, x0:x1], (slice(y0, y1), slice(x0, x1)))
            self.canvas.update_reader(bbox_px)
        if label == self.selected and self.doc and self.doc.annotations:
            self.compare.show_label(label, self.doc.annotations.status_of(label))
        if self.worklist is not None and self.doc is not None:
            self.worklist.set_status(self.doc.path, "annotated")
            self._show_worklist()
        self.autosave_timer.start()
        self._schedule_metrics()

    def _set_status(self, status: str | None) -> None:
        ann = self._annotations()
        if ann is not None:
            ann.set_status(self.selected, status)
            self.autosave_timer.start()
            if self.worklist is not None and self.doc is not None and status is not None:
                self.worklist.set_status(self.doc.path, "annotated")
                self._show_worklist()

    def set_label_status(self, status: str | None) -> None:
        """The reader's call on the selected label (annotated, feature not visible, not assessable)."""
        self._set_status(status)
        ann = self.doc.annotations if self.doc else None
        if ann is not None:
            self.compare.show_label(self.selected, ann.status_of(self.selected))

    def _reader_rgba(self) -> np.ndarray | None:
        """Every drawn label's marking in its colour, the selected label on top (None: no image)."""
        doc = self.doc
        if doc is None or doc.annotations is None:
            return None
        w, h = doc.annotations.size_px
        rgba = np.zeros((h, w, 4), np.uint8)  # calloc: untouched pages cost nothing until drawn on
        self._paint_reader(rgba, (slice(0, h), slice(0, w)), cleared=True)
        return rgba

    def _paint_reader(self, rgba: np.ndarray, region: tuple[slice, slice], cleared: bool = False) -> None:
        """Paint the markings inside ``region`` of the image into ``rgba`` (that region's pixels)."""
        ann = self.doc.annotations  # type: ignore[union-attr]
        if not cleared:
            rgba[...] = 0
        for label in sorted(ann.labels_drawn(), key=lambda k: k == self.selected):  # selected on top
            m = ann.mask(label)[region].astype(bool)
            rgba[m] = (*READER_COLOURS[label], 255 if label == self.selected else 150)

    def _redraw_reader(self) -> None:
        doc, shown = self.doc, self.canvas.reader_item.image
        nothing = doc is None or doc.annotations is None or not doc.annotations.labels_drawn()
        if not (nothing and shown is not None and shown.shape[:2] == doc.annotations.size_px[::-1]
                and not self.canvas.reader_item._tiles):
            # (an empty page's layer is already empty: rebuilding 48 MB of a 12-MP photo would cost ~50 ms)
            self.canvas.set_layer("reader", self._reader_rgba())
        self._apply_layers()
        if self.compare_mode == "side_by_side":
            self._side_by_side()

    def mark_done(self) -> None:
        doc = self.doc
        if doc is None or doc.image is None:
            self.done_action.setChecked(False)
            return
        if self._annotations() is None:
            self.done_action.setChecked(doc.reviewed)
            return
        undecided = self._study_labels_undecided()
        if undecided and not doc.reviewed:
            self.done_action.setChecked(False)
            self._tell(f"Before marking this ECG done, mark the evidence of {', '.join(undecided)} or say "
                       "that the feature is not visible or not assessable (Review menu).", "Not done yet")
            return
        doc.reviewed = not doc.reviewed
        self.done_action.setChecked(doc.reviewed)
        if self.worklist is not None:
            self.worklist.set_status(doc.path, "reviewed" if doc.reviewed else "annotated", reset=True)
            self._show_worklist()
        self.save_now(force=True)
        self._show_model()
        self._apply_layers()
        self._schedule_metrics(now=True)
        self.statusBar().showMessage(f"{doc.path.name} marked {'done' if doc.reviewed else 'not done'}.")
