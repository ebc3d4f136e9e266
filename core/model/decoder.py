"""The signal decoder: from the image and the encoder's stride-4 map, read back the leads printed
in each panel.

The decoder is told where each printed panel lies (its quadrilateral in the network's input
pixels: the page geometry of rendered pages in training, ``core.page``'s geometry of a real
image at inference). Each panel is cut into windows of ``NetConfig.decoder_window_s`` seconds;
the input image and the encoder's stride-4 map are resampled over each window on a (rows x
cols) grid that follows the quadrilateral (so a tilted or photographed panel is read along its
own axes) and reaches half a panel height beyond it above and below (a tall QRS runs into the
next row); small 2-D convolutions find the trace on that grid, and 1-D convolutions along time
turn it into the window's samples in mV.

Why the image and the stride-4 map: at the 448 x 896 input one mV is about 20 px of height
and one 10-ms sample under 1 px of width, finer than the stride-8 map the first panel decoder
read (3.3 dB on clean records); the image itself keeps the trace's exact place, the map what
the encoder makes of it (a U-Net-like skip).

Why windows and not the whole page: a decoder that must put lead V1 at fixed samples of a
10-s output, wherever paper size, margins and layout happen to put V1 on the page, does not
learn (the first shipped model's whole-page decoder stayed at 0 dB SNR).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence, TypeVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from core.labels import LEADS, canonical_lead
from core.page.geometry import Panel

ArrayLike = TypeVar("ArrayLike", np.ndarray, torch.Tensor)


@dataclass(frozen=True)
class Window:
    """One decoded stretch of one printed lead.

    lead: index into core.labels.LEADS. t0_s: record time of its first sample (s). quad: its
    corners (tl, tr, br, bl) in the network's input px.
    """

    lead: int
    t0_s: float
    quad: tuple[tuple[float, float], ...]


def panel_windows(panels: Sequence[Panel], window_s: float, to_input: np.ndarray | None = None) -> list[Window]:
    """Cut each panel into windows of ``window_s`` s (a panel shorter than one window gives
    none). ``to_input``: 3x3 homography from the panels' px (``quad_px``) to input px, or
    None when they are already in input px."""
    out = []
    for p in panels:
        if len(p.quad_px) != 4:
            continue
        q = np.asarray(p.quad_px, np.float64)
        if to_input is not None:
            h = np.c_[q, np.ones(4)] @ np.asarray(to_input, np.float64).T
            q = h[:, :2] / h[:, 2:]
        span = p.t1_s - p.t0_s
        for k in range(int(np.floor(span / window_s + 1e-6))):
            a, b = k * window_s / span, (k + 1) * window_s / span
            top = q[0] + (q[1] - q[0]) * a, q[0] + (q[1] - q[0]) * b
            bottom = q[3] + (q[2] - q[3]) * b, q[3] + (q[2] - q[3]) * a
            quad = tuple(tuple(float(v) for v in pt) for pt in (*top, *bottom))
            out.append(Window(LEADS.index(canonical_lead(p.lead)), p.t0_s + k * window_s, quad))
    return out


def window_arrays(windows: Sequence[Window], max_windows: int, fs: float) -> tuple[np.ndarray, np.ndarray]:
    """Fixed-size arrays for a batch: quads (max_windows, 4, 2) float32 input px and index
    (max_windows, 2) int64 of (lead, first sample at ``fs``); unused rows have lead -1."""
    quads = np.zeros((max_windows, 4, 2), np.float32)
    index = np.full((max_windows, 2), -1, np.int64)
    for i, w in enumerate(windows[:max_windows]):
        quads[i] = w.quad
        index[i] = (w.lead, int(round(w.t0_s * fs)))
    return quads, index


def used_windows(index: np.ndarray | torch.Tensor) -> int:
    """How many leading rows of a batch's window index (B, max_windows, 2) any page uses
    (``window_arrays`` fills rows in order), at least 1: decoding only those rows gives the
    same signals without running the decoder on empty windows."""
    return max(1, int((index[..., 0] >= 0).sum(-1).max()))


def only_used_windows(quads: ArrayLike, index: ArrayLike) -> tuple[ArrayLike, ArrayLike]:
    """A batch's window quads (B, max_windows, 4, 2) and index (B, max_windows, 2) cut to the
    leading rows any page uses (:func:`used_windows`)."""
    n = used_windows(index)
    return quads[:, :n], index[:, :n]


def assemble(index: np.ndarray, decoded: np.ndarray, n_leads: int, n_samples: int) -> np.ndarray:
    """The decoded windows (W, N) put back in place: (n_leads, n_samples) float32 mV, NaN
    where nothing was decoded. index: (W, 2) (lead, first sample), lead -1 = unused."""
    out = np.full((n_leads, n_samples), np.nan, np.float32)
    for (lead, i0), values in zip(index, decoded):
        if lead < 0 or i0 >= n_samples:
            continue
        n = min(len(values), n_samples - i0)
        out[lead, i0:i0 + n] = values[:n]
    return out


def _conv2d_bn_relu(cin: int, cout: int, dilation: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=dilation, dilation=dilation, bias=False),
                         nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


def _conv1d_bn_relu(cin: int, cout: int, kernel: int, dilation: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv1d(cin, cout, kernel, padding=dilation * (kernel // 2), dilation=dilation, bias=False),
                         nn.BatchNorm1d(cout), nn.ReLU(inplace=True))


class PanelDecoder(nn.Module):
    """Maps (B, C_i, h_i, w_i) and window quads (B, W, 4, 2) in input px -> (B, W, n_samples) mV.

    ``sample`` resamples every map over each window and stacks them ((B·W, ΣC_i, rows, cols));
    ``head`` decodes those samples: 2-D convolutions find the trace in the window, then the
    rows are folded into channels and 1-D convolutions along time give the samples. They are
    separate so a frozen encoder's samples can be cached.
    """

    def __init__(self, in_channels: int, width: int, rows: int, cols: int, n_samples: int,
                 reach: float = 0.5) -> None:
        super().__init__()
        self.rows, self.cols, self.n_samples, self.reach = rows, cols, n_samples, reach
        self.find = nn.Sequential(_conv2d_bn_relu(in_channels, width), _conv2d_bn_relu(width, width),
                                  _conv2d_bn_relu(width, width, 2), _conv2d_bn_relu(width, 8))
        self.body = nn.Sequential(
            _conv1d_bn_relu(8 * rows, 128, 1), _conv1d_bn_relu(128, 128, 5),
            _conv1d_bn_relu(128, 128, 5, 2), _conv1d_bn_relu(128, 64, 5, 4),
        )
        self.out = nn.Conv1d(64, 1, 5, padding=2)

    def sample(self, maps: Sequence[torch.Tensor], quads: torch.Tensor, input_hw: tuple[int, int]) -> torch.Tensor:
        """(B·W, ΣC, rows, cols): each map bilinearly sampled on a grid spanning each quad along
        time (cols) and, top to bottom (rows), the quad's height plus ``reach`` of it above and below."""
        b, n_win = quads.shape[:2]
        v = torch.linspace(-self.reach, 1 + self.reach, self.rows, device=quads.device, dtype=quads.dtype)[:, None, None]
        u = torch.linspace(0, 1, self.cols, device=quads.device, dtype=quads.dtype)[None, :, None]
        tl, tr, br, bl = (quads[:, :, i, None, None, :] for i in range(4))  # (B, W, 1, 1, 2)
        pts = (1 - v) * ((1 - u) * tl + u * tr) + v * ((1 - u) * bl + u * br)  # (B, W, rows, cols, 2)
        h, w = input_hw
        scale = torch.tensor([2.0 / w, 2.0 / h], device=quads.device, dtype=quads.dtype)
        grid = ((pts + 0.5) * scale - 1).reshape(b, n_win * self.rows, self.cols, 2)
        out = torch.cat([F.grid_sample(m, grid.to(m.dtype), align_corners=False) for m in maps], 1)  # (B, ΣC, W·rows, cols)
        return out.reshape(b, -1, n_win, self.rows, self.cols).transpose(1, 2).flatten(0, 1)

    def head(self, samples: torch.Tensor) -> torch.Tensor:
        """(M, C, rows, cols) -> (M, n_samples) mV."""
        y = self.out(self.body(self.find(samples).flatten(1, 2)))
        return F.interpolate(y, size=self.n_samples, mode="linear", align_corners=False)[:, 0]

    def forward(self, maps: Sequence[torch.Tensor], quads: torch.Tensor, input_hw: tuple[int, int]) -> torch.Tensor:
        return self.head(self.sample(maps, quads, input_hw)).reshape(*quads.shape[:2], self.n_samples)
