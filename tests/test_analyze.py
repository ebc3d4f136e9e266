"""`ecg-aio analyze` end to end with a small real network saved as installed weights."""
from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from core.labels import LABELS
from core.model.network import EcgAio, NetConfig
from core.model.preprocess import InputSpec
from core.model.weights import save_weights

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "resources" / "samples" / "sample_scan.jpg"


@pytest.fixture(scope="module")
def tiny_card(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    model = EcgAio(NetConfig(width=8))
    spec = InputSpec(height=96, width=192)
    card = {"name": "ECG-AIO test", "version": "0", "thresholds": {k: 0.5 for k in LABELS},
            "input": spec.to_json(), "training": {}, "metrics": {}}
    return save_weights(model, card, tmp_path_factory.mktemp("weights"))


def run(*args: str, card: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ECG_AIO_WEIGHTS": str(card)}
    return subprocess.run([sys.executable, "-m", "app.cli", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)


def test_analyze_writes_the_documented_outputs(tiny_card: Path, tmp_path: Path) -> None:
    from core.outputs import read_result

    before = hashlib.sha256(SAMPLE.read_bytes()).hexdigest()
    out = tmp_path / "out"
    res = run("analyze", str(SAMPLE), "--out", str(out), "--labels", "AFL,PVC", card=tiny_card)
    assert res.returncode == 0, res.stderr
    result = json.loads((out / "result.json").read_text())
    assert result["schema"] == "ecg-aio/result@1" and result["withheld"] is None
    found = result["intervals"]                      # read off the leads the page prints
    assert found["beats"] >= 10 and 40 < found["heart_rate_bpm"] < 150 and 60 < found["qrs_ms"] < 160
    assert f"HR {found['heart_rate_bpm']:.0f} bpm" in res.stdout   # and told on the command line
    assert f"page       {result['page_reader']['reason']}" in res.stdout   # with how the page was read
    assert result["image"]["sha256"] == before == hashlib.sha256(SAMPLE.read_bytes()).hexdigest()
    assert set(result["timings_ms"]) >= {"load", "page", "preprocess", "forward", "jacobian", "write"}
    assert [e["name"] for e in result["labels"]] == ["AFL", "PVC"]
    w, h = result["image"]["size"]
    with np.load(out / "saliency.npz") as npz:  # float16, at the letterboxed input's resolution
        assert sorted(npz.files) == ["AFL", "PVC"] and npz["PVC"].dtype == np.float16
        assert npz["PVC"].shape[0] == 96 and npz["PVC"].shape[1] < w  # the tiny card's input is 192 x 96
    _, maps = read_result(out)
    for entry in result["labels"]:
        assert entry["saliency"] == f"saliency.npz:{entry['name']}" and "overlay" not in entry
        sal = maps[entry["name"]]
        assert sal.shape == (h, w) and sal.dtype == np.float32 and sal.min() >= 0
        assert 0.9 * entry["saliency_scale"] < sal.max() <= entry["saliency_scale"] * 1.001  # bilinear: peaks kept
        assert 0.0 <= entry["probability"] <= 1.0 and entry["positive"] == (entry["probability"] >= 0.5)
        assert entry["where"]["summary"].startswith(entry["name"])
    rows = list(csv.reader(io.StringIO((out / "signals.csv").read_text())))
    assert rows[0] == ["panel", "lead", "t_s", "mv"] and len(rows) > 1000
    assert sorted(p.name for p in out.iterdir()) == ["result.json", "saliency.npz", "signals.csv"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no staging folder left


def test_overlays_on_request_and_a_rerun_replaces_the_whole_set(tiny_card: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    res = run("analyze", str(SAMPLE), "--out", str(out), "--labels", "AFL,PVC", "--overlays", card=tiny_card)
    assert res.returncode == 0, res.stderr
    entries = json.loads((out / "result.json").read_text())["labels"]
    for entry in entries:
        overlay = cv2.imread(str(out / entry["overlay"]))
        assert overlay.shape[:2] == tuple(json.loads((out / "result.json").read_text())["image"]["size"][::-1])
    res = run("analyze", str(SAMPLE), "--out", str(out), "--labels", "SR", card=tiny_card)
    assert res.returncode == 0, res.stderr
    # no overlay or map of the earlier run stays beside the new result
    assert sorted(p.name for p in out.iterdir()) == ["result.json", "saliency.npz", "signals.csv"]
    with np.load(out / "saliency.npz") as npz:
        assert npz.files == ["SR"]


def test_a_folder_of_other_files_is_refused_and_left_alone(tiny_card: Path, tmp_path: Path) -> None:
    out = tmp_path / "desktop"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    res = run("analyze", str(SAMPLE), "--out", str(out), "--labels", "SR", card=tiny_card)
    assert res.returncode == 2 and "notes.txt" in res.stderr and len(res.stderr.strip().splitlines()) == 1
    assert [p.name for p in out.iterdir()] == ["notes.txt"] and (out / "notes.txt").read_text() == "mine"


def test_where_it_looked_at_the_maps_resolution_matches_the_image_resolution() -> None:
    """The shares result.json gives are computed on the map as stored (fast); on the map
    upsampled to the image they are the same to within a percentage point."""
    from core.analyze import analyze_path, where
    from core.explain import where_it_looked

    a = analyze_path(SAMPLE, labels=("PVC",), device="cpu")  # the shipped network
    assert a.geometry is not None and a.explanation.saliency.native["PVC"].shape != a.image.rgb.shape[:2]
    fast, full = where(a, "PVC")["per_lead"], where_it_looked(a.explanation.saliency["PVC"], a.geometry, "PVC")["per_lead"]
    assert fast.keys() == full.keys()
    assert max(abs(fast[k] - full[k]) for k in fast) < 0.01


def test_older_outputs_are_read(tmp_path: Path) -> None:
    from core.outputs import read_result

    sal = np.random.default_rng(0).random((30, 40)).astype(np.float32)
    np.save(tmp_path / "saliency_PVC.npy", sal)
    (tmp_path / "result.json").write_text(json.dumps({
        "schema": "ecg-aio/result@1", "image": {"size": [40, 30]},
        "labels": [{"name": "PVC", "saliency": "saliency_PVC.npy", "overlay": "overlay_PVC.png"}]}))
    _, maps = read_result(tmp_path)
    np.testing.assert_array_equal(maps["PVC"], sal)


def test_analyze_refuses_a_corrupt_weights_file(tiny_card: Path, tmp_path: Path) -> None:
    folder = tmp_path / "w"
    folder.mkdir()
    card = json.loads(tiny_card.read_text())
    data = bytearray((tiny_card.parent / card["file"]).read_bytes())
    data[len(data) // 2] ^= 0xFF
    (folder / card["file"]).write_bytes(bytes(data))
    (folder / "model_card.json").write_text(json.dumps(card))
    res = run("analyze", str(SAMPLE), "--out", str(tmp_path / "out"), card=folder / "model_card.json")
    assert res.returncode == 3
    assert "checksum" in res.stderr and len(res.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_analyze_unknown_label_is_a_usage_error(tiny_card: Path, tmp_path: Path) -> None:
    res = run("analyze", str(SAMPLE), "--out", str(tmp_path / "out"), "--labels", "STEMI", card=tiny_card)
    assert res.returncode == 2 and "STEMI" in res.stderr


def test_analyze_withholds_the_calls_when_the_image_does_not_look_like_an_ecg(tiny_card: Path, tmp_path: Path) -> None:
    rng = np.random.default_rng(0)  # a smooth colourful picture with a ball in it: no grid, no trace
    picture = (cv2.GaussianBlur(rng.random((600, 800, 3)).astype(np.float32), (0, 0), 25) * 765).clip(0, 255)
    picture = picture.astype(np.uint8)
    cv2.circle(picture, (400, 300), 150, (40, 120, 200), -1)
    image = tmp_path / "holiday.png"
    cv2.imwrite(str(image), picture)
    noise = tmp_path / "noise.png"
    cv2.imwrite(str(noise), rng.integers(0, 256, (600, 800, 3), dtype=np.uint8))
    for path in (image, noise):
        out = tmp_path / f"out_{path.stem}"
        res = run("analyze", str(path), "--out", str(out), "--labels", "SR,AF,PVC", card=tiny_card)
        assert res.returncode == 0, res.stderr
        warning = [line for line in res.stderr.splitlines() if line.startswith("warning:")]
        assert len(warning) == 1 and f"{path.name}: No diagnosis is given" in warning[0]
        result = json.loads((out / "result.json").read_text())  # the physician still gets what was computed
        assert result["withheld"].startswith("No diagnosis is given") and result["page_reader"]["is_ecg"] is False
        assert not any(e["positive"] for e in result["labels"])
        assert res.stdout.count("withheld") == 3 and "POSITIVE" not in res.stdout


def test_calls_are_withheld_on_an_ecg_whose_lead_panels_cannot_be_laid_out(tiny_card: Path) -> None:
    import dataclasses

    from core.analyze import analyze
    from core.io import load_image
    from core.model.weights import load_model
    from core.page.detect import PageResult, detect_geometry

    model, weights = load_model(tiny_card)
    weights = dataclasses.replace(weights, thresholds={k: 0.0 for k in LABELS})  # every label called
    image = load_image(SAMPLE)
    reader = detect_geometry(image.rgb)
    assert reader.is_ecg and reader.geometry is not None and reader.geometry.panels, reader.reason
    a = dataclasses.replace(analyze(image, model, weights, ("SR", "AF"), geometry=reader.geometry), page_reader=reader)
    assert a.withheld is None and a.positives() == sorted(["SR", "AF"], key=lambda k: -a.probability(k))
    unread = ("ECG traces in 7 rows, calibrated from the panels, in a layout that is not one of 3x4, 3x4+1, "
              "3x4+3, 6x2 or 12x1.")
    for geometry in (None, dataclasses.replace(reader.geometry, panels=())):
        b = dataclasses.replace(a, page_reader=PageResult(geometry, True, unread))
        assert b.withheld is not None and b.withheld.startswith("No diagnosis is given")
        assert "lead panels" in b.withheld and "7 rows" in b.withheld and b.withheld.count(". ") == 0
        assert b.positives() == [] and not b.is_positive("SR") and b.probability("SR") == a.probability("SR")


def _fur(h: int = 900, w: int = 1200) -> np.ndarray:
    """A fur-like texture: short brown and black strokes along a flowing direction field."""
    rng = np.random.default_rng(1)
    fur = np.full((h, w, 3), (150, 110, 70), np.uint8)
    for _ in range(30_000):
        x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
        a, length = np.sin(x / 180) + np.cos(y / 140), int(rng.integers(8, 25))
        shade = [(60, 40, 25), (200, 160, 110), (20, 15, 10), (170, 130, 90)][int(rng.integers(0, 4))]
        cv2.line(fur, (x, y), (int(x + length * np.cos(a)), int(y + length * np.sin(a))), shade, 1, cv2.LINE_AA)
    return fur


def test_the_shipped_network_calls_a_readable_ecg_and_withholds_noise_and_fur(tmp_path: Path) -> None:
    from core.analyze import analyze_path

    noise = np.random.default_rng(0).integers(0, 256, (900, 1200, 3), dtype=np.uint8)
    for name, picture in (("noise.png", noise), ("fur.png", _fur())):
        cv2.imwrite(str(tmp_path / name), picture)
        a = analyze_path(tmp_path / name, device="cpu", card=ROOT / "resources" / "model_card.json", labels=("AF",))
        assert a.withheld is not None and a.positives() == [], name
    a = analyze_path(SAMPLE, device="cpu", card=ROOT / "resources" / "model_card.json", labels=("SR",))
    assert a.withheld is None and a.geometry is not None and a.geometry.panels


def test_analyze_does_not_warn_on_an_ecg(tiny_card: Path, tmp_path: Path) -> None:
    res = run("analyze", str(SAMPLE), "--out", str(tmp_path / "out"), "--labels", "SR", card=tiny_card)
    assert res.returncode == 0 and "warning:" not in res.stderr


def test_signals_csv_has_the_decoded_samples_of_each_found_panel_only() -> None:
    from core.analyze import signals_csv
    from core.page.geometry import Geometry, Panel

    signals = np.full((12, 1000), np.nan, np.float32)
    signals[1, :250] = 0.5  # lead II decoded over 0-2.5 s
    panels = (Panel("II", 0, 0, 0.0, 2.5, (0, 0, 62.5, 40), 20.0), Panel("V1", 0, 1, 2.5, 5.0, (62.5, 0, 125, 40), 20.0))
    geometry = Geometry((1000, 500), "3x4", 25.0, 10.0, None, None, panels)
    rows = list(csv.reader(io.StringIO(signals_csv(signals, 100.0, geometry).decode())))
    assert rows[0] == ["panel", "lead", "t_s", "mv"]
    assert len(rows) == 251 and {r[1] for r in rows[1:]} == {"II"} and rows[1] == ["0", "II", "0.000", "0.5000"]
    assert signals_csv(signals, 100.0, None).decode() == "panel,lead,t_s,mv\n"


def test_analyze_a_folder_is_a_worklist_and_a_bad_image_does_not_stop_it(tiny_card: Path, tmp_path: Path) -> None:
    folder = tmp_path / "worklist"
    folder.mkdir()
    (folder / "b_scan.jpg").write_bytes(SAMPLE.read_bytes())
    (folder / "a_broken.png").write_bytes(b"not a picture")
    out = tmp_path / "out"
    res = run("analyze", str(folder), "--out", str(out), "--labels", "PVC", card=tiny_card)
    assert res.returncode == 2  # one image could not be read: said, and the others analysed
    assert "a_broken.png" in res.stderr and "1 of 2 images could not be analysed" in res.stderr
    assert "Traceback" not in res.stderr
    assert [p.name for p in out.iterdir()] == ["b_scan.jpg"]
    assert json.loads((out / "b_scan.jpg" / "result.json").read_text())["labels"][0]["name"] == "PVC"


def test_compare_reads_the_saliency_analyze_wrote(tiny_card: Path, tmp_path: Path) -> None:
    from core.compare import compare_maps
    from core.outputs import read_result

    out = tmp_path / "out"
    assert run("analyze", str(SAMPLE), "--out", str(out), "--labels", "PVC", card=tiny_card).returncode == 0
    result, maps = read_result(out)
    w, h = result["image"]["size"]
    mask = np.zeros((h, w), np.uint8)
    mask[h // 4: h // 2, w // 8: w // 2] = 255
    cv2.imwrite(str(tmp_path / "mask.png"), mask)
    res = run("compare", f"{out}/saliency.npz:PVC", str(tmp_path / "mask.png"), card=tiny_card)
    assert res.returncode == 0, res.stderr
    got, want = json.loads(res.stdout), compare_maps(maps["PVC"], mask > 0)
    assert got["relevance_mass"] == pytest.approx(want["relevance_mass"], rel=1e-5)
    res = run("compare", f"{out}/saliency.npz:AF", str(tmp_path / "mask.png"), card=tiny_card)
    assert res.returncode == 2 and "no saliency map for AF" in res.stderr
