"""The network's answer for each image of a study, computed once and kept beside the image.

A study report compares the network's saliency with every reader's mask, and is rerun whenever
another reader finishes: the network (about 1-2 s per page on the 2-core CPU) runs once per
image, and its result is cached under ``<image>.ecg-aio/model/``:

- ``result.json``: ``core.analyze.result_json``, each label's ``saliency`` naming
  ``saliency.npz:<LABEL>`` and its ``saliency_scale`` (the map's maximum);
- ``saliency.npz``: per study label, the map divided by its maximum, as float16
  (``np.savez_compressed``).

Dividing by the maximum first makes float16's 3-digit relative precision independent of the
weights' scale (the shipped Jacobians peak at 0.16-0.25 and fall to 1e-6: stored as they are,
the faintest tenth would sit in float16's subnormal range). Every compare metric is
scale-free but for the ranks' ties: on four demo-study pages (1100 x 850 and 1169 x 827 px, the
shipped network, AFL and PVC against a reader's masks) the float16 round trip moved none of
them by more than 0.0002 (tests/test_study_report.py holds it within 0.01).

The cache is used when the image's sha256 and the weights' sha256 (the model card's, which
``core.model.weights.load_model`` checks the file against) are those it was made with and it
holds every study label; otherwise the network runs again and both files are replaced
atomically (the npz first, then result.json, which names what it belongs to).
"""
from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from core.atomic import OutputSet, write_bytes, write_json
from core.model.weights import Weights, card_path_for, default_card_path

MODEL_FOLDER = "model"
RESULT_NAME = "result.json"
SALIENCY_NAME = "saliency.npz"


def model_folder(image_path: str | Path) -> Path:
    """``<image>.ecg-aio/model/`` beside the image (the readers' folders' sibling)."""
    image_path = Path(image_path)
    return image_path.parent / f"{image_path.name}.ecg-aio" / MODEL_FOLDER


def file_sha256(path: str | Path) -> str:
    """Hex sha256 of a file's bytes (what ``core.io.load_image`` records as the image's)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def weights_sha256(card: str | Path | None = None) -> str:
    """The sha256 of the weights the network would load (read from the model card: cheap).
    Raises WeightsError when the card is missing or malformed."""
    path = card_path_for(card) if card is not None else default_card_path()
    return Weights.from_card(path).sha256


def _cached(folder: Path, labels: tuple[str, ...], image_sha: str, weights_sha: str
            ) -> tuple[dict[str, Any], dict[str, np.ndarray]] | None:
    """The cached outputs when they are complete and current, else None (never raises)."""
    try:
        result = json.loads((folder / RESULT_NAME).read_text(encoding="utf-8"))
        if (result.get("image", {}).get("sha256") != image_sha
                or result.get("model", {}).get("sha256") != weights_sha):
            return None
        entries = {e["name"]: e for e in result["labels"]}
        w, h = result["image"]["size"]
        saliency: dict[str, np.ndarray] = {}
        with np.load(folder / SALIENCY_NAME, allow_pickle=False) as npz:
            for label in labels:
                if label not in entries or label not in npz.files:
                    return None
                values = npz[label]
                if values.shape != (h, w):
                    return None
                saliency[label] = values.astype(np.float32) * np.float32(entries[label]["saliency_scale"])
        return result, saliency
    except (OSError, ValueError, KeyError, TypeError, AttributeError, EOFError):
        return None


def is_current(study: Any, image: str, card: str | Path | None = None) -> bool:
    """Whether the image's cached network outputs are complete and current."""
    path = study.image_path(image)
    return _cached(model_folder(path), tuple(study.labels), file_sha256(path), weights_sha256(card)) is not None


def model_progress(study: Any, card: str | Path | None = None) -> tuple[int, int]:
    """(images whose network outputs are cached and current, images in the study)."""
    return sum(is_current(study, image, card) for image in study.images), len(study.images)


def model_outputs(study: Any, image: str, device: str = "auto", card: str | Path | None = None,
                  progress: Callable[[str, int, int], None] | None = None,
                  cancel: Callable[[], bool] | None = None) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The network's result (``ecg-aio/result@1`` dict) and saliency ({label: float32 H x W, in
    the image's pixels as loaded}) for one study image and the study's labels.

    Read from ``<image>.ecg-aio/model/`` when that cache matches the image's and the weights'
    sha256, else computed by ``core.analyze.analyze_path`` and cached (atomically). progress
    and cancel are analyze_path's. Raises ImageLoadError, WeightsError, or Cancelled.
    """
    labels = tuple(study.labels)
    path = study.image_path(image)
    folder = model_folder(path)
    cached = _cached(folder, labels, file_sha256(path), weights_sha256(card))
    if cached is not None:
        return cached

    # the network (torch): imported only when it runs
    from core.analyze import analyze_path, result_json

    analysis = analyze_path(path, labels=labels, device=device, card=card, progress=progress, cancel=cancel)
    saliency = {k: np.asarray(analysis.explanation.saliency[k], np.float32) for k in labels}
    scales = {k: float(np.max(np.abs(v))) or 1.0 for k, v in saliency.items()}
    stored = {k: (v / np.float32(scales[k])).astype(np.float16) for k, v in saliency.items()}
    files = {k: {"saliency": f"{SALIENCY_NAME}:{k}", "saliency_scale": scales[k]} for k in labels}
    result = result_json(analysis, files)
    buf = io.BytesIO()
    np.savez_compressed(buf, **stored)
    with OutputSet(folder) as out:
        write_bytes(out.path(SALIENCY_NAME), buf.getvalue())
        write_json(out.path(RESULT_NAME), result)  # last: it names the npz it belongs to
    # what a later call reads back: the float16 maps, so a report is the same before and after caching
    return result, {k: stored[k].astype(np.float32) * np.float32(scales[k]) for k in labels}
