"""The decoded leads redrawn on a clean ECG grid, laid out as the page printed them.

Each panel of the page geometry is drawn where it sits on the paper: x is paper distance in
seconds at the page's speed, y paper distance in mV at its gain, so a 3x4+1 page reads as the
3x4+1 page the cardiologist knows (columns are consecutive 2.5-s windows, the rhythm strip runs
underneath), one trace per printed panel. Twelve stacked 10-s rows would be three-quarters empty,
because the decoder reads a lead only where it was printed, and would break the one-to-one
link between a trace here and a panel on the image that hover linking relies on.
The grid is the paper's at 25 mm/s and 10 mm/mV: 1 mm = 0.04 s / 0.1 mV, 5 mm = 0.2 s / 0.5 mV.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from core.intervals import Intervals
from core.labels import LEADS, canonical_lead, lead_caption, lead_sign
from core.page.geometry import Geometry

TITLE = "Decoded leads — approximate"
NO_GEOMETRY = "No leads decoded: the page geometry was not found."
NO_SAMPLES = "No leads decoded: the decoder read no samples in the panels found."
MINOR_S, MINOR_MV, MAJOR_S, MAJOR_MV = 0.04, 0.1, 0.2, 0.5
_PINK_MINOR, _PINK_MAJOR = (246, 196, 204), (232, 130, 150)
#: Where the intervals were measured, drawn across each panel: (BeatMarks field, colour, words).
#: Not purple: that is the network's attribution.
MARKS = (("p_on_s", (110, 110, 110, 170), "P onset"), ("qrs_on_s", (0, 130, 140, 190), "QRS onset"),
         ("qrs_off_s", (0, 130, 140, 190), "QRS offset"), ("t_end_s", (220, 120, 0, 190), "T end"))
MARK_MV = 0.6   # the marks are ticks this tall (6 mm) at the foot of each panel, clear of the trace


def _grid_lines(x1_s: float, y1_mv: float, step_s: float, step_mv: float) -> tuple[np.ndarray, np.ndarray]:
    """Vertical and horizontal lines over [0, x1] x [0, y1] as point pairs (connect='pairs')."""
    xs = np.arange(0.0, x1_s + 1e-9, step_s)
    ys = np.arange(0.0, y1_mv + 1e-9, step_mv)
    px = np.concatenate([np.repeat(xs, 2), np.tile([0.0, x1_s], len(ys))])
    py = np.concatenate([np.tile([0.0, y1_mv], len(xs)), np.repeat(ys, 2)])
    return px, py


class SignalsPanel(QtWidgets.QWidget):
    """The decoder's leads as printed, with hover linking to the image.

    hovered(panel index, t_s): the mouse is over that panel at that record time; emitted only
    when the panel or the sample under the mouse changes. hover_left(): it left every panel.
    """

    hovered = QtCore.Signal(int, float)
    hover_left = QtCore.Signal()

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = QtWidgets.QLabel(f"<b>{TITLE}</b>")
        self.quality = QtWidgets.QLabel(wordWrap=True)
        self.intervals = QtWidgets.QLabel(wordWrap=True)
        self.intervals.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message = QtWidgets.QLabel(NO_GEOMETRY, wordWrap=True, alignment=QtCore.Qt.AlignmentFlag.AlignCenter)
        self.plot = pg.PlotWidget(background="w")
        self.plot.hideAxis("left")
        self.plot.setLabel("bottom", "paper time (s)")
        self.plot.setMenuEnabled(False)
        # 1 s is 25 mm and 1 mV is 10 mm on paper: x px per s / y px per mV = 2.5 keeps squares square
        self.plot.getViewBox().setAspectLocked(True, ratio=2.5)
        layout = QtWidgets.QVBoxLayout(self)
        for widget in (self.title, self.intervals, self.plot, self.message, self.quality):
            layout.addWidget(widget)
        self.curves: list[pg.PlotDataItem] = []
        self.beat_marks: dict[str, pg.PlotCurveItem] = {}  # field of BeatMarks -> its lines
        self.marker = pg.PlotDataItem(pen=pg.mkPen((128, 0, 160), width=2))
        self._spans: list[tuple[float, float, float, float, float]] = []  # x0, x1, y0, y1, baseline per panel
        self._geometry: Geometry | None = None
        self._fs_hz = 100.0
        self._last: tuple[int, int] | None = None
        self.plot.scene().sigMouseMoved.connect(self._mouse_moved)
        self.set_signals(None, 100.0, None, "")

    # --- drawing -------------------------------------------------------------------------
    def set_signals(self, signals: np.ndarray | None, fs_hz: float, geometry: Geometry | None, quality: str,
                    intervals: Intervals | None = None) -> None:
        """Draw ``signals`` (12, n) mV at ``fs_hz`` in the panels of ``geometry``, or say why not.

        quality: the decoder's measured quality (from the model card's limits), shown beneath.
        intervals: measured on these leads: the line above the plot, and each beat's P onset,
        QRS onset and offset and T end as ticks at the foot of the panels (``MARKS``), so that a
        reader sees where each number comes from.
        """
        text = "" if intervals is None else intervals.summary()
        self.intervals.setText(f"<b>Measured on these leads:</b> {text}<br><small>Where, in ticks under each "
                               "lead: P onset grey, QRS onset and offset teal, T end orange.</small>" if text else "")
        self.intervals.setVisible(bool(text))
        self.plot.clear()
        self.curves, self._spans, self._last = [], [], None
        self.beat_marks = {}
        self._geometry, self._fs_hz = geometry, float(fs_hz)
        self.quality.setText(quality)
        if geometry is None or not geometry.panels:
            return self._show_message(NO_GEOMETRY)
        if signals is None or not np.isfinite(signals).any():
            return self._show_message(NO_SAMPLES)
        left_mm = min(p.box_mm[0] for p in geometry.panels)
        bottom_mm = max(p.box_mm[3] for p in geometry.panels)
        speed, gain = geometry.speed_mm_s, geometry.gain_mm_mv
        for p in geometry.panels:
            x0 = (p.box_mm[0] - left_mm) / speed
            self._spans.append((x0, x0 + p.t1_s - p.t0_s, (bottom_mm - p.box_mm[3]) / gain,
                                (bottom_mm - p.box_mm[1]) / gain, (bottom_mm - p.baseline_mm) / gain))
        x_end = max(s[1] for s in self._spans)
        y_end = max(s[3] for s in self._spans)
        for step_s, step_mv, colour in ((MINOR_S, MINOR_MV, _PINK_MINOR), (MAJOR_S, MAJOR_MV, _PINK_MAJOR)):
            gx, gy = _grid_lines(x_end, y_end, step_s, step_mv)
            self.plot.addItem(pg.PlotCurveItem(gx, gy, connect="pairs", pen=pg.mkPen(colour, width=1)))
        t = np.arange(signals.shape[1]) / fs_hz
        for p, (x0, _, _, y1, base) in zip(geometry.panels, self._spans):
            row = signals[LEADS.index(canonical_lead(p.lead))]
            sign = lead_sign(geometry.layout, p.lead)  # the decoder gives aVR; Cabrera pages print -aVR
            sel = (t >= p.t0_s) & (t < p.t1_s)
            curve = pg.PlotDataItem(x0 + t[sel] - p.t0_s, base + sign * row[sel], pen=pg.mkPen("k", width=1.5),
                                    connect="finite")
            self.plot.addItem(curve)
            self.curves.append(curve)
            label = pg.TextItem(lead_caption(geometry.layout, p.lead), color="k", anchor=(0, 0))
            label.setPos(x0 + 0.05, y1)
            self.plot.addItem(label)
        if intervals is not None and intervals.beats:
            self._draw_marks(geometry, intervals)
        self.plot.addItem(self.marker)
        self.marker.setData([], [])
        self.plot.setRange(xRange=(0, x_end), yRange=(0, y_end), padding=0.01)
        self.message.hide()
        self.plot.show()

    def _draw_marks(self, geometry: Geometry, intervals: Intervals) -> None:
        """Each beat's marks as ticks at the foot of the panels that print their moment."""
        for field, colour, _ in MARKS:
            xs, ys = [], []
            times = [getattr(b, field) for b in intervals.beats]
            for p, (x0, _, y0, _, _) in zip(geometry.panels, self._spans):
                for t_s in times:
                    if t_s is not None and p.t0_s <= t_s < p.t1_s:
                        x = x0 + t_s - p.t0_s
                        xs += [x, x]
                        ys += [y0, y0 + MARK_MV]
            if xs:
                item = pg.PlotCurveItem(np.array(xs), np.array(ys), connect="pairs", pen=pg.mkPen(colour, width=2))
                self.plot.addItem(item)
                self.beat_marks[field] = item

    def show_message(self, sentence: str) -> None:
        """Nothing to draw: say why (e.g. hidden in blinded reading)."""
        self.plot.clear()
        self.curves, self._spans, self._last = [], [], None
        self.beat_marks = {}
        self.quality.clear()
        self.intervals.clear()
        self.intervals.hide()
        self._show_message(sentence)

    def _show_message(self, sentence: str) -> None:
        self.message.setText(sentence)
        self.plot.hide()
        self.message.show()

    def show_point(self, panel_index: int | None, t_s: float | None) -> None:
        """A vertical marker across panel ``panel_index`` at record time ``t_s``; None hides it."""
        if panel_index is None or t_s is None or not 0 <= panel_index < len(self._spans) or self._geometry is None:
            self.marker.setData([], [])
            return
        x0, _, y0, y1, _ = self._spans[panel_index]
        x = x0 + t_s - self._geometry.panels[panel_index].t0_s
        self.marker.setData([x, x], [y0, y1])

    # --- hover ---------------------------------------------------------------------------
    def panel_at(self, x_s: float, y_mv: float) -> tuple[int, float] | None:
        """(panel index, record t_s) under plot point (x_s, y_mv), or None (nearest baseline
        wins where panel boxes overlap: tall complexes run into the next row)."""
        if self._geometry is None:
            return None
        hits = [(abs(y_mv - base), i) for i, (x0, x1, y0, y1, base) in enumerate(self._spans)
                if x0 <= x_s <= x1 and y0 <= y_mv <= y1]
        if not hits:
            return None
        i = min(hits)[1]
        return i, self._geometry.panels[i].t0_s + x_s - self._spans[i][0]

    def _mouse_moved(self, scene_pos: QtCore.QPointF) -> None:
        if not self.curves:
            return
        point = self.plot.getViewBox().mapSceneToView(scene_pos)
        hit = self.panel_at(point.x(), point.y())
        if hit is None:
            if self._last is not None:
                self._last = None
                self.hover_left.emit()
            return
        key = (hit[0], int(round(hit[1] * self._fs_hz)))  # emit once per panel and sample
        if key != self._last:
            self._last = key
            self.hovered.emit(hit[0], hit[1])
