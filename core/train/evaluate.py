"""Evaluation: run the network over held-out pages and report labels and signals per domain.

Two sets, both never trained on: (a) simulated pages from seeds the training never uses;
(b) the ``eval`` split's real records printed by our renderer, once per domain. Thresholds are
chosen on ``val`` (part of train) — never on these.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace

import numpy as np
import torch

from core.labels import LABELS
from core.model.network import EcgAio
from core.model.preprocess import InputSpec, to_model_input
from core.synth.degrade import DOMAINS
from core.synth.from_record import sample_from_record
from core.synth.pages import SynthOptions, SynthPage, make_page, page_from_sample, record_rows
from core.train.targets import page_targets

EVAL_SIM_SEED = 2_000_001   # training streams use small seeds; these pages are never trained on
VAL_SIM_SEED = 1_000_001


@dataclass(frozen=True)
class Predictions:
    """Outputs and truths over a set of pages. probs/truth: (N, 8), truth NaN = unknown;
    signals/truth_signals/known: (N, 12, 1000) mV at 100 Hz."""

    probs: np.ndarray
    truth: np.ndarray
    signals: np.ndarray
    truth_signals: np.ndarray
    known: np.ndarray


def sim_pages(n: int, domain: str, size: tuple[int, int], seed: int = EVAL_SIM_SEED) -> Iterator[SynthPage]:
    """``n`` simulated pages in one domain from a seed the training never uses."""
    options = SynthOptions(n=n, seed=seed, domain=domain, source="sim", size=size)
    return (make_page(options, i) for i in range(n))


def record_pages(split: str, domain: str, size: tuple[int, int], seed: int = EVAL_SIM_SEED) -> Iterator[SynthPage]:
    """Every record of ``split`` printed once in ``domain`` (deterministic paper and degradation)."""
    options = SynthOptions(n=1, seed=seed, domain=domain, source="records", split=split, size=size)
    for i, row in enumerate(record_rows(split)):
        rng = np.random.default_rng([seed, i, DOMAINS.index(domain)])
        yield page_from_sample(sample_from_record(row), options, rng, page_id=f"{split}_{i:04d}", seed=[seed, i])


@torch.no_grad()
def predict(model: EcgAio, spec: InputSpec, pages: Iterable[SynthPage], batch: int = 8,
            progress: Callable[[int], None] | None = None) -> Predictions:
    """Run the model over pages; collect probabilities, decoded signals and truths."""
    model.eval()
    probs, truth, sig, tsig, known = [], [], [], [], []
    chunk: list[SynthPage] = []

    def flush() -> None:
        x = torch.stack([torch.from_numpy(p.image.transpose(2, 0, 1).copy()) for p in chunk]).float() / 255
        out = model(to_model_input(x, spec))
        probs.append(torch.sigmoid(out["logits"]).numpy())
        sig.append(out["signals"].numpy())
        for p in chunk:
            t = page_targets(p.sample, p.geometry, p.domain, model.config)
            truth.append(np.where(t.label_known > 0, t.labels, np.nan))
            tsig.append(t.signals)
            known.append(t.signal_known)
        chunk.clear()
        if progress:
            progress(len(truth))

    for page in pages:
        chunk.append(page)
        if len(chunk) == batch:
            flush()
    if chunk:
        flush()
    return Predictions(np.concatenate(probs), np.stack(truth), np.concatenate(sig), np.stack(tsig), np.stack(known))


def choose_thresholds(pred: Predictions) -> dict[str, float]:
    """Per-label thresholds that maximise F1 on a validation set."""
    from core.train.metrics import best_f1_threshold

    return {k: round(best_f1_threshold(pred.truth[:, j], pred.probs[:, j]), 4) for j, k in enumerate(LABELS)}


def subset(pred: Predictions, idx: np.ndarray) -> Predictions:
    """The predictions of some pages."""
    return replace(pred, **{f: getattr(pred, f)[idx] for f in ("probs", "truth", "signals", "truth_signals", "known")})
