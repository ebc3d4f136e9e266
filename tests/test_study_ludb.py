"""The LUDB study: real records printed by the studio, read by the LUDB cardiologists' delineations.

Needs the shared data (../shared/data); skipped without it. Three records cover every status:
8 (AF), 45 (SR + PVC; no P wave delineated in II, I or aVF) and 106 (SR + PVC; no delineated
beat meets the PVC rule).
"""
from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from core.io.records import data_dir
from core.review import store
from core.study.ludb import READER, ludb_rows, make_ludb_study, mask_counts
from core.study.study import load_reader_masks, load_study, reader_folder

DATA = data_dir()
pytestmark = pytest.mark.skipif(
    not (DATA / "labels.csv").is_file() or not (DATA / "records" / "ludb").is_dir(),
    reason=f"the shared LUDB data is not at {DATA} (set ECG_AIO_DATA to its folder)",
)
RECORDS = ("8", "45", "106")


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    calls: list[tuple[int, int]] = []
    start = time.perf_counter()
    folder = tmp_path_factory.mktemp("ludb")
    study = make_ludb_study(folder, records=RECORDS, progress=lambda done, total: calls.append((done, total)))
    return study, calls, time.perf_counter() - start


def _size(path: Path) -> tuple[int, int]:
    image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    return image.shape[1], image.shape[0]


def test_the_study_holds_each_record_in_each_domain(made) -> None:  # type: ignore[no-untyped-def]
    study, calls, seconds = made
    assert load_study(study.folder) == study
    assert study.images == tuple(f"ludb_{int(r):03d}_{d}.jpg" for r in RECORDS for d in ("clean", "photo"))
    assert calls == [(i, 6) for i in range(7)]
    assert seconds < 30
    # default labels: those some record carries with delineation-derived evidence
    assert study.labels == ("SR", "AF", "PVC")
    assert study.readers == (READER,) and not study.simulated_readers
    assert "derived" in study.reader_notes[READER] and "delineations" in study.reader_notes[READER]
    assert "not drawn" in study.reader_notes[READER]
    rows = {r.record: r for r in ludb_rows()}
    for name in study.images:  # truth is labels.csv's
        record = f"ludb/{int(name.split('_')[1])}"
        assert study.truth[name] == {k: rows[record].labels[k] for k in study.labels}


def test_statuses_and_masks_follow_the_delineation(made) -> None:  # type: ignore[no-untyped-def]
    study, _, _ = made
    expected = {  # record -> label -> status
        8: {"SR": "not_visible", "AF": "annotated", "PVC": "not_visible"},
        45: {"SR": "not_assessable", "AF": "not_visible", "PVC": "annotated"},
        106: {"SR": "annotated", "AF": "not_visible", "PVC": "not_assessable"},
    }
    for name in study.images:
        size = _size(study.image_path(name))
        masks, statuses, meta = load_reader_masks(study, name, READER, size)
        assert meta["reviewed"] is True and meta["model_version"] is None
        assert statuses == expected[int(name.split("_")[1])], name
        for label, mask in masks.items():
            assert mask.shape == (size[1], size[0])
            assert mask.any() == (statuses[label] == "annotated")
            if mask.any():
                assert 0.001 < mask.mean() < 0.25  # evidence, not the page
    # on the clean printout the mask lies on the printed trace
    clean = cv2.imread(str(study.image_path("ludb_008_clean.jpg")), cv2.IMREAD_GRAYSCALE)
    masks, _, _ = load_reader_masks(study, "ludb_008_clean.jpg", READER, (clean.shape[1], clean.shape[0]))
    ink = clean < np.percentile(clean, 1)  # the darkest 1 %: the trace (and the captions)
    assert ink[masks["AF"]].mean() > 4 * ink.mean()  # measured: 7.7x denser inside the mask
    # the photo's mask moved with the photo
    photo = "ludb_008_photo.jpg"
    assert _size(study.image_path(photo)) == (clean.shape[1], clean.shape[0])  # same size, warped page
    photo_mask = load_reader_masks(study, photo, READER, _size(study.image_path(photo)))[0]["AF"]
    assert not np.array_equal(photo_mask, masks["AF"])


def test_mask_counts_and_refusals(made) -> None:  # type: ignore[no-untyped-def]
    study, _, _ = made
    counts = mask_counts(study)
    assert counts["PVC"] == {"records_positive": 2, "pages_positive": 4, "records_with_mask": 1,
                             "pages_with_mask": 2, "pages_not_assessable": 2}
    assert counts["AF"]["pages_with_mask"] == 2
    with pytest.raises(ValueError, match="already holds a study"):
        make_ludb_study(study.folder, records=RECORDS)
    with pytest.raises(ValueError, match="read-only"):
        make_ludb_study(DATA / "study", records=RECORDS)
    assert not (DATA / "study").exists()
    with pytest.raises(ValueError, match="domains"):
        make_ludb_study(study.folder / "x", domains=("clean", "fax"))
    with pytest.raises(ValueError, match="not a LUDB record"):
        make_ludb_study(study.folder / "x", records=("999",))
    assert store.read_meta(reader_folder(study, study.images[0], READER))["reader"] == READER


def test_the_same_seed_prints_the_same_pages(made, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    study, _, _ = made
    again = make_ludb_study(tmp_path / "again", domains=("photo",), records=("45",))
    other = make_ludb_study(tmp_path / "other", domains=("photo",), records=("45",), seed=1)
    name = "ludb_045_photo.jpg"
    assert again.images == other.images == (name,)
    assert (again.folder / name).read_bytes() == (study.folder / name).read_bytes()
    assert (other.folder / name).read_bytes() != (study.folder / name).read_bytes()
    assert again.labels == ("PVC",)  # record 45's SR has no derivable evidence
