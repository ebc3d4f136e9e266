"""Reader studies (core.study.study): the study file, each reader's order and progress, and the
time spent per image in core.review.store."""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from core.review import store
from core.review.annotations import Annotations
from core.study.study import (SCHEMA, STUDY_FILE, Study, init_study, is_done, is_study, load_reader_masks,
                              load_study, reader_folder, reader_order, reader_progress, save_study)

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = sorted((ROOT / "resources" / "samples").glob("*.jpg"))


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A folder of ECG images: the bundled samples and a few small pages."""
    out = tmp_path / "ward"
    out.mkdir()
    for path in SAMPLES:
        shutil.copy(path, out / path.name)
    for i in (2, 10, 1):
        cv2.imwrite(str(out / f"ecg{i}.png"), np.full((60, 80, 3), 200 + i, np.uint8))
    (out / "notes.txt").write_text("not an image")
    return out


def _write(folder: Path, d: dict) -> None:
    (folder / STUDY_FILE).write_text(json.dumps(d))


def test_init_writes_a_study_that_loads_back_equal(folder: Path) -> None:
    study = init_study(folder, ["pvc", "AFL"], ["Dr. Ana Müller", "b"], seed=7, name="ward round",
                       reader_notes={"b": "second reader"}, truth={"ecg1.png": {"AFL": 1, "PVC": None}})
    assert is_study(folder) and study.path == folder / STUDY_FILE
    assert study.labels == ("AFL", "PVC")  # core.labels order, whatever order they were given in
    assert study.images == ("ecg1.png", "ecg2.png", "ecg10.png", "sample_photo.jpg", "sample_scan.jpg")
    assert study.blinded is True and study.simulated_readers is False
    d = json.loads((folder / STUDY_FILE).read_text())
    assert d["schema"] == SCHEMA == "ecg-aio/study@1" and d["readers"] == ["Dr. Ana Müller", "b"]
    assert d["truth"] == {"ecg1.png": {"AFL": 1, "PVC": None}}
    assert load_study(folder) == study
    assert load_study(folder / STUDY_FILE) == study
    assert study.image_path("ecg2.png") == folder / "ecg2.png"
    with pytest.raises(ValueError, match="not an image of the study"):
        study.image_path("notes.txt")


def test_save_study_round_trips_every_field_and_writes_no_temp_file(folder: Path) -> None:
    study = Study(folder=folder, name="s", labels=("SR", "LBBB"), readers=("LUDB cardiologists",),
                  blinded=False, seed=3, images=("sample_scan.jpg", "ecg1.png"), simulated_readers=True,
                  reader_notes={"LUDB cardiologists": "masks derived from the wave delineations"},
                  truth={"ecg1.png": {"SR": 1, "AF": 0, "LBBB": None}})
    assert save_study(study) == folder / STUDY_FILE
    assert load_study(folder) == study
    assert [p.name for p in folder.iterdir() if p.name.startswith(".")] == []
    bad = Study(folder=folder, name="s", labels=("XYZ",), readers=("a",), blinded=True, seed=0,
                images=("ecg1.png",))
    with pytest.raises(ValueError, match="unknown label"):
        save_study(bad)
    assert load_study(folder) == study  # the refused study did not replace the good one


def test_init_refuses_with_one_sentence(folder: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "readme.txt").write_text("x")
    cases = [
        (dict(folder=empty, labels=["AFL"], readers=["a"]), "has no ECG images"),
        (dict(folder=tmp_path / "nowhere", labels=["AFL"], readers=["a"]), "is not a folder"),
        (dict(folder=folder, labels=["AFL", "XYZ"], readers=["a"]), "unknown label"),
        (dict(folder=folder, labels=[], readers=["a"]), "at least one label"),
        (dict(folder=folder, labels=["AFL"], readers=["a", "b", "a"]), "share one folder"),
        (dict(folder=folder, labels=["AFL"], readers=["Dr. A", "Dr._A"]), "share one folder"),
        (dict(folder=folder, labels=["AFL"], readers=["ann", "ANN"]), "share one folder"),
        (dict(folder=folder, labels=["AFL"], readers=["..."]), "no letters or digits"),
        (dict(folder=folder, labels=["AFL"], readers=[]), "names no readers"),
        (dict(folder=folder, labels=["AFL"], readers=["a"], images=["missing.png"]), "not in"),
        (dict(folder=folder, labels=["AFL"], readers=["a"], truth={"x.png": {"AFL": 1}}), "not a study image"),
    ]
    for kwargs, message in cases:
        with pytest.raises(ValueError, match=message) as info:
            init_study(**kwargs)
        text = re.sub(r"'[^']*'", "'…'", str(info.value))  # quoted names may hold full stops
        assert text.endswith(".") and ". " not in text and "\n" not in text, text  # one sentence
    assert not is_study(folder) and not is_study(empty)

    init_study(folder, ["AFL"], ["a"])
    with pytest.raises(ValueError, match="already a study"):
        init_study(folder, ["PVC"], ["b"])
    assert load_study(folder).readers == ("a",)
    assert init_study(folder, ["PVC"], ["b"], overwrite=True).readers == ("b",)
    assert load_study(folder).labels == ("PVC",)


def test_load_refuses_bad_study_files_naming_the_file(folder: Path) -> None:
    good = init_study(folder, ["AFL"], ["a", "b"]).to_json()
    with pytest.raises(ValueError, match="is not a study"):
        load_study(folder.parent)
    cases = [
        ({**good, "schema": "ecg-aio/study@2"}, "is not an ecg-aio/study@1 file"),
        ({**good, "labels": ["AFL", "QT"]}, "unknown label"),
        ({**good, "labels": ["AFL", "AFL"]}, "names a label twice"),
        ({**good, "readers": ["a", "b", "a"]}, "share one folder"),
        ({**good, "images": [*good["images"], "gone.png"]}, "'gone.png', which is not in"),
        ({**good, "images": ["../ecg1.png"]}, "not a file name"),
        ({**good, "images": ["ecg1.png", "ecg1.png"]}, "lists an image twice"),
        ({**good, "blinded": "yes"}, "not true or false"),
        ({**good, "seed": -1}, "whole number"),
        ({**good, "seed": 1.5}, "whole number"),
        ({**good, "blinding": True}, "keys this version does not know: blinding"),
        ({k: v for k, v in good.items() if k != "readers"}, "lacks readers"),
        ({**good, "reader_notes": {"c": "who?"}}, "readers not in the study: c"),
        ({**good, "truth": {"ecg1.png": {"AFL": 2}}}, "not label -> 1, 0 or null"),
    ]
    for d, message in cases:
        _write(folder, d)
        with pytest.raises(ValueError, match=message) as info:
            load_study(folder)
        assert str(folder / STUDY_FILE) in str(info.value), info.value
    (folder / STUDY_FILE).write_text("{not json")
    with pytest.raises(ValueError, match="not readable JSON"):
        load_study(folder)


def test_reader_orders_are_distinct_permutations_stable_across_calls(folder: Path) -> None:
    for i in range(20):
        cv2.imwrite(str(folder / f"extra{i}.png"), np.zeros((8, 8), np.uint8))
    study = init_study(folder, ["AFL"], ["a", "b", "c"], seed=0)
    orders = {reader: reader_order(study, reader) for reader in study.readers}
    for order in orders.values():
        assert sorted(order) == sorted(study.images) and len(order) == len(study.images) == 25
        assert order != list(study.images)
    assert len({tuple(o) for o in orders.values()}) == 3
    assert all(reader_order(study, r) == orders[r] for r in study.readers)
    reseeded = init_study(folder, ["AFL"], ["a", "b", "c"], seed=1, overwrite=True)
    assert reader_order(reseeded, "a") != orders["a"]
    with pytest.raises(ValueError, match="is not a reader of the study"):
        reader_order(study, "d")


def test_reader_order_is_the_same_in_a_fresh_python_process(folder: Path) -> None:
    """String hash() is salted per process; an order built on it would differ here."""
    study = init_study(folder, ["AFL"], ["a", "Dr. Ana Müller"], seed=11)
    code = ("import json, sys; from core.study.study import load_study, reader_order; "
            "s = load_study(sys.argv[1]); print(json.dumps({r: reader_order(s, r) for r in s.readers}))")
    out = subprocess.run([sys.executable, "-c", code, str(folder)], cwd=ROOT, capture_output=True,
                         text=True, check=True, env={**os.environ, "PYTHONHASHSEED": "12345"})
    assert json.loads(out.stdout) == {r: reader_order(study, r) for r in study.readers}
    # and the same as it was when this test was written (any machine, any NumPy)
    assert reader_order(study, "a") == ["ecg1.png", "sample_scan.jpg", "ecg2.png", "ecg10.png",
                                        "sample_photo.jpg"]


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _save(study: Study, image: str, reader: str, ann: Annotations, **kw) -> Path:
    args = dict(reader=reader, image_name=image, image_sha256=_sha(study.image_path(image)), page=1,
                model_version=None, reviewed=False, blinded=study.blinded)
    return store.save(reader_folder(study, image, reader), ann, **{**args, **kw})


def test_progress_counts_the_images_each_reader_marked_done(folder: Path) -> None:
    study = init_study(folder, ["AFL", "PVC"], ["a", "b"])
    size = (80, 60)
    assert reader_progress(study, "a") == (0, 5) == reader_progress(study, "b")
    ann = Annotations(size)
    ann.rectangle("AFL", (10, 10), (30, 20))
    _save(study, "ecg1.png", "a", ann, reviewed=True)
    _save(study, "ecg2.png", "a", Annotations(size), reviewed=False)  # saved, not yet done
    _save(study, "ecg10.png", "b", Annotations(size), reviewed=True)
    assert reader_progress(study, "a") == (1, 5) and reader_progress(study, "b") == (1, 5)
    assert is_done(study, "ecg1.png", "a") and not is_done(study, "ecg2.png", "a")
    assert not is_done(study, "ecg1.png", "b")
    assert reader_folder(study, "ecg1.png", "a") == folder / "ecg1.png.ecg-aio" / "readers" / "a"
    _save(study, "ecg2.png", "a", Annotations(size), reviewed=True)
    assert reader_progress(study, "a") == (2, 5)


def test_load_reader_masks_gives_the_study_labels_only(folder: Path) -> None:
    study = init_study(folder, ["AFL", "PVC"], ["a"])
    size = (80, 60)
    masks, statuses, meta = load_reader_masks(study, "ecg1.png", "a", size)
    assert meta == {} and statuses == {"AFL": None, "PVC": None}
    assert all(m.dtype == bool and m.shape == (60, 80) and not m.any() for m in masks.values())
    ann = Annotations(size)
    ann.rectangle("AFL", (10, 10), (29, 19))
    ann.rectangle("SR", (0, 0), (5, 5))  # drawn, but not a study label
    ann.set_status("PVC", "not_visible")
    _save(study, "ecg1.png", "a", ann, reviewed=True)
    masks, statuses, meta = load_reader_masks(study, "ecg1.png", "a", size)
    assert set(masks) == {"AFL", "PVC"} and masks["AFL"].sum() == 20 * 10 and not masks["PVC"].any()
    assert statuses == {"AFL": "annotated", "PVC": "not_visible"} and meta["reviewed"] is True
    with pytest.raises(ValueError, match="but the image is"):
        load_reader_masks(study, "ecg1.png", "a", (81, 60))


def test_save_records_seconds_spent_and_keeps_it_when_not_given(folder: Path) -> None:
    study = init_study(folder, ["AFL"], ["a"])
    ann = Annotations((80, 60))
    path = _save(study, "ecg1.png", "a", ann)
    assert "seconds_spent" not in json.loads(path.read_text())  # nothing measured, nothing written
    _save(study, "ecg1.png", "a", ann, seconds_spent=12.34567)
    assert json.loads(path.read_text())["seconds_spent"] == 12.346
    _save(study, "ecg1.png", "a", ann, reviewed=True)  # a save that measured nothing keeps the total
    meta = json.loads(path.read_text())
    assert meta["seconds_spent"] == 12.346 and meta["reviewed"] is True
    _save(study, "ecg1.png", "a", ann, seconds_spent=40.0)
    assert load_reader_masks(study, "ecg1.png", "a", (80, 60))[2]["seconds_spent"] == 40.0
    for bad in (-1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="seconds"):
            _save(study, "ecg1.png", "a", ann, seconds_spent=bad)
    assert json.loads(path.read_text())["seconds_spent"] == 40.0
