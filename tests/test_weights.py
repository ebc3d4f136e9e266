"""Saving, verifying and loading the weights; every refusal is a WeightsError."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from core.labels import LABELS
from core.model import (
    EcgAio, InputSpec, NetConfig, Weights, WeightsError, default_card_path, load_model,
    resolve_device, save_weights,
)
from core.model.weights import REPO, card_path_for


def _card() -> dict:
    return {
        "name": "ECG-AIO test", "version": "0.0.1",
        "thresholds": {k: 0.5 for k in LABELS},
        "input": InputSpec(height=64, width=128).to_json(),
        "training": {"steps": 0}, "metrics": {},
        "intended_use": "tests", "limits": "none",
    }


@pytest.fixture()
def saved(tmp_path) -> tuple[EcgAio, Path]:
    torch.manual_seed(0)
    model = EcgAio(NetConfig(width=8))
    with torch.no_grad():  # non-default BN statistics, so a round trip that drops buffers fails
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.uniform_(0.5, 1.5)
    return model.eval(), save_weights(model, _card(), tmp_path)


def test_round_trip_identical_outputs(saved):
    model, card_path = saved
    loaded, weights = load_model(card_path)
    assert weights.labels == LABELS and weights.net == model.config
    assert weights.input == InputSpec(height=64, width=128)
    assert not loaded.training
    assert not any(p.requires_grad for p in loaded.parameters())
    x = torch.randn(2, 3, 64, 128)
    with torch.no_grad():
        a, b = model(x), loaded(x)
    for key in a:
        assert torch.equal(a[key], b[key])


def test_card_records_file_and_checksum(saved):
    _, card_path = saved
    card = json.loads(card_path.read_text())
    assert card["file"] == "ecg_aio.safetensors"
    assert len(card["sha256"]) == 64 and card["net"]["width"] == 8
    assert card["intended_use"] == "tests"
    assert sorted(p.name for p in card_path.parent.iterdir()) == [
        "ecg_aio.safetensors", "model_card.json"]  # no temp files left behind
    head = (card_path.parent / card["file"]).read_bytes()
    assert head[8:9] == b"{"  # safetensors: u64 header length, then a JSON header; no pickle


def _weights_file(card_path: Path) -> Path:
    return Weights.from_card(card_path).file


def test_flipped_byte_is_a_checksum_error(saved):
    _, card_path = saved
    f = _weights_file(card_path)
    data = bytearray(f.read_bytes())
    data[len(data) // 2] ^= 0xFF
    f.write_bytes(bytes(data))
    with pytest.raises(WeightsError, match="checksum"):
        load_model(card_path)


def test_truncated_file(saved):
    _, card_path = saved
    f = _weights_file(card_path)
    f.write_bytes(f.read_bytes()[:1000])
    with pytest.raises(WeightsError, match="corrupt"):
        load_model(card_path)


def test_missing_file(saved):
    _, card_path = saved
    _weights_file(card_path).unlink()
    with pytest.raises(WeightsError, match="is missing; reinstall"):
        load_model(card_path)


def test_missing_card(tmp_path):
    with pytest.raises(WeightsError, match="missing"):
        load_model(tmp_path / "model_card.json")


def _reverse_labels(card):
    card["labels"] = list(reversed(card["labels"]))


def _widen_net(card):
    card["net"]["width"] = 16  # the file holds a width-8 network


def _drop_threshold(card):
    del card["thresholds"]["AF"]


@pytest.mark.parametrize("edit, message", [
    (_reverse_labels, "made for labels RBBB, LBBB.*expects SR, AF"),
    (_widen_net, "does not fit"),
    (_drop_threshold, "malformed"),
])
def test_card_that_does_not_match_the_file(saved, edit, message):
    _, card_path = saved
    card = json.loads(card_path.read_text())
    edit(card)
    card_path.write_text(json.dumps(card))
    with pytest.raises(WeightsError, match=message):
        load_model(card_path)


def test_default_card_path(monkeypatch, tmp_path):
    monkeypatch.delenv("ECG_AIO_WEIGHTS", raising=False)
    assert default_card_path() == REPO / "resources" / "model_card.json"
    monkeypatch.setenv("ECG_AIO_WEIGHTS", str(tmp_path))
    assert default_card_path() == tmp_path / "model_card.json"
    assert card_path_for(tmp_path / "w.safetensors") == tmp_path / "model_card.json"


def test_resolve_device():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type in ("cpu", "cuda")
    with pytest.raises(ValueError, match="unknown device"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA GPU"):
            resolve_device("cuda")
