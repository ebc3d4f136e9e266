"""The network's answer for each image of a study, computed once and kept beside the image.

A study report compares the network's saliency with every reader's mask, and is rerun whenever
another reader finishes: the network (about 1-2 s per page on the 2-core CPU) runs once per
image, and its result is cached under ``<image>.ecg-aio/model/``:

- ``result.json`` and ``saliency.npz``: what ``ecg-aio analyze`` writes (``core.outputs``: each
  map float16 at the network's resolution, divided by its maximum), for the study's labels.

Every compare metric is scale-free but for the ranks' ties: on four demo-study pages the
float16 round trip moved none of them by more than 0.0002 (tests/test_study_report.py holds
it within 0.01).

The cache is used when the image's sha256 and the weights' sha256 (the model card's, which
``core.model.weights.load_model`` checks the file against) are those it was made with and it
holds every study label; otherwise the network runs again and both files are replaced
atomically (the npz first, then result.json, which names what it belongs to).
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from core.model.weights import Weights, card_path_for, default_card_path
from core.outputs import RESULT_NAME, read_result

MODEL_FOLDER = "model"


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
                or result.get("model", {}).get("sha256") != weights_sha
                or not set(labels) <= {e["name"] for e in result["labels"]}):
            return None
        result, saliency = read_result(folder)
        return result, {k: saliency[k] for k in labels}
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
    from core.analyze import analyze_path, write_analysis

    analysis = analyze_path(path, labels=labels, device=device, card=card, progress=progress, cancel=cancel)
    write_analysis(analysis, folder)
    # what a later call reads back: the float16 maps, so a report is the same before and after caching
    return read_result(folder)
