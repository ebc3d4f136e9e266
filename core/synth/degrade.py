"""Turn a clean rendered page into a scan, a shadowed scan or a phone photo.

``degrade(image, domain, rng)`` returns the degraded image, the ``Warp`` that moved every page
pixel (so geometry and masks follow the image) and a JSON-serialisable record of what was
applied. Domains follow ECG-AIO's training data: flatbed scans, scans with shadows, lighting
gradients and blown-out or dark regions, and hand-held phone photos (``core.synth.photo``).
Images are (H, W, 3) uint8 RGB; pixel centres sit at integer coordinates.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from core.page.geometry import Geometry, apply_homography
from core.synth import effects as fx

DOMAINS = ("clean", "scan", "shadow", "photo")


@dataclass(frozen=True)
class Warp:
    """Where each input pixel went.

    out_size: (W, H) of the output, px. homography: 3x3 float64, input px -> output px; exact
    when ``map_xy`` is None, else the least-squares fit of the warp over a grid of points.
    map_xy: (H_out, W_out, 2) float32 map output px -> input px (``cv2.remap``) for warps that
    are not projective (paper curl), or None.
    """

    out_size: tuple[int, int]
    homography: np.ndarray
    map_xy: np.ndarray | None = field(default=None, repr=False)

    def apply_image(self, img: np.ndarray, border_value: float | tuple[float, ...] = 0) -> np.ndarray:
        """Warp an image (any dtype cv2 can remap; bilinear; ``border_value`` outside the page)."""
        return fx.warp_image(img, self.homography, self.map_xy, self.out_size, border_value)

    def apply_mask(self, mask: np.ndarray) -> np.ndarray:
        """Warp a (H, W) mask (nonzero = in); returns uint8 0/255. Thin lines survive: the
        mask is interpolated linearly and every pixel at least 1/8 covered is kept."""
        m = np.where(np.asarray(mask) > 0, 255, 0).astype(np.uint8)
        return np.where(self.apply_image(m, 0) >= 32, 255, 0).astype(np.uint8)

    def apply_points(self, pts: np.ndarray) -> np.ndarray:
        """Input px (N, 2) -> output px (N, 2) through the homography (for a curl warp an
        approximation; its worst error is ``params['curl']['residual_max_px']``)."""
        return apply_homography(self.homography, pts)

    def apply_geometry(self, geometry: Geometry) -> Geometry:
        """The page geometry of the warped image."""
        return geometry.warped(self.homography, self.out_size)


@dataclass(frozen=True)
class Degraded:
    """A degraded page: image (H, W, 3) uint8 RGB, its warp, and what was applied (JSON-able)."""

    image: np.ndarray
    warp: Warp
    params: dict[str, Any]


def degrade(image: np.ndarray, domain: str, rng: np.random.Generator,
            out_size: tuple[int, int] | None = None) -> Degraded:
    """Degrade a clean page (H, W, 3) uint8 RGB as ``domain`` (one of DOMAINS).

    out_size: (W, H) of the result, px (default: the input's). All randomness comes from ``rng``.
    """
    if domain not in DOMAINS:
        raise ValueError(f"unknown domain {domain!r}; use one of {', '.join(DOMAINS)}")
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"expected an (H, W, 3) uint8 image, got {image.shape} {image.dtype}")
    in_size = (image.shape[1], image.shape[0])
    w, h = out_size or in_size
    size = (int(w), int(h))
    if domain == "clean":
        return _clean(image, in_size, size)
    if domain == "photo":
        from core.synth.photo import photo  # photo builds on this module's Warp and shadows

        img, warp, params = photo(image, size, rng)
    else:
        img, warp, params = _scan(image, size, rng, shadows=domain == "shadow")
    return Degraded(img, warp, {"domain": domain, **params})


def _clean(image: np.ndarray, in_size: tuple[int, int], size: tuple[int, int]) -> Degraded:
    fxy = (size[0] / in_size[0], size[1] / in_size[1])
    warp = Warp(size, fx.scale_matrix(*fxy))
    if size == in_size:
        return Degraded(image.copy(), warp, {"domain": "clean"})
    interp = cv2.INTER_AREA if min(fxy) < 1 else cv2.INTER_LINEAR
    return Degraded(cv2.resize(image, size, interpolation=interp), warp, {"domain": "clean", "resized": True})


# ---- scans -----------------------------------------------------------------------------
def scan_homography(in_size: tuple[int, int], size: tuple[int, int], rng: np.random.Generator,
                    max_deg: float = 2.0) -> tuple[np.ndarray, dict]:
    """Flatbed placement: the page resized to ``size``, rotated, skewed and shifted a little."""
    rot = float(np.clip(rng.normal(0, max_deg / 2.5), -max_deg, max_deg))
    zoom = float(rng.uniform(0.95, 1.03))
    aspect = float(rng.normal(1, 0.004))
    shear = float(rng.normal(0, 0.004))
    shift = rng.uniform(-0.012, 0.012, 2) * size
    a = np.radians(rot)
    r = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
    s = np.diag([zoom * aspect * size[0] / in_size[0], zoom / aspect * size[1] / in_size[1], 1.0])
    sh = np.array([[1, shear, 0], [0, 1, 0], [0, 0, 1.0]])
    c_in = np.array([[1, 0, -(in_size[0] - 1) / 2], [0, 1, -(in_size[1] - 1) / 2], [0, 0, 1.0]])
    c_out = np.array([[1, 0, (size[0] - 1) / 2 + shift[0]], [0, 1, (size[1] - 1) / 2 + shift[1]], [0, 0, 1.0]])
    params = {"rotation_deg": round(rot, 3), "zoom": round(zoom, 4), "shear": round(shear, 4),
              "shift_px": fx._r(shift, 2)}
    return c_out @ r @ sh @ s @ c_in, params


def _scan(image: np.ndarray, size: tuple[int, int], rng: np.random.Generator,
          shadows: bool) -> tuple[np.ndarray, Warp, dict]:
    h, p = scan_homography((image.shape[1], image.shape[0]), size, rng)
    warp = Warp(size, h)
    lid = float(rng.choice([255.0, rng.uniform(20, 60), rng.uniform(180, 240)], p=[0.7, 0.15, 0.15]))
    img = warp.apply_image(image, (lid,) * 3)
    p["lid_grey"] = round(lid)
    p["marks"] = _scan_marks(img, rng, lid)
    lut, grey, p["tone"] = fx.random_tone(rng, grey_share=0.15)
    img = fx.apply_tone(img, lut, grey)
    u = fx.unit(size)
    p["blur_px"] = round(float(rng.uniform(0.2, 0.9) * u), 3)
    img = fx.blur(img, p["blur_px"])
    light = _scan_light(size, rng, p, shadows)
    gains = fx.colour_gains(rng, float(rng.normal(0, 0.25)), float(rng.uniform(0.97, 1.08)))
    p["gains_rgb"] = fx._r(gains, 3)
    p["noise_sigma"] = round(float(rng.uniform(0.5, 4.0)), 2)
    img = fx.shade(img, light, gains, p["noise_sigma"], rng)
    p["jpeg_quality"] = int(rng.integers(40, 96))
    return fx.jpeg(img, p["jpeg_quality"]), warp, p


def _scan_marks(img: np.ndarray, rng: np.random.Generator, lid: float) -> dict:
    """Pen strokes, punch holes and toner specks drawn on the scanned page, in place."""
    marks: dict[str, Any] = {}
    if rng.random() < 0.3:
        marks["pen"] = fx.draw_pen(img, rng, int(rng.integers(1, 4)))
    if rng.random() < 0.12:
        marks["holes"] = fx.punch_holes(img, rng, lid)
    n = int(rng.integers(0, 300) * (rng.random() < 0.5) * img.size / 1.2e6)
    if n:
        fx.speckle(img, rng, n)
        marks["specks"] = n
    return marks


def _scan_light(size: tuple[int, int], rng: np.random.Generator, p: dict, shadows: bool) -> np.ndarray:
    """The light on a scan (full size): smooth parts on the low grid, then sharp ones."""
    low = _scan_light_low(size, rng, p, shadows)
    hard = None
    if shadows:
        soft, hard, p["polygon_shadows"] = polygon_shadows(size, rng, int(rng.integers(0, 3)), (0.2, 0.6))
        low *= soft
    light = fx.upsample(low, size)
    if hard is not None:
        light *= hard
    light = cv2.scaleAdd(fx.paper_texture(light.shape, rng), float(rng.uniform(0.003, 0.015)), light)
    folds = _fold_lines(size, rng, p)
    if folds:
        light *= fx.line_light(light.shape, folds)
    return light


def _scan_light_low(size: tuple[int, int], rng: np.random.Generator, p: dict, shadows: bool) -> np.ndarray:
    """Smooth light of a scan at the low grid: uneven lamp, edge shading, shadow-domain regions."""
    xy = fx.low_grid(size)
    angle, strength = float(rng.uniform(0, 360)), float(rng.uniform(0, 0.08))
    light = fx.gradient(xy, size, angle, strength)
    p["gradient"] = {"angle_deg": round(angle, 1), "strength": round(strength, 3)}
    if rng.random() < 0.4:
        edge, depth, width = int(rng.integers(4)), float(rng.uniform(0.1, 0.5)), float(rng.uniform(0.01, 0.06))
        light *= fx.edge_shade(xy, size, edge, depth, width * max(size))
        p["edge_shade"] = {"edge": edge, "depth": round(depth, 3)}
    if shadows:
        light *= _shadow_regions(xy, size, rng, p)
    return light


def _shadow_regions(xy: tuple[np.ndarray, np.ndarray], size: tuple[int, int], rng: np.random.Generator,
                    p: dict) -> np.ndarray:
    """Strong gradients, soft shadows, a hand's shadow, dark and blown-out regions (low grid)."""
    w, h = size
    angle, strength = float(rng.uniform(0, 360)), float(rng.uniform(0.2, 0.9))
    light = np.clip(fx.gradient(xy, size, angle, strength), 0.35, 1.6)
    kinds = ["gradient"]
    for _ in range(int(rng.integers(0, 3))):
        c = (rng.uniform(0, w), rng.uniform(0, h))
        r = (rng.uniform(0.1, 0.5) * w, rng.uniform(0.1, 0.5) * h)
        b = fx.blob(xy, c, r, float(rng.uniform(0, 180)))
        if rng.random() < 0.5:
            light *= 1 - float(rng.uniform(0.3, 0.65)) * b
            kinds.append("dark")
        else:
            light *= 1 + float(rng.uniform(0.3, 1.0)) * b
            kinds.append("blown")
    if rng.random() < 0.35:
        light *= 1 - float(rng.uniform(0.25, 0.6)) * hand_mask(size, rng, sigma=rng.uniform(4, 14))
        kinds.append("hand")
    p["shadow_regions"] = kinds
    return light


def hand_mask(size: tuple[int, int], rng: np.random.Generator, sigma: float) -> np.ndarray:
    """A soft silhouette of a forearm, palm and fingers reaching in from an edge, at the low
    grid, 0..1; ``sigma``: edge softness, output px."""
    w, h = size
    edge = int(rng.integers(4))
    t = rng.uniform(0.15, 0.85)
    base = np.array([(0, t * h), (t * w, 0), (w, t * h), (t * w, h)][edge], np.float64)
    a0 = np.arctan2(*np.array([(0, 1), (1, 0), (0, -1), (-1, 0)][edge])) + rng.normal(0, 0.4)
    ahead = np.array([np.cos(a0), np.sin(a0)])
    r = np.hypot(w, h) * rng.uniform(0.07, 0.12)  # palm radius
    palm = base + ahead * r * rng.uniform(-0.2, 0.8)
    s = 1 / fx.LOW
    pt = lambda q: tuple(int(round(v)) for v in q * s)  # noqa: E731
    m = np.zeros(fx.low_shape(size), np.uint8)
    cv2.line(m, pt(palm), pt(palm - ahead * 4 * r), 255, max(1, int(1.5 * r * s)))  # forearm
    axes = (max(1, int(r * s)), max(1, int(0.85 * r * s)))
    cv2.ellipse(m, pt(palm), axes, float(np.degrees(a0)), 0, 360, 255, -1)
    n = int(rng.integers(2, 5))
    spread = rng.uniform(0.12, 0.3)
    for k in range(n):
        a = a0 + (k - (n - 1) / 2) * spread + rng.normal(0, 0.04)
        d = np.array([np.cos(a), np.sin(a)])
        length = r * (2.6 - 0.35 * abs(k - (n - 1) / 2)) * rng.uniform(0.9, 1.1)
        cv2.line(m, pt(palm), pt(palm + d * length), 255, max(1, int(0.42 * r * s)))
    if rng.random() < 0.5:  # thumb
        a = a0 + rng.choice([-1, 1]) * rng.uniform(0.9, 1.3)
        d = np.array([np.cos(a), np.sin(a)])
        cv2.line(m, pt(palm + d * r * 0.6), pt(palm + d * r * 1.5), 255, max(1, int(0.4 * r * s)))
    return cv2.GaussianBlur(m, (0, 0), max(0.5, sigma * s)).astype(np.float32) / 255


def _fold_lines(size: tuple[int, int], rng: np.random.Generator, p: dict) -> list[tuple]:
    """Fold lines of a once-folded page flattened on the glass: a dark and a light line side by
    side, as (end, end, light factor) for ``fx.line_light``."""
    if rng.random() >= 0.3:
        return []
    w, h = size
    folds, lines = [], []
    for _ in range(int(rng.integers(1, 3))):
        vertical = bool(rng.random() < 0.5)
        at = float(rng.choice([1 / 3, 1 / 2, 2 / 3]) + rng.normal(0, 0.02))
        tilt = float(rng.normal(0, 0.01))
        if vertical:
            a, b = np.array([at * w - tilt * h / 2, 0.0]), np.array([at * w + tilt * h / 2, h - 1.0])
        else:
            a, b = np.array([0.0, at * h - tilt * w / 2]), np.array([w - 1.0, at * h + tilt * w / 2])
        dark = float(rng.uniform(0.75, 0.95))
        off = np.array([1.0, 0.0]) if vertical else np.array([0.0, 1.0])
        lines += [(a, b, dark), (a + off, b + off, 1 + (1 - dark) * 0.4)]
        folds.append({"vertical": vertical, "at": round(at, 3), "dark": round(dark, 3)})
    p["folds"] = folds
    return lines


def polygon_shadows(size: tuple[int, int], rng: np.random.Generator, n: int,
                    depth: tuple[float, float]) -> tuple[np.ndarray, np.ndarray | None, list[dict]]:
    """``n`` polygon shadows with blurred edges (objects between the light and the page).

    Returns the soft ones as a low-grid multiplier, the hard-edged ones as a full-size
    multiplier (None when there are none) and what was drawn.
    """
    u = fx.unit(size)
    low = np.ones(fx.low_shape(size), np.float32)
    full = None
    drawn = []
    for _ in range(n):
        poly = random_shadow_polygon(size, rng)
        soft = bool(rng.random() < 0.5)
        sigma = float(rng.uniform(8, 30) if soft else rng.uniform(0.8, 4)) * u
        d = float(rng.uniform(*depth))
        if soft:
            low *= 1 - d * fx.polygon_mask(size, [poly], sigma / fx.LOW, low.shape)
        else:
            m = fx.polygon_mask(size, [poly], sigma)
            full = 1 - d * m if full is None else full * (1 - d * m)
        drawn.append({"vertices": len(poly), "edge_sigma_px": round(sigma, 2), "depth": round(d, 3)})
    return low, full, drawn


def random_shadow_polygon(size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """A shadow outline (px): a half-plane cut, a wedge from an edge, or an irregular blob."""
    w, h = size
    kind = int(rng.integers(3))
    if kind == 0:  # everything on one side of a line
        a = rng.uniform(0, 2 * np.pi)
        c = np.array([rng.uniform(0.2, 0.8) * w, rng.uniform(0.2, 0.8) * h])
        d = np.array([np.cos(a), np.sin(a)]) * 2 * (w + h)
        n = np.array([-d[1], d[0]])
        return np.array([c - d, c + d, c + d + n, c - d + n])
    if kind == 1:  # wedge from outside an edge
        e = rng.uniform(-0.1, 1.1, 2) * (w, h)
        side = int(rng.integers(4))
        p0 = [(-5, e[1]), (e[0], -5), (w + 5, e[1]), (e[0], h + 5)][side]
        pts = [p0, rng.uniform(0, 1, 2) * (w, h), rng.uniform(0, 1, 2) * (w, h)]
        return np.array(pts, dtype=np.float64)
    c = rng.uniform(0, 1, 2) * (w, h)
    ang = np.sort(rng.uniform(0, 2 * np.pi, int(rng.integers(4, 8))))
    r = rng.uniform(0.08, 0.35, ang.size) * np.hypot(w, h)
    return c + np.stack([np.cos(ang) * r, np.sin(ang) * r], 1)
