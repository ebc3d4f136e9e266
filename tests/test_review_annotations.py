"""One reader's masks (core.review.annotations) and their undo history (core.review.history)."""
from __future__ import annotations

import numpy as np
import pytest

from core.labels import LABELS
from core.review.annotations import Annotations
from core.review.history import History, apply_step, diff_step

A4_150DPI = (1754, 1240)  # W, H


def _all_masks(ann: Annotations) -> np.ndarray:
    return np.stack([ann.mask(label) for label in LABELS])


def _drag(ann: Annotations, label: str, points, radius_px: float = 4, erase: bool = False):
    ann.begin_stroke(label, radius_px, erase)
    for p in points:  # one pointer event per point, as a view sends them
        ann.extend_stroke([p])
    return ann.end_stroke()


def test_500_strokes_fit_the_memory_bound_and_all_undo_and_redo_exactly() -> None:
    rng = np.random.default_rng(2024)
    ann = Annotations(A4_150DPI)
    for _ in range(500):
        n = int(rng.integers(5, 31))
        start = rng.uniform((0, 0), A4_150DPI)
        points = start + np.cumsum(rng.normal(0, 20, (n, 2)), axis=0)  # a hand's path, may leave the page
        _drag(ann, str(rng.choice(LABELS)), [tuple(p) for p in points], float(rng.uniform(3, 12)))
    final = _all_masks(ann)
    per_stroke = ann.history.nbytes / 500
    assert len(ann.history) == 500
    assert ann.history.nbytes < 50 * 2**20, f"{per_stroke:.0f} bytes per stroke"
    assert final.any(axis=(1, 2)).sum() >= 6
    for _ in range(500):
        assert ann.undo() in LABELS
    assert not ann.history.can_undo and ann.undo() is None
    assert not _all_masks(ann).any(), f"undo left pixels ({per_stroke:.0f} bytes per stroke)"
    for _ in range(500):
        assert ann.redo() in LABELS
    assert ann.redo() is None
    assert np.array_equal(_all_masks(ann), final), f"{per_stroke:.0f} bytes per stroke"
    print(f"\n500 strokes on A4 at 150 dpi: {per_stroke:.0f} bytes per stroke of undo history")


def test_one_drag_is_one_undo_step_however_many_events() -> None:
    ann = Annotations((200, 100))
    step = _drag(ann, "AF", [(10, 50), (60, 50), (110, 50), (160, 60)], radius_px=5)
    assert step is not None and len(ann.history) == 1
    assert ann.mask("AF")[50, 10:110].all() and ann.mask("AF")[50 + 5, 60] == 1
    assert ann.mask("AF")[50 + 8, 60] == 0  # thickness is 2 * radius, not more
    assert ann.undo() == "AF"
    assert ann.is_empty("AF") and not ann.history.can_undo


def test_a_single_click_paints_a_round_dot() -> None:
    ann = Annotations((50, 50))
    _drag(ann, "SR", [(25, 25)], radius_px=6)
    m = ann.mask("SR")
    assert m[25, 25] and m[25, 30] and m[30, 25] and not m[30, 30]  # round, not square
    assert 90 < m.sum() < 150  # pi * 6^2 = 113


def test_new_edit_after_undo_clears_redo() -> None:
    ann = Annotations((100, 100))
    _drag(ann, "PVC", [(10, 10), (90, 10)])
    _drag(ann, "PVC", [(10, 50), (90, 50)])
    ann.undo()
    assert ann.history.can_redo
    ann.rectangle("PAC", (5, 80), (20, 90))
    assert not ann.history.can_redo and ann.redo() is None
    assert ann.mask("PVC")[10, 50] and not ann.mask("PVC")[50, 50]


def test_undo_or_redo_during_a_drag_first_closes_it_as_its_own_step() -> None:
    ann = Annotations((100, 100))
    _drag(ann, "AF", [(10, 10), (90, 10)])
    ann.undo()
    ann.begin_stroke("SR", 3)
    ann.extend_stroke([(10, 50), (90, 50)])
    assert ann.redo() is None  # the open drag became a new edit, which ends redo
    assert len(ann.history) == 1 and ann.mask("SR")[50, 50] and ann.is_empty("AF")
    ann.begin_stroke("SR", 3)
    ann.extend_stroke([(10, 80), (90, 80)])
    assert ann.undo() == "SR" and ann.mask("SR")[50, 50] and not ann.mask("SR")[80, 50]


def test_eraser_removes_pixels_and_undo_brings_them_back() -> None:
    ann = Annotations((100, 60))
    ann.rectangle("LBBB", (0, 0), (99, 59))
    full = ann.mask("LBBB").copy()
    assert full.all()
    step = _drag(ann, "LBBB", [(20, 30), (80, 30)], radius_px=5, erase=True)
    assert step is not None and step.n_changed > 0
    m = ann.mask("LBBB")
    assert not m[30, 20:81].any() and m[0, 50] and m[59, 50]
    assert ann.status_of("LBBB") == "annotated"
    assert ann.undo() == "LBBB" and np.array_equal(ann.mask("LBBB"), full)
    assert ann.redo() == "LBBB" and not ann.mask("LBBB")[30, 50]


def test_rectangle_fills_both_corner_pixels_in_either_drag_direction() -> None:
    ann = Annotations((40, 30))
    assert ann.rectangle("RBBB", (20.2, 15.4), (10.0, 5.0)) == (10, 5, 21, 16)
    m = ann.mask("RBBB")
    assert m.sum() == 11 * 11 and m[5, 10] and m[15, 20] and not m[4, 10] and not m[15, 21]
    assert len(ann.history) == 1


def test_lasso_fills_the_polygon() -> None:
    ann = Annotations((100, 100))
    box = ann.lasso("AFL", [(10, 10), (90, 10), (90, 90), (10, 90)])
    assert box == (10, 10, 91, 91)
    assert ann.mask("AFL").sum() == 81 * 81
    ann.lasso("IAVB", [(0, 0), (60, 0), (0, 60)])
    tri = ann.mask("IAVB")
    assert tri[5, 5] and not tri[50, 50] and abs(int(tri.sum()) - 60 * 60 / 2) < 100
    assert ann.lasso("IAVB", [(0, 0), (10, 10)]) is None  # two points enclose nothing
    assert len(ann.history) == 2


def test_clear_is_one_step_and_undo_restores_the_strokes() -> None:
    ann = Annotations((120, 80))
    _drag(ann, "AF", [(10, 10), (100, 70)])
    ann.rectangle("AF", (50, 5), (60, 15))
    before = ann.mask("AF").copy()
    assert ann.clear("AF") is not None
    assert ann.is_empty("AF") and len(ann.history) == 3
    assert ann.clear("AF") is None and len(ann.history) == 3  # nothing left to clear
    assert ann.undo() == "AF" and np.array_equal(ann.mask("AF"), before)


def test_masks_are_allocated_only_when_drawn_on() -> None:
    ann = Annotations((4000, 3000))
    assert ann.mask_nbytes == 0 and ann.labels_drawn() == []
    assert ann.mask("SR").shape == (3000, 4000) and not ann.mask("SR").any()
    assert ann.clear("SR") is None
    _drag(ann, "SR", [(100, 100), (200, 100)], erase=True)  # erasing nothing allocates nothing
    _drag(ann, "SR", [(-100, -100), (-50, -60)])  # wholly outside the image
    assert ann.rectangle("SR", (4100, 10), (4200, 20)) is None
    assert ann.mask_nbytes == 0 and len(ann.history) == 0
    _drag(ann, "SR", [(100, 100), (200, 100)])
    assert ann.mask_nbytes == 4000 * 3000 and ann.labels_drawn() == ["SR"]


def test_strokes_partly_outside_the_image_are_clipped_and_undo_exactly() -> None:
    ann = Annotations((64, 48))
    ann.begin_stroke("PAC", 6)
    box = ann.extend_stroke([(-40, -40), (10, 10), (200, 10)])
    ann.end_stroke()
    assert box is not None and box[0] == 0 and box[1] == 0 and box[2] == 64 and box[3] <= 48
    m = ann.mask("PAC")
    assert m[0, 0] and m[10, 63] and m[10, 10]
    ann.begin_stroke("PAC", 6)
    assert ann.extend_stroke([(-100, -100), (-50, -90)]) is None  # wholly outside: nothing
    assert ann.end_stroke() is None and len(ann.history) == 1
    assert ann.lasso("PAC", [(-10, 40), (70, 40), (70, 90), (-10, 90)]) == (0, 40, 64, 48)
    assert ann.undo() == "PAC" and ann.undo() == "PAC" and ann.is_empty("PAC")


def test_status_and_version_bookkeeping() -> None:
    ann = Annotations((50, 50))
    assert all(ann.status_of(label) is None for label in LABELS)
    ann.set_status("AF", "not_visible")
    _drag(ann, "AF", [(5, 5), (40, 5)])
    assert ann.status_of("AF") == "not_visible"  # a decided status is the reader's, kept
    v, v_sr = ann.version, ann.label_version("SR")
    _drag(ann, "SR", [(5, 25), (40, 25)])
    assert ann.status_of("SR") == "annotated"
    assert ann.version > v and ann.label_version("SR") > v_sr
    v = ann.version
    _drag(ann, "SR", [(5, 25), (40, 25)])  # same pixels again: nothing changed, no step
    assert ann.version == v and len(ann.history) == 2
    with pytest.raises(ValueError, match="status"):
        ann.set_status("AF", "maybe")
    with pytest.raises(ValueError, match="unknown label"):
        ann.mask("STEMI")
    with pytest.raises(ValueError):
        ann.mask("AF")[0, 0] = 1  # the view is read-only: edits must go through history


def test_history_caps_drop_the_oldest_steps() -> None:
    before = np.zeros((10, 10), np.uint8)
    steps = []
    for i in range(5):
        after = before.copy()
        after[i, :] = 1
        steps.append(diff_step("AF", before, after, (0, 0, 10, 10)))
    assert steps[0].bbox_px == (0, 0, 10, 1) and steps[0].n_changed == 10
    by_count = History(max_steps=3)
    by_bytes = History(max_bytes=2 * steps[0].nbytes)
    for s in steps:
        by_count.push(s)
        by_bytes.push(s)
    assert len(by_count) == 3 and len(by_bytes) == 2
    assert by_bytes.nbytes == 2 * steps[0].nbytes
    assert by_count.undo() is steps[4] and by_count.nbytes == 3 * steps[0].nbytes  # counts both stacks
    by_count.push(steps[0])
    assert not by_count.can_redo and by_count.nbytes == 3 * steps[0].nbytes
    assert diff_step("AF", before, before.copy(), (0, 0, 10, 10)) is None


def test_apply_step_twice_is_identity_and_bits_are_packed() -> None:
    rng = np.random.default_rng(1)
    before = (rng.random((37, 53)) < 0.3).astype(np.uint8)
    after = before.copy()
    after[5:30, 7:40] ^= 1
    step = diff_step("SR", before[2:35, 3:50], after[2:35, 3:50], (3, 2, 50, 35))
    assert step.bbox_px == (7, 5, 40, 30) and step.n_changed == 25 * 33
    assert step.nbytes == -(-25 * 33 // 8)  # one bit per pixel of the bbox
    mask = before.copy()
    apply_step(mask, step)
    assert np.array_equal(mask, after)
    apply_step(mask, step)
    assert np.array_equal(mask, before)
