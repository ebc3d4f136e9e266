"""What the network is trained to output for one page: labels, printed signals, domain.

Never an evidence mask or any attribution target (DESIGN.md "Rules for the science").
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy.signal import resample_poly

from core.labels import LABELS, LEADS, canonical_lead
from core.model.decoder import panel_windows, window_arrays
from core.model.network import NetConfig
from core.page import Geometry
from core.synth.sample import EcgSample

SOURCE_DOMAIN, TARGET_DOMAIN = 0, 1  # scans (clean/scan/shadow) vs photos and real images


@dataclass(frozen=True)
class Targets:
    """Training targets of one page.

    labels: (8,) float32 0/1. label_known: (8,) float32, 0 where the label is unknown.
    signals: (12, n) float32 mV at the decoder's rate and duration (NetConfig.decoder_fs Hz ×
    decoder_seconds s; n = NetConfig.n_samples, 1000 by default). signal_known: (12, n) float32,
    1 where that lead is printed at that time. window_quads (W, 4, 2) float32 and window_index
    (W, 2) int64: the decoder's windows over the printed panels (page px, which are the
    network's input px for training pages) and their (lead, first sample), lead -1 for unused
    rows; W = NetConfig.max_windows. domain: SOURCE_DOMAIN or TARGET_DOMAIN.
    has_labels: False for unlabelled real images (only the domain loss applies).
    """

    labels: np.ndarray
    label_known: np.ndarray
    signals: np.ndarray
    signal_known: np.ndarray
    window_quads: np.ndarray
    window_index: np.ndarray
    domain: int
    has_labels: bool = True


def domain_of(name: str) -> int:
    """Photos are the target domain; clean pages, scans and shadowed scans the source."""
    return TARGET_DOMAIN if name == "photo" else SOURCE_DOMAIN


def page_targets(sample: EcgSample, geometry: Geometry, domain: str,
                 net: NetConfig = NetConfig()) -> Targets:
    """Targets for a rendered page from its sample and exact geometry, shaped for ``net``'s decoder."""
    labels = np.array([sample.labels[k] or 0 for k in LABELS], dtype=np.float32)
    known = np.array([sample.labels[k] is not None for k in LABELS], dtype=np.float32)
    quads, index = window_arrays(panel_windows(geometry.panels, net.decoder_window_s), net.max_windows,
                                 net.decoder_fs)
    return Targets(labels, known, decoder_signals(sample, net), printed_mask(geometry, net), quads, index,
                   domain_of(domain))


def unlabelled_targets(net: NetConfig = NetConfig()) -> Targets:
    """Targets of a real unlabelled image: target domain, nothing else known."""
    n = net.n_samples
    quads, index = window_arrays([], net.max_windows, net.decoder_fs)
    return Targets(np.zeros(len(LABELS), np.float32), np.zeros(len(LABELS), np.float32),
                   np.zeros((len(LEADS), n), np.float32), np.zeros((len(LEADS), n), np.float32),
                   quads, index, TARGET_DOMAIN, has_labels=False)


def decoder_signals(sample: EcgSample, net: NetConfig = NetConfig()) -> np.ndarray:
    """The 12 leads at the decoder's rate: (12, net.n_samples) float32 mV.

    net.decoder_fs Hz over net.decoder_seconds s (default 100 Hz × 10 s = 1000 samples);
    zero-padded when the record is shorter.
    """
    n = net.n_samples
    up, down = int(net.decoder_fs), int(round(sample.fs))
    out = resample_poly(sample.signals.astype(np.float64), up, down, axis=0)[:n]
    if len(out) < n:
        out = np.pad(out, ((0, n - len(out)), (0, 0)))
    return np.ascontiguousarray(out.T, dtype=np.float32)


def printed_mask(geometry: Geometry, net: NetConfig = NetConfig()) -> np.ndarray:
    """(12, net.n_samples) float32 at net.decoder_fs Hz: 1 where a lead is printed on the page."""
    n = net.n_samples
    mask = np.zeros((len(LEADS), n), np.float32)
    for p in geometry.panels:
        i0, i1 = (int(round(t * net.decoder_fs)) for t in (p.t0_s, p.t1_s))
        mask[LEADS.index(canonical_lead(p.lead)), max(i0, 0):min(i1, n)] = 1.0
    return mask


def window_truth(signals: torch.Tensor, known: torch.Tensor, index: torch.Tensor,
                 n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The true samples of each decoder window and where they count: (B, W, n) each, from the
    record's signals and printed mask (B, 12, T) and the windows' index (B, W, 2); unused
    windows (lead -1) and samples past the record count nowhere."""
    b, w = index.shape[:2]
    lead = index[..., 0].clamp_min(0)
    t = index[..., 1:2].clamp_min(0) + torch.arange(n, device=index.device)  # (B, W, n)
    inside = t < signals.shape[2]
    t = t.clamp_max(signals.shape[2] - 1)
    rows = torch.arange(b, device=index.device)[:, None, None]
    truth = signals[rows, lead[..., None], t]
    mask = known[rows, lead[..., None], t] * inside * (index[..., :1] >= 0)
    return truth, mask.to(truth.dtype)
