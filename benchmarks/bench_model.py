"""Time the ECG-AIO network on the CPU: inference, four ways to get all 8 label Jacobians,
and one training step. Prints a Markdown table (median ms over --runs runs).

    .venv/bin/python benchmarks/bench_model.py [--runs 10] [--threads 2]

Times are for the network input (already letterboxed); the letterbox itself is not timed.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from core.model import EcgAio, NetConfig, count_parameters  # noqa: E402


def median_ms(fn: Callable[[], object], runs: int, warmup: int = 1) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1000 * statistics.median(times)


def jacobian_loop(model: EcgAio, x: torch.Tensor) -> torch.Tensor:
    """(b) one forward, one input-only backward per label."""
    x = x.detach().requires_grad_(True)
    logits = model.forward_head(model.forward_features(x))[0]
    n = logits.shape[0]
    return torch.stack([torch.autograd.grad(logits[k], x, retain_graph=k < n - 1)[0][0]
                        for k in range(n)])


def jacobian_batched_grads(model: EcgAio, x: torch.Tensor) -> torch.Tensor:
    """(c) one forward, one vmapped backward over the 8 one-hot output vectors."""
    x = x.detach().requires_grad_(True)
    logits = model.forward_head(model.forward_features(x))
    n = logits.shape[1]
    eye = torch.eye(n).unsqueeze(1)  # (n, 1, n)
    return torch.autograd.grad(logits, x, eye, is_grads_batched=True)[0][:, 0]


def jacobian_replicated(model: EcgAio, x: torch.Tensor) -> torch.Tensor:
    """(d) the input repeated 8 times; label k read from copy k; one backward."""
    n = model.config.n_labels
    xs = x.detach().expand(n, *x.shape[1:]).clone().requires_grad_(True)
    logits = model.forward_head(model.forward_features(xs))
    return torch.autograd.grad(logits.diagonal().sum(), xs)[0]


def train_step_fn(cfg: NetConfig, size: tuple[int, int], batch: int = 8) -> Callable[[], None]:
    """(e) forward + backward + Adam on all three heads (the decoder on 18 windows per page), batch ``batch``."""
    model = EcgAio(cfg).train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.randn(batch, cfg.in_channels, *size)
    y = torch.randint(0, 2, (batch, cfg.n_labels)).float()
    # 18 windows per page, as a 3x4+1 page gives: 12 panels of 2.5 s and a 10-s strip
    h, w = size
    quads = torch.tensor([[[(0.1 * w, 0.1 * h), (0.3 * w, 0.1 * h), (0.3 * w, 0.3 * h), (0.1 * w, 0.3 * h)]] * 18]
                         * batch, dtype=torch.float32)
    sig = torch.randn(batch, 18, cfg.window_samples)
    dom = torch.randint(0, cfg.n_domains, (batch,))

    def step() -> None:
        out = model(x, lam=0.5, quads=quads)
        loss = (F.binary_cross_entropy_with_logits(out["logits"], y)
                + F.mse_loss(out["signals"], sig) + F.cross_entropy(out["domain"], dom))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return step


def bench(width: int, size: tuple[int, int], runs: int) -> dict[str, object]:
    cfg = NetConfig(width=width)
    torch.manual_seed(0)
    model = EcgAio(cfg).eval().requires_grad_(False)
    x = torch.rand(1, 3, *size)
    row: dict[str, object] = {"width": width, "input": f"{size[0]}x{size[1]}",
                              "params (M)": f"{count_parameters(model) / 1e6:.2f}"}

    def forward() -> None:
        with torch.no_grad():
            model(x)
    row["(a) forward"] = median_ms(forward, runs)
    ref = jacobian_loop(model, x)
    row["(b) fwd + 8 bwd"] = median_ms(lambda: jacobian_loop(model, x), runs)
    try:
        err = (jacobian_batched_grads(model, x) - ref).abs().max().item()
        row["(c) batched grads"] = median_ms(lambda: jacobian_batched_grads(model, x), runs)
        row["(c) max diff"] = f"{err:.1e}"
    except RuntimeError as exc:  # vmap may not cover every backward op
        row["(c) batched grads"] = f"fails: {str(exc).splitlines()[0][:60]}"
        row["(c) max diff"] = "-"
    row["(d) batch of 8"] = median_ms(lambda: jacobian_replicated(model, x), runs)
    row["(d) max diff"] = f"{(jacobian_replicated(model, x) - ref).abs().max().item():.1e}"
    row["(e) train step B=8"] = median_ms(train_step_fn(cfg, size), runs)
    return row


def markdown(rows: list[dict[str, object]]) -> str:
    keys = list(rows[0])
    fmt = [f"{v:.0f}" if isinstance(v, float) else str(v) for r in rows for v in r.values()]
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    for i in range(len(rows)):
        lines.append("| " + " | ".join(fmt[i * len(keys):(i + 1) * len(keys)]) + " |")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=10)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--widths", type=int, nargs="+", default=[32, 48])
    p.add_argument("--sizes", nargs="+", default=["448x896", "384x768"], help="HxW")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    rows = []
    for width in args.widths:
        for s in args.sizes:
            h, w = (int(v) for v in s.split("x"))
            rows.append(bench(width, (h, w), args.runs))
            print(f"done width {width} {s}", file=sys.stderr, flush=True)
    print(f"torch {torch.__version__}, {args.threads} threads, median ms over {args.runs} runs\n")
    print(markdown(rows))


if __name__ == "__main__":
    main()
