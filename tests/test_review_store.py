"""The per-reader annotation store (core.review.store): beside the image, atomic, reader-owned."""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from core.labels import LABELS
from core.review import store
from core.review.annotations import Annotations

SIZE = (320, 200)  # W, H


@pytest.fixture
def image(tmp_path: Path) -> Path:
    path = tmp_path / "ecgs" / "patient 7.png"
    path.parent.mkdir()
    cv2.imwrite(str(path), np.full((SIZE[1], SIZE[0], 3), 230, np.uint8))
    return path


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _drawn() -> Annotations:
    ann = Annotations(SIZE)
    ann.begin_stroke("AF", 5)
    ann.extend_stroke([(20, 50), (200, 60), (310, 20)])
    ann.end_stroke()
    ann.lasso("PVC", [(100, 100), (180, 110), (140, 190)])
    ann.set_status("LBBB", "not_visible")
    ann.set_status("SR", "not_assessable")
    return ann


def _save(folder: Path, ann: Annotations, image: Path, **kw) -> Path:
    args = dict(reader="Dr. Ana Müller", image_name=image.name, image_sha256=_sha(image), page=1,
                model_version="ecg-aio 1.0", reviewed=False, blinded=True)
    return store.save(folder, ann, **{**args, **kw})


def test_round_trip_keeps_masks_statuses_flags_and_created(image: Path) -> None:
    folder = store.annotation_folder(image, "Dr. Ana Müller")
    assert folder == image.parent / "patient 7.png.ecg-aio" / "readers" / "Dr._Ana_Müller"
    ann = _drawn()
    path = _save(folder, ann, image)
    assert sorted(p.name for p in folder.iterdir()) == ["AF.png", "PVC.png", "annotation.json"]
    png = cv2.imread(str(folder / "AF.png"), cv2.IMREAD_UNCHANGED)
    assert png.shape == (200, 320) and set(np.unique(png)) == {0, 255}

    meta = json.loads(path.read_text())
    meta["created"] = "2020-01-01T00:00:00.000Z"  # as if first saved long ago
    path.write_text(json.dumps(meta))
    _save(folder, ann, image, reviewed=True)

    loaded, meta = store.load(folder, SIZE)
    for label in LABELS:
        assert np.array_equal(loaded.mask(label), ann.mask(label)), label
        assert loaded.status_of(label) == ann.status_of(label), label
    assert loaded.status_of("AF") == "annotated" and loaded.status_of("LBBB") == "not_visible"
    assert meta["schema"] == "ecg-aio/annotation@1" and meta["reader"] == "Dr. Ana Müller"
    assert meta["image"] == {"name": "patient 7.png", "sha256": _sha(image), "page": 1}
    assert meta["reviewed"] is True and meta["blinded"] is True
    assert meta["model_version"] == "ecg-aio 1.0"
    assert meta["created"] == "2020-01-01T00:00:00.000Z" and meta["modified"] > "2024"
    assert meta["labels"]["AF"] == {"status": "annotated", "mask": "AF.png"}
    assert meta["labels"]["SR"] == {"status": "not_assessable", "mask": None}
    assert not loaded.history.can_undo  # a loaded drawing is the starting point, not an edit


def test_save_rewrites_only_changed_masks_and_removes_emptied_ones(image: Path) -> None:
    folder = store.annotation_folder(image, "reader1")
    ann = _drawn()
    _save(folder, ann, image)
    af_inode = (folder / "AF.png").stat().st_ino
    ann.clear("PVC")
    ann.rectangle("RBBB", (10, 10), (40, 40))
    _save(folder, ann, image)
    assert (folder / "AF.png").stat().st_ino == af_inode  # unchanged: not re-encoded
    assert not (folder / "PVC.png").exists() and (folder / "RBBB.png").exists()
    assert json.loads((folder / "annotation.json").read_text())["labels"]["PVC"]["mask"] is None
    assert not [p for p in folder.iterdir() if p.name.endswith(".tmp")]
    ann.rectangle("AF", (0, 0), (5, 5))
    _save(folder, ann, image)
    assert (folder / "AF.png").stat().st_ino != af_inode
    loaded, _ = store.load(folder, SIZE)
    assert np.array_equal(loaded.mask("AF"), ann.mask("AF"))


def test_saving_never_touches_the_source_image(image: Path) -> None:
    before = image.read_bytes()
    _save(store.annotation_folder(image, "r"), _drawn(), image)
    assert image.read_bytes() == before
    assert sorted(p.name for p in image.parent.iterdir()) == ["patient 7.png", "patient 7.png.ecg-aio"]


def test_is_writable_detects_a_read_only_folder(tmp_path: Path) -> None:
    ro = tmp_path / "readonly"
    ro.mkdir()
    os.chmod(ro, 0o555)
    try:
        try:
            (ro / "probe").write_bytes(b"")
            pytest.skip("running as a user chmod does not stop (root)")
        except PermissionError:
            pass
        assert not store.is_writable(ro / "x.png.ecg-aio" / "readers" / "r")
        assert not store.is_writable(ro)
    finally:
        os.chmod(ro, 0o755)


def test_is_writable_tries_and_leaves_nothing_behind(tmp_path: Path) -> None:
    (tmp_path / "a file").write_bytes(b"")
    assert not store.is_writable(tmp_path / "a file" / "sub")  # a parent that is not a folder
    assert store.is_writable(tmp_path / "new" / "deep" / "er")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a file"]


def test_fallback_base_comes_from_the_environment_and_is_found(image: Path, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ECG_AIO_ANNOTATIONS", str(tmp_path / "fallback"))
    assert store.fallback_base() == tmp_path / "fallback"
    folder = store.annotation_folder(image, "r", base=store.fallback_base())
    assert folder == tmp_path / "fallback" / "patient 7.png.ecg-aio" / "readers" / "r"
    assert store.find_folder(image, "r", 1, _sha(image)) is None
    _save(folder, _drawn(), image)
    assert store.find_folder(image, "r", 1, _sha(image)) == folder
    monkeypatch.delenv("ECG_AIO_ANNOTATIONS")
    assert store.fallback_base().name == "annotations"


def test_a_same_named_other_image_does_not_get_these_strokes(image: Path, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ECG_AIO_ANNOTATIONS", str(tmp_path / "fallback"))
    _save(store.annotation_folder(image, "r"), _drawn(), image)
    assert store.find_folder(image, "r", 1, _sha(image)) == store.annotation_folder(image, "r")
    assert store.find_folder(image, "r", 1, "0" * 64) is None
    assert store.find_folder(image, "someone else", 1, _sha(image)) is None
    fallback = store.annotation_folder(image, "r", base=store.fallback_base())
    _save(fallback, _drawn(), image)
    with pytest.raises(FileExistsError, match="another image named 'patient 7.png'"):
        _save(fallback, Annotations(SIZE), image, image_sha256="0" * 64)  # same name, other image
    assert store.load(fallback, SIZE)[0].labels_drawn() == ["AF", "PVC"]  # not overwritten


def test_corrupt_files_give_one_sentence_naming_the_file(image: Path) -> None:
    folder = store.annotation_folder(image, "r")
    _save(folder, _drawn(), image)
    (folder / "AF.png").write_bytes(b"\x89PNG truncated")
    with pytest.raises(ValueError, match=r"AF\.png is not a readable PNG"):
        store.load(folder, SIZE)
    with pytest.raises(ValueError, match=r"AF\.png is 320 x 200 px but the image is 640 x 400"):
        _save(folder, _drawn(), image)
        store.load(folder, (640, 400))
    (folder / "annotation.json").write_text('{"schema": "ecg-aio/annotation@1", "labels": {')
    with pytest.raises(ValueError, match=r"annotation\.json is not a readable annotation file"):
        store.load(folder, SIZE)
    with pytest.raises(ValueError, match=r"annotation\.json"):
        store.find_folder(image, "r", 1, _sha(image))


def test_missing_folder_loads_empty(tmp_path: Path) -> None:
    ann, meta = store.load(tmp_path / "nothing here", SIZE)
    assert meta == {} and ann.labels_drawn() == [] and ann.size_px == SIZE


def test_reader_names_pages_and_listing(image: Path) -> None:
    assert store.safe_reader_name("  Dr. O'Brien / EP lab ") == "Dr._O_Brien_EP_lab"
    for bad in ("", "   ", "../..", "///"):
        with pytest.raises(ValueError, match="reader name"):
            store.safe_reader_name(bad)
    assert store.annotation_folder(image, "r", page=3).parts[-4:] == ("patient 7.png.ecg-aio", "page3", "readers", "r")
    assert store.readers_of(image) == []
    _save(store.annotation_folder(image, "Dr. Ana Müller"), _drawn(), image)
    _save(store.annotation_folder(image, "bob"), _drawn(), image, reader="bob")
    _save(store.annotation_folder(image, "bob", page=2), _drawn(), image, reader="bob", page=2)
    assert store.readers_of(image) == ["Dr. Ana Müller", "bob"]
    assert store.readers_of(image, page=2) == ["bob"]
