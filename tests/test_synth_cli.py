"""`ecg-aio synth` and the in-memory page stream: files, sidecars, reproducibility."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from app.cli import main
from core.io import data_dir
from core.labels import LABELS, LEADS
from core.page import Geometry
from core.synth.pages import SynthOptions, make_page


def test_synth_writes_pages_with_complete_sidecars(tmp_path: Path) -> None:
    out = tmp_path / "pages"
    assert main(["synth", "--out", str(out), "-n", "3", "--seed", "4", "--labels", "PVC",
                 "--domain", "photo", "--size", "896x448"]) == 0
    sidecars = sorted(out.glob("*.json"))
    assert len(sidecars) == 3
    for path in sidecars:
        meta = json.loads(path.read_text())
        assert meta["schema"] == "ecg-aio/synth@1" and meta["domain"] == "photo"
        assert set(meta["labels"]) == set(LABELS) and meta["labels"]["PVC"] == 1
        for key in ("id", "seed", "source", "layout", "dpi", "paper", "geometry", "signals", "evidence", "masks"):
            assert key in meta, key
        image = cv2.imread(str(out / meta["image"]))
        assert image.shape[:2] == (448, 896) and meta["image"].endswith(".jpg")
        geometry = Geometry.from_json(meta["geometry"])
        assert geometry.image_size == (896, 448)
        signals = np.load(out / meta["signals"]["file"])
        assert signals.shape == (5000, len(LEADS)) and meta["signals"]["leads"] == list(LEADS)
        assert "PVC" in meta["evidence"]
        for label, mask_file in meta["masks"].items():
            mask = cv2.imread(str(out / mask_file), cv2.IMREAD_GRAYSCALE)
            assert mask.shape == (448, 896) and set(np.unique(mask)) <= {0, 255}
    assert not list(out.glob("*.tmp"))


def test_pages_are_reproducible_by_seed_and_index() -> None:
    options = SynthOptions(n=4, seed=9, size=(448, 224), source="sim")
    a, b = make_page(options, 2), make_page(options, 2)
    assert np.array_equal(a.image, b.image) and a.sample.labels == b.sample.labels
    assert np.array_equal(a.sample.signals, b.sample.signals)
    assert not np.array_equal(a.image, make_page(options, 3).image)


@pytest.mark.skipif(not (data_dir() / "labels.csv").exists(), reason="shared data folder not present")
def test_records_source_never_mixes_splits() -> None:
    from core.io import read_labels
    from core.synth.pages import in_split

    rows = read_labels()
    fit = {r.record for r in rows if in_split(r.split, r.record, "fit")}
    val = {r.record for r in rows if in_split(r.split, r.record, "val")}
    evals = {r.record for r in rows if r.split == "eval"}
    assert fit and val and not (fit & val) and not ((fit | val) & evals)
    assert len(fit | val) == sum(r.split == "train" for r in rows)
    page = make_page(SynthOptions(n=1, seed=0, source="records", split="eval", size=(448, 224)), 0)
    assert page.sample.source["record"] in evals


@pytest.mark.parametrize("argv, words", [
    (["-n", "0"], "at least 1"),
    (["-n", "1", "--labels", "STEMI"], "STEMI"),
    (["-n", "1", "--size", "big"], "size"),
])
def test_synth_bad_options_are_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                             argv: list[str], words: str) -> None:
    assert main(["synth", "--out", str(tmp_path / "o"), *argv]) == 2
    assert words in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_synth_prints_other_machines_styles_on_request(tmp_path: Path) -> None:
    out = tmp_path / "world"
    assert main(["synth", "--out", str(out), "-n", "2", "--seed", "4", "--domain", "clean", "--dpi", "60",
                 "--styles", "world"]) == 0
    papers = [json.loads(p.read_text())["paper"] for p in sorted(out.glob("*.json"))]
    assert len(papers) == 2 and all("grid_style" in p and "header_style" in p for p in papers)
    studio = tmp_path / "studio"
    assert main(["synth", "--out", str(studio), "-n", "1", "--seed", "4", "--domain", "clean", "--dpi", "60"]) == 0
    assert "grid_style" not in json.loads(next(studio.glob("*.json")).read_text())["paper"]
