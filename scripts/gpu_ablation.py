"""Ablation on a lent GPU: the shipped recipe and one change at a time, each trained from scratch
for the same number of rendered batches (so GPU kinds compare) and scored on `val` (held-out train records printed in every domain, and
simulated pages; `eval` never travels). Prints one JSON line per variant and appends it to
OUT/ablation.jsonl; the shipped recipe's moving-average weights go to OUT/recipe_ema.pt.

Run through the device tool with the data pack (.pack and .whl carried):
    scripts/gpu_ablation.sh $OUT 900 "shipped recipe,no decoder loss"
900 batches take about 4 min on an H100 at 448 x 896 (≈ 3.7 rendered batches/s, 2.8 min at
288 x 576); 75 s per variant (session 4) left every variant at chance. A 15-min device budget
holds about three variants: collect the rows over sessions in docs/ablation.jsonl.
"""
from __future__ import annotations

import argparse
import json
import time
from concurrent.futures import ProcessPoolExecutor
from itertools import chain, islice
from pathlib import Path

import numpy as np
import torch

from core.synth.degrade import DOMAINS
from core.train.evaluate import VAL_SIM_SEED, choose_thresholds, predict, record_pages, sim_pages, subset
from core.train.loop import TrainConfig, load_checkpoint_model, train
from core.train.metrics import label_report, snr_db

LOW_RES = {"height": 288, "width": 576, "channels": 3, "mean": [0.5] * 3, "std": [0.25] * 3}
VARIANTS: dict[str, dict] = {  # most telling first: a run cut short by the device's limit keeps them
    "shipped recipe": {},
    "no decoder loss": {"signal_weight": 0.0},
    "input 288 x 576 (≈ 2 px/mm)": {"input": LOW_RES},
    "no domain loss or real images": {"domain_weight": 0.0, "real_share": 0.0},
    "records only (no simulated signals)": {"record_share": 1.0},
}


def _render(task: tuple[str, str, tuple[int, int], int]) -> list:
    source, domain, size, n_sim = task
    if source == "records":
        return list(record_pages("val", domain, size, seed=VAL_SIM_SEED))
    return list(islice(sim_pages(n_sim, domain, size, seed=VAL_SIM_SEED), n_sim))


def val_pages(size: tuple[int, int], n_sim: int) -> dict[tuple[str, str], list]:
    """The validation pages at one input size, per (source, domain), rendered in parallel."""
    tasks = [(s, d, size, n_sim) for s in ("records", "sim") for d in DOMAINS]
    with ProcessPoolExecutor(len(tasks)) as pool:
        return {(s, d): pages for (s, d, _, _), pages in zip(tasks, pool.map(_render, tasks))}


def scores(model, cfg: TrainConfig, pages: dict[tuple[str, str], list]) -> dict:
    """Macro AUROC on val records (all domains; photos alone) and simulated pages; decoder SNR."""
    every = predict(model, cfg.input, chain(*pages.values()))
    group = np.concatenate([[key] * len(group) for key, group in pages.items()])  # (N, 2): source, domain
    thresholds = choose_thresholds(every)

    def macro(source: str, domain: str | None = None) -> float:
        p = subset(every, np.flatnonzero((group[:, 0] == source) & ((group[:, 1] == domain) if domain else True)))
        return round(label_report(p.truth, p.probs, thresholds, n_boot=0)["macro_auroc"], 3)

    snr = snr_db(every.truth_signals, every.signals, every.known)
    return {"val_records_macro_auroc": macro("records"),
            "val_records_photo_macro_auroc": macro("records", "photo"),
            "val_sim_macro_auroc": macro("sim"),
            "val_decoder_snr_db": round(float(np.nanmean(np.where(np.isinf(snr), np.nan, snr))), 2),
            "val_auroc": {k: round(r["auroc"], 3) for k, r in
                          label_report(every.truth, every.probs, thresholds, n_boot=0)["labels"].items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", type=Path)
    parser.add_argument("batches", type=int, help="rendered batches per variant")
    parser.add_argument("out", type=Path)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--val-sim", type=int, default=64, help="simulated val pages per domain")
    parser.add_argument("--only", default=None, help="comma-separated variant names (names hold no commas)")
    args = parser.parse_args()
    base = json.loads(args.config.read_text())
    if args.workers is not None:
        base["workers"] = args.workers
    names = args.only.split(",") if args.only else list(VARIANTS)
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:  # fail before the device spends minutes rendering
        parser.error(f"unknown variants {unknown}; known: {list(VARIANTS)}")
    args.out.mkdir(parents=True, exist_ok=True)
    pages: dict[tuple[int, int], dict] = {}
    for name in names:
        cfg = TrainConfig.from_json({**base, **VARIANTS[name], "max_seconds": None, "steps": args.batches})
        size = (cfg.input.width, cfg.input.height)
        if size not in pages:
            t0 = time.time()
            pages[size] = val_pages(size, args.val_sim)
            print(f"val pages at {size}: {sum(map(len, pages[size].values()))} in {time.time() - t0:.0f} s", flush=True)
        run = Path("/tmp/ablation") / name.replace(" ", "_")
        t0 = time.time()
        ckpt = train(cfg, run)
        state = torch.load(ckpt, map_location="cpu", weights_only=True)
        model = load_checkpoint_model(ckpt, cfg.net).to(cfg.device)
        row = {"variant": name, "rendered_batches": int(state["step"]), "train_s": round(state["elapsed"]),
               "machine": state["machine"], **scores(model, cfg, pages[size]), "wall_s": round(time.time() - t0)}
        print(json.dumps(row), flush=True)
        with open(args.out / "ablation.jsonl", "a") as f:
            f.write(json.dumps(row) + "\n")
        if name == "shipped recipe":
            torch.save({"model": state.get("ema_model", state["model"]), "step": state["step"],
                        "elapsed": state["elapsed"], "machine": state["machine"]}, args.out / "recipe_ema.pt")


if __name__ == "__main__":
    main()
