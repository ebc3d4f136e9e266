"""Drawing shared by the documentation scripts (galleries in docs/)."""
from __future__ import annotations

import cv2
import numpy as np

LINE_H = 22  # px per caption line
FONT = cv2.FONT_HERSHEY_SIMPLEX


def scaled(rgb: np.ndarray, width: int) -> np.ndarray:
    """``rgb`` resized to ``width`` px wide, keeping its aspect."""
    return cv2.resize(rgb, (width, round(rgb.shape[0] * width / rgb.shape[1])), interpolation=cv2.INTER_AREA)


def with_caption(rgb: np.ndarray, lines: list[str], max_chars: int = 110) -> np.ndarray:
    """``rgb`` under a white strip holding ``lines`` (black, one per row, cut at ``max_chars``)."""
    strip = np.full((LINE_H * len(lines) + 6, rgb.shape[1], 3), 255, np.uint8)
    for k, text in enumerate(lines):
        cv2.putText(strip, text[:max_chars], (6, LINE_H * (k + 1) - 4), FONT, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    return np.vstack([strip, rgb])
