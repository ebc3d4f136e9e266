"""The demo study: studio pages read by simulated readers who draw as people do.

It must be a study S1's loader reads, already read by every reader, with masks that overlap
the studio's exact evidence without copying it, misses and absent labels marked "not_visible",
and the same bytes for the same seed.
"""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from core.review import store
from core.study.demo import demo_page, is_missed, make_demo_study
from core.study.study import (
    is_done,
    load_reader_masks,
    load_study,
    reader_folder,
    reader_progress,
)

LABELS = ("AFL", "PVC")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    folder = tmp_path_factory.mktemp("demo")
    return make_demo_study(folder, n_images=6, seed=0)


def _size(path: Path) -> tuple[int, int]:
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    return image.shape[1], image.shape[0]


def _dice(a: np.ndarray, b: np.ndarray) -> float:
    return 2.0 * float((a & b).sum()) / float(a.sum() + b.sum())


def test_the_demo_is_a_complete_simulated_study(demo) -> None:  # type: ignore[no-untyped-def]
    study = load_study(demo.folder)
    assert study == demo
    assert study.simulated_readers  # every report of it says so in its title (tests/test_study_report.py)
    assert study.labels == LABELS and study.readers == ("sim-a", "sim-b", "sim-c")
    assert len(study.images) == 6 and all(study.image_path(name).is_file() for name in study.images)
    domains = {name.split("_")[2].split(".")[0] for name in study.images}
    assert {"clean", "photo"} <= domains and len(domains) >= 3
    assert set(study.reader_notes) == set(study.readers)
    assert all("simulated" in note for note in study.reader_notes.values())
    for label in LABELS:  # positives and negatives for every label
        values = [study.truth[name][label] for name in study.images]
        assert 0 < sum(values) < len(values)
    for reader in study.readers:  # already read: every page done, no model seen
        assert reader_progress(study, reader) == (6, 6)
        meta = store.read_meta(reader_folder(study, study.images[0], reader))
        assert meta["reviewed"] is True and meta["model_version"] is None and meta["blinded"] is True


def test_readers_mark_the_evidence_coarsely_and_sometimes_miss_it(demo) -> None:  # type: ignore[no-untyped-def]
    study = demo
    dices, misses = [], 0
    for index, name in enumerate(study.images):
        page = demo_page(index, LABELS, seed=0)
        size = _size(study.image_path(name))
        assert size == page.geometry.image_size
        for reader in study.readers:
            assert is_done(study, name, reader)
            masks, statuses, _ = load_reader_masks(study, name, reader, size)
            for label in LABELS:
                mask, status = masks[label], statuses[label]
                assert mask.shape == (size[1], size[0])
                if study.truth[name][label] == 0:
                    assert status == "not_visible" and not mask.any()
                elif status == "not_visible":
                    misses += 1
                    assert not mask.any()
                else:
                    truth = page.masks[label] > 0
                    assert status == "annotated" and mask.any()
                    assert (mask & truth).any()  # drawn over the evidence ...
                    assert not np.array_equal(mask, truth)  # ... but not traced exactly
                    dices.append(_dice(mask, truth))
    assert misses >= 1  # somebody missed a label the page carries
    assert len(dices) >= 6
    # as people draw: clearly on the evidence, clearly not the exact mask
    assert 0.3 < float(np.median(dices)) < 0.9, dices


def test_a_seed_gives_one_demo_and_another_seed_another(demo, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    again = make_demo_study(tmp_path / "again", n_images=2, seed=0)
    other = make_demo_study(tmp_path / "other", n_images=2, seed=1)
    assert again.images == demo.images[:2]
    for name in again.images:
        assert (again.folder / name).read_bytes() == (demo.folder / name).read_bytes()
        for reader in again.readers:
            a, b = reader_folder(again, name, reader), reader_folder(demo, name, reader)
            assert sorted(p.name for p in a.iterdir()) == sorted(p.name for p in b.iterdir())
            for png in a.glob("*.png"):
                assert png.read_bytes() == (b / png.name).read_bytes()
            assert json.loads((a / "annotation.json").read_text())["labels"] == \
                json.loads((b / "annotation.json").read_text())["labels"]
    assert any((other.folder / n).read_bytes() != (again.folder / n).read_bytes() for n in other.images)


def test_the_demo_refuses_a_folder_that_is_already_a_study(demo) -> None:  # type: ignore[no-untyped-def]
    before = (demo.folder / "study.json").read_bytes()
    with pytest.raises(ValueError, match="already holds a study"):
        make_demo_study(demo.folder, n_images=1)
    assert (demo.folder / "study.json").read_bytes() == before


@pytest.mark.parametrize("rate", [0.05, 0.1, 0.25, 0.5])
def test_a_reader_misses_positives_at_their_rate_whatever_the_start(rate: float) -> None:
    for start in np.linspace(0.0, 0.999, 7):
        for n in (1, 6, 40):
            missed = sum(is_missed(j, rate, float(start)) for j in range(n))
            assert missed == int(np.floor(n * rate + start))
