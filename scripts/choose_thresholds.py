"""Choose the card's per-label thresholds on `val` printed as phone photographs.

    .venv/bin/python scripts/choose_thresholds.py [--renders 3] [--sim 64] [--domains photo]
                                                  [--rule specificity] [--min-specificity 0.95]
                                                  [--write] [--card-out DIR]

Every `val` record (the held-out fifth of the train split, ``core.synth.pages.in_split``;
never `eval`) is printed ``--renders`` times in each of ``--domains`` (each time on other paper,
with another degradation), beside ``--sim`` simulated pages per domain from the validation seed
(never trained on). The shipped network reads them on the CPU; its probabilities are cached
under ``cache/choose_thresholds/`` (gitignored, per weights file), so a rerun only computes the
table. Two rules are scored on those pages:

- ``f1``: the threshold with the highest F1 (how ``ecg-aio export`` chooses on all of `val`);
- ``specificity``: for the findings (AF, AFL, PVC, PAC, IAVB, LBBB, RBBB), the highest F1 among
  the thresholds that keep specificity ≥ ``--min-specificity`` on these pages (a false finding
  on a normal ECG is the error a physician can least afford); SR by F1.

The table gives, per label, the installed card's threshold (or ``--baseline``'s) and the chosen
one, each with its sensitivity, specificity and F1 on these pages, and each label's expected
calibration error there.
``--write`` puts the chosen thresholds into resources/model_card.json (and says how they were
chosen); ``--card-out DIR`` writes a card with them beside the shipped weights' path, for
``ECG_AIO_WEIGHTS=DIR/model_card.json benchmarks/bench_real_images.py``.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.atomic import write_json  # noqa: E402
from core.labels import LABELS  # noqa: E402
from core.train.metrics import best_f1_threshold, confusion_rates, expected_calibration_error  # noqa: E402

CACHE = ROOT / "cache" / "choose_thresholds"
FINDINGS = ("AF", "AFL", "PVC", "PAC", "IAVB", "LBBB", "RBBB")
CARD = ROOT / "resources" / "model_card.json"


@dataclass(frozen=True)
class PagePredictions:
    """The network's probabilities on rendered `val` pages and their truths. probs, truth:
    (N, 8), truth NaN = unknown. source: 'records' or 'sim' per page; domain per page."""

    probs: np.ndarray
    truth: np.ndarray
    source: np.ndarray
    domain: np.ndarray

    def select(self, keep: np.ndarray) -> "PagePredictions":
        return PagePredictions(*(getattr(self, f)[keep] for f in self.__dataclass_fields__))


def _rendered(model, weights, what: str, domain: str, seed: int, n_sim: int) -> dict[str, np.ndarray]:
    """Predictions for one batch of pages (``what``: 'records' = every val record, 'sim'), cached."""
    from core.train.evaluate import predict, record_pages, sim_pages

    path = CACHE / f"{weights.sha256[:12]}_{what}_{domain}_{seed}" f"{'_' + str(n_sim) if what == 'sim' else ''}.npz"
    if path.is_file():
        with np.load(path) as npz:
            return dict(npz)
    size = (weights.input.width, weights.input.height)
    pages = list(record_pages("val", domain, size, seed=seed) if what == "records"
                 else islice(sim_pages(n_sim, domain, size, seed=seed), n_sim))
    pred = predict(model, weights.input, pages)
    out = {"probs": pred.probs, "truth": pred.truth}
    CACHE.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, **out)
    tmp.replace(path)
    return out


def val_photo_predictions(renders: int = 3, n_sim: int = 64, domains: tuple[str, ...] = ("photo",),
                          progress: bool = True) -> PagePredictions:
    """Every `val` record printed ``renders`` times per domain plus ``n_sim`` simulated pages per
    domain (validation seed), read by the shipped network on the CPU (cached)."""
    from core.analyze import model_for
    from core.train.evaluate import VAL_SIM_SEED

    model, weights = model_for("cpu")
    parts: list[tuple[str, str, dict[str, np.ndarray]]] = []
    jobs = [("records", d, VAL_SIM_SEED + r) for d in domains for r in range(renders)]
    jobs += [("sim", d, VAL_SIM_SEED) for d in domains if n_sim]
    for what, domain, seed in jobs:
        t0 = time.perf_counter()
        parts.append((what, domain, _rendered(model, weights, what, domain, seed, n_sim)))
        if progress:
            print(f"  {what} / {domain} / seed {seed}: {len(parts[-1][2]['probs'])} pages "
                  f"({time.perf_counter() - t0:.0f} s)", file=sys.stderr, flush=True)
    return PagePredictions(
        np.concatenate([p["probs"] for _, _, p in parts]), np.concatenate([p["truth"] for _, _, p in parts]),
        np.concatenate([[w] * len(p["probs"]) for w, _, p in parts]),
        np.concatenate([[d] * len(p["probs"]) for _, d, p in parts]))


def thresholds_by(rule: str, pred: PagePredictions, min_specificity: float) -> dict[str, float]:
    """Per-label thresholds by ``rule`` ('f1' or 'specificity')."""
    out = {}
    for j, key in enumerate(LABELS):
        floor = min_specificity if rule == "specificity" and key in FINDINGS else None
        out[key] = round(best_f1_threshold(pred.truth[:, j], pred.probs[:, j], floor), 4)
    return out


def table(pred: PagePredictions, old: dict[str, float], new: dict[str, float]) -> str:
    """Per label: positives/negatives, old and new threshold with sensitivity/specificity/F1, ECE."""
    lines = ["| label | pages +/− | baseline threshold | sens / spec / F1 | chosen threshold | sens / spec / F1 | ECE |",
             "|---|---|---|---|---|---|---|"]
    for j, key in enumerate(LABELS):
        t, s = pred.truth[:, j], pred.probs[:, j]
        a, b = confusion_rates(t, s, old[key]), confusion_rates(t, s, new[key])
        lines.append(f"| {key} | {int(np.nansum(t))}/{int(np.sum(t == 0))} | {old[key]:.3f} | {_srf(a)} | "
                     f"{new[key]:.3f} | {_srf(b)} | {_f(expected_calibration_error(t, s), 3)} |")
    lines.append(f"| all | {len(pred.probs)} pages | | | | | {_f(expected_calibration_error(pred.truth, pred.probs), 3)} |")
    return "\n".join(lines)


def _srf(r: dict[str, float | None]) -> str:
    return " / ".join(_f(r[k]) for k in ("sensitivity", "specificity", "f1"))


def _f(v: float | None, digits: int = 2) -> str:
    return "—" if v is None else f"{v:.{digits}f}"


def how_chosen(args: argparse.Namespace, n_pages: int) -> str:
    """The card's sentence on how its thresholds were chosen."""
    rule = ("the highest F1" if args.rule == "f1" else
            f"for AF, AFL, PVC, PAC, IAVB, LBBB and RBBB the highest F1 that keeps specificity ≥ "
            f"{args.min_specificity:g} (a false finding on a normal ECG is the costliest error), for SR the highest F1")
    return (f"On {n_pages} `val` pages printed by the ECG studio in its {'/'.join(args.domains)} domain (each `val` record "
            f"{args.renders} times, and {args.sim} simulated pages per domain from the validation seed), "
            f"{rule}: `python scripts/choose_thresholds.py --renders {args.renders} --sim {args.sim} "
            f"--domains {','.join(args.domains)} --rule {args.rule} --min-specificity {args.min_specificity:g} --write`.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--renders", type=int, default=3, help="prints of each val record per domain")
    parser.add_argument("--sim", type=int, default=64, help="simulated pages per domain (0: none)")
    parser.add_argument("--domains", type=lambda s: tuple(s.split(",")), default=("photo",))
    parser.add_argument("--rule", choices=("f1", "specificity"), default="specificity")
    parser.add_argument("--min-specificity", type=float, default=0.95)
    parser.add_argument("--baseline", type=Path, default=CARD,
                        help="a model card whose thresholds the table sets beside the chosen ones (default: the installed card)")
    parser.add_argument("--write", action="store_true", help="write the thresholds into resources/model_card.json")
    parser.add_argument("--card-out", type=Path, default=None, help="write a card with them into this folder")
    args = parser.parse_args()

    card = json.loads(CARD.read_text())
    old = json.loads(args.baseline.read_text())["thresholds"]
    t0 = time.perf_counter()
    pred = val_photo_predictions(args.renders, args.sim, args.domains)
    new = thresholds_by(args.rule, pred, args.min_specificity)
    print(f"{len(pred.probs)} val pages ({int(np.sum(pred.source == 'records'))} record prints, "
          f"{int(np.sum(pred.source == 'sim'))} simulated) in {'/'.join(args.domains)}; rule {args.rule}"
          + (f", specificity ≥ {args.min_specificity:g} for the findings" if args.rule == "specificity" else "")
          + f" ({time.perf_counter() - t0:.0f} s)\n")
    print(table(pred, old, new))
    records = pred.select(pred.source == "records")
    print(f"\nThe record prints alone ({len(records.probs)} pages):\n")
    print(table(records, old, new))
    if args.card_out is not None:
        args.card_out.mkdir(parents=True, exist_ok=True)
        other = {**card, "thresholds": new, "file": str((CARD.parent / card["file"]).resolve())}
        (args.card_out / "model_card.json").write_text(json.dumps(other, indent=2) + "\n")
        print(f"\ncard with these thresholds: {args.card_out / 'model_card.json'}")
    if args.write:
        card["thresholds"] = new
        card.setdefault("metrics", {})["thresholds_chosen"] = how_chosen(args, len(pred.probs))
        write_json(CARD, card)
        print(f"\nwritten into {CARD.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
