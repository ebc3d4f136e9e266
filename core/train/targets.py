"""What the network is trained to output for one page: labels, printed signals, domain.

Never an evidence mask or any attribution target (DESIGN.md "Rules for the science").
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.signal import resample_poly

from core.labels import LABELS, LEADS, canonical_lead
from core.page import Geometry
from core.synth.sample import EcgSample

DECODER_FS = 100.0  # Hz; the decoder predicts 12 leads × 10 s at this rate
DECODER_SECONDS = 10.0
SOURCE_DOMAIN, TARGET_DOMAIN = 0, 1  # scans (clean/scan/shadow) vs photos and real images


@dataclass(frozen=True)
class Targets:
    """Training targets of one page.

    labels: (8,) float32 0/1. label_known: (8,) float32, 0 where the label is unknown.
    signals: (12, 1000) float32 mV at 100 Hz over 10 s. signal_known: (12, 1000) float32, 1
    where that lead is printed at that time. domain: SOURCE_DOMAIN or TARGET_DOMAIN.
    has_labels: False for unlabelled real images (only the domain loss applies).
    """

    labels: np.ndarray
    label_known: np.ndarray
    signals: np.ndarray
    signal_known: np.ndarray
    domain: int
    has_labels: bool = True


def domain_of(name: str) -> int:
    """Photos are the target domain; clean pages, scans and shadowed scans the source."""
    return TARGET_DOMAIN if name == "photo" else SOURCE_DOMAIN


def page_targets(sample: EcgSample, geometry: Geometry, domain: str) -> Targets:
    """Targets for a rendered page from its sample and exact geometry."""
    labels = np.array([sample.labels[k] or 0 for k in LABELS], dtype=np.float32)
    known = np.array([sample.labels[k] is not None for k in LABELS], dtype=np.float32)
    return Targets(labels, known, decoder_signals(sample), printed_mask(geometry), domain_of(domain))


def unlabelled_targets() -> Targets:
    """Targets of a real unlabelled image: target domain, nothing else known."""
    n = int(DECODER_FS * DECODER_SECONDS)
    return Targets(np.zeros(len(LABELS), np.float32), np.zeros(len(LABELS), np.float32),
                   np.zeros((len(LEADS), n), np.float32), np.zeros((len(LEADS), n), np.float32),
                   TARGET_DOMAIN, has_labels=False)


def decoder_signals(sample: EcgSample) -> np.ndarray:
    """The 12 leads resampled to 100 Hz over 10 s: (12, 1000) float32 mV."""
    n = int(DECODER_FS * DECODER_SECONDS)
    up, down = int(DECODER_FS), int(round(sample.fs))
    out = resample_poly(sample.signals.astype(np.float64), up, down, axis=0)[:n]
    if len(out) < n:
        out = np.pad(out, ((0, n - len(out)), (0, 0)))
    return np.ascontiguousarray(out.T, dtype=np.float32)


def printed_mask(geometry: Geometry) -> np.ndarray:
    """(12, 1000) float32: 1 where a lead's trace is printed somewhere on the page."""
    n = int(DECODER_FS * DECODER_SECONDS)
    mask = np.zeros((len(LEADS), n), np.float32)
    for p in geometry.panels:
        i0, i1 = (int(round(t * DECODER_FS)) for t in (p.t0_s, p.t1_s))
        mask[LEADS.index(canonical_lead(p.lead)), max(i0, 0):min(i1, n)] = 1.0
    return mask
