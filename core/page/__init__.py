"""Page geometry: rectify, calibrate, find the lead panels."""
from core.page.geometry import Geometry, Panel, apply_homography

__all__ = ["Geometry", "Panel", "apply_homography"]
