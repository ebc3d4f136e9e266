"""Undo/redo for binary masks, as napari's labels layer does it: one drag is one step.

A step keeps only what changed: the XOR of the mask before and after, inside the bounding box
of the changed pixels, packed 8 pixels to a byte (``np.packbits``). XOR-ing the same bits in
again is both undo and redo, so a step needs no "before" and "after" copies. A hand-drawn
stroke on an A4 page at 150 dpi costs a few kB (tests/test_review_annotations.py measures it),
so the default caps keep 1000 steps within 64 MiB.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

BBox = tuple[int, int, int, int]  # x0, y0, x1, y1 in image pixels, half-open


@dataclass(frozen=True)
class Step:
    """One undoable edit of one label: the XOR bits of its bbox (row-major, packed)."""

    label: str
    bbox_px: BBox
    changed_bits: np.ndarray
    n_changed: int

    @property
    def nbytes(self) -> int:
        return int(self.changed_bits.nbytes)


def diff_step(label: str, before: np.ndarray, after: np.ndarray, bbox_px: BBox) -> Step | None:
    """The step that turns ``before`` into ``after``, the 0/1 contents of ``bbox_px``.

    The box is shrunk to the pixels that changed (a drag's box is padded while it grows), so a
    step never stores bits of untouched margin. None when nothing changed.
    """
    xor = np.bitwise_xor(before, after, dtype=np.uint8)
    if not xor.any():
        return None
    rows, cols = np.flatnonzero(xor.any(axis=1)), np.flatnonzero(xor.any(axis=0))
    r0, r1, c0, c1 = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
    xor = xor[r0:r1, c0:c1]
    x0, y0 = bbox_px[0], bbox_px[1]
    return Step(label, (x0 + c0, y0 + r0, x0 + c1, y0 + r1), np.packbits(xor, axis=None),
                int(np.count_nonzero(xor)))


def apply_step(mask: np.ndarray, step: Step) -> None:
    """XOR the step into ``mask`` in place: undoes it if applied, redoes it if undone."""
    x0, y0, x1, y1 = step.bbox_px
    region = mask[y0:y1, x0:x1]
    bits = np.unpackbits(step.changed_bits, count=region.size).reshape(region.shape)
    np.bitwise_xor(region, bits, out=region)


class History:
    """Undo and redo stacks of steps, capped by count and by bytes (oldest dropped first)."""

    def __init__(self, max_steps: int = 1000, max_bytes: int = 64 * 2**20) -> None:
        self.max_steps, self.max_bytes = max_steps, max_bytes
        self._undo: deque[Step] = deque()
        self._redo: list[Step] = []
        self._nbytes = 0

    def push(self, step: Step) -> None:
        """Record a new edit; it ends any redo (a new edit after undo starts a new branch)."""
        self._nbytes -= sum(s.nbytes for s in self._redo)
        self._redo.clear()
        self._undo.append(step)
        self._nbytes += step.nbytes
        while len(self._undo) > 1 and (len(self._undo) > self.max_steps or self._nbytes > self.max_bytes):
            self._nbytes -= self._undo.popleft().nbytes

    def undo(self) -> Step | None:
        """The step to apply to undo the last edit (moved to the redo stack), or None."""
        if not self._undo:
            return None
        self._redo.append(step := self._undo.pop())
        return step

    def redo(self) -> Step | None:
        """The step to apply to redo the last undone edit, or None."""
        if not self._redo:
            return None
        self._undo.append(step := self._redo.pop())
        return step

    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)

    @property
    def nbytes(self) -> int:
        """Bytes of changed bits held by both stacks."""
        return self._nbytes

    def __len__(self) -> int:
        return len(self._undo)
