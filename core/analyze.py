"""One ECG image in, the diagnosis and where the network looked out (`ecg-aio analyze`, the GUI).

``analyze_path`` is the one path from a file to an analysis (load, page geometry, network,
explanations, with progress and cancel): the CLI and the review window both call it. Nothing
here writes — ``write_analysis`` does, atomically, all files or none.
"""
from __future__ import annotations

import dataclasses
import functools
import io
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core.atomic import (
    OutputSet,
    check_replaceable,
    encode_image,
    write_bytes,
    write_json,
)
from core.explain import (
    Cancelled,
    Explanation,
    SaliencyMaps,
    explain,
    overlay,
    where_it_looked,
)
from core.intervals import Intervals, measure_intervals
from core.io import LoadedImage, load_image
from core.labels import LABELS, LEADS, canonical_lead
from core.model.network import EcgAio
from core.model.weights import (
    Weights,
    card_path_for,
    default_card_path,
    load_model,
    resolve_device,
)
from core.outputs import (
    RESULT_NAME,
    SALIENCY_NAME,
    SIGNALS_NAME,
    is_output_name,
    pack_saliency,
    resize_map,
)
from core.page import Geometry
from core.page.detect import PageResult, detect_geometry
from core.page.trace import READ_FS_HZ, read_page

RESULT_SCHEMA = "ecg-aio/result@1"


@dataclass(frozen=True)
class Analysis:
    """Everything ``analyze`` found for one image (saliency in the image's own pixels)."""

    image: LoadedImage
    weights: Weights
    device: str
    geometry: Geometry | None
    explanation: Explanation
    signals_fs_hz: float  # the rate of explanation.signals (READ_FS_HZ when read from the page)
    labels: tuple[str, ...]
    timings_ms: dict[str, float]
    intervals: Intervals | None = None     # read off those leads; None where no panel was read
    page_reader: PageResult | None = None  # what the page reader said (is it an ECG, why)

    def probability(self, key: str) -> float:
        """The network's probability for label ``key``."""
        return float(self.explanation.probabilities[LABELS.index(key)])

    @property
    def withheld(self) -> str | None:
        """Why no call is made, in one sentence, or None; the probabilities are still given.

        The network was trained on ECGs only: on a page the reader does not recognise as one
        (a photo of something else, noise, a blank sheet) its probabilities mean nothing —
        random noise was called AF at 0.94. On an ECG whose lead panels the reader cannot lay
        out (a crumpled, folded or partly framed photo) the calls are withheld too: there the
        network called normal ECGs PVC or flutter, and nothing can be checked per lead
        (measured on the shared real photographs: docs/doubt.md)."""
        reader = self.page_reader
        if reader is None:
            return None
        if not reader.is_ecg:
            return ("No diagnosis is given: the page reader does not recognise an ECG in this image "
                    f"({reader.reason.rstrip('.')}).")
        if reader.geometry is None or not reader.geometry.panels:
            return ("No diagnosis is given: the page reader sees an ECG but cannot lay out its lead panels "
                    f"({reader.reason.rstrip('.')}), and on such pages the network's calls are unreliable.")
        return None

    def is_positive(self, key: str) -> bool:
        """Is label ``key`` at or above the card's threshold (and the call not withheld)?"""
        return self.withheld is None and self.probability(key) >= self.weights.thresholds[key]

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

    With a ``geometry`` that has panels, the leads are read from the image at full resolution
    and each row's panels are moved onto its printed trace (``core.page.trace.read_page``); the
    analysis carries that registered geometry (for the per-lead summaries, calipers, overlays)
    and those leads, at ``READ_FS_HZ``, not the network decoder's reading of its 896 x 448
    input (docs/page.md, "Reading the leads", measures both); the ECG's intervals are measured
    on them (``core.intervals``).
    """
    timings = dict(timings_ms or {})
    reading = None
    if geometry is not None and geometry.panels:
        t0 = time.perf_counter()
        reading = read_page(image.rgb, geometry, READ_FS_HZ, int(round(READ_FS_HZ * weights.net.decoder_seconds)))
        geometry = reading.geometry
        intervals = measure_intervals(reading.signals, READ_FS_HZ)
        timings["leads"] = (time.perf_counter() - t0) * 1000
    # the network needs no geometry: its own decoder's leads are not the ones shown (reading
    # the leads in a thread beside it gained nothing on 2 cores: the path search holds the GIL)
    ex = explain(model, weights.input, image.rgb, list(labels), method=method, smoothgrad_n=smoothgrad,
                 progress=progress, cancel=cancel)
    if reading is None:
        return Analysis(image, weights, device, geometry, ex, weights.net.decoder_fs, tuple(labels),
                        {**timings, **ex.timings_ms})
    return Analysis(image, weights, device, geometry, dataclasses.replace(ex, signals=reading.signals), READ_FS_HZ,
                    tuple(labels), {**timings, **ex.timings_ms}, intervals=intervals)


def read_page_geometry(rgb: np.ndarray) -> PageResult:
    """The page reader's verdict with its geometry's rows timed from their printed traces, as
    ``analyze`` explains on and ``ecg-aio info`` reports (the reader's boxes before time
    registration sit up to a few mm off the trace on other printers' pages)."""
    reader = detect_geometry(rgb)
    if reader.geometry is None or not reader.geometry.panels:
        return reader
    return dataclasses.replace(reader, geometry=read_page(rgb, reader.geometry).geometry)


#: Stages ``analyze_path`` reports through ``progress(stage, done, total)``, in order.
STAGES = ("loading", "loading the network", "reading the page", "explaining")


def model_for(device: str = "auto", card: str | Path | None = None) -> tuple[EcgAio, Weights]:
    """The verified network for ``device`` ('auto', 'cpu', 'cuda'), loaded once per card file
    and device (a changed card or weights file is loaded afresh): loading and checking the 12-MB
    weights takes about 0.2 s on the 2-core CPU,
    which a worklist would otherwise pay per image. Raises WeightsError or ValueError (no CUDA)."""
    path = card_path_for(card) if card is not None else default_card_path()
    weights = Weights.from_card(path)  # a small JSON read; raises WeightsError as load_model would
    stamp = tuple((f.stat().st_mtime_ns, f.stat().st_size) if f.is_file() else None for f in (path, weights.file))
    return _cached_model(str(path), stamp, str(resolve_device(device)))


@functools.lru_cache(maxsize=2)
def _cached_model(card: str, _files: tuple[object, ...], device: str) -> tuple[EcgAio, Weights]:
    return load_model(card, device=device)


def analyze_path(path: str | Path, *, page: int = 1, device: str = "auto", card: str | Path | None = None,
                 labels: Sequence[str] = LABELS, method: str = "jacobian", smoothgrad: int = 0,
                 on_loaded: Callable[[LoadedImage], None] | None = None,
                 progress: Callable[[str, int, int], None] | None = None,
                 cancel: Callable[[], bool] | None = None) -> Analysis:
    """Load page ``page`` of an ECG file, find its page geometry and run the network on it.

    The one path from a file to an ``Analysis``, shared by ``ecg-aio analyze`` and the review
    window. ``on_loaded(image)`` is called as soon as the pixels are decoded (the window shows
    the page while the network reads it); ``progress(stage, done, total)`` names one of
    ``STAGES``; ``cancel()`` returning True raises ``core.explain.Cancelled`` at the next stage
    or label. Raises ImageLoadError for a bad file and WeightsError for missing or corrupt
    weights (after the image was loaded, so its own faults are reported first).
    """
    def stage(name: str, done: int = 0, total: int = 1) -> None:
        if cancel is not None and cancel():
            raise Cancelled("analysis cancelled")
        if progress is not None:
            progress(name, done, total)

    t0 = time.perf_counter()
    stage("loading")
    image = load_image(path, page=page)
    t_load = (time.perf_counter() - t0) * 1000
    if on_loaded is not None:
        on_loaded(image)
    stage("loading the network")
    model, weights = model_for(device, card)
    stage("reading the page")
    t1 = time.perf_counter()
    reader = detect_geometry(image.rgb)
    t_page = (time.perf_counter() - t1) * 1000
    stage("explaining", 0, len(labels))
    dev = str(next(model.parameters()).device)
    a = analyze(image, model, weights, labels, method=method, smoothgrad=smoothgrad, geometry=reader.geometry,
                device=dev, timings_ms={"load": t_load, "page": t_page},
                progress=lambda done, total: stage("explaining", done, total), cancel=cancel)
    registered = reader if a.geometry is None else dataclasses.replace(reader, geometry=a.geometry)
    return dataclasses.replace(a, page_reader=registered)


#: ``where`` reads a map at most this wide: a 0.2-s cell is then >= 20 px wide on a landscape
#: page, and the shares are those of the full-size map to within 0.01 (tests/test_analyze.py).
WHERE_WIDTH_PX = 1600


def where(a: Analysis, key: str) -> dict[str, Any]:
    """``where_it_looked`` for label ``key``, on the map upsampled to at most ``WHERE_WIDTH_PX``
    wide (the geometry scaled with it): 8 labels of a 12-MP photo in 0.1 s instead of 0.9 s."""
    maps, (w, h) = a.explanation.saliency, a.image.size
    scale = WHERE_WIDTH_PX / w
    if not isinstance(maps, SaliencyMaps) or scale >= 1 or a.geometry is None or a.geometry.page_to_image is None:
        return where_it_looked(maps[key], a.geometry, key)
    size = (WHERE_WIDTH_PX, max(1, round(h * scale)))
    sx, sy = size[0] / w, size[1] / h
    to_small = np.array([[sx, 0.0, 0.5 * sx - 0.5], [0.0, sy, 0.5 * sy - 0.5], [0.0, 0.0, 1.0]])
    return where_it_looked(resize_map(maps.native[key], size), a.geometry.warped(to_small, size), key)


def result_json(a: Analysis, files: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The ``ecg-aio/result@1`` document (DESIGN.md); ``files[label]`` is merged into each
    label's entry (``saliency``, ``saliency_scale``, ``overlay``)."""
    entries = []
    for key in a.labels:
        entries.append({"name": key, "probability": round(a.probability(key), 4),
                        "threshold": float(a.weights.thresholds[key]), "positive": a.is_positive(key),
                        **files[key], "where": where(a, key)})
    return {
        "schema": RESULT_SCHEMA,
        "image": {"path": a.image.path, "sha256": a.image.sha256, "size": list(a.image.size), "page": a.image.page},
        "model": {"name": a.weights.name, "version": a.weights.version, "sha256": a.weights.sha256},
        "device": a.device,
        "timings_ms": {k: round(v, 1) for k, v in a.timings_ms.items()},
        "geometry": None if a.geometry is None else a.geometry.to_json(),
        "page_reader": None if a.page_reader is None else {"is_ecg": a.page_reader.is_ecg,
                                                           "reason": a.page_reader.reason},
        "withheld": a.withheld,
        "intervals": None if a.intervals is None else a.intervals.as_dict(),
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
        buf.writelines(f"{panel},{lead},{ti:.3f},{v:.4f}\n" for ti, v in zip(t[sel], row[sel]))
    return buf.getvalue().encode()


def check_output_folder(out_dir: str | Path) -> None:
    """Raise ValueError with one sentence unless ``write_analysis`` may write ``out_dir``: absent,
    or a folder holding nothing but an earlier analysis (which a new one replaces as a whole)."""
    check_replaceable(Path(out_dir), is_output_name)


def write_analysis(a: Analysis, out_dir: str | Path, overlays: bool = False, opacity: float = 0.6) -> Path:
    """Write result.json, saliency.npz, signals.csv and, when ``overlays``, overlay_<L>.png.

    The folder is replaced as a whole or not at all (``core.atomic.OutputSet``): no file of an
    earlier analysis stays beside the new result, and a failed or interrupted write leaves the
    earlier one as it was. A folder holding other files is refused (ValueError)."""
    t0 = time.perf_counter()
    maps = a.explanation.saliency
    native = maps.native if isinstance(maps, SaliencyMaps) else {k: maps[k] for k in a.labels}
    npz, scales = pack_saliency({k: native[k] for k in a.labels})
    files: dict[str, dict[str, Any]] = {
        k: {"saliency": f"{SALIENCY_NAME}:{k}", "saliency_scale": scales[k]} for k in a.labels}
    with OutputSet(out_dir, replace=is_output_name) as out:
        write_bytes(out.path(SALIENCY_NAME), npz)
        if overlays:
            # drawn and PNG-encoded in threads: NumPy and OpenCV release the GIL
            with ThreadPoolExecutor() as pool:
                pngs = pool.map(lambda key: encode_image(overlay(a.image.rgb, maps[key], opacity=opacity), ".png"),
                                a.labels)
                for key, png in zip(a.labels, pngs):
                    write_bytes(out.path(f"overlay_{key}.png"), png)
                    files[key]["overlay"] = f"overlay_{key}.png"
        write_bytes(out.path(SIGNALS_NAME), signals_csv(a.explanation.signals, a.signals_fs_hz, a.geometry))
        a.timings_ms["write"] = (time.perf_counter() - t0) * 1000
        write_json(out.path(RESULT_NAME), result_json(a, files))
    return Path(out_dir) / RESULT_NAME
