"""One ECG image in, the diagnosis and where the network looked out (`ecg-aio analyze`, the GUI).

The same function serves the CLI and the review window; it writes nothing itself —
``write_analysis`` does, atomically, all files or none.
"""
from __future__ import annotations

import io
import time
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core.atomic import OutputSet, encode_image, write_bytes, write_json, write_npy
from core.explain import Explanation, explain, overlay, where_it_looked
from core.io import LoadedImage
from core.labels import LABELS, LEADS, canonical_lead
from core.model.network import EcgAio
from core.model.weights import Weights
from core.page import Geometry

RESULT_SCHEMA = "ecg-aio/result@1"


@dataclass(frozen=True)
class Analysis:
    """Everything ``analyze`` found for one image (saliency in the image's own pixels)."""

    image: LoadedImage
    weights: Weights
    device: str
    geometry: Geometry | None
    explanation: Explanation
    labels: tuple[str, ...]
    timings_ms: dict[str, float]

    def probability(self, key: str) -> float:
        """The network's probability for label ``key``."""
        return float(self.explanation.probabilities[LABELS.index(key)])

    def is_positive(self, key: str) -> bool:
        """Is label ``key`` at or above the card's threshold?"""
        return self.probability(key) >= self.weights.thresholds[key]

    def positives(self) -> list[str]:
        """The labels at or above the card's thresholds, most probable first."""
        return sorted(filter(self.is_positive, self.labels), key=lambda k: -self.probability(k))

    def headline(self) -> str:
        """The label to show first: the most probable positive one other than SR, else the most
        probable label (a finding is what a reviewer wants to check the evidence of)."""
        findings = [k for k in self.positives() if k != "SR"]
        return findings[0] if findings else max(self.labels, key=self.probability)


def analyze(image: LoadedImage, model: EcgAio, weights: Weights, labels: Sequence[str] = LABELS,
            method: str = "jacobian", smoothgrad: int = 0, geometry: Geometry | None = None,
            device: str = "cpu", timings_ms: dict[str, float] | None = None,
            progress: Callable[[int, int], None] | None = None,
            cancel: Callable[[], bool] | None = None) -> Analysis:
    """Diagnose ``image`` and explain each label in ``labels``.

    timings_ms: earlier stages' times (load, page) to carry into the result.
    """
    ex = explain(model, weights.input, image.rgb, list(labels), method=method, smoothgrad_n=smoothgrad,
                 progress=progress, cancel=cancel, geometry=geometry)
    return Analysis(image, weights, device, geometry, ex, tuple(labels), {**(timings_ms or {}), **ex.timings_ms})


def result_json(a: Analysis, files: dict[str, dict[str, str]]) -> dict[str, Any]:
    """The ``ecg-aio/result@1`` document (DESIGN.md)."""
    entries = []
    for key in a.labels:
        where = where_it_looked(a.explanation.saliency[key], a.geometry, key)
        entries.append({"name": key, "probability": round(a.probability(key), 4),
                        "threshold": float(a.weights.thresholds[key]), "positive": a.is_positive(key),
                        **files[key], "where": where})
    return {
        "schema": RESULT_SCHEMA,
        "image": {"path": a.image.path, "sha256": a.image.sha256, "size": list(a.image.size), "page": a.image.page},
        "model": {"name": a.weights.name, "version": a.weights.version, "sha256": a.weights.sha256},
        "device": a.device,
        "timings_ms": {k: round(v, 1) for k, v in a.timings_ms.items()},
        "geometry": None if a.geometry is None else a.geometry.to_json(),
        "labels": entries,
    }


def signals_csv(signals: np.ndarray, fs: float, geometry: Geometry | None) -> bytes:
    """Decoded leads (12, n) at ``fs`` Hz as printed: ``panel,lead,t_s,mv`` rows, one per
    decoded sample of each panel of ``geometry`` (only the header without geometry: the leads
    are read from the panels it locates)."""
    t = np.arange(signals.shape[1]) / fs
    spans = [] if geometry is None else [(i, p.lead, p.t0_s, p.t1_s) for i, p in enumerate(geometry.panels)]
    buf = io.StringIO()
    buf.write("panel,lead,t_s,mv\n")
    for panel, lead, t0, t1 in spans:
        row = signals[LEADS.index(canonical_lead(lead))]
        sel = (t >= t0) & (t < t1) & np.isfinite(row)
        buf.writelines(f"{panel},{lead},{ti:.2f},{v:.4f}\n" for ti, v in zip(t[sel], row[sel]))
    return buf.getvalue().encode()


def write_analysis(a: Analysis, out_dir: str | Path, opacity: float = 0.6) -> Path:
    """Write result.json, saliency_<L>.npy, overlay_<L>.png and signals.csv (all or nothing)."""
    t0 = time.perf_counter()
    files: dict[str, dict[str, str]] = {}
    # the overlays are drawn and PNG-encoded in threads: NumPy and OpenCV release the GIL
    with ThreadPoolExecutor() as pool:
        pngs = pool.map(lambda key: encode_image(overlay(a.image.rgb, a.explanation.saliency[key],
                                                         opacity=opacity), ".png"), a.labels)
        with OutputSet(out_dir) as out:
            for key, png in zip(a.labels, pngs):
                write_npy(out.path(f"saliency_{key}.npy"), a.explanation.saliency[key].astype(np.float32))
                write_bytes(out.path(f"overlay_{key}.png"), png)
                files[key] = {"saliency": f"saliency_{key}.npy", "overlay": f"overlay_{key}.png"}
            write_bytes(out.path("signals.csv"),
                        signals_csv(a.explanation.signals, a.weights.net.decoder_fs, a.geometry))
            a.timings_ms["write"] = (time.perf_counter() - t0) * 1000
            result = out.path("result.json")
            write_json(result, result_json(a, files))
    return result
