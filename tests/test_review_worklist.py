"""A folder of ECGs: which files count, in what order, and moving through them with filters."""
from __future__ import annotations

from pathlib import Path

import pytest

from core.review.worklist import STATUSES, Worklist, list_images, status_from_saved


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    for name in ("ecg10.png", "ecg2.JPG", "ecg1.pdf", "Ecg3.tiff", "scan.webp", "notes.txt",
                 ".hidden.png", "._ecg2.JPG", "ecg2.png.json"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "ecg2.JPG.ecg-aio").mkdir()        # our own folder beside an image
    (tmp_path / "odd.png.ecg-aio").mkdir()
    (tmp_path / "folder.png").mkdir()              # a folder is not an image
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "ecg0.png").write_bytes(b"x")  # not recursive
    return tmp_path


def names(paths) -> list[str]:
    return [p.name for p in paths]


def test_images_in_natural_order_without_hidden_or_our_folders(folder):
    assert names(list_images(folder)) == ["ecg1.pdf", "ecg2.JPG", "Ecg3.tiff", "ecg10.png", "scan.webp"]
    with pytest.raises(ValueError):
        list_images(folder / "ecg10.png")


def test_next_and_previous_stop_at_the_ends(folder):
    wl = Worklist.from_folder(folder)
    assert wl.current_path.name == "ecg1.pdf"
    assert wl.previous() is None and wl.current == 0
    assert names([wl.next() for _ in range(4)]) == ["ecg2.JPG", "Ecg3.tiff", "ecg10.png", "scan.webp"]
    assert wl.next() is None and wl.current_path.name == "scan.webp"
    assert wl.previous().name == "ecg10.png"


def test_filters_by_status_and_by_positive_label(folder):
    wl = Worklist.from_folder(folder)
    first, second, third, fourth, fifth = wl.paths
    wl.set_status(second, "analysed")
    wl.set_status(fourth, "reviewed")
    wl.set_positives(second, ["PVC", "AF"])
    wl.set_positives(third, ["PVC"])
    wl.set_positives(fourth, ["SR"])
    assert wl.positives[second] == ("AF", "PVC")  # core.labels order

    wl.set_filter(label="PVC")
    assert wl.visible() == [second, third]
    assert wl.next() == second and wl.next() == third and wl.next() is None
    assert wl.previous() == second and wl.previous() is None and wl.current_path == second

    wl.set_filter(status="new")
    assert wl.visible() == [first, third, fifth]
    assert wl.next() == third and wl.next() == fifth

    wl.set_filter(status="new", label="PVC")
    assert wl.visible() == [third]
    wl.set_filter()
    assert wl.visible() == wl.paths
    with pytest.raises(ValueError):
        wl.set_filter(status="done")
    with pytest.raises(ValueError):
        wl.set_filter(label="STEMI")


def test_status_only_moves_forward_unless_reset(folder):
    wl = Worklist.from_folder(folder)
    p = wl.paths[0]
    assert wl.set_status(p, "reviewed") == "reviewed"
    assert wl.set_status(p, "analysed") == "reviewed"  # opening it again runs the model again
    assert wl.set_status(p, "new", reset=True) == "new"
    assert wl.counts() == {"new": 5, "analysed": 0, "annotated": 0, "reviewed": 0}
    wl.set_status(wl.paths[1], "annotated")
    assert wl.counts()["annotated"] == 1 and sum(wl.counts().values()) == len(wl.paths)
    assert tuple(wl.counts()) == STATUSES
    with pytest.raises(ValueError):
        wl.set_status(p, "finished")
    with pytest.raises(ValueError):
        wl.set_status(folder / "other.png", "analysed")


def test_status_from_saved_annotation():
    assert status_from_saved({"reviewed": True, "labels": {}}) == "reviewed"
    assert status_from_saved({"reviewed": False, "labels": {"PVC": {"status": None, "mask": "PVC.png"}}}) == "annotated"
    assert status_from_saved({"reviewed": False, "labels": {"AF": {"status": "absent", "mask": None}}}) == "annotated"
    assert status_from_saved({"reviewed": False, "labels": {"AF": {"status": None, "mask": None}}}) == "new"
    assert status_from_saved({}) == "new"
