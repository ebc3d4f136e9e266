"""From the image as loaded to the network's input, differentiably.

``to_model_input`` letterboxes (scale to fit, centre on white paper) and normalises with
torch ops only, so a Jacobian taken through it lands in the pixels of the image as loaded.
Pixel convention (here and in ``letterbox_matrix``): integer coordinates are pixel centres;
pixel (0, 0) covers [-0.5, 0.5] x [-0.5, 0.5].
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

LUMA = (0.299, 0.587, 0.114)  # ITU-R BT.601, what "greyscale" means in OpenCV and Pillow


@dataclass(frozen=True)
class InputSpec:
    """The network's input: ``height`` x ``width`` px, ``channels`` (3 RGB or 1 grey), and
    per-channel ``mean``/``std`` applied to [0, 1] intensities. Defaults only; the real
    values come from the weights' model card.
    """

    height: int = 448
    width: int = 896
    channels: int = 3
    mean: tuple[float, ...] = (0.5, 0.5, 0.5)
    std: tuple[float, ...] = (0.25, 0.25, 0.25)

    def __post_init__(self) -> None:
        if self.channels not in (1, 3):
            raise ValueError(f"input channels must be 1 or 3, not {self.channels}")
        if len(self.mean) != self.channels or len(self.std) != self.channels:
            raise ValueError("input mean and std need one value per channel")
        if min(self.std) <= 0 or self.height < 1 or self.width < 1:
            raise ValueError("input size and std must be positive")

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["mean"], d["std"] = list(self.mean), list(self.std)
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "InputSpec":
        return cls(
            height=int(d["height"]), width=int(d["width"]), channels=int(d["channels"]),
            mean=tuple(float(v) for v in d["mean"]), std=tuple(float(v) for v in d["std"]),
        )


def image_to_tensor(rgb: np.ndarray) -> torch.Tensor:
    """uint8 image (H, W, 3) -> float32 tensor (1, 3, H, W) in [0, 1] (a copy)."""
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected a uint8 H x W x 3 image, got {rgb.dtype} {rgb.shape}")
    # the float32 copy is made by NumPy, so a read-only image (as loaded) is never aliased
    t = torch.from_numpy(rgb.astype(np.float32)).permute(2, 0, 1)
    return t.unsqueeze(0).div_(255.0)


def letterbox_box(image_size: tuple[int, int], spec: InputSpec) -> tuple[int, int, int, int]:
    """(new_w, new_h, left, top) of the scaled image inside the input canvas."""
    w, h = image_size
    scale = min(spec.height / h, spec.width / w)
    new_w = min(spec.width, max(1, round(w * scale)))
    new_h = min(spec.height, max(1, round(h * scale)))
    return new_w, new_h, (spec.width - new_w) // 2, (spec.height - new_h) // 2


def to_model_input(img01: torch.Tensor, spec: InputSpec) -> torch.Tensor:
    """Letterbox and normalise images (B, 3, H, W) in [0, 1] to (B, C, spec.height, spec.width).

    ``pad_and_normalise(letterbox_resize(img01, spec), spec)``: differentiable with respect to
    ``img01``.
    """
    return pad_and_normalise(letterbox_resize(img01, spec), spec)


def letterbox_resize(img01: torch.Tensor, spec: InputSpec) -> torch.Tensor:
    """Images (B, 3, H, W) in [0, 1] scaled by min(height / H, width / W) with antialiased
    bilinear resampling: (B, 3, new_h, new_w), the page as the network sees it before the
    white margins (``letterbox_box``). Differentiable."""
    if img01.ndim != 4 or img01.shape[1] != 3:
        raise ValueError(f"expected images of shape (B, 3, H, W), got {tuple(img01.shape)}")
    height, width = img01.shape[-2:]
    new_w, new_h, _, _ = letterbox_box((width, height), spec)
    if (new_h, new_w) == (height, width):
        return img01
    return F.interpolate(img01, size=(new_h, new_w), mode="bilinear", align_corners=False, antialias=True)


def pad_and_normalise(scaled: torch.Tensor, spec: InputSpec) -> torch.Tensor:
    """A letterbox-scaled batch (B, 3, new_h, new_w) -> the network's input (B, C, height,
    width): converted to luma when ``spec.channels == 1``, centred on a white (1.0) canvas,
    normalised by the spec's mean and std. Differentiable."""
    new_h, new_w = scaled.shape[-2:]
    left, top = (spec.width - new_w) // 2, (spec.height - new_h) // 2
    x = scaled
    if spec.channels == 1:
        luma = torch.tensor(LUMA, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
        x = (x * luma).sum(dim=1, keepdim=True)
    x = F.pad(x, (left, spec.width - new_w - left, top, spec.height - new_h - top), value=1.0)
    mean = torch.tensor(spec.mean, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
    std = torch.tensor(spec.std, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
    return (x - mean) / std


def letterbox_matrix(image_size: tuple[int, int], spec: InputSpec) -> np.ndarray:
    """3x3 affine taking image px (x, y) of an image of ``image_size`` (W, H) to input px.

    Pixel centres are integer coordinates in both frames, so the scale acts about the
    pixel corner: x_in = (x + 0.5) * new_w / W - 0.5 + left (and likewise for y).
    """
    w, h = image_size
    new_w, new_h, left, top = letterbox_box((w, h), spec)
    sx, sy = new_w / w, new_h / h
    return np.array([
        [sx, 0.0, 0.5 * sx - 0.5 + left],
        [0.0, sy, 0.5 * sy - 0.5 + top],
        [0.0, 0.0, 1.0],
    ])
