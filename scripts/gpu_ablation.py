"""Ablation on a lent GPU: the shipped recipe and one change at a time, each trained for the same
time from scratch and scored on `val` (held-out train records in every domain + simulated pages;
`eval` never travels). Prints one JSON line per variant and writes them to OUT/ablation.jsonl.

Run through the device tool with the data pack (see scripts/gpu_train.sh for the set-up lines):
    python3 scripts/gpu_ablation.py configs/train_gpu.json 100 $OUT [--workers 15]
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from core.train.evaluate import choose_thresholds
from core.train.export import validation_predictions
from core.train.loop import TrainConfig, load_checkpoint_model, train
from core.train.metrics import label_report

LOW_RES = {"height": 288, "width": 576, "channels": 3, "mean": [0.5] * 3, "std": [0.25] * 3}
VARIANTS: dict[str, dict] = {
    "shipped recipe": {},
    "no decoder loss": {"signal_weight": 0.0},
    "no domain loss, no real images": {"domain_weight": 0.0, "real_share": 0.0},
    "simulated signals only (no records)": {"record_share": 0.0},
    "input 288 x 576 (≈ 2 px/mm)": {"input": LOW_RES},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", type=Path)
    parser.add_argument("seconds", type=float, help="training time per variant (s)")
    parser.add_argument("out", type=Path)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--val-sim", type=int, default=64, help="simulated val pages per domain")
    parser.add_argument("--only", default=None, help="comma-separated variant names")
    args = parser.parse_args()
    base = json.loads(args.config.read_text())
    if args.workers is not None:
        base["workers"] = args.workers
    names = args.only.split(",") if args.only else list(VARIANTS)
    args.out.mkdir(parents=True, exist_ok=True)
    for name in names:
        cfg = TrainConfig.from_json({**base, **VARIANTS[name], "max_seconds": args.seconds})
        run = Path("/tmp/ablation") / name.replace(" ", "_")
        t0 = time.time()
        ckpt = train(cfg, run)
        model = load_checkpoint_model(ckpt, cfg.net)
        val = validation_predictions(model, cfg, args.val_sim)
        rep = label_report(val.truth, val.probs, choose_thresholds(val), n_boot=100)
        row = {"variant": name, "seconds": args.seconds, "wall_s": round(time.time() - t0),
               "val_macro_auroc": rep["macro_auroc"],
               "val_auroc": {k: r["auroc"] for k, r in rep["labels"].items()}}
        print(json.dumps(row), flush=True)
        with open(args.out / "ablation.jsonl", "a") as f:
            f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
