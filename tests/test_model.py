"""The ECG-AIO network, the gradient-reversal layer and the differentiable letterbox."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from core.labels import LABELS
from core.model import (
    EcgAio, InputSpec, NetConfig, dann_lambda, grl, image_to_tensor, letterbox_matrix,
    to_model_input,
)
from core.model.decoder import used_windows
from core.model.network import BasicBlock


@pytest.fixture(scope="module")
def small_model() -> EcgAio:
    torch.manual_seed(0)
    return EcgAio(NetConfig(width=8)).eval()


def _quads(n_pages: int, boxes: list[tuple[float, float, float, float]]) -> torch.Tensor:
    """Window quads (n_pages, len(boxes), 4, 2) from axis-aligned boxes (x0, y0, x1, y1) in input px."""
    q = [[(x0, y0), (x1, y0), (x1, y1), (x0, y1)] for x0, y0, x1, y1 in boxes]
    return torch.tensor([q] * n_pages, dtype=torch.float32)


@pytest.mark.parametrize("size", [(128, 256), (448, 896)])
def test_output_shapes(small_model, size):
    x = torch.randn(2, 3, *size)
    quads = _quads(2, [(10, 10, 60, 40), (60, 10, 110, 40), (0, 0, size[1] - 1, size[0] - 1)])
    with torch.no_grad():
        out = small_model(x, lam=0.5, quads=quads)
        feats = small_model.forward_features(x)
        plain = small_model(x)
    assert feats.shape == (2, 64, size[0] // 32, size[1] // 32)
    assert out["logits"].shape == (2, len(LABELS))
    assert out["signals"].shape == (2, 3, 250)  # 2.5 s at 100 Hz per window
    assert out["domain"].shape == (2, 2)
    assert "signals" not in plain and torch.equal(plain["logits"], out["logits"])


def test_default_config_shapes_and_size():
    model = EcgAio().eval()
    spec = InputSpec()
    with torch.no_grad():
        out = model(torch.randn(2, 3, spec.height, spec.width), quads=_quads(2, [(0, 0, 100, 50)] * 48))
        feats = model.forward_features(torch.zeros(1, 3, spec.height, spec.width))
    assert feats.shape == (1, 256, 14, 28)
    assert out["signals"].shape == (2, NetConfig().max_windows, 250)
    n_bytes = 4 * sum(t.numel() for t in model.state_dict().values())
    assert n_bytes <= 25e6


def test_grayscale_network():
    model = EcgAio(NetConfig(width=8, in_channels=1)).eval()
    with torch.no_grad():
        assert model(torch.randn(1, 1, 64, 128))["logits"].shape == (1, len(LABELS))


def test_init_like_torchvision():
    model = EcgAio(NetConfig(width=8))
    blocks = [m for m in model.modules() if isinstance(m, BasicBlock)]
    assert len(blocks) == 8  # ResNet18: [2, 2, 2, 2]
    assert all(torch.all(b.conv2[1].weight == 0) for b in blocks)
    assert torch.all(blocks[0].conv1[1].weight == 1)


def test_fresh_decoder_predicts_zero_and_leaves_the_encoder_to_the_labels():
    """An untrained decoder outputs 0 mV, so at the first step only the labels' loss (and the
    domain's, once its ramp starts) moves the encoder."""
    model = EcgAio(NetConfig(width=8))
    x = torch.randn(2, 3, 128, 256)
    out = model(x, lam=0.0, quads=_quads(2, [(10, 10, 120, 40)]))
    assert torch.all(out["signals"] == 0)
    encoder = [p for n, p in model.named_parameters() if n.startswith(("stem", "layer"))]
    grads = torch.autograd.grad(out["signals"].sum() + out["logits"].sum(), encoder, allow_unused=True,
                                retain_graph=True)
    from_labels = torch.autograd.grad(out["logits"].sum(), encoder, allow_unused=True)
    assert all(torch.equal(a, b) for a, b in zip(grads, from_labels) if a is not None)


def test_decoder_reads_only_its_window():
    """A window's samples depend on the pixels of its own panel (and half a panel height above
    and below it), not on the rest of the page, and its first samples on the window's left end."""
    torch.manual_seed(1)
    model = EcgAio(NetConfig(width=8)).eval()
    torch.nn.init.normal_(model.decoder.out.weight)  # a trained decoder's output layer is not zero
    x = torch.randn(1, 3, 256, 512, requires_grad=True)
    sig = model(x, quads=_quads(1, [(256, 96, 384, 160)]))["signals"]
    grad = torch.autograd.grad(sig[0, 0, :50].abs().sum(), x)[0].abs().sum(dim=(0, 1))
    inside = grad[48:208, 224:416].sum()  # the window, its reach and the encoder's reach around it
    assert inside > 0.95 * grad.sum()
    assert grad[:, 224:320].sum() > 5 * grad[:, 320:416].sum()


def test_head_depends_only_on_features(small_model):
    feats = torch.randn(2, 64, 4, 8)
    assert torch.allclose(small_model.forward_head(feats), small_model.head(feats.mean((2, 3))))


def test_config_json_round_trip():
    cfg = NetConfig(width=48, decoder_rows=3)
    assert NetConfig.from_json(cfg.to_json()) == cfg
    spec = InputSpec(384, 768, 1, (0.4,), (0.2,))
    assert InputSpec.from_json(spec.to_json()) == spec
    with pytest.raises(ValueError):
        InputSpec(channels=1)  # three means for one channel


def test_grl_identity_forward_reversed_backward():
    x = torch.randn(4, 5, requires_grad=True)
    y = grl(x, 0.3)
    assert torch.equal(y, x)
    w = torch.randn(4, 5)
    (g,) = torch.autograd.grad((y * w).sum(), x)
    assert torch.allclose(g, -0.3 * w)


def test_domain_head_reverses_gradient_into_features(small_model):
    feats = torch.randn(2, 64, 4, 8, requires_grad=True)
    g1 = torch.autograd.grad(small_model.domain(feats, 1.0)[:, 0].sum(), feats)[0]
    g2 = torch.autograd.grad(small_model.domain(feats, -2.0)[:, 0].sum(), feats)[0]
    assert g1.abs().sum() > 0
    assert torch.allclose(g2, -2.0 * g1, atol=1e-6)


def test_dann_lambda_schedule():
    ps = np.linspace(0, 1, 21)
    lams = [dann_lambda(p) for p in ps]
    assert lams[0] == 0.0
    assert lams[-1] == pytest.approx(1.0, abs=1e-3)
    assert all(b > a for a, b in zip(lams, lams[1:]))
    assert dann_lambda(2.0) == lams[-1]


def test_image_to_tensor():
    rgb = np.zeros((5, 7, 3), np.uint8)
    rgb[1, 2] = (255, 0, 51)
    t = image_to_tensor(rgb)
    assert t.shape == (1, 3, 5, 7) and t.dtype == torch.float32
    assert t[0, :, 1, 2].tolist() == pytest.approx([1.0, 0.0, 0.2])
    with pytest.raises(ValueError):
        image_to_tensor(rgb.astype(np.float32))


def test_letterbox_fills_white_and_normalises():
    spec = InputSpec(height=64, width=128)
    img = torch.zeros(1, 3, 100, 100)  # square -> bars left and right
    x = to_model_input(img, spec)
    assert x.shape == (1, 3, 64, 128)
    white, black = (1 - 0.5) / 0.25, (0 - 0.5) / 0.25
    assert torch.allclose(x[..., :, :30], torch.full_like(x[..., :, :30], white))
    assert torch.allclose(x[..., :, 34:94], torch.full_like(x[..., :, 34:94], black))


def test_letterbox_grey_is_luma():
    spec = InputSpec(height=32, width=32, channels=1, mean=(0.0,), std=(1.0,))
    img = torch.zeros(1, 3, 32, 32)
    img[:, 1] = 1.0  # pure green
    x = to_model_input(img, spec)
    assert x.shape == (1, 1, 32, 32)
    assert torch.allclose(x, torch.full_like(x, 0.587))


def test_to_model_input_is_differentiable():
    img = torch.rand(2, 3, 300, 500, requires_grad=True)
    x = to_model_input(img, InputSpec(height=128, width=256))
    (g,) = torch.autograd.grad(x[:, :, 60:70, 100:120].sum(), img)
    assert g.shape == (2, 3, 300, 500)
    assert g.abs().sum() > 0
    assert g[:, :, :50].abs().sum() == 0  # the top of the image maps far from that window


@pytest.mark.parametrize("image_hw, dot_xy", [
    ((700, 1000), (123, 456)),   # downscale, bars top and bottom
    ((600, 2000), (1500, 77)),   # wide: bars top and bottom
    ((900, 500), (400, 850)),    # tall: bars left and right
    ((60, 100), (10, 50)),       # upscale
])
def test_letterbox_matrix_matches_dot(image_hw, dot_xy):
    spec = InputSpec(height=224, width=448)
    h, w = image_hw
    img = torch.zeros(1, 3, h, w)
    x0, y0 = dot_xy
    img[0, :, y0 - 2:y0 + 3, x0 - 2:x0 + 3] = 1.0  # a 5x5 bright dot centred on (x0, y0)
    x = to_model_input(img, InputSpec(224, 448, 3, (0, 0, 0), (1, 1, 1)))[0, 0]
    m = letterbox_matrix((w, h), spec)
    new_w, new_h = round(m[0, 0] * w), round(m[1, 1] * h)
    left, top = (448 - new_w) // 2, (224 - new_h) // 2
    inside = x[top:top + new_h, left:left + new_w]  # ignore the white canvas
    ys, xs = torch.meshgrid(torch.arange(new_h), torch.arange(new_w), indexing="ij")
    wgt = inside / inside.sum()
    found = np.array([(wgt * xs).sum() + left, (wgt * ys).sum() + top])
    expected = (m @ np.array([x0, y0, 1.0]))[:2]
    # far tighter than 1 px: a corner-vs-centre convention slip would be off by 0.2-0.5 px
    assert np.abs(found - expected).max() <= 0.05


def test_decoding_only_the_used_windows_gives_the_same_signals():
    """Eval and training decode the leading rows any page uses (used_windows); each window is
    read on its own, so the padding rows they skip change nothing."""
    torch.manual_seed(2)
    model = EcgAio(NetConfig(width=8, decoder_rows=8, decoder_cols=25, decoder_width=8)).eval()
    torch.nn.init.normal_(model.decoder.out.weight)
    x = torch.randn(2, 3, 128, 256)
    quads = _quads(2, [(20, 10, 80, 40), (90, 50, 150, 80), (0, 0, 0, 0), (0, 0, 0, 0)])
    index = torch.tensor([[[0, 0], [1, 250], [-1, -1], [-1, -1]],
                          [[3, 0], [-1, -1], [-1, -1], [-1, -1]]])
    n = used_windows(index)
    assert n == 2 and used_windows(torch.full((3, 5, 2), -1)) == 1
    with torch.no_grad():
        early, _ = model.forward_maps(x)
        full = model.decode(x, early, quads)
        trimmed = model.decode(x, early, quads[:, :n])
    torch.testing.assert_close(trimmed, full[:, :n])
