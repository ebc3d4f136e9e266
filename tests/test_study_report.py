"""A study's agreement table and report (core.study.report, core.study.model).

The study is small and known: two studio pages carrying AFL and PVC, reader "a" drawing the
studio's exact evidence masks, "b" drawing exactly what "a" drew, "c" drawing them shifted and
widened and calling AFL "not visible" on the second page. The shipped network runs on it once
(~2 s a page); every test reads the one table it makes.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from core import compare as C
from core.atomic import write_png
from core.explain import Cancelled
from core.review import store
from core.review.annotations import Annotations
from core.outputs import RESULT_NAME, SALIENCY_NAME
from core.study.model import (
    model_folder,
    model_outputs,
    model_progress,
)
from core.study.report import (
    ALL_READERS,
    METRICS,
    READER_PAIRS,
    StudyTable,
    consensus_mask,
    fleiss_kappa_counts,
    fleiss_kappa_masks,
    report_markdown,
    study_table,
    summarise,
    title,
    write_report,
)
from core.study.study import Study, init_study
from core.synth.pages import SynthOptions, make_page

LABELS = ("AFL", "PVC")
READERS = ("a", "b", "c")


def _shifted(mask: np.ndarray, dx: int, grow_px: int) -> np.ndarray:
    """A reader's careless copy of a mask: widened by grow_px and moved dx px to the right."""
    grown = cv2.dilate(mask.astype(np.uint8), np.ones((2 * grow_px + 1,) * 2, np.uint8))
    return np.roll(grown, dx, axis=1) > 0


def _save(path: Path, reader: str, masks: dict[str, np.ndarray | None]) -> None:
    h, w = next(m for m in masks.values() if m is not None).shape
    ann = Annotations((w, h))
    for label, mask in masks.items():
        if mask is None:
            ann.set_status(label, "not_visible")
        else:
            ann.set_mask(label, mask.astype(np.uint8))
            ann.set_status(label, "annotated")
    store.save(store.annotation_folder(path, reader), ann, reader=reader, image_name=path.name,
               image_sha256=hashlib.sha256(path.read_bytes()).hexdigest(), page=1, model_version=None,
               reviewed=True, blinded=True, seconds_spent=30.0 + len(reader))


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> tuple[Study, StudyTable, list[tuple[int, int]], float]:
    folder = tmp_path_factory.mktemp("study")
    options = SynthOptions(n=2, seed=3, labels="AFL,PVC", domain="clean", dpi=100)
    truth = {}
    for i in range(2):
        page = make_page(options, i)
        path = folder / f"page{i + 1}.png"
        write_png(path, page.image)
        exact = {label: page.masks[label] > 0 for label in LABELS}
        _save(path, "a", exact)
        _save(path, "b", exact)
        careless = {label: _shifted(m, 12, 4) for label, m in exact.items()}
        if i == 1:
            careless["AFL"] = None  # "c" says AFL is not visible on the second page
        _save(path, "c", careless)
        truth[path.name] = {label: page.sample.labels[label] for label in LABELS}
    study = init_study(folder, LABELS, READERS, simulated_readers=True, truth=truth,
                       reader_notes={"a": "masks derived from the studio's exact evidence masks"})
    calls: list[tuple[int, int]] = []
    t0 = time.perf_counter()
    table = study_table(study, device="cpu", n_boot=500, progress=lambda done, total: calls.append((done, total)))
    return study, table, calls, time.perf_counter() - t0


def _rows(table: StudyTable, image: str, label: str) -> dict[str, dict]:
    return {r["comparison"]: r for r in table.rows if r["image"] == image and r["label"] == label}


def test_the_table_has_every_comparison_of_every_image_and_label(made) -> None:  # type: ignore[no-untyped-def]
    study, table, calls, _ = made
    everyone = {"model vs a", "model vs b", "model vs c", "model vs consensus", "a vs b", "a vs c", "b vs c",
                ALL_READERS}
    for image in study.images:
        for label in LABELS:
            rows = _rows(table, image, label)
            left_out = image == "page2.png" and label == "AFL"
            assert set(rows) == (everyone - {"model vs c", "a vs c", "b vs c"} if left_out else everyone)
            for r in rows.values():
                assert set(METRICS) <= set(r)
                assert r["truth"] == study.truth[image][label] == 1
                assert 0 <= r["probability"] <= 1 and isinstance(r["positive"], bool)
            # the network against a reader: every saliency metric, none of the mask-vs-mask ones
            assert rows["model vs a"]["pearson_grid"] is not None and rows["model vs a"]["dice"] is None
            assert rows[ALL_READERS]["fleiss_kappa"] is not None
    assert len(table.rows) == 4 * len(everyone) - 3
    assert calls == [(0, 2), (1, 2), (2, 2)]


def test_a_reader_identical_to_another_agrees_perfectly(made) -> None:  # type: ignore[no-untyped-def]
    study, table, _, _ = made
    for image in study.images:
        for label in LABELS:
            rows = _rows(table, image, label)
            assert rows["a vs b"]["dice"] == 1.0 and rows["a vs b"]["kappa"] == 1.0 and rows["a vs b"]["iou"] == 1.0
            # two of three (or two of two) readers drew exactly this: it is the consensus
            assert rows["model vs consensus"]["pearson_grid"] == rows["model vs a"]["pearson_grid"]
            assert rows["model vs a"]["relevance_mass"] == rows["model vs b"]["relevance_mass"]
            if "a vs c" in rows:
                assert rows["a vs c"]["dice"] < 0.9 and rows["a vs c"]["kappa"] < rows["a vs b"]["kappa"]


def test_not_visible_readers_are_left_out_and_counted(made) -> None:  # type: ignore[no-untyped-def]
    _, table, _, _ = made
    rows = _rows(table, "page2.png", "AFL")
    assert rows["model vs consensus"]["n_readers"] == 2 and rows[ALL_READERS]["n_readers"] == 2
    assert "c: not_visible" in rows["model vs a"]["statuses"]
    counts = {(c["label"], c["reader"]): c for c in table.counts}
    assert counts[("AFL", "c")]["not_visible"] == 1 and counts[("AFL", "c")]["annotated"] == 1
    assert counts[("AFL", "c")]["left_out_positive"] == 1  # page 2 carries AFL: a miss
    assert counts[("PVC", "c")]["annotated"] == 2 and counts[("AFL", "a")]["not_visible"] == 0
    assert counts[("AFL", "c")]["median_seconds"] == 31.0  # seconds_spent of the annotation files
    assert table.stat("AFL", "model vs c", "pearson_grid")["n"] == 1
    assert table.stat("AFL", "model vs a", "pearson_grid")["n"] == 2
    assert "| AFL | c | 1 | 1 | 0 | 0 | 0 | 1 | 31.0 |" in report_markdown(table)


def test_the_bootstrap_interval_brackets_the_mean(made) -> None:  # type: ignore[no-untyped-def]
    _, table, _, _ = made
    with_ci = [s for s in table.summary if s["ci_low"] is not None]
    assert with_ci
    for s in with_ci:
        assert s["ci_low"] - 1e-12 <= s["mean"] <= s["ci_high"] + 1e-12
    x = np.random.default_rng(1).normal(0.6, 0.2, 40)
    s = summarise(x, n_boot=2000, seed=0)
    assert s["n"] == 40 and s["mean"] == pytest.approx(x.mean()) and s["sd"] == pytest.approx(x.std(ddof=1))
    assert (s["q1"], s["median"], s["q3"]) == pytest.approx(tuple(np.percentile(x, [25, 50, 75])))
    assert s["ci_low"] < s["mean"] < s["ci_high"]
    half = 1.96 * x.std(ddof=1) / np.sqrt(x.size)  # the normal interval: the bootstrap's should be near it
    assert s["ci_high"] - s["ci_low"] == pytest.approx(2 * half, rel=0.25)
    assert summarise(x, n_boot=2000, seed=0) == s  # seeded: the same interval every run
    assert summarise([0.5], n_boot=100)["ci_low"] is None and summarise([], n_boot=100)["n"] == 0


def test_fleiss_kappa_matches_the_textbook_example() -> None:
    # Wikipedia, "Fleiss' kappa", worked example: 10 subjects, 14 raters, 5 categories, κ = 0.210
    table = np.array([[0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
                      [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7]])
    n = 14
    p_j = table.sum(axis=0) / table.sum()  # 0.143 0.200 0.279 0.150 0.229
    p_i = ((table ** 2).sum(axis=1) - n) / (n * (n - 1))  # 1.000 0.253 0.308 0.440 0.330 ...
    p_bar, p_e = p_i.mean(), (p_j ** 2).sum()  # 0.378, 0.213
    assert (round(p_bar, 3), round(p_e, 3)) == (0.378, 0.213)
    assert fleiss_kappa_counts(table) == pytest.approx((p_bar - p_e) / (1 - p_e))
    assert round(fleiss_kappa_counts(table), 3) == 0.210

    # three readers' masks of a 2 x 4 image, by hand: per pixel 0-3 readers marked it
    m1 = np.array([[1, 1, 0, 0], [0, 0, 0, 0]], bool)
    m2 = np.array([[1, 1, 1, 0], [0, 0, 0, 0]], bool)
    m3 = np.array([[1, 0, 0, 0], [0, 0, 0, 1]], bool)
    marked = np.array([3, 2, 1, 0, 0, 0, 0, 1])
    p1 = marked.sum() / 24
    p_e = p1 ** 2 + (1 - p1) ** 2
    p_i = (marked ** 2 + (3 - marked) ** 2 - 3) / 6
    assert fleiss_kappa_masks([m1, m2, m3]) == pytest.approx((p_i.mean() - p_e) / (1 - p_e))
    assert fleiss_kappa_masks([m1, m1]) == pytest.approx(1.0)
    assert fleiss_kappa_masks([m1]) is None and fleiss_kappa_masks([~m1 & m1] * 3) is None
    # a subsample of pixels is fixed-seed: the same κ on every run, near the full one
    big = [np.random.default_rng(k).random((400, 500)) < 0.3 + 0.1 * k for k in range(3)]
    assert fleiss_kappa_masks(big, max_pixels=50_000) == fleiss_kappa_masks(big, max_pixels=50_000)
    assert fleiss_kappa_masks(big, max_pixels=50_000) == pytest.approx(fleiss_kappa_masks(big), abs=0.01)


def test_consensus_is_the_pixelwise_majority() -> None:
    m1 = np.array([1, 1, 0, 0], bool)
    m2 = np.array([1, 0, 1, 0], bool)
    m3 = np.array([1, 1, 0, 1], bool)
    assert consensus_mask([m1, m2, m3]).tolist() == [True, True, False, False]
    assert consensus_mask([m1, m2]).tolist() == [True, True, True, False]  # a tie counts as marked


def test_model_outputs_are_cached_and_refreshed_for_other_weights(made) -> None:  # type: ignore[no-untyped-def]
    study, _, _, _ = made
    image = study.images[0]
    folder = model_folder(study.image_path(image))
    result_path, npz_path = folder / RESULT_NAME, folder / SALIENCY_NAME
    result = json.loads(result_path.read_text())
    assert [e["saliency"] for e in result["labels"]] == [f"saliency.npz:{k}" for k in LABELS]
    with np.load(npz_path) as npz:
        assert sorted(npz.files) == sorted(LABELS) and npz["PVC"].dtype == np.float16
    stamp = (result_path.stat().st_mtime_ns, npz_path.stat().st_mtime_ns)

    t0 = time.perf_counter()
    again, saliency = model_outputs(study, image, device="cpu")
    assert time.perf_counter() - t0 < 1.0  # the network takes ~2 s: it did not run
    assert (result_path.stat().st_mtime_ns, npz_path.stat().st_mtime_ns) == stamp
    assert again == result and saliency["PVC"].dtype == np.float32
    assert saliency["PVC"].shape == tuple(result["image"]["size"][::-1])
    assert model_progress(study) == (2, 2)

    result["model"]["sha256"] = "0" * 64  # as if made by other weights
    result_path.write_text(json.dumps(result))
    assert model_progress(study) == (1, 2)
    fresh, fresh_saliency = model_outputs(study, image, device="cpu")
    assert result_path.stat().st_mtime_ns != stamp[0] and npz_path.stat().st_mtime_ns != stamp[1]
    assert fresh["model"]["sha256"] == again["model"]["sha256"] != "0" * 64
    assert model_progress(study) == (2, 2)
    # float16 storage (scaled to the map's maximum) leaves every metric where float32 put it
    from core.analyze import analyze_path
    from core.page.geometry import Geometry

    exact = analyze_path(study.image_path(image), labels=("PVC",), device="cpu").explanation.saliency["PVC"]
    mask = store.load(store.annotation_folder(study.image_path(image), "a"), exact.shape[::-1])[0].mask("PVC")
    geometry = Geometry.from_json(fresh["geometry"])
    want, got = C.compare_maps(exact, mask, geometry), C.compare_maps(fresh_saliency["PVC"], mask, geometry)
    for key, value in want.items():
        assert (value is None and got[key] is None) or got[key] == pytest.approx(value, abs=0.01), key


def test_write_report_writes_every_file(made, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    study, table, _, _ = made
    path = write_report(table, tmp_path / "report")
    out = tmp_path / "report"
    assert path == out / "report.md"
    for name in ("report.md", "report.html", "report.pdf", "report.json", "per_image.csv", "summary.csv"):
        assert (out / name).stat().st_size > 200, name
    plots = sorted(p.name for p in (out / "plots").iterdir())
    assert plots == ["grid_r_AFL.png", "grid_r_PVC.png", "model_vs_readers_AFL.png", "model_vs_readers_PVC.png"]
    assert all((out / "plots" / p).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in plots)
    assert (out / "report.pdf").read_bytes()[:5] == b"%PDF-"

    md = path.read_text()
    lines = md.splitlines()
    assert lines[0] == f"# Reader study: {study.name} (simulated readers)"
    assert "masks derived from the studio's exact evidence masks" in "\n".join(lines[:4])
    assert "0.96 ± 0.10" in md and "0.94 ± 0.03" in md and "npj Digit Med" in md
    for plot in plots:
        assert f"(plots/{plot})" in md
    html = (out / "report.html").read_text()
    assert "<h1>Reader study: " in html and "(simulated readers)</h1>" in html and html.count("<table>") >= 4

    doc = json.loads((out / "report.json").read_text())
    assert doc["schema"] == "ecg-aio/study-report@1" and len(doc["rows"]) == len(table.rows)
    assert len((out / "per_image.csv").read_text().splitlines()) == len(table.rows) + 1
    assert len((out / "summary.csv").read_text().splitlines()) == len(table.summary) + 1
    assert table.stat("PVC", READER_PAIRS, "dice") is not None

    real = dataclasses.replace(table, study=dataclasses.replace(study, simulated_readers=False))
    assert title(real) == f"Reader study: {study.name}" and "simulated" not in report_markdown(real).splitlines()[0]


def test_one_reader_has_no_consensus_and_no_reader_pairs(made) -> None:  # type: ignore[no-untyped-def]
    study, _, _, _ = made
    alone = dataclasses.replace(study, readers=("a",), reader_notes={})
    table = study_table(alone, device="cpu", n_boot=100)  # the network's outputs are cached
    assert {r["comparison"] for r in table.rows} == {"model vs a"}
    assert "| AFL | a | 2 | " in report_markdown(table) and "one reader" in report_markdown(table)
    with pytest.raises(Cancelled):
        study_table(alone, device="cpu", cancel=lambda: True)


def test_the_table_takes_seconds(made) -> None:  # type: ignore[no-untyped-def]
    _, table, _, seconds = made
    # measured on the 2-core CPU: ~5 s of network and ~12 s of metrics for these 2 pages
    assert seconds < 90, table.seconds
