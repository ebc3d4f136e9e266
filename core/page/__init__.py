"""Page geometry: rectify, calibrate, find the lead panels."""
from core.page.geometry import Geometry, Panel, apply_homography
from core.page.detect import PageResult, detect_geometry

__all__ = ["Geometry", "Panel", "apply_homography", "PageResult", "detect_geometry"]
