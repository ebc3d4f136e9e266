"""One image under review: what was loaded, what the network said, what the reader drew.

The window keeps one ``Document`` per open image and only draws it. Analyses arrive from a
worker thread; each carries the request id it was started with, and ``accept`` drops any
whose id is no longer the document's newest request, so a slow first image can never replace
a second one on screen.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core.analyze import Analysis
from core.io import LoadedImage
from core.labels import BY_KEY
from core.page import Geometry
from core.review.annotations import Annotations

#: A share of the label's attribution off the printed leads above which the window says so:
#: a third, as the review application's brief asks.
OFF_LEADS_WARNING = 1 / 3
#: A page whose corners leave a right angle by more than this many degrees, or whose rows tilt
#: more, was seen at an angle: a photograph, not a flatbed scan (synthetic scans tilt ≤ 1°).
PHOTO_ANGLE_DEG = 2.0

LAYERS = ("image", "model", "reader", "agreement", "geometry")


@dataclass
class Layer:
    """How one layer of the canvas is shown (napari's visible / opacity)."""

    name: str
    visible: bool = True
    opacity: float = 1.0


def default_layers() -> dict[str, Layer]:
    """The canvas layers, bottom to top, as a reader first sees them."""
    return {"image": Layer("image"), "model": Layer("model", opacity=0.7),
            "reader": Layer("reader", opacity=0.6), "agreement": Layer("agreement", visible=False, opacity=0.8),
            "geometry": Layer("geometry", visible=False)}


@dataclass
class Document:
    """One page of one file, as the reader sees it.

    request_id: the newest analysis asked for; an analysis for an older id is stale.
    reviewed: the reader marked the image done (unblinds the model's outputs).
    """

    path: Path
    page: int = 1
    image: LoadedImage | None = None
    analysis: Analysis | None = None
    error: str | None = None
    annotations: Annotations | None = None
    reviewed: bool = False
    request_id: int = 0
    layers: dict[str, Layer] = field(default_factory=default_layers)

    def new_request(self) -> int:
        """Start a new analysis request; every earlier one becomes stale."""
        self.request_id += 1
        self.analysis, self.error = None, None
        return self.request_id

    def accept(self, request_id: int, analysis: Analysis) -> bool:
        """Take ``analysis`` if it answers the newest request for this document's file."""
        if request_id != self.request_id or Path(analysis.image.path) != self.path:
            return False
        self.analysis = analysis
        return True

    def set_image(self, image: LoadedImage) -> None:
        """The loaded pixels; annotations are created for their size when first needed."""
        self.image = image
        if self.annotations is None or self.annotations.size_px != image.size:
            self.annotations = Annotations(image.size)

    @property
    def geometry(self) -> Geometry | None:
        return None if self.analysis is None else self.analysis.geometry

    def model_visible(self, blinded: bool) -> bool:
        """Blinded reading hides every model output until the reader marks the image done."""
        return not blinded or self.reviewed


def sorted_labels(analysis: Analysis) -> list[str]:
    """Labels as the diagnoses panel lists them: positives first, then by probability."""
    return sorted(analysis.labels, key=lambda k: (not analysis.is_positive(k), -analysis.probability(k)))


def off_leads_share(saliency: np.ndarray, geometry: Geometry | None) -> float | None:
    """Share of a map's attribution outside every printed lead panel (None without panels)."""
    if geometry is None or not geometry.panels:
        return None
    from core.compare import rasterise_cells

    index, _ = rasterise_cells(geometry)
    total = float(np.clip(saliency, 0, None).sum(dtype=np.float64))
    if total <= 0:
        return None
    on = float(np.clip(saliency, 0, None)[index >= 0].sum(dtype=np.float64))
    return 1.0 - on / total


def looks_photographed(geometry: Geometry | None) -> bool:
    """Was the page seen at an angle (a phone photo)? Judged from the page geometry: the
    corners of the panels' area leave a right angle, or its rows tilt, by more than
    PHOTO_ANGLE_DEG. False when the geometry is unknown (the warning for that is its own)."""
    if geometry is None or geometry.page_to_image is None or not geometry.panels:
        return False
    boxes = np.array([p.box_mm for p in geometry.panels])
    x0, y0, x1, y1 = boxes[:, 0].min(), boxes[:, 1].min(), boxes[:, 2].max(), boxes[:, 3].max()
    quad = geometry.page_to_image_pts(np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]]))
    worst = 0.0
    for i in range(4):
        a, b, c = quad[i - 1], quad[i], quad[(i + 1) % 4]
        u, v = a - b, c - b
        cos = float(np.dot(u, v) / (np.linalg.norm(u) * np.linalg.norm(v) + 1e-12))
        worst = max(worst, abs(90.0 - np.degrees(np.arccos(np.clip(cos, -1, 1)))))
    top = quad[1] - quad[0]
    tilt = abs(np.degrees(np.arctan2(top[1], top[0])))
    return max(worst, tilt) > PHOTO_ANGLE_DEG


def warnings(analysis: Analysis | None, label: str | None = None) -> list[str]:
    """Plain sentences for the diagnoses panel: what the reader should know before trusting
    ``analysis`` (and the attribution of ``label``). No analysis, no warnings."""
    if analysis is None:
        return []
    out = []
    if analysis.withheld is not None:
        out.append(analysis.withheld + " If it is an ECG, check the photo: the whole sheet in view, flat, in focus.")
    if analysis.geometry is None or not analysis.geometry.panels:
        out.append("The page geometry was not found, so there is no per-lead answer, no decoded leads "
                   "and no calipers on this image.")
    elif looks_photographed(analysis.geometry):
        limit = next((text for text in analysis.weights.limits if "hotograph" in text), None)
        out.append("This looks like a photographed page. " + (limit or
                   "The network is weaker on photographs than on scans."))
    if label is not None and label in analysis.explanation.saliency:
        off = off_leads_share(analysis.explanation.saliency[label], analysis.geometry)
        if off is not None and off > OFF_LEADS_WARNING:
            out.append(f"{100 * off:.0f}% of the attribution for {BY_KEY[label].name} lies off the printed "
                       "leads (grid, margins, labels): read this overlay with care.")
    return out

