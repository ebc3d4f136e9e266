"""The page canvas: the image and its layers, zoom and pan, and the reader's drawing input.

It draws what it is given (RGB image, RGBA layers, page geometry) and turns mouse input into
signals in image pixels; what a stroke does to a mask is decided in ``core.review``. A drag is
previewed as a vector path while it runs and the raster layer is redrawn once when it ends, so
a stroke on a 12-MP photo never waits for a 48-MB texture upload per mouse move.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from core.page import Geometry

TOOLS = ("pan", "brush", "eraser", "rectangle", "lasso", "caliper")
#: Layers drawn at reduced resolution (smooth maps) are capped at this many px on a side:
#: a 12-MP photo's overlay would otherwise be a 48-MB texture rebuilt on every label change.
MAX_LAYER_SIDE_PX = 2000


class TiledLayer(pg.ItemGroup):
    """A full-resolution RGBA layer cut into tiles, so that an edit re-uploads only the tiles it
    touched: one ImageItem of a 12-MP photo re-converts 48 MB on every stroke (~0.1 s)."""

    TILE_PX = 512

    def __init__(self) -> None:
        super().__init__()
        self.image: np.ndarray | None = None
        self._tiles: dict[tuple[int, int], pg.ImageItem] = {}

    def clear(self) -> None:
        for tile in self._tiles.values():
            tile.setParentItem(None)
            if tile.scene() is not None:
                tile.scene().removeItem(tile)
        self._tiles.clear()
        self.image = None

    def set_image(self, rgba: np.ndarray) -> None:
        self.clear()
        self.image = rgba
        self.update_region((0, 0, rgba.shape[1], rgba.shape[0]))

    def update_region(self, bbox_px: tuple[int, int, int, int]) -> None:
        """Redraw the tiles that overlap ``bbox_px`` (x0, y0, x1, y1) from ``self.image``."""
        if self.image is None:
            return
        h, w = self.image.shape[:2]
        t = self.TILE_PX
        x0, y0, x1, y1 = bbox_px
        for j in range(max(0, y0) // t, min(h - 1, y1 - 1) // t + 1):
            for i in range(max(0, x0) // t, min(w - 1, x1 - 1) // t + 1):
                part = self.image[j * t:(j + 1) * t, i * t:(i + 1) * t]
                tile = self._tiles.get((i, j))
                if tile is None and not part[..., 3].any():
                    continue  # nothing drawn here yet: no tile
                if tile is None:
                    tile = self._tiles[(i, j)] = pg.ImageItem(axisOrder="row-major")
                    tile.setParentItem(self)
                    tile.setPos(i * t, j * t)
                tile.setImage(np.ascontiguousarray(part), autoLevels=False, levels=None)


class _DrawBox(pg.ViewBox):
    """A ViewBox whose left drag draws when a drawing tool is active (middle drag always pans)."""

    def __init__(self, canvas: "Canvas") -> None:
        super().__init__(lockAspect=True, invertY=True, enableMenu=False)
        self.canvas = canvas

    def mouseDragEvent(self, ev, axis=None):  # type: ignore[no-untyped-def,override]
        if self.canvas.tool == "pan" or ev.button() != QtCore.Qt.MouseButton.LeftButton:
            return super().mouseDragEvent(ev, axis)
        ev.accept()
        point = self.mapSceneToView(ev.scenePos())
        xy = (float(point.x()), float(point.y()))
        if ev.isStart():
            start = self.mapSceneToView(ev.buttonDownScenePos(ev.button()))
            self.canvas.begin_drag((float(start.x()), float(start.y())))
        self.canvas.move_drag(xy)
        if ev.isFinish():
            self.canvas.end_drag()

    def mouseClickEvent(self, ev):  # type: ignore[no-untyped-def,override]
        if self.canvas.tool in ("brush", "eraser") and ev.button() == QtCore.Qt.MouseButton.LeftButton:
            ev.accept()
            point = self.mapSceneToView(ev.scenePos())
            xy = (float(point.x()), float(point.y()))
            self.canvas.begin_drag(xy)
            self.canvas.end_drag()
            return
        super().mouseClickEvent(ev)


class Canvas(pg.GraphicsLayoutWidget):
    """The image with its layers; emits the reader's input in image px.

    Signals: ``stroke`` (list of points: a brush/eraser drag, the first point where it began),
    ``rectangle`` (p0, p1), ``lasso`` (points), ``caliper`` (p0, p1), ``hovered`` (x, y) and
    ``stroke_progress`` (points so far, for live feedback of a drag in progress).
    """

    stroke = QtCore.Signal(object)
    rectangle = QtCore.Signal(object, object)
    lasso = QtCore.Signal(object)
    caliper = QtCore.Signal(object, object)
    hovered = QtCore.Signal(float, float)

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFocusPolicy(QtCore.Qt.FocusPolicy.StrongFocus)
        self.setBackground("#3a3a3a")
        self.tool = "pan"
        self.brush_radius_px = 6.0
        self.stroke_colour = QtGui.QColor(230, 159, 0)
        self.box = _DrawBox(self)
        self.addItem(self.box)
        self.image_item = pg.ImageItem(axisOrder="row-major")
        self.model_item = pg.ImageItem(axisOrder="row-major")
        self.reader_item = TiledLayer()
        self.agreement_item = pg.ImageItem(axisOrder="row-major")
        self.geometry_group = pg.ItemGroup()
        for z, item in enumerate((self.image_item, self.model_item, self.reader_item, self.agreement_item,
                                  self.geometry_group)):
            item.setZValue(z)
            self.box.addItem(item)
        self.preview = QtWidgets.QGraphicsPathItem()
        self.preview.setZValue(10)
        self.box.addItem(self.preview)
        self.caliper_item = QtWidgets.QGraphicsLineItem()
        self.caliper_item.setPen(pg.mkPen("#00c0ff", width=2, cosmetic=True))
        self.caliper_item.setZValue(11)
        self.caliper_item.hide()
        self.box.addItem(self.caliper_item)
        self.marker = pg.ScatterPlotItem(size=14, pen=pg.mkPen("#00c0ff", width=2), brush=None, symbol="o")
        self.marker.setZValue(12)
        self.box.addItem(self.marker)
        self.twin: pg.ViewBox | None = None
        self._drag: list[tuple[float, float]] = []
        self.scene().sigMouseMoved.connect(self._mouse_moved)
        self.image_size: tuple[int, int] | None = None

    # ---- content ------------------------------------------------------------------------------
    def set_image(self, rgb: np.ndarray | None) -> None:
        """Show a new page (None: nothing); clears every layer drawn over the previous one."""
        for item in (self.model_item, self.reader_item, self.agreement_item):
            item.clear()
        self.set_geometry(None)
        self.marker.setData([])
        self.caliper_item.hide()
        if rgb is None:
            self.image_item.clear()
            self.image_size = None
            return
        # uint8 shown as it is (levels None): levels (0, 255) made pyqtgraph rescale every pixel on
        # every render, 70 ms of a 12-MP page on the event loop
        self.image_item.setImage(rgb, autoLevels=False, levels=None)
        self.image_size = (int(rgb.shape[1]), int(rgb.shape[0]))
        self.fit()

    def set_layer(self, name: str, rgba: np.ndarray | None) -> None:
        """Show an RGBA uint8 layer ('model', 'reader', 'agreement') stretched over the image
        (it may be smaller than the image: smooth maps are drawn at reduced resolution)."""
        item = self.layer_item(name)
        if rgba is None or self.image_size is None:
            item.clear()
        elif isinstance(item, TiledLayer):
            item.set_image(rgba)
        else:
            item.setImage(rgba, autoLevels=False, levels=None)  # uint8 as it is
            item.setRect(QtCore.QRectF(0, 0, *self.image_size))

    def update_reader(self, bbox_px: tuple[int, int, int, int]) -> None:
        """The reader layer's image was changed inside ``bbox_px``: redraw only there."""
        self.reader_item.update_region(bbox_px)

    def layer_item(self, name: str) -> pg.GraphicsObject:
        return {"image": self.image_item, "model": self.model_item, "reader": self.reader_item,
                "agreement": self.agreement_item, "geometry": self.geometry_group}[name]

    def set_layer_style(self, name: str, visible: bool, opacity: float) -> None:
        item = self.layer_item(name)
        item.setVisible(visible)
        item.setOpacity(opacity)

    def set_geometry(self, geometry: Geometry | None) -> None:
        """Draw each lead panel's box and name, and a note on the calibration, when found."""
        for child in list(self.geometry_group.childItems()):
            child.setParentItem(None)
            if child.scene() is not None:
                child.scene().removeItem(child)
        if geometry is None:
            return
        pen = pg.mkPen("#0090ff", width=1.5, cosmetic=True)
        for panel in geometry.panels:
            poly = QtGui.QPolygonF([QtCore.QPointF(x, y) for x, y in panel.quad_px])
            box = QtWidgets.QGraphicsPolygonItem(poly)
            box.setPen(pen)
            box.setParentItem(self.geometry_group)
            label = pg.TextItem(panel.lead, color="#0060d0", anchor=(0, 0))
            label.setParentItem(self.geometry_group)
            label.setPos(*panel.quad_px[0])
        if geometry.px_per_mm_xy is not None and geometry.panels:
            kx, ky = geometry.px_per_mm_xy
            note = pg.TextItem(f"{geometry.layout or 'layout ?'} · {geometry.speed_mm_s:g} mm/s · "
                               f"{geometry.gain_mm_mv:g} mm/mV · {kx:.1f} px/mm", color="#0060d0", anchor=(0, 1))
            note.setParentItem(self.geometry_group)
            x0, y0 = geometry.panels[0].quad_px[0]
            note.setPos(x0, y0)

    def show_marker(self, xy: tuple[float, float] | None) -> None:
        self.marker.setData([] if xy is None else [{"pos": xy}])

    def show_caliper(self, p0: tuple[float, float] | None, p1: tuple[float, float] | None = None) -> None:
        if p0 is None or p1 is None:
            self.caliper_item.hide()
            return
        self.caliper_item.setLine(p0[0], p0[1], p1[0], p1[1])
        self.caliper_item.show()

    # ---- view ---------------------------------------------------------------------------------
    def fit(self) -> None:
        if self.image_size is not None:
            self.box.setRange(QtCore.QRectF(0, 0, *self.image_size), padding=0.01)

    def one_to_one(self) -> None:
        """One image pixel per screen pixel (device pixels on a high-DPI screen), centred."""
        if self.image_size is None:
            return
        (x0, x1), (y0, y1) = self.box.viewRange()
        ratio = self.devicePixelRatioF()
        w, h = self.box.width() / ratio, self.box.height() / ratio
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        self.box.setRange(QtCore.QRectF(cx - w / 2, cy - h / 2, w, h), padding=0)

    def zoom(self, factor: float) -> None:
        """Zoom in (factor > 1) or out about the view's centre."""
        self.box.scaleBy((1 / factor, 1 / factor))

    def pan(self, dx_frac: float, dy_frac: float) -> None:
        (x0, x1), (y0, y1) = self.box.viewRange()
        self.box.translateBy(x=dx_frac * (x1 - x0), y=dy_frac * (y1 - y0))

    def set_side_by_side(self, rgb: np.ndarray | None, rgba: np.ndarray | None) -> None:
        """A second, linked view of the page with the reader's layer (None: back to one view)."""
        if self.twin is not None:
            self.removeItem(self.twin)
            self.twin = None
        if rgb is None:
            return
        self.twin = _DrawBox(self)
        self.addItem(self.twin)
        for z, picture in enumerate((rgb, rgba)):
            if picture is None:
                continue
            item = pg.ImageItem(picture, axisOrder="row-major", levels=None)
            item.setRect(QtCore.QRectF(0, 0, picture.shape[1] if z == 0 else self.image_size[0],
                                       picture.shape[0] if z == 0 else self.image_size[1]))
            item.setZValue(z)
            if z == 1:
                item.setOpacity(self.reader_item.opacity())
            self.twin.addItem(item)
        self.twin.setXLink(self.box)
        self.twin.setYLink(self.box)

    def event(self, ev: QtCore.QEvent) -> bool:  # pinch on a touchpad or touch screen
        if ev.type() == QtCore.QEvent.Type.NativeGesture and \
                ev.gestureType() == QtCore.Qt.NativeGestureType.ZoomNativeGesture:  # type: ignore[attr-defined]
            self.zoom(1.0 + float(ev.value()))  # type: ignore[attr-defined]
            return True
        return super().event(ev)

    # ---- drawing input ------------------------------------------------------------------------
    def begin_drag(self, xy: tuple[float, float]) -> None:
        self._drag = [xy]

    def move_drag(self, xy: tuple[float, float]) -> None:
        if not self._drag:
            self._drag = [xy]
        elif xy != self._drag[-1]:
            self._drag.append(xy)
        self._draw_preview()

    def end_drag(self) -> None:
        points, self._drag = self._drag, []
        self.preview.setPath(QtGui.QPainterPath())
        if not points:
            return
        if self.tool in ("brush", "eraser"):
            self.stroke.emit(points)
        elif self.tool == "rectangle" and len(points) >= 2:
            self.rectangle.emit(points[0], points[-1])
        elif self.tool == "lasso" and len(points) >= 3:
            self.lasso.emit(points)
        elif self.tool == "caliper" and len(points) >= 2:
            self.caliper.emit(points[0], points[-1])

    def _draw_preview(self) -> None:
        pts = self._drag
        path = QtGui.QPainterPath()
        colour = QtGui.QColor(self.stroke_colour)
        if self.tool in ("brush", "eraser"):
            path.moveTo(*pts[0])
            for p in pts[1:]:
                path.lineTo(*p)
            if self.tool == "eraser":
                colour = QtGui.QColor(255, 255, 255)
            colour.setAlpha(150)
            pen = QtGui.QPen(colour, 2 * self.brush_radius_px, QtCore.Qt.PenStyle.SolidLine,
                             QtCore.Qt.PenCapStyle.RoundCap, QtCore.Qt.PenJoinStyle.RoundJoin)
        elif self.tool == "rectangle":
            (x0, y0), (x1, y1) = pts[0], pts[-1]
            path.addRect(QtCore.QRectF(QtCore.QPointF(x0, y0), QtCore.QPointF(x1, y1)).normalized())
            pen = pg.mkPen(colour, width=2, cosmetic=True)
        elif self.tool == "lasso":
            path.addPolygon(QtGui.QPolygonF([QtCore.QPointF(*p) for p in pts]))
            path.closeSubpath()
            pen = pg.mkPen(colour, width=2, cosmetic=True)
        else:  # caliper
            self.show_caliper(pts[0], pts[-1])
            return
        self.preview.setPen(pen)
        self.preview.setPath(path)

    def _mouse_moved(self, scene_pos: QtCore.QPointF) -> None:
        if self.image_size is None or not self.box.sceneBoundingRect().contains(scene_pos):
            return
        p = self.box.mapSceneToView(scene_pos)
        self.hovered.emit(float(p.x()), float(p.y()))


def rgba_layer(alpha: np.ndarray, colour: tuple[int, int, int]) -> np.ndarray:
    """An RGBA uint8 layer of one colour whose alpha is ``alpha`` (float in [0, 1] or 0/1 mask)."""
    out = np.empty((*alpha.shape, 4), np.uint8)
    out[..., :3] = colour
    out[..., 3] = np.clip(np.asarray(alpha, np.float32) * 255, 0, 255).astype(np.uint8)
    return out


def reduced(values: np.ndarray, max_side_px: int = MAX_LAYER_SIDE_PX) -> np.ndarray:
    """A smooth map downscaled (area average) so its longer side is at most ``max_side_px``."""
    import cv2

    h, w = values.shape[:2]
    scale = max_side_px / max(h, w)
    if scale >= 1:
        return values
    return cv2.resize(values, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
