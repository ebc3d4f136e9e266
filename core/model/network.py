"""The ECG-AIO network: a ResNet18 encoder with a label head, a signal decoder and a
domain classifier behind a gradient-reversal layer (npj Digit Med 2025).

Only the encoder and the label head make a diagnosis; the decoder (read the printed leads back,
panel by panel: core.model.decoder) and the domain classifier (scan vs photo, reversed) shape
the encoder during training, and the decoder's leads are also given to the reader.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from core.labels import LABELS
from core.model.decoder import PanelDecoder
from core.model.grl import grl


@dataclass(frozen=True)
class NetConfig:
    """Shape of the network.

    width: channels of the first stage; the four stages have width * (1, 2, 4, 8).
    in_channels: image channels (3 RGB, 1 grey). n_labels: label outputs (core.labels order).
    n_domains: image domains the adversary tells apart. decoder_leads/decoder_fs (Hz)/
    decoder_seconds (s): the reconstructed record, (decoder_leads, fs * seconds) in mV.
    decoder_window_s (s): the stretch of a printed panel decoded at once; decoder_rows x
    decoder_cols: the grid on which the image and the stride-4 map are sampled over each
    window, reaching decoder_reach panel heights beyond the panel's box above and below (a tall
    QRS runs into the next row); decoder_width: channels of its 2-D layers (core.model.decoder).
    """

    width: int = 32
    in_channels: int = 3
    n_labels: int = len(LABELS)
    n_domains: int = 2
    decoder_leads: int = 12
    decoder_fs: float = 100.0
    decoder_seconds: float = 10.0
    decoder_window_s: float = 2.5
    decoder_rows: int = 40
    decoder_cols: int = 125
    decoder_reach: float = 0.5
    decoder_width: int = 24

    @property
    def feature_channels(self) -> int:
        """Channels of the last-stage feature map."""
        return 8 * self.width

    @property
    def n_samples(self) -> int:
        """Samples per reconstructed lead."""
        return int(round(self.decoder_fs * self.decoder_seconds))

    @property
    def window_samples(self) -> int:
        """Samples per decoded window."""
        return int(round(self.decoder_fs * self.decoder_window_s))

    @property
    def max_windows(self) -> int:
        """Windows of one page at most: every lead printed over the whole record (12x1)."""
        return self.decoder_leads * int(round(self.decoder_seconds / self.decoder_window_s))

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "NetConfig":
        return cls(**d)


def _conv_bn(cin: int, cout: int, kernel: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, kernel, stride=stride, padding=kernel // 2, bias=False),
        nn.BatchNorm2d(cout),
    )


class BasicBlock(nn.Module):
    """ResNet basic block: two 3x3 convs and a (projected when needed) shortcut."""

    def __init__(self, cin: int, cout: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = _conv_bn(cin, cout, 3, stride)
        self.conv2 = _conv_bn(cout, cout, 3)
        self.shortcut = _conv_bn(cin, cout, 1, stride) if stride != 1 or cin != cout else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.shortcut is None else self.shortcut(x)
        return F.relu(self.conv2(F.relu(self.conv1(x))) + identity)


def _stage(cin: int, cout: int, stride: int) -> nn.Sequential:
    return nn.Sequential(BasicBlock(cin, cout, stride), BasicBlock(cout, cout, 1))


class EcgAio(nn.Module):
    """ECG-AIO: image (B, C, H, W), normalised as the weights' InputSpec says, in; see forward."""

    def __init__(self, config: NetConfig | None = None) -> None:
        super().__init__()
        self.config = cfg = config or NetConfig()
        w = cfg.width
        self.stem = nn.Sequential(
            nn.Conv2d(cfg.in_channels, w, 7, stride=2, padding=3, bias=False),
            nn.BatchNorm2d(w),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(3, stride=2, padding=1),
        )
        self.layer1 = _stage(w, w, 1)
        self.layer2 = _stage(w, 2 * w, 2)
        self.layer3 = _stage(2 * w, 4 * w, 2)
        self.layer4 = _stage(4 * w, 8 * w, 2)
        c = cfg.feature_channels
        self.head = nn.Linear(c, cfg.n_labels)
        self.decoder = PanelDecoder(cfg.in_channels + w, cfg.decoder_width, cfg.decoder_rows, cfg.decoder_cols,
                                    cfg.window_samples, cfg.decoder_reach)
        self.domain_head = nn.Sequential(
            nn.Linear(c, c // 2), nn.ReLU(inplace=True), nn.Linear(c // 2, cfg.n_domains)
        )
        if not self.head.weight.is_meta:  # a network built on the meta device only tells shapes: and
            _init_weights(self)           # initialising meta tensors imports PyTorch's compiler (1 s)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Last-stage activations (B, 8 * width, H / 32, W / 32)."""
        return self.forward_maps(x)[1]

    def forward_maps(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The stride-4 map the decoder reads (B, width, H / 4, W / 4) and the last-stage map."""
        early = self.layer1(self.stem(x))
        return early, self.layer4(self.layer3(self.layer2(early)))

    def forward_head(self, feats: torch.Tensor) -> torch.Tensor:
        """Label logits (B, n_labels) from the feature map (global average pool + linear)."""
        return self.head(feats.mean(dim=(2, 3)))

    def decode(self, x: torch.Tensor, early: torch.Tensor, quads: torch.Tensor) -> torch.Tensor:
        """The printed leads in windows (B, W, window_samples) mV, read from the input ``x`` and
        its stride-4 map ``early`` (forward_maps); quads (B, W, 4, 2) are the windows' corners
        in input px (core.model.decoder.panel_windows)."""
        return self.decoder((x, early), quads, (x.shape[2], x.shape[3]))

    def domain(self, feats: torch.Tensor, lam: float = 0.0) -> torch.Tensor:
        """Domain logits (B, n_domains); the gradient into ``feats`` is reversed and scaled by lam."""
        return self.domain_head(grl(feats.mean(dim=(2, 3)), lam))

    def forward(self, x: torch.Tensor, lam: float = 0.0,
                quads: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """``logits`` (B, n_labels), ``domain`` (B, n_domains) and, when the windows' ``quads``
        are given, ``signals`` (B, W, window_samples) mV."""
        early, feats = self.forward_maps(x)
        out = {"logits": self.forward_head(feats), "domain": self.domain(feats, lam)}
        if quads is not None:
            out["signals"] = self.decode(x, early, quads)
        return out


def _init_weights(model: nn.Module) -> None:
    """torchvision's ResNet init: Kaiming convs, unit BN, zero gamma on each block's last BN;
    the decoder's output layer starts at zero, so the decoder first predicts 0 mV instead of
    Kaiming-scaled noise whose loss (≈ 3.5 vs 0.09) would swamp the labels' gradient."""
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Conv1d, nn.ConvTranspose1d)):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, (nn.BatchNorm2d, nn.BatchNorm1d)):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
    for m in model.modules():
        if isinstance(m, BasicBlock):
            nn.init.zeros_(m.conv2[1].weight)
        if isinstance(m, PanelDecoder):
            nn.init.zeros_(m.out.weight)
            nn.init.zeros_(m.out.bias)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable and frozen parameters (buffers excluded)."""
    return sum(p.numel() for p in model.parameters())
