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
    before = hashlib.sha256(SAMPLE.read_bytes()).hexdigest()
    out = tmp_path / "out"
    res = run("analyze", str(SAMPLE), "--out", str(out), "--labels", "AFL,PVC", card=tiny_card)
    assert res.returncode == 0, res.stderr
    result = json.loads((out / "result.json").read_text())
    assert result["schema"] == "ecg-aio/result@1"
    assert result["image"]["sha256"] == before == hashlib.sha256(SAMPLE.read_bytes()).hexdigest()
    assert set(result["timings_ms"]) >= {"load", "page", "preprocess", "forward", "jacobian", "write"}
    assert [e["name"] for e in result["labels"]] == ["AFL", "PVC"]
    w, h = result["image"]["size"]
    for entry in result["labels"]:
        sal = np.load(out / entry["saliency"])
        assert sal.shape == (h, w) and sal.dtype == np.float32 and sal.min() >= 0 and sal.max() > 0
        assert 0.0 <= entry["probability"] <= 1.0 and entry["positive"] == (entry["probability"] >= 0.5)
        assert (out / entry["overlay"]).stat().st_size > 0
        assert entry["where"]["summary"].startswith(entry["name"])
    rows = list(csv.reader(io.StringIO((out / "signals.csv").read_text())))
    assert rows[0] == ["panel", "lead", "t_s", "mv"] and len(rows) > 1000
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["result.json", "signals.csv", "saliency_AFL.npy", "saliency_PVC.npy", "overlay_AFL.png", "overlay_PVC.png"])


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


def test_analyze_warns_when_the_image_does_not_look_like_an_ecg(tiny_card: Path, tmp_path: Path) -> None:
    import cv2

    rng = np.random.default_rng(0)  # a smooth colourful picture with a ball in it: no grid, no trace
    picture = (cv2.GaussianBlur(rng.random((600, 800, 3)).astype(np.float32), (0, 0), 25) * 765).clip(0, 255)
    picture = picture.astype(np.uint8)
    cv2.circle(picture, (400, 300), 150, (40, 120, 200), -1)
    image = tmp_path / "holiday.png"
    cv2.imwrite(str(image), picture)
    res = run("analyze", str(image), "--out", str(tmp_path / "out"), "--labels", "SR", card=tiny_card)
    assert res.returncode == 0, res.stderr
    warning = [line for line in res.stderr.splitlines() if line.startswith("warning:")]
    assert len(warning) == 1 and "holiday.png does not look like an ECG" in warning[0]
    assert (tmp_path / "out" / "result.json").exists()  # the physician still gets what was computed


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
    assert len(rows) == 251 and {r[1] for r in rows[1:]} == {"II"} and rows[1] == ["0", "II", "0.00", "0.5000"]
    assert signals_csv(signals, 100.0, None).decode() == "panel,lead,t_s,mv\n"
