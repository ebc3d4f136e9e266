"""Fit the panel-window signal decoder to the shipped, frozen encoder, and ship the result.

The encoder, label head and domain head are copied unchanged from the shipped weights (so every
label probability, threshold and explanation stays exactly as it was); only the decoder
(core.model.decoder.PanelDecoder) is trained, on training pages rendered like the training
loop's (simulated signals and the 'fit' records, all four domains, never 'val' or 'eval').
Because the encoder is frozen, each page's resampled windows are computed once and cached;
the decoder then trains on the cache for the time given. Writes the weights and the updated
card into --out (resources/ to ship), atomically.

    python scripts/fit_decoder.py --pages 1400 --minutes 35 --out resources   # the shipped decoder, ≈ 10 GB of RAM
"""
from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from itertools import islice
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from torch.utils.data import DataLoader
from tqdm import tqdm

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.model.decoder import only_used_windows  # noqa: E402
from core.model.network import EcgAio, NetConfig  # noqa: E402
from core.model.preprocess import to_model_input  # noqa: E402
from core.model.weights import default_card_path, save_weights  # noqa: E402
from core.train.data import PageStream  # noqa: E402
from core.train.loop import TrainConfig, machine_name  # noqa: E402
from core.train.targets import window_truth  # noqa: E402

SEED = 20261126


def frozen_model(card: dict, card_dir: Path) -> EcgAio:
    """The shipped network with this version's decoder (freshly initialised): every other
    tensor is copied from the shipped file, and must fit exactly."""
    encoder = ("width", "in_channels", "n_labels", "n_domains")  # the decoder's shape is this version's
    model = EcgAio(NetConfig(**{k: card["net"][k] for k in encoder}))
    shipped = {k: v for k, v in load_file(str(card_dir / card["file"])).items() if not k.startswith("decoder.")}
    missing, unexpected = model.load_state_dict(shipped, strict=False)
    assert not unexpected and all(k.startswith("decoder.") for k in missing), (missing, unexpected)
    return model


@torch.no_grad()
def cache_windows(model: EcgAio, cfg: TrainConfig, n_pages: int, workers: int) -> tuple[torch.Tensor, ...]:
    """(samples (M, C, rows, cols) fp16, truth (M, n), mask (M, n)) over the printed windows of
    ``n_pages`` training pages."""
    stream = PageStream(cfg.page_options(), start=0, net=model.config)
    loader = DataLoader(stream, batch_size=8, num_workers=workers)
    samples, truths, masks = [], [], []
    model.eval()
    for batch in tqdm(islice(loader, n_pages // 8), total=n_pages // 8, desc="pages/8", file=sys.stdout):
        x = to_model_input(batch["image"].float() / 255.0, cfg.input)
        quads, index = only_used_windows(batch["window_quads"], batch["window_index"])
        early, _ = model.forward_maps(x)
        s = model.decoder.sample((x, early), quads, (x.shape[2], x.shape[3]))
        truth, mask = window_truth(batch["signals"], batch["signal_known"], index, model.config.window_samples)
        keep = (index[..., 0] >= 0).flatten() & (mask.flatten(0, 1).sum(1) > 0)
        samples.append(s[keep].half())
        truths.append(truth.flatten(0, 1)[keep])
        masks.append(mask.flatten(0, 1)[keep])
    return torch.cat(samples), torch.cat(truths), torch.cat(masks)


def fit(model: EcgAio, data: tuple[torch.Tensor, ...], minutes: float, batch: int = 64, lr: float = 2e-3) -> int:
    """Train only the decoder's head on cached windows for ``minutes`` (cosine-decayed lr);
    returns the number of steps."""
    samples, truth, mask = data
    dec = model.decoder.train()
    opt = torch.optim.AdamW(dec.parameters(), lr, weight_decay=1e-4)
    gen = torch.Generator().manual_seed(SEED)
    t0, step = time.time(), 0
    while (p := (time.time() - t0) / (60 * minutes)) < 1:
        for g in opt.param_groups:
            g["lr"] = lr * (0.02 + 0.98 * 0.5 * (1 + np.cos(np.pi * p)))
        idx = torch.randint(len(samples), (batch,), generator=gen)
        pred = dec.head(samples[idx].float())
        loss = (F.smooth_l1_loss(pred, truth[idx], reduction="none", beta=0.1) * mask[idx]).sum() / mask[idx].sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        if step % 500 == 0:
            print(f"step {step}, {time.time() - t0:.0f} s, loss {loss.item():.4f}", flush=True)
    model.eval()
    return step


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=int, default=2400)
    ap.add_argument("--minutes", type=float, default=15.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--config", default=str(ROOT / "configs" / "train_gpu.json"), help="page mix and input size")
    ap.add_argument("--out", required=True, help="folder for the weights and card (resources/ to ship)")
    ap.add_argument("--limit", action="append", default=[],
                    help="what the evaluation showed of the decoder; replaces the card's decoder limits")
    args = ap.parse_args(argv)
    torch.manual_seed(SEED)
    card_path = default_card_path()
    card = json.loads(card_path.read_text())
    cfg = TrainConfig.from_json({**json.loads(Path(args.config).read_text()), "net": None, "seed": SEED})
    model = frozen_model(card, card_path.parent)
    before = copy.deepcopy({k: v for k, v in model.state_dict().items() if not k.startswith("decoder.")})
    t0 = time.time()
    data = cache_windows(model, cfg, args.pages, args.workers)
    t_cache = time.time() - t0
    print(f"{len(data[0])} windows from {args.pages} pages in {t_cache:.0f} s", flush=True)
    steps = fit(model, data, args.minutes)
    after = model.state_dict()
    assert all(torch.equal(v, after[k]) for k, v in before.items()), "only the decoder may change"
    card["training"]["decoder_fit"] = {
        "what": "the panel-window decoder fitted to the frozen encoder (every other tensor unchanged)",
        "pages": args.pages, "windows": len(data[0]), "steps": steps, "batch_windows": 64,
        "time_s": round(t_cache + 60 * args.minutes), "machine": machine_name(),
        "command": f"python scripts/fit_decoder.py --pages {args.pages} --minutes {args.minutes:g} --out resources",
    }
    card["limits"] = [x for x in card["limits"] if "decoder" not in x] + args.limit
    for k in ("net", "sha256"):
        card.pop(k)
    print(save_weights(model, card, args.out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
