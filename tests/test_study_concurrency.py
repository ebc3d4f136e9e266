"""Two readers save into ONE shared study folder at the same time, over and over, while a third
process reads their files back: nothing is lost, torn or written into the other's folder.

The processes are real (multiprocessing, "spawn": nothing shared but the disk), as on a shared
network folder where two physicians read the same study. The reader loop asserts that every
annotation.json it meets parses and every mask decodes at the image size; the last test runs the
same harness with a writer that is NOT atomic (truncate, write half, pause, write the rest) and
checks that the loop catches it, so the first test is known to be able to fail. (Without the
pause, a plain open/write is caught too: 22-86 torn reads per run on a 2-core development machine; the
pause makes the check certain rather than likely.)
"""
from __future__ import annotations

import hashlib
import json
import multiprocessing as mp
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from core.review import store
from core.review.annotations import Annotations
from core.study.study import init_study, load_reader_masks, load_study, reader_folder, reader_progress

SIZE = (640, 400)  # W, H of the study images
LABELS = ("AFL", "PVC")
IMAGES = ("ecg1.png", "ecg2.png", "ecg3.png")
READERS = ("Dr. Ana Müller", "Dr. Ben Okafor")
ROUNDS = 40  # saves per reader per image


def _rng(reader: str, image: str, round_: int) -> np.random.Generator:
    seed = int.from_bytes(hashlib.sha256(f"{reader}|{image}|{round_}".encode()).digest()[:8], "big")
    return np.random.default_rng(seed)


def _pattern(reader: str, image: str, round_: int) -> Annotations:
    """The Annotations a reader holds after drawing round ``round_`` on an image."""
    ann = Annotations(SIZE)
    _draw(ann, _rng(reader, image, round_))
    return ann


def _draw(ann: Annotations, rng: np.random.Generator) -> None:
    """Redraw every study label (so no mask file is ever removed), at places that differ per
    reader, image and round: a rectangle, a brush stroke and a lasso."""
    w, h = SIZE
    for label in LABELS:
        ann.clear(label)
        x, y = rng.integers(0, w - 60), rng.integers(0, h - 40)
        ann.rectangle(label, (x, y), (x + rng.integers(5, 60), y + rng.integers(5, 40)))
        ann.begin_stroke(label, float(rng.uniform(2, 8)))
        ann.extend_stroke([tuple(p) for p in rng.uniform((0, 0), SIZE, size=(6, 2))])
        ann.end_stroke()
        ann.lasso(label, [tuple(p) for p in rng.uniform((0, 0), SIZE, size=(5, 2))])
        ann.set_status(label, "annotated")


def _torn_write_bytes(path: str | Path, data: bytes) -> Path:
    """A NOT atomic writer (the bug the real one guards against): truncate in place, write
    half, pause as a slow disk or network share would, write the rest."""
    path = Path(path)
    with open(path, "wb") as handle:
        handle.write(data[: len(data) // 2])
        handle.flush()
        time.sleep(0.002)
        handle.write(data[len(data) // 2:])
    return path


def _writer(study_folder: str, reader: str, start, atomic: bool) -> None:
    """One reader: ROUNDS rounds, each redrawing every image and saving it, as the window's
    autosave does (one Annotations per image, edited then saved)."""
    if not atomic:
        def torn_json(path: str | Path, obj: Any) -> Path:
            return _torn_write_bytes(path, (json.dumps(obj, indent=2, ensure_ascii=False) + "\n").encode())
        store.write_bytes, store.write_json = _torn_write_bytes, torn_json
    study = load_study(study_folder)
    sha = {image: hashlib.sha256(study.image_path(image).read_bytes()).hexdigest() for image in IMAGES}
    held = {image: _pattern(reader, image, 0) for image in IMAGES}
    start.wait(60)
    for round_ in range(ROUNDS):
        for image in IMAGES:
            _draw(held[image], _rng(reader, image, round_))  # the drawing of _pattern(reader, image, round_)
            store.save(reader_folder(study, image, reader), held[image], reader=reader, image_name=image,
                       image_sha256=sha[image], page=1, model_version=None, reviewed=round_ == ROUNDS - 1,
                       blinded=True, seconds_spent=float(round_))


def _reader(study_folder: str, start, stop, results) -> None:
    """The third process: read every reader's files back, again and again, until told to stop.
    Reports (passes, jsons read, masks decoded, problems)."""
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)  # a torn PNG is reported below
    study = load_study(study_folder)
    sha = {image: hashlib.sha256(study.image_path(image).read_bytes()).hexdigest() for image in IMAGES}
    folders = {(image, reader): reader_folder(study, image, reader) for image in IMAGES for reader in READERS}
    passes = jsons = masks = 0
    problems: list[str] = []
    start.wait(60)
    while True:
        last = stop.is_set()  # one full pass after the writers finished
        for (image, reader), folder in folders.items():
            try:
                raw = (folder / "annotation.json").read_bytes()
            except FileNotFoundError:
                continue  # not saved yet
            try:
                meta = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                problems.append(f"{folder.name}/{image}: annotation.json does not parse ({exc}; {len(raw)} bytes)")
                continue
            jsons += 1
            if meta.get("reader") != reader or meta.get("image", {}).get("sha256") != sha[image]:
                problems.append(f"{folder}: annotation.json names {meta.get('reader')!r} / another image")
            for label in LABELS:
                name = (meta.get("labels", {}).get(label) or {}).get("mask")
                if name != f"{label}.png":
                    problems.append(f"{folder}: annotation.json gives {label} the mask {name!r}")
                    continue
                try:
                    data = np.frombuffer((folder / name).read_bytes(), np.uint8)
                except FileNotFoundError:
                    problems.append(f"{folder}/{name} is missing though annotation.json names it")
                    continue
                mask = cv2.imdecode(data, cv2.IMREAD_GRAYSCALE) if data.size else None
                if mask is None or mask.shape != SIZE[::-1]:
                    problems.append(f"{folder}/{name} does not decode at {SIZE} ({data.size} bytes)")
                    continue
                masks += 1
        passes += 1
        if last:
            break
    results.put((passes, jsons, masks, problems))


def _run(tmp_path: Path, atomic: bool) -> tuple[Any, Path]:
    folder = tmp_path / "shared study"
    folder.mkdir()
    for i, image in enumerate(IMAGES):
        cv2.imwrite(str(folder / image), np.full((SIZE[1], SIZE[0], 3), 220 - 10 * i, np.uint8))
    init_study(folder, LABELS, READERS)
    ctx = mp.get_context("spawn")
    start, stop, results = ctx.Barrier(3), ctx.Event(), ctx.Queue()
    writers = [ctx.Process(target=_writer, args=(str(folder), reader, start, atomic)) for reader in READERS]
    reader = ctx.Process(target=_reader, args=(str(folder), start, stop, results))
    for process in (*writers, reader):
        process.start()
    try:
        for process in writers:
            process.join(60)
            assert process.exitcode == 0, f"a writer failed (exit code {process.exitcode})"
        stop.set()
        outcome = results.get(timeout=60)
        reader.join(10)
    finally:
        for process in (*writers, reader):
            if process.is_alive():
                process.kill()
    return outcome, folder


def test_two_readers_saving_into_one_study_at_once_lose_and_corrupt_nothing(tmp_path: Path) -> None:
    (passes, jsons, masks, problems), folder = _run(tmp_path, atomic=True)
    assert problems == []
    assert passes >= 3 and jsons > 0 and masks > 0, (passes, jsons, masks)  # it did read while they wrote

    study = load_study(folder)
    for reader in READERS:
        assert reader_progress(study, reader) == (len(IMAGES), len(IMAGES))
        for image in IMAGES:
            expected = _pattern(reader, image, ROUNDS - 1)
            got, statuses, meta = load_reader_masks(study, image, reader, SIZE)
            for label in LABELS:
                assert np.array_equal(got[label], expected.mask(label).astype(bool)), (reader, image, label)
            assert statuses == dict.fromkeys(LABELS, "annotated")
            assert meta["reader"] == reader and meta["image"]["name"] == image
            assert meta["image"]["sha256"] == hashlib.sha256((folder / image).read_bytes()).hexdigest()
            assert meta["seconds_spent"] == ROUNDS - 1 and meta["reviewed"] is True
            own = reader_folder(study, image, reader)  # its json names this reader (above), and
            assert sorted(p.name for p in own.iterdir()) == ["AFL.png", "PVC.png", "annotation.json"]
    for image in IMAGES:
        readers_dir = folder / f"{image}.ecg-aio" / "readers"
        assert sorted(p.name for p in readers_dir.iterdir()) == sorted(store.safe_reader_name(r) for r in READERS)
        assert sorted(store.readers_of(folder / image)) == sorted(READERS)
    leftovers = [str(p) for p in folder.rglob("*") if p.name.startswith(".") or p.suffix == ".tmp"]
    assert leftovers == []


def test_the_reader_loop_catches_a_writer_that_is_not_atomic(tmp_path: Path) -> None:
    """The harness above can fail: with files written in place, the loop sees torn ones."""
    (passes, _, _, problems), _ = _run(tmp_path, atomic=False)
    assert passes >= 3
    assert any("does not parse" in p or "does not decode" in p for p in problems), problems[:3]
