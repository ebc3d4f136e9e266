"""Where the network looked: attribution maps, the purple overlay and a per-lead summary.

ECG-AIO's explanation is the plain Jacobian of each label's logit with respect to the input
pixels (npj Digit Med 2025): the pixels of the page as the network sees it, the image scaled
into the letterbox (``letterbox_resize``; 634 × 448 for an A4 scan, 597 × 448 for a 12-MP
photo). Channels are aggregated by max |·| (Captum ``Saliency``). A map is read in the pixels
of the image as loaded (``SaliencyMaps[key]``: ``H×W`` float32 >= 0, upsampled bilinearly) and
kept at the input's resolution, which carries all its detail: the gradient with respect to the
full-resolution image is the antialiased resize's adjoint applied to it, a blur of the same map
that cost 3.4 s instead of 0.6 s for the eight labels of a 12-MP photo on the 2-core CPU, and
384 MB instead of 8.6 MB. SmoothGrad, Grad-CAM and Integrated Gradients are baselines to
compare it with.

An attribution method is a small object with one method, ``attribute(img01, targets) ->
(K, H, W)``, as in Captum.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Protocol

import cv2
import numpy as np
import torch
from torch import nn

from core.compare import CELL_S, grid_scores
from core.labels import LABELS, LEADS
from core.model.decoder import assemble, panel_windows, window_arrays
from core.model.preprocess import (
    InputSpec,
    image_to_tensor,
    letterbox_matrix,
    letterbox_resize,
    pad_and_normalise,
    to_model_input,
)
from core.outputs import resize_map
from core.page.geometry import Geometry

PURPLE = (128, 0, 160)
METHODS = ("jacobian", "gradcam", "ig")


class Cancelled(RuntimeError):
    """The caller's cancel flag was raised while explaining."""


class Attribution(Protocol):
    """An attribution method: ``attribute(img01 (1, 3, H, W) in [0, 1], targets) -> (K, H, W)``."""

    def attribute(self, img01: torch.Tensor, targets: Sequence[int]) -> np.ndarray: ...


# ---- helpers ---------------------------------------------------------------------------------
@contextmanager
def _inference(model: nn.Module) -> Iterator[None]:
    """eval() mode, parameters without gradients and autograd on; all restored afterwards."""
    was_training = model.training
    flags = [p.requires_grad for p in model.parameters()]
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    try:
        with torch.enable_grad():
            yield
    finally:
        for p, flag in zip(model.parameters(), flags):
            p.requires_grad_(flag)
        model.train(was_training)


def _like_model(model: nn.Module, img01: torch.Tensor) -> torch.Tensor:
    """A detached copy of the image on the model's device and in its dtype, requiring grad."""
    p = next(model.parameters())
    return img01.detach().to(device=p.device, dtype=p.dtype).clone().requires_grad_(True)


def channel_max(grad: torch.Tensor) -> np.ndarray:
    """(B, C, H, W) gradients -> (H, W) float32 max |·| over channels (summed over B)."""
    return grad.abs().amax(dim=1).sum(dim=0).detach().cpu().numpy().astype(np.float32)


def input_gradients(img: torch.Tensor, logits: torch.Tensor, targets: Sequence[int]) -> np.ndarray:
    """(K, H, W) max |∂ logit_k / ∂ img| over channels, one input-only backward per target.

    img: the leaf (1, 3, H, W) the logits (1, n_labels) were computed from; the graph is kept.
    """
    maps = [channel_max(torch.autograd.grad(logits[:, k].sum(), img, retain_graph=True)[0])
            for k in targets]
    h, w = img.shape[-2:]
    return np.stack(maps) if maps else np.zeros((0, h, w), np.float32)


def _logits(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Label logits only (skips the signal decoder and the domain head)."""
    return model.forward_head(model.forward_features(x))


# ---- methods ---------------------------------------------------------------------------------
class Jacobian:
    """ECG-AIO's explanation: |∂ logit_k / ∂ pixel| of the letterboxed input, max over RGB,
    upsampled into the image as loaded (see the module's docstring)."""

    name = "jacobian"

    def __init__(self, model: nn.Module, spec: InputSpec) -> None:
        self.model, self.spec = model, spec

    def attribute(self, img01: torch.Tensor, targets: Sequence[int]) -> np.ndarray:
        """One forward pass, then one input-only backward per target: (K, H, W) float32 >= 0."""
        h, w = img01.shape[-2:]
        with _inference(self.model):
            scaled = letterbox_resize(_like_model(self.model, img01).detach(), self.spec).requires_grad_(True)
            maps = input_gradients(scaled, _logits(self.model, pad_and_normalise(scaled, self.spec)), targets)
        return np.stack([resize_map(m, (w, h)) for m in maps]) if len(maps) else maps.reshape(0, h, w)


class SmoothGrad:
    """Mean of ``base`` over n noisy copies of the image (Smilkov et al. 2017).

    sigma: the noise σ as a fraction of the input range [0, 1] (Captum NoiseTunnel ``stdevs``
    in input units; 0.1–0.2 is usual). The noise is not clipped. n = 0 is ``base`` itself.
    seed: the noise is the same on every call.
    """

    def __init__(self, base: Attribution, n: int = 16, sigma: float = 0.15, seed: int = 0) -> None:
        if n < 0 or sigma < 0:
            raise ValueError("SmoothGrad needs n >= 0 samples and a noise sigma >= 0")
        self.base, self.n, self.sigma, self.seed = base, n, sigma, seed
        self.name = f"smoothgrad({getattr(base, 'name', type(base).__name__)}, n={n})"

    def attribute(self, img01: torch.Tensor, targets: Sequence[int]) -> np.ndarray:
        if self.n == 0:
            return self.base.attribute(img01, targets)
        gen = torch.Generator().manual_seed(self.seed)
        total: np.ndarray | None = None
        for _ in range(self.n):
            noise = torch.randn(img01.shape, generator=gen, dtype=torch.float64) * self.sigma
            maps = self.base.attribute(img01 + noise.to(img01), targets)
            total = maps if total is None else total + maps
        assert total is not None
        return (total / self.n).astype(np.float32)


class GradCAM:
    """Grad-CAM (Selvaraju et al. 2017) on the last encoder stage, in the image as loaded.

    ReLU(Σ_c mean(∂ logit_k / ∂ A_c) · A_c) on the (h/32, w/32) feature grid, bilinearly
    upsampled to the input and taken back through the inverse letterbox (0 outside the page).
    """

    name = "gradcam"

    def __init__(self, model: nn.Module, spec: InputSpec) -> None:
        self.model, self.spec = model, spec

    def attribute(self, img01: torch.Tensor, targets: Sequence[int]) -> np.ndarray:
        h, w = img01.shape[-2:]
        with _inference(self.model):
            img = _like_model(self.model, img01).detach()
            feats = self.model.forward_features(to_model_input(img, self.spec)).detach().requires_grad_(True)
            logits = self.model.forward_head(feats)
            cams = []
            for k in targets:
                grad = torch.autograd.grad(logits[:, k].sum(), feats, retain_graph=True)[0]
                weights = grad.mean(dim=(2, 3), keepdim=True)
                cams.append(torch.relu((weights * feats).sum(dim=1))[0].detach().cpu().numpy())
        return np.stack([self._to_image(c, (w, h)) for c in cams]) if cams else np.zeros((0, h, w), np.float32)

    def _to_image(self, cam: np.ndarray, image_size: tuple[int, int]) -> np.ndarray:
        up = cv2.resize(cam.astype(np.float32), (self.spec.width, self.spec.height), interpolation=cv2.INTER_LINEAR)
        m = letterbox_matrix(image_size, self.spec)
        back = cv2.warpAffine(up, m[:2], image_size, flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                              borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        return np.clip(back, 0, None).astype(np.float32)


class IntegratedGradients:
    """Integrated Gradients (Sundararajan et al. 2017) from a white page, in the image as loaded.

    (x − b) ⊙ mean over α of ∂ logit_k / ∂ x at b + α (x − b), midpoint rule with ``steps``
    points, then max |·| over channels. baseline: a (1, 3, H, W) tensor or a grey level in
    [0, 1]; the default 1.0 is blank white paper, so white pixels get no attribution.
    batch: path points per forward pass.
    """

    name = "ig"

    def __init__(self, model: nn.Module, spec: InputSpec, steps: int = 32,
                 baseline: torch.Tensor | float = 1.0, batch: int = 4) -> None:
        if steps < 1 or batch < 1:
            raise ValueError("Integrated Gradients needs steps >= 1 and batch >= 1")
        self.model, self.spec, self.steps, self.baseline, self.batch = model, spec, steps, baseline, batch

    def attribute(self, img01: torch.Tensor, targets: Sequence[int]) -> np.ndarray:
        with _inference(self.model):
            x = _like_model(self.model, img01).detach()
            b = torch.as_tensor(self.baseline, dtype=x.dtype, device=x.device).expand_as(x)
            alphas = (torch.arange(self.steps, dtype=x.dtype, device=x.device) + 0.5) / self.steps
            sums = [torch.zeros_like(x) for _ in targets]
            for chunk in alphas.split(self.batch):
                path = (b + chunk.view(-1, 1, 1, 1) * (x - b)).requires_grad_(True)
                logits = _logits(self.model, to_model_input(path, self.spec))
                for s, k in zip(sums, targets):
                    s += torch.autograd.grad(logits[:, k].sum(), path, retain_graph=True)[0].sum(dim=0, keepdim=True)
            h, w = x.shape[-2:]
            maps = [channel_max((x - b) * s / self.steps) for s in sums]
        return np.stack(maps) if maps else np.zeros((0, h, w), np.float32)


def make_method(name: str, model: nn.Module, spec: InputSpec, smoothgrad_n: int = 0,
                smoothgrad_sigma: float = 0.15) -> Attribution:
    """The method a CLI/GUI name asks for ('jacobian', 'gradcam', 'ig'), under SmoothGrad if n > 0."""
    makers = {"jacobian": Jacobian, "gradcam": GradCAM, "ig": IntegratedGradients}
    if name not in makers:
        raise ValueError(f"unknown attribution method {name!r}; choose one of {', '.join(METHODS)}")
    method: Attribution = makers[name](model, spec)
    return SmoothGrad(method, smoothgrad_n, smoothgrad_sigma) if smoothgrad_n > 0 else method


# ---- one image, every label --------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class SaliencyMaps(Mapping[str, np.ndarray]):
    """Label key -> its map in the pixels of the image as loaded ((H, W) float32 >= 0).

    native: label key -> the map as computed, (h, w) float32 >= 0 at a uniform downscale of the
    image (the letterboxed input for the Jacobian; the image itself, h = H, for the baselines).
    image_size: (W, H). ``maps[key]`` upsamples (``resize_map``; the last two are kept);
    whatever only needs a summary (``where_it_looked``, the written outputs) reads ``native``.
    """

    native: dict[str, np.ndarray]
    image_size: tuple[int, int]
    _recent: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)  # the window reads from workers

    def __getitem__(self, key: str) -> np.ndarray:
        with self._lock:
            full = self._recent.get(key)
        if full is None:
            full = resize_map(self.native[key], self.image_size)
            with self._lock:
                while len(self._recent) >= 2:
                    self._recent.pop(next(iter(self._recent)))
                self._recent[key] = full
        return full

    def __iter__(self) -> Iterator[str]:
        return iter(self.native)

    def __len__(self) -> int:
        return len(self.native)


@dataclass(frozen=True)
class Explanation:
    """The network's answer for one image and where it looked.

    probabilities: (n_labels,) float32 sigmoid of the logits, core.labels order.
    signals: (12, n_samples) float32 leads read back from the printed panels in mV (the
    network decoder's output here; ``core.analyze.analyze`` puts the full-resolution reading of
    ``core.page.trace`` in its place), NaN where nothing was read (no page geometry, a lead not
    printed, a gap in the trace).
    saliency: label key -> (H, W) float32 >= 0 in the pixels of the image as loaded
    (``SaliencyMaps``, which keeps each at the resolution it was computed at).
    timings_ms: wall time of 'preprocess', 'forward' and 'jacobian' (the attribution, whatever
    the method). method: the attribution method's name.
    """

    probabilities: np.ndarray
    signals: np.ndarray
    saliency: Mapping[str, np.ndarray]
    timings_ms: dict[str, float]
    method: str = "jacobian"


def _target_index(t: int | str) -> int:
    if isinstance(t, str):
        if t not in LABELS:
            raise ValueError(f"unknown label {t!r}; known labels are {', '.join(LABELS)}")
        return LABELS.index(t)
    if not 0 <= int(t) < len(LABELS):
        raise ValueError(f"label index {t} is out of range 0..{len(LABELS) - 1}")
    return int(t)


def explain(model: nn.Module, spec: InputSpec, rgb: np.ndarray,
            targets: Sequence[int | str] = tuple(range(len(LABELS))), method: str | Attribution = "jacobian", smoothgrad_n: int = 0, smoothgrad_sigma: float = 0.15,
            progress: Callable[[int, int], None] | None = None,
            cancel: Callable[[], bool] | None = None, geometry: Geometry | None = None) -> Explanation:
    """Diagnose one uint8 RGB image (H, W, 3) and explain the target labels (indices or keys).

    The Jacobian reuses the single forward pass that gives the probabilities and signals (one
    input-only backward per label); other methods run their own passes, one label at a time.
    The leads are decoded from the panels of ``geometry`` (in the image's px); without it,
    or without panels, the signals are all NaN.
    progress(done, total) is called after each label; cancel() returning True raises Cancelled.
    """
    ks = [_target_index(t) for t in targets]
    if isinstance(method, str):
        method = make_method(method, model, spec, smoothgrad_n, smoothgrad_sigma)
    jacobian = type(method) is Jacobian
    timings: dict[str, float] = {}
    image_size = (rgb.shape[1], rgb.shape[0])
    with _inference(model):
        t0 = time.perf_counter()
        img = _like_model(model, image_to_tensor(rgb)).detach()
        # the Jacobian's leaf: the page as the network sees it (no backward through the resize)
        scaled = letterbox_resize(img, spec).detach().requires_grad_(jacobian)
        x = pad_and_normalise(scaled, spec)
        t1 = time.perf_counter()
        net = model.config
        early, feats = model.forward_maps(x)
        logits = model.forward_head(feats)
        windows = [] if geometry is None else panel_windows(
            geometry.panels, net.decoder_window_s, letterbox_matrix(image_size, spec))
        quads, index = window_arrays(windows, len(windows), net.decoder_fs)
        with torch.no_grad():  # the leads need no gradient: kept out of the Jacobians' graph
            decoded = (model.decode(x.detach(), early.detach(), torch.from_numpy(quads)[None].to(x.device))[0]
                       .cpu().numpy() if windows else ())
        t2 = time.perf_counter()
        timings["preprocess"], timings["forward"] = (t1 - t0) * 1e3, (t2 - t1) * 1e3
        probabilities = torch.sigmoid(logits[0]).detach().cpu().numpy().astype(np.float32)
        signals = assemble(index, decoded, net.decoder_leads, net.n_samples)
        maps = {}
        for i, k in enumerate(ks):
            if cancel is not None and cancel():
                raise Cancelled("explanation cancelled")
            if jacobian:
                maps[LABELS[k]] = input_gradients(scaled, logits, [k])[0]
            else:
                maps[LABELS[k]] = method.attribute(img, [k])[0]
            if progress is not None:
                progress(i + 1, len(ks))
        timings["jacobian"] = (time.perf_counter() - t2) * 1e3
    return Explanation(probabilities, signals, SaliencyMaps(maps, image_size), timings,
                       getattr(method, "name", type(method).__name__))


# ---- showing it ------------------------------------------------------------------------------
def robust_normalise(sal: np.ndarray, hi_pct: float = 99.5) -> np.ndarray:
    """Scale a map to [0, 1] by its hi_pct percentile (clipped), so a few hot pixels cannot
    flatten the rest. Negative values become 0; falls back to the maximum when the percentile
    is 0 (sparse maps); an all-zero map stays zero. float32, same shape.
    """
    s = np.clip(np.asarray(sal, np.float32), 0, None)
    hi = float(np.percentile(s, hi_pct)) if s.size else 0.0
    if hi <= 0:
        hi = float(s.max()) if s.size else 0.0
    if hi <= 0:
        return np.zeros_like(s)
    return np.clip(s / hi, 0, 1)


def overlay(rgb: np.ndarray, sal: np.ndarray, opacity: float = 0.6, threshold: float = 0.1,
            colour: tuple[int, int, int] = PURPLE, blur_sigma_px: float = 0.0) -> np.ndarray:
    """ECG-AIO's purple overlay on a uint8 RGB image (H, W, 3); returns a new uint8 image.

    The saliency (optionally Gaussian-blurred by blur_sigma_px) is robust-normalised to n in
    [0, 1]; where n >= threshold the pixel becomes rgb·(1 − α) + colour·α with α = opacity·n;
    elsewhere it is left exactly as it was.
    """
    if sal.shape != rgb.shape[:2]:
        raise ValueError(f"saliency {sal.shape} and image {rgb.shape[:2]} differ in size")
    s = np.asarray(sal, np.float32)
    if blur_sigma_px > 0:
        s = cv2.GaussianBlur(s, (0, 0), blur_sigma_px)
    alpha = opacity * overlay_alpha(s, threshold)[..., None]
    blended = rgb * (1.0 - alpha) + np.asarray(colour, np.float32) * alpha
    return np.where(alpha > 0, np.clip(np.round(blended), 0, 255), rgb).astype(np.uint8)


def overlay_alpha(sal: np.ndarray, threshold: float = 0.1) -> np.ndarray:
    """The overlay's opacity per pixel, before the layer's own: the robust-normalised map
    where it reaches ``threshold``, else 0 (float32 in [0, 1]). ``overlay`` blends with it;
    the review window draws it as the alpha of a purple layer whose opacity the reader sets."""
    n = robust_normalise(sal)
    return np.where((n >= threshold) & (n > 0), n, 0.0).astype(np.float32)


def where_it_looked(sal: np.ndarray, geometry: Geometry | None, label: str,
                    cell_s: float = CELL_S) -> dict:
    """Share of the attribution on the printed panels that falls in each lead and each cell.

    Returns ``per_lead`` {lead: share} (summed over all of that lead's panels, rhythm strips
    included), ``per_cell`` [[panel index, t0 s, t1 s, share]] (panel × cell_s of its own time)
    and a one-line ``summary`` naming the fewest leads that together hold > 50 %. Shares are of
    the attribution inside all panels; the summary also says when ≥ 5 % of the page's
    attribution lies off the panels. Without panels, per_lead/per_cell are None.
    """
    if geometry is None or not geometry.panels:
        return {"per_lead": None, "per_cell": None,
                "summary": f"{label}: page geometry not detected, so attribution cannot be given per lead."}
    pos = np.clip(np.asarray(sal, np.float64), 0, None)
    scores, cells = grid_scores(pos, geometry, cell_s)
    on_panels = float(scores.sum())
    shares = scores / on_panels if on_panels > 0 else np.zeros_like(scores)
    per_lead: dict[str, float] = {}
    for (i, _, _), share in zip(cells.cells, shares):
        lead = geometry.panels[i].lead
        per_lead[lead] = per_lead.get(lead, 0.0) + float(share)
    order = {lead: j for j, lead in enumerate(LEADS)}
    per_lead = {lead: round(share, 6) for lead, share in
                sorted(per_lead.items(), key=lambda kv: order.get(kv[0].lstrip("-"), len(order)))}
    per_cell = [[i, round(t0, 4), round(t1, 4), round(float(s), 6)] for (i, t0, t1), s in zip(cells.cells, shares)]
    return {"per_lead": per_lead, "per_cell": per_cell,
            "summary": _summary(label, per_lead, on_panels, float(pos.sum()))}


def _summary(label: str, per_lead: dict[str, float], on_panels: float, on_page: float) -> str:
    if on_panels <= 0:
        return f"{label}: no attribution falls on the printed leads."
    top, held = [], 0.0
    for lead, share in sorted(per_lead.items(), key=lambda kv: -kv[1]):
        top.append(lead)
        held += share
        if held > 0.5:
            break
    line = f"{label}: {100 * held:.0f}% of attribution in {', '.join(top)}"
    off = 1.0 - on_panels / on_page if on_page > 0 else 0.0
    if off >= 0.05:
        line += f" ({100 * off:.0f}% of the page's attribution lies outside the printed leads)"
    return line
