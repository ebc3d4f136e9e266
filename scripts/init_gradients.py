"""Where the encoder's first gradient comes from: the labels', decoder's and domain losses' shares
at initialisation, with the decoder's output layer at zero (as shipped) and Kaiming-random (as
before session 4). One batch of 8 training pages, on the CPU, about 30 s.

    python scripts/init_gradients.py
"""
from __future__ import annotations

import json

import torch
from torch.utils.data import DataLoader

from core.model.network import EcgAio
from core.model.preprocess import to_model_input
from core.train.data import PageStream
from core.train.loop import TrainConfig, losses


def main() -> None:
    d = json.load(open("configs/train_gpu.json"))
    cfg = TrainConfig.from_json({**d, "device": "cpu", "workers": 0, "batch": 8})
    stream = PageStream(cfg.page_options(), real_folder=None, real_share=0.0, net=cfg.net)
    batch = next(iter(DataLoader(stream, batch_size=8)))
    x = to_model_input(batch["image"].float() / 255, cfg.input)
    weights = {"labels": 1.0, "signals": cfg.signal_weight, "domain": cfg.domain_weight}
    for case in ("zero output layer", "random output layer"):
        torch.manual_seed(1)
        model = EcgAio(cfg.net).train()
        if case == "random output layer":
            torch.nn.init.kaiming_normal_(model.decoder.out.weight, mode="fan_out", nonlinearity="relu")
        out = model(x, lam=0.0, quads=batch["window_quads"])
        parts = losses(out, batch, torch.ones(cfg.net.n_labels), cfg)
        encoder = [p for n, p in model.named_parameters() if n.startswith(("stem", "layer"))]
        line = []
        for k, w in weights.items():
            g = torch.autograd.grad(w * parts[k], encoder, retain_graph=True, allow_unused=True)
            norm = torch.nn.utils.get_total_norm([t for t in g if t is not None])
            line.append(f"{k} loss {float(parts[k].detach()):.3f} (encoder grad {float(norm):.3f})")
        print(f"{case}: " + ", ".join(line))


if __name__ == "__main__":
    main()
