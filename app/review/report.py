"""The one-page review report, drawn with QPainter as a PDF (A4 landscape) and as a PNG.

One drawing function, ``_draw``, paints the page in tenths of a millimetre on whatever device
it is given, so the PDF (300 dpi) and the PNG (150 dpi) can never differ in what they say. What
the page says comes from ``core.review.report.ReportFacts``; nothing here computes anything.
Painting a QImage or a QPdfWriter needs no GUI thread, so the window renders off the event loop.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6 import QtCore, QtGui

import core
from core.atomic import write_bytes
from core.review.palette import AGREEMENT_COLOURS
from core.review.report import PROBABILITY_HEADER, TITLE, ReportFacts

PAGE_W, PAGE_H = 2970, 2100  # A4 landscape in 0.1 mm: the drawing's logical units
MARGIN = 100
PDF_DPI, PNG_DPI = 300, 150
_MM_PER_INCH = 25.4


def render_report(facts: ReportFacts, pdf_path: Path | None, png_path: Path | None) -> None:
    """Draw the report and write it as a PDF and/or a PNG, each atomically (temp file + rename).

    Both pages are drawn before either file is written, so a drawing failure writes nothing.
    Raises OSError when a target folder cannot be written (no temporary file is left behind).
    """
    if pdf_path is None and png_path is None:
        raise ValueError("render_report needs a PDF or a PNG path to write to")
    pdf = _pdf_bytes(facts) if pdf_path is not None else None
    png = _png_bytes(facts) if png_path is not None else None
    if pdf_path is not None and pdf is not None:
        write_bytes(pdf_path, pdf)
    if png_path is not None and png is not None:
        write_bytes(png_path, png)


def _pdf_bytes(facts: ReportFacts) -> bytes:
    buffer = QtCore.QBuffer()
    buffer.open(QtCore.QIODevice.OpenModeFlag.WriteOnly)
    writer = QtGui.QPdfWriter(buffer)
    writer.setResolution(PDF_DPI)
    writer.setPageLayout(QtGui.QPageLayout(QtGui.QPageSize(QtGui.QPageSize.PageSizeId.A4),
                                           QtGui.QPageLayout.Orientation.Landscape, QtCore.QMarginsF(0, 0, 0, 0)))
    writer.setTitle(f"{TITLE}: {facts.image_name}")
    writer.setCreator(f"ECG-AIO Review {core.__version__}")
    _paint(writer, facts)
    buffer.close()
    return bytes(buffer.data().data())


def _png_bytes(facts: ReportFacts) -> bytes:
    w, h = round(PAGE_W / 10 / _MM_PER_INCH * PNG_DPI), round(PAGE_H / 10 / _MM_PER_INCH * PNG_DPI)
    image = QtGui.QImage(w, h, QtGui.QImage.Format.Format_RGB32)
    image.setDotsPerMeterX(round(PNG_DPI / 0.0254))
    image.setDotsPerMeterY(round(PNG_DPI / 0.0254))
    image.fill(QtGui.QColor("white"))
    _paint(image, facts)
    buffer = QtCore.QBuffer()
    buffer.open(QtCore.QIODevice.OpenModeFlag.WriteOnly)
    if not image.save(buffer, "PNG"):
        raise OSError("the report could not be encoded as PNG")
    return bytes(buffer.data().data())


def _paint(device: QtGui.QPaintDevice, facts: ReportFacts) -> None:
    painter = QtGui.QPainter()
    if not painter.begin(device):
        raise OSError("the report page could not be opened for drawing")
    try:
        painter.setRenderHints(QtGui.QPainter.RenderHint.Antialiasing | QtGui.QPainter.RenderHint.TextAntialiasing
                               | QtGui.QPainter.RenderHint.SmoothPixmapTransform)
        painter.setViewport(0, 0, device.width(), device.height())
        painter.setWindow(0, 0, PAGE_W, PAGE_H)
        _draw(painter, facts, device.width() / PAGE_W)
    finally:
        painter.end()


def _font(size: float, bold: bool = False) -> QtGui.QFont:
    """A font ``size`` tenths of a mm tall; unhinted, so glyphs scale the same at any dpi."""
    font = QtGui.QFont("DejaVu Sans")
    font.setPixelSize(round(size))
    font.setBold(bold)
    font.setHintingPreference(QtGui.QFont.HintingPreference.PreferNoHinting)
    return font


def _text(p: QtGui.QPainter, rect: QtCore.QRectF, text: str, size: float, bold: bool = False,
          flags: QtCore.Qt.AlignmentFlag = QtCore.Qt.AlignmentFlag.AlignLeft | QtCore.Qt.AlignmentFlag.AlignVCenter,
          colour: str = "black") -> QtCore.QRectF:
    p.setFont(_font(size, bold))
    p.setPen(QtGui.QColor(colour))
    return p.drawText(rect, int(flags) | int(QtCore.Qt.TextFlag.TextWordWrap), text)


def _qimage(rgb: np.ndarray, max_px: QtCore.QSizeF) -> QtGui.QImage:
    """The RGB array as a QImage no larger than the device pixels it will cover (keeps PDFs small)."""
    rgb = np.ascontiguousarray(rgb)
    h, w = rgb.shape[:2]
    image = QtGui.QImage(rgb.data, w, h, 3 * w, QtGui.QImage.Format.Format_RGB888).copy()
    if w > max_px.width() or h > max_px.height():
        image = image.scaled(max_px.toSize(), QtCore.Qt.AspectRatioMode.KeepAspectRatio,
                             QtCore.Qt.TransformationMode.SmoothTransformation)
    return image


def _picture(p: QtGui.QPainter, box: QtCore.QRectF, rgb: np.ndarray | None, caption: str, empty: str,
             device_scale: float) -> QtCore.QRectF:
    """A captioned image fitted into ``box`` with its aspect kept; returns where it was drawn."""
    _text(p, QtCore.QRectF(box.left(), box.top(), box.width(), 40), caption, 26, bold=True)
    area = box.adjusted(0, 45, 0, 0)
    if rgb is None:
        p.setPen(QtGui.QPen(QtGui.QColor("#999999"), 3))
        p.drawRect(area)
        _text(p, area.adjusted(40, 0, -40, 0), empty, 26, flags=QtCore.Qt.AlignmentFlag.AlignCenter, colour="#555555")
        return area
    h, w = rgb.shape[:2]
    scale = min(area.width() / w, area.height() / h)
    target = QtCore.QRectF(area.left(), area.top(), w * scale, h * scale)
    p.drawImage(target, _qimage(rgb, target.size() * device_scale))
    p.setPen(QtGui.QPen(QtGui.QColor("#999999"), 2))
    p.drawRect(target)
    return target


def _table(p: QtGui.QPainter, x: float, y: float, widths: list[float], rows: list[tuple[str, ...]],
           bold_rows: set[int], row_h: float = 50) -> float:
    """A ruled table whose first row is the header; returns the y below it."""
    for r, row in enumerate(rows):
        if r in bold_rows and r > 0:
            p.fillRect(QtCore.QRectF(x, y, sum(widths), row_h), QtGui.QColor(243, 232, 250))
        cx = x
        for width, cell in zip(widths, row):
            _text(p, QtCore.QRectF(cx + 10, y, width - 20, row_h), cell, 25, bold=r == 0 or r in bold_rows)
            cx += width
        y += row_h
        p.setPen(QtGui.QPen(QtGui.QColor("#333333" if r == 0 else "#cccccc"), 2))
        p.drawLine(QtCore.QPointF(x, y), QtCore.QPointF(x + sum(widths), y))
    return y


def _draw(p: QtGui.QPainter, facts: ReportFacts, device_scale: float) -> None:
    """The whole page in 0.1 mm units: header, three images, two tables, warnings, footer."""
    width = PAGE_W - 2 * MARGIN
    _text(p, QtCore.QRectF(MARGIN, 70, width, 80), TITLE, 62, bold=True)
    _text(p, QtCore.QRectF(MARGIN, 155, width, 45), facts.header_line(), 28)
    _text(p, QtCore.QRectF(MARGIN, 200, width, 50), facts.selected_line(), 32, bold=True, colour="#5a0070")
    # the three pictures side by side
    gap, top, height = 60, 270, 740
    pic_w = (width - 2 * gap) / 3
    boxes = [QtCore.QRectF(MARGIN + i * (pic_w + gap), top, pic_w, height) for i in range(3)]
    _picture(p, boxes[0], facts.model_rgb, f"Model: where it looked for {facts.selected} (purple)", "", device_scale)
    _picture(p, boxes[1], facts.reader_rgb, f"Reader {facts.reader}: evidence marked", "", device_scale)
    drawn = _picture(p, boxes[2], facts.agreement_rgb, "Agreement of model and reader",
                     "No agreement image: the reader has not marked this label.", device_scale)
    if facts.agreement_rgb is not None:  # legend of the agreement colours under the image
        lx = drawn.left()
        for key, words in (("both", "both"), ("model_only", "model only"), ("reader_only", "reader only")):
            p.fillRect(QtCore.QRectF(lx, drawn.bottom() + 22, 30, 30), QtGui.QColor(*AGREEMENT_COLOURS[key]))
            lx += 40 + _text(p, QtCore.QRectF(lx + 40, drawn.bottom() + 15, 400, 45), words, 24).width() + 40
    # the tables
    y0 = top + height + 90
    _text(p, QtCore.QRectF(MARGIN, y0, 1600, 45), "The model's labels and the reader's status", 28, bold=True)
    selected = {i + 1 for i, row in enumerate(facts.labels) if row.key == facts.selected}
    y_prob = _table(p, MARGIN, y0 + 55, [130, 560, 230, 220, 200, 260],
                    [PROBABILITY_HEADER] + [row.cells() for row in facts.labels], {0} | selected)
    mx = MARGIN + 1700
    _text(p, QtCore.QRectF(mx, y0, width - 1700, 45), f"Agreement metrics for {facts.selected}", 28, bold=True)
    metrics = facts.metric_rows()
    half = (len(metrics) + 1) // 2
    pairs = [metrics[i] + (metrics[i + half] if i + half < len(metrics) else ("", "")) for i in range(half)]
    y_met = _table(p, mx, y0 + 55, [320, 215, 320, 215], [("Metric", "Value", "Metric", "Value"), *pairs], {0})
    y = max(y_prob, y_met) + 50
    if facts.intervals:  # the machine-style measurement line, read off the decoded leads
        y += _text(p, QtCore.QRectF(MARGIN, y, width, 45),
                   f"Intervals measured on the decoded leads (check with calipers): {facts.intervals}", 25).height() + 20
    # warnings
    _text(p, QtCore.QRectF(MARGIN, y, width, 45), "Warnings", 28, bold=True)
    y += 50
    for sentence in facts.warnings or ("None.",):
        y += _text(p, QtCore.QRectF(MARGIN + 30, y, width - 30, PAGE_H - 230 - y), f"• {sentence}", 25,
                   flags=QtCore.Qt.AlignmentFlag.AlignLeft | QtCore.Qt.AlignmentFlag.AlignTop).height() + 6
    # footer
    p.setPen(QtGui.QPen(QtGui.QColor("#333333"), 2))
    p.drawLine(QtCore.QPointF(MARGIN, PAGE_H - 215), QtCore.QPointF(PAGE_W - MARGIN, PAGE_H - 215))
    for i, line in enumerate(facts.footer_lines()):
        _text(p, QtCore.QRectF(MARGIN, PAGE_H - 200 + 45 * i, width, 42), line, 23, bold=i == 2)
