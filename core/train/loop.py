"""The training loop: masked BCE + masked signal loss + domain loss through gradient reversal.

Checkpoints every ``checkpoint_every`` steps (model, optimiser, step) and resumes from them
exactly: the data stream is indexed by step, so a resumed run sees the pages it would have seen.
"""
from __future__ import annotations

import csv
import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

from core.atomic import write_json
from core.model.decoder import only_used_windows
from core.model.grl import dann_lambda
from core.model.network import EcgAio, NetConfig
from core.model.preprocess import InputSpec, to_model_input
from core.synth.pages import SynthOptions
from core.model.weights import resolve_device
from core.train.data import PageStream
from core.train.replay import ReplayRing
from core.train.targets import window_truth


@dataclass(frozen=True)
class TrainConfig:
    """A training recipe. Sizes in px, rates per step; times in s."""

    steps: int = 3000
    batch: int = 8
    lr: float = 1e-3
    weight_decay: float = 1e-4
    seed: int = 1
    net: NetConfig = field(default_factory=NetConfig)
    input: InputSpec = field(default_factory=InputSpec)
    record_share: float = 0.3          # labelled pages rendered from real 'fit' records
    real_share: float = 0.1            # unlabelled real images (target domain only)
    real_folder: str | None = None
    signal_weight: float = 0.5
    domain_weight: float = 0.3
    pos_weight_max: float = 4.0
    checkpoint_every: int = 100
    workers: int = 1
    max_seconds: float | None = None   # train for this long instead of ``steps`` (schedule by time)
    warmup: float = 0.05               # share of the run with a linear learning-rate warm-up
    device: str = "auto"               # 'auto' (CUDA when present), 'cpu' or 'cuda'; bf16 autocast on CUDA
    reuse: int = 1                     # optimiser steps per rendered batch; steps after the first replay
    replay_pages: int = 0              # pages kept on the device for those replayed steps
    ema: float = 0.0                   # decay of a moving average of the weights, shipped instead (0 = off)

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["net"], d["input"] = self.net.to_json(), self.input.to_json()
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "TrainConfig":
        d = dict(d)
        d["net"] = NetConfig.from_json(d.get("net", {})) if d.get("net") else NetConfig()
        d["input"] = InputSpec.from_json(d["input"]) if d.get("input") else InputSpec()
        return cls(**d)

    def page_options(self) -> SynthOptions:
        return SynthOptions(n=1, seed=self.seed, domain="mix", source="mix", split="fit",
                            size=(self.input.width, self.input.height), record_share=self.record_share)


def losses(out: dict[str, torch.Tensor], batch: dict[str, torch.Tensor],
           pos_weight: torch.Tensor, cfg: TrainConfig) -> dict[str, torch.Tensor]:
    """The three losses of one batch; unknown labels and unprinted samples never count."""
    known = batch["label_known"] * batch["has_labels"][:, None].float()
    bce = F.binary_cross_entropy_with_logits(out["logits"], batch["labels"], pos_weight=pos_weight,
                                             reduction="none")
    label_loss = (bce * known).sum() / known.sum().clamp_min(1.0)
    truth, sk = window_truth(batch["signals"], batch["signal_known"], batch["window_index"],
                             out["signals"].shape[-1])
    sig = F.smooth_l1_loss(out["signals"], truth, reduction="none", beta=0.1)
    signal_loss = (sig * sk).sum() / sk.sum().clamp_min(1.0)
    domain_loss = F.cross_entropy(out["domain"], batch["domain"])
    total = label_loss + cfg.signal_weight * signal_loss + cfg.domain_weight * domain_loss
    return {"total": total, "labels": label_loss, "signals": signal_loss, "domain": domain_loss}


def train(cfg: TrainConfig, out_dir: str | Path, resume: bool = False,
          progress: Callable[[float, dict[str, float]], None] | None = None,
          should_stop: Callable[[], bool] = lambda: False) -> Path:
    """Train (or resume) into ``out_dir``; returns the path of the last checkpoint.

    ``step`` counts rendered batches; each is followed by ``cfg.reuse - 1`` replayed steps.
    The log has the losses of every rendered batch *before* the network learns from it, so it
    measures generalisation to unseen pages. ``progress(p, losses)`` is called after every step
    with p in 0..1.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(cfg.seed)
    device = resolve_device(cfg.device)
    model = EcgAio(cfg.net).to(device, memory_format=_memory_format(device))
    ema = (torch.optim.swa_utils.AveragedModel(
        model, multi_avg_fn=torch.optim.swa_utils.get_ema_multi_avg_fn(cfg.ema), use_buffers=True)
        if cfg.ema else None)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    step, elapsed = 0, 0.0
    ckpt = out / "checkpoint.pt"
    if resume and ckpt.exists():
        state = torch.load(ckpt, map_location=device, weights_only=True)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        if ema is not None and "ema_state" in state:
            ema.load_state_dict(state["ema_state"])
        step, elapsed = int(state["step"]), float(state["elapsed"])
    write_json(out / "config.json", cfg.to_json())
    pos_weight = estimate_pos_weight(cfg).clamp(1.0, cfg.pos_weight_max).to(device)
    stream = PageStream(cfg.page_options(), start=step * cfg.batch, real_folder=cfg.real_folder,
                        real_share=cfg.real_share, net=cfg.net)
    loader = DataLoader(stream, batch_size=cfg.batch, num_workers=cfg.workers,
                        persistent_workers=cfg.workers > 0, pin_memory=device.type == "cuda")
    ring = ReplayRing(cfg.replay_pages, device, cfg.seed) if cfg.reuse > 1 and cfg.replay_pages else None
    log_path = out / "log.csv"
    new_log = not log_path.exists() or not resume
    with open(log_path, "w" if new_log else "a", newline="") as log_file:
        log = csv.writer(log_file)
        if new_log:
            log.writerow(["step", "total", "labels", "signals", "domain", "lambda", "lr", "s_per_step"])
        model.train()
        t_last = time.perf_counter()
        for batch in loader:
            p = progress_of(cfg, step, elapsed)
            if p >= 1.0 or should_stop():
                break
            lam, lr = dann_lambda(p), learning_rate(cfg, p)
            for group in opt.param_groups:
                group["lr"] = lr
            batch = {k: v.to(device, non_blocking=True) for k, v in batch.items()}
            values = _step(model, opt, batch, pos_weight, cfg, lam)
            if ring is not None:
                ring.add(batch)
                for _ in range(cfg.reuse - 1):
                    _step(model, opt, ring.sample(cfg.batch), pos_weight, cfg, lam)
            if ema is not None:
                ema.update_parameters(model)
            step += 1
            now = time.perf_counter()
            elapsed += now - t_last
            log.writerow([step, *(f"{values[k]:.5f}" for k in ("total", "labels", "signals", "domain")),
                          f"{lam:.4f}", f"{lr:.6f}", f"{now - t_last:.3f}"])
            t_last = now
            log_file.flush()
            if progress:
                progress(progress_of(cfg, step, elapsed), values)
            if step % cfg.checkpoint_every == 0:
                save_checkpoint(ckpt, model, opt, step, elapsed, ema)
    save_checkpoint(ckpt, model, opt, step, elapsed, ema)
    return ckpt


def _memory_format(device: torch.device) -> torch.memory_format:
    """channels_last (faster convolutions) on CUDA only: on the CPU (torch 2.13) it corrupted
    memory in the backward pass of narrow networks."""
    return torch.channels_last if device.type == "cuda" else torch.contiguous_format


def _step(model: EcgAio, opt: torch.optim.Optimizer, batch: dict[str, torch.Tensor],
          pos_weight: torch.Tensor, cfg: TrainConfig, lam: float) -> dict[str, float]:
    """One optimiser step on ``batch``; returns its losses before the step."""
    quads, index = only_used_windows(batch["window_quads"], batch["window_index"])
    batch = {**batch, "window_quads": quads, "window_index": index}
    x = to_model_input(batch["image"].float() / 255.0, cfg.input).contiguous(memory_format=_memory_format(batch["image"].device))
    with torch.autocast(device_type=x.device.type, dtype=torch.bfloat16, enabled=x.device.type == "cuda"):
        out = model(x, lam=lam, quads=batch["window_quads"])
    parts = losses({k: v.float() for k, v in out.items()}, batch, pos_weight, cfg)
    opt.zero_grad(set_to_none=True)
    parts["total"].backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
    opt.step()
    return {k: float(v.detach()) for k, v in parts.items()}


def progress_of(cfg: TrainConfig, step: int, elapsed_s: float) -> float:
    """How far the run is, 0..1: by time when ``max_seconds`` is set, else by steps."""
    return elapsed_s / cfg.max_seconds if cfg.max_seconds else step / cfg.steps


def learning_rate(cfg: TrainConfig, p: float) -> float:
    """Linear warm-up over ``cfg.warmup`` of the run, then cosine decay to 1 % of ``cfg.lr``."""
    if p < cfg.warmup:
        return cfg.lr * max(p / cfg.warmup, 0.02)
    q = (p - cfg.warmup) / (1 - cfg.warmup)
    return cfg.lr * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * min(q, 1.0))))


def machine_name() -> str:
    """What trains: the GPU's name, or the CPU's core count."""
    if torch.cuda.is_available():
        return torch.cuda.get_device_name()
    return f"{os.cpu_count()}-core CPU, no GPU"


def save_checkpoint(path: Path, model: EcgAio, opt: torch.optim.Optimizer, step: int, elapsed_s: float,
                    ema: torch.optim.swa_utils.AveragedModel | None = None) -> None:
    """Write the training state atomically (tensors and plain containers only).

    ``ema_model`` holds the averaged weights (what is shipped when present), ``ema_state`` the
    averager itself (for resuming).
    """
    state: dict[str, Any] = {"model": model.state_dict(), "opt": opt.state_dict(), "step": step,
                             "elapsed": elapsed_s, "machine": machine_name()}
    if ema is not None:
        state["ema_state"] = ema.state_dict()
        state["ema_model"] = ema.module.state_dict()
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    tmp.replace(path)


def estimate_pos_weight(cfg: TrainConfig, n: int = 400) -> torch.Tensor:
    """(1 − p) / p per label, p estimated from the labels of ``n`` training pages' signals."""
    from core.labels import LABELS
    from core.synth.pages import draw_signal

    options = cfg.page_options()
    counts, known = np.zeros(len(LABELS)), np.zeros(len(LABELS))
    for i in range(n):
        sample = draw_signal(options, np.random.default_rng([cfg.seed, i, 99]))
        for j, k in enumerate(LABELS):
            if sample.labels[k] is not None:
                known[j] += 1
                counts[j] += sample.labels[k]
    p = np.clip(counts / np.maximum(known, 1), 1e-3, 1 - 1e-3)
    return torch.tensor((1 - p) / p, dtype=torch.float32)


def load_checkpoint_model(path: str | Path, net: NetConfig) -> EcgAio:
    """The model of a checkpoint (its moving-average weights when it has them), in eval mode, on the CPU."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    model = EcgAio(net)
    model.load_state_dict(state.get("ema_model", state["model"]))
    return model.eval()


__all__ = ["TrainConfig", "train", "losses", "load_checkpoint_model", "estimate_pos_weight"]
