"""Training: targets, a tiny end-to-end run, determinism by seed and exact resume."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from core.io.records import data_dir
import torch

from core.labels import LABELS, LEADS
from core.synth.paper import PaperSpec
from core.synth.render import render_page
from core.synth.simulator import simulate
from core.train.loop import TrainConfig, learning_rate, load_checkpoint_model, train
from core.model.weights import load_model
from core.train.export import export
from core.train.replay import ReplayRing
from core.train.targets import decoder_signals, page_targets, printed_mask

TINY = {"steps": 3, "batch": 2, "net": {"width": 8, "decoder_rows": 8, "decoder_cols": 25, "decoder_width": 8},
        "checkpoint_every": 1, "workers": 0, "record_share": 0.0,
        "input": {"height": 64, "width": 128, "channels": 3, "mean": [0.5] * 3, "std": [0.25] * 3}}


def test_printed_mask_follows_the_layout() -> None:
    rng = np.random.default_rng(0)
    sample = simulate({"SR"}, rng)
    page = render_page(sample, PaperSpec(layout="3x4+1", dpi=100), rng)
    mask = printed_mask(page.geometry)
    assert mask[LEADS.index("II")].mean() == 1.0            # rhythm strip prints all 10 s
    v1 = mask[LEADS.index("V1")]
    assert v1.mean() == pytest.approx(0.25)                 # 2.5 s of 10
    assert v1[500:750].all() and not v1[:500].any()         # column 2: 5.0–7.5 s


def test_decoder_signals_resample_to_100_hz() -> None:
    rng = np.random.default_rng(1)
    sample = simulate({"SR"}, rng, noise=False)
    target = decoder_signals(sample)
    assert target.shape == (12, 1000) and target.dtype == np.float32
    np.testing.assert_allclose(target[1, 100:900], sample.lead("II")[500:4500:5], atol=0.05)


def test_targets_keep_unknown_labels_unknown() -> None:
    rng = np.random.default_rng(2)
    sample = simulate({"AFL", "PVC"}, rng)
    sample.labels["AFL"] = None  # as a record whose source cannot say
    page = render_page(sample, PaperSpec(layout="3x4", dpi=100), rng)
    t = page_targets(sample, page.geometry, "photo")
    assert t.label_known[LABELS.index("AFL")] == 0 and t.labels[LABELS.index("PVC")] == 1
    assert t.domain == 1


def test_learning_rate_warms_up_then_decays() -> None:
    cfg = TrainConfig(lr=1e-3, warmup=0.1)
    assert learning_rate(cfg, 0.0) < learning_rate(cfg, 0.05) < learning_rate(cfg, 0.1) == pytest.approx(1e-3)
    assert learning_rate(cfg, 1.0) == pytest.approx(1e-5)


def _weights(ckpt: Path) -> dict[str, torch.Tensor]:
    return torch.load(ckpt, map_location="cpu", weights_only=True)["model"]


def test_tiny_training_is_deterministic_and_resumes_exactly(tmp_path: Path) -> None:
    torch.set_num_threads(1)
    cfg = TrainConfig.from_json(TINY)
    a = train(cfg, tmp_path / "a")
    b = train(cfg, tmp_path / "b")
    wa, wb = _weights(a), _weights(b)
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    log = (tmp_path / "a" / "log.csv").read_text().splitlines()
    assert len(log) == 1 + 3 and all(np.isfinite(float(v)) for v in log[-1].split(",")[1:5])
    assert json.loads((tmp_path / "a" / "config.json").read_text())["net"]["width"] == 8

    # two steps, stop, resume for the third: the same weights as three steps straight
    train(TrainConfig.from_json({**TINY, "steps": 3}), tmp_path / "c", should_stop=_after(2))
    c = train(cfg, tmp_path / "c", resume=True)
    assert torch.load(c, weights_only=True)["step"] == 3
    wc = _weights(c)
    assert all(torch.allclose(wa[k].float(), wc[k].float(), atol=1e-6) for k in wa)


def _after(n: int):  # type: ignore[no-untyped-def]
    calls = iter(range(10**6))
    return lambda: next(calls) >= n


def test_replay_ring_keeps_the_latest_pages() -> None:
    ring = ReplayRing(capacity=4, device=torch.device("cpu"), seed=0)
    with pytest.raises(ValueError):
        ring.sample(1)
    for start in (0, 3):  # 0,1,2 then 3,4,5: the oldest two (0, 1) are overwritten
        ring.add({"x": torch.arange(start, start + 3)})
    assert ring.filled == 4 and sorted(ring.store["x"].tolist()) == [2, 3, 4, 5]
    drawn = ring.sample(50)["x"]
    assert set(drawn.tolist()) <= {2, 3, 4, 5} and len(set(drawn.tolist())) > 1


def test_replayed_steps_and_weight_average_are_checkpointed(tmp_path: Path) -> None:
    torch.set_num_threads(1)
    cfg = TrainConfig.from_json({**TINY, "reuse": 2, "replay_pages": 4, "ema": 0.5})
    state = torch.load(train(cfg, tmp_path), weights_only=True)
    assert state["step"] == 3 and state["machine"]
    raw, avg = state["model"], state["ema_model"]
    assert raw.keys() == avg.keys()
    moved = [k for k in raw if raw[k].is_floating_point() and not torch.equal(raw[k], avg[k])]
    assert moved  # the average lags behind the raw weights
    shipped = load_checkpoint_model(tmp_path / "checkpoint.pt", cfg.net).state_dict()
    assert all(torch.equal(shipped[k], avg[k]) for k in avg)


@pytest.mark.skipif(not (data_dir() / "labels.csv").is_file(),
                    reason="export scores thresholds on the shared records' val part (../shared/data)")
def test_export_writes_loadable_weights_that_hash_the_same_twice(tmp_path: Path) -> None:
    torch.set_num_threads(1)
    cfg = TrainConfig.from_json({**TINY, "steps": 1})
    ckpt = train(cfg, tmp_path / "run")
    card_a, val = export(ckpt, cfg, tmp_path / "a", n_val_sim=2, notes=["a test run"], limits=["a test limit"])
    card_b, _ = export(ckpt, cfg, tmp_path / "b", n_val_sim=2)
    a, b = json.loads(card_a.read_text()), json.loads(card_b.read_text())
    assert a["sha256"] == b["sha256"] and a["thresholds"] == b["thresholds"]
    assert set(a["thresholds"]) == set(LABELS) and all(0 <= t <= 1 for t in a["thresholds"].values())
    assert a["training"]["notes"] == ["a test run"] and a["training"]["pages_rendered"] == cfg.batch
    assert a["limits"][-1] == "a test limit" and len(b["limits"]) == len(a["limits"]) - 1
    assert val["n_pages"] > 0
    model, weights = load_model(card_a)
    assert weights.sha256 == a["sha256"] and weights.input == cfg.input
