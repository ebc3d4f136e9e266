"""Training data streams: pages rendered on the fly, plus real unlabelled images.

Nothing is written to disk. Page ``i`` of a stream depends only on (seed, i), so a resumed run
continues with exactly the pages it would have seen.
"""
from __future__ import annotations

from dataclasses import replace
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import IterableDataset, get_worker_info

from core.io import load_image
from core.io.records import data_dir
from core.model.network import NetConfig
from core.model.preprocess import InputSpec, letterbox_box
from core.synth.pages import SynthOptions, make_page
from core.train.targets import Targets, page_targets, unlabelled_targets

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


def letterbox(rgb: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Fit an RGB image into (W, H) px keeping its aspect, centred on white (as the model's input)."""
    w, h = size
    nw, nh, x0, y0 = letterbox_box((rgb.shape[1], rgb.shape[0]), InputSpec(height=h, width=w))
    small = cv2.resize(rgb, (nw, nh), interpolation=cv2.INTER_AREA if nw < rgb.shape[1] else cv2.INTER_LINEAR)
    out = np.full((h, w, 3), 255, np.uint8)
    out[y0:y0 + nh, x0:x0 + nw] = small
    return out


@lru_cache(maxsize=2)
def real_images(folder: str, max_side: int = 1600) -> tuple[np.ndarray, ...]:
    """Every image in ``folder``, downscaled to at most ``max_side`` px (unlabelled target domain)."""
    images = []
    for path in sorted(Path(folder).iterdir()):
        if path.suffix.lower() in IMAGE_SUFFIXES:
            rgb = load_image(path).rgb
            scale = min(1.0, max_side / max(rgb.shape[:2]))
            images.append(cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA))
    return tuple(images)


def real_view(images: tuple[np.ndarray, ...], size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """A random crop (≥ 60 % of each side) of a random real image, letterboxed to ``size``."""
    rgb = images[int(rng.integers(len(images)))]
    h, w = rgb.shape[:2]
    ch, cw = (int(s * rng.uniform(0.6, 1.0)) for s in (h, w))
    y0, x0 = int(rng.integers(h - ch + 1)), int(rng.integers(w - cw + 1))
    return letterbox(rgb[y0:y0 + ch, x0:x0 + cw], size)


def to_tensors(image: np.ndarray, t: Targets) -> dict[str, torch.Tensor]:
    """One training example as tensors (image stays uint8 (3, H, W) until the batch is on device)."""
    return {
        "image": torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1))),
        "labels": torch.from_numpy(t.labels), "label_known": torch.from_numpy(t.label_known),
        "signals": torch.from_numpy(t.signals), "signal_known": torch.from_numpy(t.signal_known),
        "window_quads": torch.from_numpy(t.window_quads), "window_index": torch.from_numpy(t.window_index),
        "domain": torch.tensor(t.domain), "has_labels": torch.tensor(t.has_labels),
    }


class PageStream(IterableDataset):
    """Endless labelled pages, with a share of real unlabelled images mixed in.

    options: what to render (its ``size`` must be the model's input size (W, H)). start: the
    first page index (resume). real_folder: unlabelled images, or None (relative to the shared
    data folder, ``core.io.records.data_dir``, unless absolute). real_share: their
    probability per example. net: the network trained, whose decoder sets the signal targets'
    rate and length.
    """

    def __init__(self, options: SynthOptions, start: int = 0, real_folder: str | None = None,
                 real_share: float = 0.0, net: NetConfig = NetConfig()) -> None:
        super().__init__()
        assert options.size is not None, "training pages are rendered at the model's input size"
        self.options, self.start = options, start
        self.real_folder, self.real_share = real_folder, real_share
        self.net = net

    def __iter__(self):  # type: ignore[no-untyped-def]
        info = get_worker_info()
        worker, n_workers = (info.id, info.num_workers) if info else (0, 1)
        if info:
            cv2.setNumThreads(1)  # one rendering process per core; OpenCV's own threads would oversubscribe
        options = replace(self.options, n=2**62)
        index = self.start + worker
        while True:
            yield self.example(options, index)
            index += n_workers

    def example(self, options: SynthOptions, index: int) -> dict[str, torch.Tensor]:
        rng = np.random.default_rng([options.seed, index, 7])
        if self.real_folder and rng.random() < self.real_share:
            folder = str(data_dir() / self.real_folder)
            image = real_view(real_images(folder), options.size, rng)  # type: ignore[arg-type]
            return to_tensors(image, unlabelled_targets(self.net))
        page = make_page(options, index)
        return to_tensors(page.image, page_targets(page.sample, page.geometry, page.domain, self.net))
