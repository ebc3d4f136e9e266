"""Ground-truth evidence masks: where on a printed page a cardiologist sees each label.

A label's mask is the printed trace inside its evidence intervals (``sample.evidence[label]``),
in the panels that print the interval's lead (rhythm strips included), clipped to each panel's
time span, dilated to ``dilate_mm`` (ECG_FACTS.md "The labels"). An evidence interval counts
only in the label's evidence leads (``core.labels.BY_KEY[label].evidence_leads``).
Masks are in the pixels of the page the geometry describes: (H, W) uint8, 0 or 255.
"""
from __future__ import annotations

import cv2
import numpy as np

from core.labels import BY_KEY
from core.page.geometry import Geometry
from core.synth.render import SHIFT, trace_points
from core.synth.sample import EcgSample


def evidence_mask(sample: EcgSample, geometry: Geometry, label: str, dilate_mm: float = 1.5) -> np.ndarray:
    """The label's evidence on the page: (H, W) uint8, 255 within ``dilate_mm`` (mm on the
    paper, at least 1 px) of the printed trace inside the evidence intervals; all zeros when
    the label has no evidence or none of it is printed."""
    w, h = geometry.image_size
    mask = np.zeros((h, w), np.uint8)
    leads = set(BY_KEY[label].evidence_leads)
    lines = [
        trace_points(sample, geometry, panel, ev.t0_s, ev.t1_s)
        for ev in sample.evidence.get(label, ()) if ev.lead in leads
        for panel in geometry.panels if panel.lead == ev.lead
    ]
    lines = [np.round(pts * (1 << SHIFT)).astype(np.int32).reshape(-1, 1, 2) for pts in lines if len(pts)]
    if not lines:
        return mask
    cv2.polylines(mask, lines, False, 255, 1, cv2.LINE_8, SHIFT)
    return cv2.dilate(mask, _disk(geometry, dilate_mm))


def label_masks(sample: EcgSample, geometry: Geometry, dilate_mm: float = 1.5) -> dict[str, np.ndarray]:
    """Masks of every present label (value 1) whose evidence is known, by label key."""
    return {
        label: evidence_mask(sample, geometry, label, dilate_mm)
        for label, value in sample.labels.items()
        if value == 1 and sample.evidence.get(label)
    }


def _disk(geometry: Geometry, radius_mm: float) -> np.ndarray:
    """An elliptical kernel that is a disk of ``radius_mm`` on the paper (x, y px/mm may differ)."""
    px_x, px_y = geometry.px_per_mm_xy or (1.0, 1.0)
    rx, ry = max(1, int(round(radius_mm * px_x))), max(1, int(round(radius_mm * px_y)))
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * rx + 1, 2 * ry + 1))
