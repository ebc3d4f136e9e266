"""Attribution maps of small real networks, the purple overlay and where-it-looked."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from core import explain as E
from core.labels import LABELS
from core.model.network import EcgAio, NetConfig
from core.model.preprocess import InputSpec, image_to_tensor, to_model_input
from core.page.geometry import Geometry, Panel

SPEC = InputSpec(height=32, width=48)


def small_ecgaio(seed: int = 0) -> EcgAio:
    """A tiny EcgAio with every weight random (the init zeroes each block's last BN gamma)."""
    torch.manual_seed(seed)
    model = EcgAio(NetConfig(width=4))
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm2d, nn.BatchNorm1d)):
            nn.init.uniform_(m.weight, 0.5, 1.5)
            nn.init.uniform_(m.bias, -0.2, 0.2)
    return model.eval()


class DarknessNet(nn.Module):
    """Features = how dark each 8×8 input block is (channel 0 only); logits linear in them.

    Logit k = w_k · mean darkness + b_k, so the logits are affine in the image: Grad-CAM peaks
    where the page is dark and Integrated Gradients equals (x − b) ⊙ gradient exactly.
    """

    def __init__(self) -> None:
        super().__init__()
        self.config = NetConfig()
        self.head = nn.Linear(1, len(LABELS))
        with torch.no_grad():
            self.head.weight.copy_(torch.linspace(0.5, 2.0, len(LABELS)).view(-1, 1))
            self.head.bias.zero_()

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        v = x[:, :1] * SPEC.std[0] + SPEC.mean[0]  # back to [0, 1] intensity
        return F.avg_pool2d(1.0 - v, 8)

    def forward_head(self, feats: torch.Tensor) -> torch.Tensor:
        return self.head(feats.mean(dim=(2, 3)))

    def forward(self, x: torch.Tensor, lam: float = 0.0, quads: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        feats = self.forward_features(x)
        return {"logits": self.forward_head(feats), "domain": torch.zeros(x.shape[0], 2)}


def random_image(h: int, w: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return 0.2 + 0.6 * torch.rand((1, 3, h, w), generator=g, dtype=torch.float64)


# ---- Jacobian ------------------------------------------------------------------------------
def test_jacobian_matches_finite_differences():
    """At the network's input size the map is the Jacobian of the image's own pixels."""
    model = small_ecgaio().double()
    img = random_image(32, 48)
    k = 2
    sal = E.Jacobian(model, SPEC).attribute(img, [k])[0]
    eps = 1e-6

    def logit(x: torch.Tensor) -> float:
        with torch.no_grad():
            return float(model.forward_head(model.forward_features(to_model_input(x, SPEC)))[0, k])

    for y, x in [(3, 4), (10, 15), (19, 29), (0, 0)]:
        fd = []
        for c in range(3):
            plus, minus = img.clone(), img.clone()
            plus[0, c, y, x] += eps
            minus[0, c, y, x] -= eps
            fd.append((logit(plus) - logit(minus)) / (2 * eps))
        assert sal[y, x] == pytest.approx(max(abs(v) for v in fd), rel=1e-4, abs=1e-9)
        assert sal[y, x] > 0


def test_jacobian_one_map_per_target_in_image_pixels():
    model = small_ecgaio()
    img = random_image(37, 53).float()  # not the input's aspect ratio: letterboxed
    jac = E.Jacobian(model, SPEC)
    maps = jac.attribute(img, [0, 3, 5])
    assert maps.shape == (3, 37, 53) and maps.dtype == np.float32
    assert (maps >= 0).all()
    for i, k in enumerate([0, 3, 5]):
        np.testing.assert_allclose(maps[i], jac.attribute(img, [k])[0], rtol=1e-5, atol=1e-8)
    assert not np.allclose(maps[0], maps[1])


def test_jacobian_leaves_model_state_alone():
    model = small_ecgaio().train()
    E.Jacobian(model, SPEC).attribute(random_image(20, 30).float(), [0])
    assert model.training
    assert all(p.requires_grad for p in model.parameters())
    assert all(p.grad is None for p in model.parameters())


def test_smoothgrad_n0_is_the_base_and_noise_changes_it():
    model = small_ecgaio()
    img = random_image(20, 30).float()
    jac = E.Jacobian(model, SPEC)
    np.testing.assert_array_equal(E.SmoothGrad(jac, n=0).attribute(img, [1]), jac.attribute(img, [1]))
    a = E.SmoothGrad(jac, n=3, sigma=0.2).attribute(img, [1])
    assert a.shape == (1, 20, 30)
    np.testing.assert_array_equal(a, E.SmoothGrad(jac, n=3, sigma=0.2).attribute(img, [1]))
    assert not np.allclose(a, jac.attribute(img, [1]))


# ---- baselines on a network whose answer is known ------------------------------------------
def test_gradcam_peaks_at_the_dark_patch_through_the_letterbox():
    img = torch.ones((1, 3, 40, 100))        # wide page: letterboxed with white bands above/below
    img[:, :, 10:30, 70:90] = 0.0            # one dark patch on the right
    cam = E.GradCAM(DarknessNet(), SPEC).attribute(img, [0, 4])
    assert cam.shape == (2, 40, 100) and (cam >= 0).all()
    y, x = np.unravel_index(np.argmax(cam[0]), cam[0].shape)
    assert 5 <= y <= 35 and 65 <= x <= 95
    assert cam[0][:, :40].max() < 0.05 * cam[0].max()


def test_integrated_gradients_of_an_affine_model_is_input_times_gradient():
    model = DarknessNet().double()
    img = random_image(32, 48)  # at the input size: the Jacobian is the image pixels' own
    ig = E.IntegratedGradients(model, SPEC, steps=5, batch=2).attribute(img, [3])[0]
    jac = E.Jacobian(model, SPEC).attribute(img, [3])[0]  # only channel 0 matters
    np.testing.assert_allclose(ig, np.abs(img[0, 0].numpy() - 1.0) * jac, rtol=1e-4, atol=1e-10)


def test_make_method():
    model = small_ecgaio()
    assert isinstance(E.make_method("gradcam", model, SPEC), E.GradCAM)
    sg = E.make_method("jacobian", model, SPEC, smoothgrad_n=4)
    assert isinstance(sg, E.SmoothGrad) and isinstance(sg.base, E.Jacobian)
    with pytest.raises(ValueError, match="unknown attribution method"):
        E.make_method("lime", model, SPEC)


# ---- explain -------------------------------------------------------------------------------
def test_explain_reuses_the_forward_pass():
    model = small_ecgaio()
    rgb = (np.random.default_rng(3).random((37, 53, 3)) * 255).astype(np.uint8)
    done = []
    ex = E.explain(model, SPEC, rgb, [1, "PVC"], progress=lambda i, n: done.append((i, n)))
    assert set(ex.saliency) == {LABELS[1], "PVC"}
    assert done == [(1, 2), (2, 2)]
    assert ex.saliency["PVC"].shape == (37, 53) and ex.saliency["PVC"].dtype == np.float32
    # kept at the letterboxed input's resolution (53 x 37 scaled by 32 / 37), read at the image's
    assert ex.saliency.native["PVC"].shape == (32, 46)
    expected = E.Jacobian(model, SPEC).attribute(image_to_tensor(rgb), [LABELS.index("PVC")])[0]
    np.testing.assert_allclose(ex.saliency["PVC"], expected, rtol=1e-5, atol=1e-9)
    with torch.no_grad():
        logits = model(to_model_input(image_to_tensor(rgb), SPEC))["logits"][0]
    np.testing.assert_allclose(ex.probabilities, torch.sigmoid(logits).numpy(), rtol=1e-5)
    assert ex.probabilities.shape == (len(LABELS),) and ex.signals.shape == (12, 1000)
    assert set(ex.timings_ms) == {"preprocess", "forward", "jacobian"}
    assert all(v >= 0 for v in ex.timings_ms.values())


def test_explain_other_methods_and_cancel():
    model = small_ecgaio()
    rgb = np.full((20, 30, 3), 200, np.uint8)
    ex = E.explain(model, SPEC, rgb, [0], method="gradcam")
    assert ex.method == "gradcam" and ex.saliency["SR"].shape == (20, 30)
    with pytest.raises(E.Cancelled):
        E.explain(model, SPEC, rgb, [0, 1], cancel=lambda: True)
    with pytest.raises(ValueError, match="unknown label"):
        E.explain(model, SPEC, rgb, ["XYZ"])


# ---- showing it ----------------------------------------------------------------------------
def test_robust_normalise_ignores_a_few_hot_pixels():
    sal = np.tile(np.linspace(0, 1, 1000, dtype=np.float32), (10, 1))
    sal[0, 0] = 1e6
    n = E.robust_normalise(sal)
    assert n.min() == 0.0 and n.max() == 1.0
    assert n[5, 500] == pytest.approx(0.5, abs=0.01)      # not crushed by the outlier
    assert not E.robust_normalise(np.zeros((4, 4))).any()
    sparse = np.zeros((100, 100))
    sparse[3, 3] = 2.0                                    # percentile 0 -> use the maximum
    assert E.robust_normalise(sparse)[3, 3] == 1.0


def test_overlay_tints_salient_pixels_purple_and_leaves_the_rest():
    rgb = (np.random.default_rng(0).random((30, 40, 3)) * 255).astype(np.uint8)
    sal = np.zeros((30, 40), np.float32)
    sal[10:20, 10:20] = 1.0
    out = E.overlay(rgb, sal, opacity=0.6)
    outside = np.ones((30, 40), bool)
    outside[10:20, 10:20] = False
    np.testing.assert_array_equal(out[outside], rgb[outside])
    expected = np.round(rgb[15, 15] * 0.4 + np.array(E.PURPLE) * 0.6)
    np.testing.assert_array_equal(out[15, 15], expected)
    inside = out[10:20, 10:20].reshape(-1, 3).astype(float)
    assert np.linalg.norm(inside - E.PURPLE, axis=1).mean() < np.linalg.norm(
        rgb[10:20, 10:20].reshape(-1, 3) - E.PURPLE, axis=1).mean()
    assert (out[10:20, 10:20, 1] <= rgb[10:20, 10:20, 1]).all()  # purple has no green


def test_overlay_threshold_keeps_weak_saliency_invisible():
    rgb = np.full((10, 10, 3), 255, np.uint8)
    sal = np.zeros((10, 10), np.float32)
    sal[:, :5] = 0.05
    sal[0, 9] = 1.0                     # scale: weak pixels normalise to 0.05 < threshold
    sal[1:, 9] = 1.0
    out = E.overlay(rgb, sal, threshold=0.1)
    np.testing.assert_array_equal(out[:, :5], rgb[:, :5])
    assert (out[:, 9] != 255).any()


# ---- where it looked -----------------------------------------------------------------------
def three_panel_page() -> Geometry:
    """40×30 mm page at 2 px/mm: II and V1 side by side (2.5 s each), a II rhythm strip below."""
    h = np.array([[2.0, 0, 0.25], [0, 2.0, 0.25], [0, 0, 1]])
    panels = (
        Panel("II", 0, 0, 0.0, 1.0, (0.0, 0.0, 10.0, 10.0), 5.0),
        Panel("V1", 0, 1, 1.0, 2.0, (10.0, 0.0, 20.0, 10.0), 5.0),
        Panel("II", 1, 0, 0.0, 2.0, (0.0, 12.0, 20.0, 22.0), 17.0),
    )
    return Geometry.from_homography((50, 50), None, 10.0, 10.0, h, panels)


def test_where_it_looked_finds_the_blob():
    geo = three_panel_page()
    sal = np.zeros((50, 50), np.float32)
    sal[8:12, 29:32] = 1.0                # V1 panel, x 14.4–15.9 mm -> t 1.44–1.59 s
    sal[45, 45] = 1e-3                    # a speck off every panel
    w = E.where_it_looked(sal, geo, "AFL")
    assert w["per_lead"]["V1"] == pytest.approx(1.0)
    assert w["per_lead"]["II"] == pytest.approx(0.0)
    assert sum(w["per_lead"].values()) == pytest.approx(1.0)
    hot = [c for c in w["per_cell"] if c[3] > 0]
    assert [c[0] for c in hot] == [1] and hot[0][1:3] == pytest.approx([1.4, 1.6])
    assert w["summary"] == "AFL: 100% of attribution in V1"


def test_where_it_looked_sums_a_lead_over_its_panels_and_reports_off_panel_share():
    geo = three_panel_page()
    sal = np.zeros((50, 50), np.float32)
    sal[5, 5] = 1.0       # II, top row
    sal[30, 5] = 1.0      # II, rhythm strip
    sal[5, 25] = 1.0      # V1
    sal[48, 48] = 1.0     # off the panels
    w = E.where_it_looked(sal, geo, "SR")
    assert w["per_lead"] == pytest.approx({"II": 2 / 3, "V1": 1 / 3})
    assert list(w["per_lead"]) == ["II", "V1"]
    assert w["summary"] == "SR: 67% of attribution in II (25% of the page's attribution lies outside the printed leads)"


def test_where_it_looked_is_honest_without_geometry_or_attribution():
    assert E.where_it_looked(np.ones((50, 50)), None, "PVC")["per_lead"] is None
    w = E.where_it_looked(np.zeros((50, 50)), three_panel_page(), "PVC")
    assert w["summary"] == "PVC: no attribution falls on the printed leads."
