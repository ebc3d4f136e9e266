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
from core.model.decoder import assemble, only_used_windows, panel_windows, window_arrays
from core.model.network import EcgAio, NetConfig
from core.model.preprocess import InputSpec, to_model_input
from core.page import detect_geometry
from core.synth.degrade import DOMAINS
from core.synth.from_record import sample_from_record
from core.synth.pages import SynthOptions, SynthPage, make_page, page_from_sample, record_rows
from core.train.targets import page_targets

EVAL_SIM_SEED = 2_000_001   # training streams use small seeds; these pages are never trained on
VAL_SIM_SEED = 1_000_001


@dataclass(frozen=True)
class Predictions:
    """Outputs and truths over a set of pages. probs/truth: (N, 8), truth NaN = unknown;
    signals/truth_signals/known: (N, 12, 1000) mV at 100 Hz, the signals decoded from the
    panels where the page's true geometry puts them (0 where nothing was decoded);
    signals_read: the same decoded from the panels the page reader (core.page) found, or None
    when not asked for."""

    probs: np.ndarray
    truth: np.ndarray
    signals: np.ndarray
    truth_signals: np.ndarray
    known: np.ndarray
    signals_read: np.ndarray | None = None


def sim_pages(n: int, domain: str, size: tuple[int, int], seed: int = EVAL_SIM_SEED) -> Iterator[SynthPage]:
    """``n`` simulated pages in one domain from a seed the training never uses."""
    options = SynthOptions(n=n, seed=seed, domain=domain, source="sim", size=size)
    return (make_page(options, i) for i in range(n))


def record_pages(split: str, domain: str, size: tuple[int, int] | None, seed: int = EVAL_SIM_SEED,
                 dpi: int | None = None) -> Iterator[SynthPage]:
    """Every record of ``split`` printed once in ``domain`` (deterministic paper and degradation),
    rendered straight to ``size`` (W, H) px, or, with ``size`` None, as paper at ``dpi``."""
    options = SynthOptions(n=1, seed=seed, domain=domain, source="records", split=split, size=size, dpi=dpi)
    for i, row in enumerate(record_rows(split)):
        rng = np.random.default_rng([seed, i, DOMAINS.index(domain)])
        yield page_from_sample(sample_from_record(row), options, rng, page_id=f"{split}_{i:04d}", seed=[seed, i])


@torch.no_grad()
def predict(model: EcgAio, spec: InputSpec, pages: Iterable[SynthPage], batch: int = 8,
            progress: Callable[[int], None] | None = None, read_pages: bool = False) -> Predictions:
    """Run the model over pages (rendered at the input size); collect probabilities, decoded
    signals and truths on the model's device. read_pages: also decode from the geometry
    ``core.page`` finds."""
    model.eval()
    net, device = model.config, next(model.parameters()).device
    probs, truth, sig, tsig, known, read = [], [], [], [], [], []
    chunk: list[SynthPage] = []

    def decoded(index: np.ndarray, windows: np.ndarray) -> np.ndarray:
        return np.nan_to_num(assemble(index, windows, net.decoder_leads, net.n_samples))

    def flush() -> None:
        x = torch.stack([torch.from_numpy(p.image.transpose(2, 0, 1).copy()) for p in chunk]).float() / 255
        targets = [page_targets(p.sample, p.geometry, p.domain, net) for p in chunk]
        x = to_model_input(x.to(device), spec)
        early, feats = model.forward_maps(x)  # one encoder pass for the labels and both readings

        def decode(quads: list[np.ndarray], index: list[np.ndarray]) -> list[np.ndarray]:
            used_quads, used_index = only_used_windows(np.stack(quads), np.stack(index))
            out = model.decode(x, early, torch.from_numpy(used_quads).to(device)).cpu().numpy()
            return [decoded(i, w) for i, w in zip(used_index, out)]

        probs.append(torch.sigmoid(model.forward_head(feats)).cpu().numpy())
        for t, signals in zip(targets, decode([t.window_quads for t in targets], [t.window_index for t in targets])):
            sig.append(signals)
            truth.append(np.where(t.label_known > 0, t.labels, np.nan))
            tsig.append(t.signals)
            known.append(t.signal_known)
        if read_pages:
            found = [read_windows(p.image, net) for p in chunk]
            read.extend(decode([q for q, _ in found], [i for _, i in found]))
        chunk.clear()
        if progress:
            progress(len(truth))

    for page in pages:
        chunk.append(page)
        if len(chunk) == batch:
            flush()
    if chunk:
        flush()
    return Predictions(np.concatenate(probs), np.stack(truth), np.stack(sig), np.stack(tsig), np.stack(known),
                       np.stack(read) if read_pages else None)


def read_windows(image: np.ndarray, net: NetConfig) -> tuple[np.ndarray, np.ndarray]:
    """Decoder windows (quads, index as ``window_arrays``) over the panels the page reader finds
    on a page rendered at the input size; none when it finds none."""
    geometry = detect_geometry(image).geometry
    windows = panel_windows(geometry.panels, net.decoder_window_s) if geometry is not None else []
    return window_arrays(windows, net.max_windows, net.decoder_fs)


def choose_thresholds(pred: Predictions) -> dict[str, float]:
    """Per-label thresholds that maximise F1 on a validation set."""
    from core.train.metrics import best_f1_threshold

    return {k: round(best_f1_threshold(pred.truth[:, j], pred.probs[:, j]), 4) for j, k in enumerate(LABELS)}


def subset(pred: Predictions, idx: np.ndarray) -> Predictions:
    """The predictions of some pages."""
    fields = ("probs", "truth", "signals", "truth_signals", "known") + (("signals_read",) if pred.signals_read is not None else ())
    return replace(pred, **{f: getattr(pred, f)[idx] for f in fields})
