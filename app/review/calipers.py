"""Measuring on the page and pointing across views: the calipers (RR, PR, QRS, QT, free;
intervals in ms and mV through the page geometry, ``core.review.calipers``) and the hover
marker linking a point of the image to the decoded leads and back.
"""
from __future__ import annotations

import numpy as np


class CalipersMixin:
    """Part of ``ReviewWindow``: calipers and the hover link between page and decoded leads."""

    # ================================================================ calipers and hover
    def _set_caliper_kind(self, kind: str) -> None:
        self.caliper_kind = kind
        self.set_tool("caliper")

    def _caliper(self, p0: tuple[float, float], p1: tuple[float, float]) -> None:
        from core.review.calipers import CaliperRefused, measure

        geometry = self.doc.geometry if self.doc else None
        try:
            m = measure(geometry, p0, p1, kind=self.caliper_kind, rr_ms=self.last_rr_ms)
        except CaliperRefused as exc:
            self.canvas.show_caliper(None)
            self.statusBar().showMessage(str(exc))
            return
        if m.kind == "RR":
            self.last_rr_ms = m.dt_ms
        self.last_measurement = m
        self.canvas.show_caliper(p0, p1)
        self.statusBar().showMessage(f"Caliper: {m.text()}")

    def _hover_image(self, x: float, y: float) -> None:
        geometry = self.doc.geometry if self.doc else None
        if geometry is None or geometry.page_to_image is None or self.signals.visibleRegion().isEmpty():
            return
        found = geometry.pixel_to_signal(x, y)
        self.signals.show_point(*(found[:2] if found else (None, None)))

    def _hover_signal(self, panel: int, t_s: float) -> None:
        doc = self.doc
        a = doc.analysis if doc else None
        if a is None or a.geometry is None or not 0 <= panel < len(a.geometry.panels):
            return
        from core.labels import LEADS, canonical_lead

        lead = LEADS.index(canonical_lead(a.geometry.panels[panel].lead.lstrip("-")))
        i = int(round(t_s * a.signals_fs_hz))
        row = a.explanation.signals[lead]
        mv = float(row[i]) if 0 <= i < row.size and np.isfinite(row[i]) else 0.0
        (x, y), = a.geometry.signal_to_pixel(panel, np.array([t_s]), np.array([mv]))
        self.canvas.show_marker((float(x), float(y)))
