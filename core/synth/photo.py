"""Phone photos of a printed ECG page (and, now and then, of a monitor showing it).

A pinhole camera looks at the page from up to ~25 degrees off-axis; the paper may curl (a smooth
non-projective remap), carry folds and crumple creases, lie on wood, a table or cloth, and be
lit unevenly with hand and object shadows; the lens blurs, the hand shakes, the sensor adds
noise and the phone writes a JPEG. Used through ``core.synth.degrade.degrade(..., 'photo')``.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any

import cv2
import numpy as np

from core.synth import effects as fx
from core.synth.degrade import Warp, hand_mask, polygon_shadows

MONITOR_SHARE = 0.1     # photos of a screen instead of paper
CURL_SHARE = 0.5        # photos whose paper curls (non-projective warp)
CURL_RESIDUAL = 0.0025  # cap on the curl's departure from its best-fit homography, x output diagonal
MAX_TILT_DEG = 25.0

# (texture, darkest RGB, lightest RGB): what a page lies on
SURFACES = {
    "wood_light": ("wood", (150, 105, 65), (220, 175, 125)),
    "wood_mid": ("wood", (100, 62, 35), (175, 125, 80)),
    "wood_dark": ("wood", (40, 27, 20), (100, 70, 50)),
    "table_dark": ("wood", (22, 22, 25), (75, 75, 80)),
    "table_white": ("plain", (185, 185, 180), (245, 245, 240)),
    "table_grey": ("plain", (95, 98, 100), (160, 162, 165)),
    "cloth_purple": ("fabric", (55, 38, 85), (125, 100, 165)),
    "cloth_blue": ("fabric", (40, 55, 85), (105, 125, 160)),
}
SURFACE_SHARE = np.array([3, 3, 2, 4, 2, 2, 1, 1], np.float64) / 18  # wood and dark tables are common


def photo(image: np.ndarray, size: tuple[int, int], rng: np.random.Generator) -> tuple[np.ndarray, Warp, dict]:
    """A phone photo of ``image`` (a clean page), ``size`` (W, H) px; returns image, warp, params."""
    in_size = (image.shape[1], image.shape[0])
    monitor = bool(rng.random() < MONITOR_SHARE)
    p: dict[str, Any] = {"monitor": monitor}
    h, p["camera"] = camera_homography(in_size, size, rng, fill=(0.5, 0.8) if monitor else (0.65, 0.97))
    warp = Warp(size, h)
    if not monitor and rng.random() < CURL_SHARE:
        warp, p["curl"] = curl(warp, in_size, rng)
    if monitor:
        img, light = _monitor(image, warp, rng, p)
    else:
        img, light = _paper(image, warp, rng, p)
    u = fx.unit(size)
    gains = fx.colour_gains(rng, float(rng.normal(0, 0.45)), _exposure(rng))
    p["gains_rgb"] = fx._r(gains, 3)
    p["lens_blur_px"] = round(float(rng.uniform(0.25, 0.9) * u), 3)
    motion = float(rng.uniform(1.5, 5.0) * u) if rng.random() < 0.25 else 0.0
    p["motion_blur"] = {"px": round(motion, 2), "angle_deg": round(float(rng.uniform(0, 180)), 1)}
    img = fx.blur(img, p["lens_blur_px"], motion, p["motion_blur"]["angle_deg"])
    p["noise_sigma"] = round(float(rng.uniform(1.0, 6.0)), 2)
    img = fx.shade(img, light, gains, p["noise_sigma"], rng)
    p["jpeg_quality"] = int(rng.integers(45, 96))
    return fx.jpeg(img, p["jpeg_quality"]), warp, p


def _exposure(rng: np.random.Generator) -> float:
    """Auto-exposure: usually near right, now and then well under or over."""
    e = float(np.exp(rng.normal(-0.02, 0.12)))
    k = rng.random()
    return e * float(rng.uniform(0.55, 0.75)) if k < 0.08 else e * float(rng.uniform(1.15, 1.4)) if k < 0.16 else e


# ---- geometry --------------------------------------------------------------------------
def camera_homography(in_size: tuple[int, int], size: tuple[int, int], rng: np.random.Generator,
                      fill: tuple[float, float], cut_share: float = 0.15) -> tuple[np.ndarray, dict]:
    """Page px -> photo px for a pinhole camera: tilt, roll, framing, sometimes cut off."""
    w, h = in_size
    fov = np.radians(rng.uniform(55, 75))
    tilt = MAX_TILT_DEG * float(rng.uniform(0, 1)) ** 0.7
    tilt_dir = float(rng.uniform(0, 2 * np.pi))
    roll = float(np.clip(rng.normal(0, 7), -20, 20))
    r_tilt = cv2.Rodrigues(np.radians(tilt) * np.array([np.cos(tilt_dir), np.sin(tilt_dir), 0.0]))[0]
    a = np.radians(roll)
    r = r_tilt @ np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
    f = size[0] / (2 * np.tan(fov / 2))
    z = max(w, h * size[0] / size[1]) / (2 * np.tan(fov / 2) * np.mean(fill))
    centre = np.array([[1, 0, -(w - 1) / 2], [0, 1, -(h - 1) / 2], [0, 0, 1.0]])
    m = np.diag([f, f, 1.0]) @ np.column_stack([r[:, 0], r[:, 1], [0, 0, z]]) @ centre
    quad = _project(m, page_corners(in_size))
    lo, hi = quad.min(0), quad.max(0)
    share = float(rng.uniform(*fill))
    s = share * float(np.min(np.array(size) / (hi - lo)))
    slack = np.array(size) - s * (hi - lo)
    margin = np.minimum(0.015 * np.array(size), slack / 2)
    off = rng.uniform(margin, slack - margin)
    cut = bool(rng.random() < cut_share)
    if cut:  # push the page over one edge of the frame
        axis, sign = int(rng.integers(2)), int(rng.choice([-1, 1]))
        over = float(rng.uniform(0.03, 0.10)) * s * (hi - lo)[axis]
        off[axis] = -over if sign < 0 else slack[axis] + over
    place = np.array([[s, 0, off[0] - s * lo[0]], [0, s, off[1] - s * lo[1]], [0, 0, 1.0]])
    hom = place @ m
    params = {"tilt_deg": round(tilt, 2), "tilt_dir_deg": round(float(np.degrees(tilt_dir)), 1),
              "roll_deg": round(roll, 2), "fov_deg": round(float(np.degrees(fov)), 1),
              "fill": round(share, 3), "cut_off": cut}
    return hom / hom[2, 2], params


def page_corners(in_size: tuple[int, int]) -> np.ndarray:
    """The page's outer corners (tl, tr, br, bl) in its own px (pixel edges, not centres)."""
    w, h = in_size
    return np.array([[-0.5, -0.5], [w - 0.5, -0.5], [w - 0.5, h - 0.5], [-0.5, h - 0.5]])


def _project(h: np.ndarray, pts: np.ndarray) -> np.ndarray:
    q = np.hstack([pts, np.ones((len(pts), 1))]) @ h.T
    return q[:, :2] / q[:, 2:]


def curl(warp: Warp, in_size: tuple[int, int], rng: np.random.Generator) -> tuple[Warp, dict]:
    """Bend the page: a smooth displacement in paper space on top of the camera's homography.

    The out -> in map is computed exactly on a grid every ~6 px (per 1000 px of diagonal) and
    interpolated bilinearly (error < 0.3 px). Returns the remap warp, whose homography is the
    least-squares fit, and the largest distance between the two on the page, which is kept
    below CURL_RESIDUAL x the diagonal.
    """
    size = warp.out_size
    cap = CURL_RESIDUAL * float(np.hypot(*size))
    step = max(2, round(6 * fx.unit(size)))
    pad = 2 * step  # interpolate between grid nodes up to the image border, never beyond them
    canvas = (size[0] + 2 * pad, size[1] + 2 * pad)
    gx, gy = _grid(canvas, step)
    out_pts = np.stack([gx.ravel(), gy.ravel()], 1).astype(np.float64) - pad
    p = _project(np.linalg.inv(warp.homography), out_pts).astype(np.float32)
    amp = cap * 2.5 / fx.local_scale(warp.homography, in_size) * float(rng.uniform(0.4, 1.0))
    disp = _bend(p, in_size, rng) * amp
    h, resid = _fit(p + disp, out_pts, in_size)
    for _ in range(3):  # the residual is near-linear in the bend: scale it under the cap
        if resid <= cap:
            break
        disp *= 0.95 * cap / resid
        h, resid = _fit(p + disp, out_pts, in_size)
    low = (p + disp).reshape(gx.shape + (2,))
    map_xy = cv2.resize(low, canvas, interpolation=cv2.INTER_LINEAR)[pad:pad + size[1], pad:pad + size[0]]
    return Warp(size, h, map_xy), {"amplitude_px": round(float(np.abs(disp).max()), 2),
                                   "residual_max_px": round(resid, 3)}


def _grid(size: tuple[int, int], step: int) -> tuple[np.ndarray, np.ndarray]:
    """Output-px coordinates of a grid whose cv2.resize to ``size`` is bilinear interpolation."""
    w, h = -(-size[0] // step), -(-size[1] // step)
    xs = (np.arange(w, dtype=np.float64) + 0.5) * (size[0] / w) - 0.5
    ys = (np.arange(h, dtype=np.float64) + 0.5) * (size[1] / h) - 0.5
    return np.meshgrid(xs, ys)


def _bend(p: np.ndarray, in_size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """A unit-scale smooth displacement (N, 2) of paper points: bowed edges, waves, a lifted corner."""
    w, h = in_size
    s = np.clip((p[:, 0] - w / 2) / (w / 2), -1.02, 1.02)  # constant beyond the sheet
    t = np.clip((p[:, 1] - h / 2) / (h / 2), -1.02, 1.02)
    c = rng.normal(0, 1, 6)
    k, phase = rng.uniform(0.7, 2.5, 2), rng.uniform(0, 2 * np.pi, 2)
    dx = c[0] * t * t + c[1] * 0.5 * np.sin(np.pi * k[0] * t + phase[0])
    dy = c[2] * s * s + c[3] * 0.5 * np.sin(np.pi * k[1] * s + phase[1])
    corner = np.maximum(0, s * np.sign(c[4]) + t * np.sign(c[5]) - 1.0) ** 2
    out = np.stack([dx + corner * np.sign(c[4]), dy + corner * np.sign(c[5])], 1)
    return (out / max(1e-6, float(np.abs(out).max()))).astype(np.float32)


def _fit(src: np.ndarray, dst: np.ndarray, in_size: tuple[int, int]) -> tuple[np.ndarray, float]:
    """Least-squares homography src -> dst over points on the page (fitted on every 8th, the
    error checked on all); its largest error (px)."""
    w, h = in_size
    on = (src[:, 0] >= -0.5) & (src[:, 0] <= w - 0.5) & (src[:, 1] >= -0.5) & (src[:, 1] <= h - 0.5)
    src, dst = src[on].astype(np.float64), dst[on]
    hom, _ = cv2.findHomography(src[::8], dst[::8], 0)
    err = np.linalg.norm(_project(hom, src) - dst, axis=1)
    return hom / hom[2, 2], float(err.max())


# ---- paper -----------------------------------------------------------------------------
def _paper(image: np.ndarray, warp: Warp, rng: np.random.Generator, p: dict) -> tuple[np.ndarray, np.ndarray]:
    """The page on its surface, and the light falling on both (full size)."""
    size = warp.out_size
    lut, grey, p["tone"] = fx.random_tone(rng, grey_share=0.2)
    page = fx.apply_tone(image, lut, grey)
    if rng.random() < 0.35:
        p["pen"] = fx.draw_pen(page, rng, int(rng.integers(1, 4)))
    bg, p["surface"] = background(size, rng)
    img = fx.warp_image(page, warp.homography, warp.map_xy, size, dst=bg)
    quad = warp.apply_points(page_corners((image.shape[1], image.shape[0])))
    xy = fx.low_grid(size)
    on_page = fx.polygon_mask(size, [quad], 0.5, fx.low_shape(size))
    light = _room_light(xy, size, rng, p)
    sheet, ridges = _folds_and_crumples(xy, warp, image, rng, p)
    light *= 1 + on_page * (sheet - 1)
    light *= _drop_shadow(on_page, size, rng, p)
    p["surface_gain"] = round(float(rng.uniform(0.75, 1.15)), 3)
    light *= 1 + (p["surface_gain"] - 1) * (1 - on_page)
    p["object_shadows"] = []
    if rng.random() < 0.25:
        light *= 1 - float(rng.uniform(0.2, 0.55)) * hand_mask(size, rng, sigma=float(rng.uniform(3, 14)))
        p["object_shadows"].append({"hand": True})
    soft, hard, drawn = polygon_shadows(size, rng, int(rng.random() < 0.45) * int(rng.integers(1, 3)), (0.15, 0.5))
    p["object_shadows"] += drawn
    full = fx.upsample(light * soft, size)
    if hard is not None:
        full *= hard
    full = cv2.scaleAdd(fx.paper_texture(full.shape, rng), float(rng.uniform(0.005, 0.02)), full)
    ridges = _ridges(ridges, rng)
    if ridges:
        full *= fx.line_light(full.shape, ridges)
    return img, full


def _room_light(xy: tuple[np.ndarray, np.ndarray], size: tuple[int, int], rng: np.random.Generator,
                p: dict) -> np.ndarray:
    angle, strength = float(rng.uniform(0, 360)), 0.4 * float(rng.uniform(0, 1)) ** 1.5
    c = (float(rng.uniform(0.2, 0.8) * size[0]), float(rng.uniform(0.2, 0.8) * size[1]))
    vig = 0.35 * float(rng.uniform(0, 1)) ** 1.5
    p["light"] = {"gradient_deg": round(angle, 1), "gradient": round(strength, 3), "vignette": round(vig, 3)}
    return fx.gradient(xy, size, angle, strength) * fx.vignette(xy, size, c, vig)


def _folds_and_crumples(xy: tuple[np.ndarray, np.ndarray], warp: Warp, image: np.ndarray,
                        rng: np.random.Generator, p: dict) -> tuple[np.ndarray, list]:
    """Facet shading of the sheet (low grid), and its creases as (output px ends, step, fold?)."""
    in_size = (image.shape[1], image.shape[0])
    creases = []
    if rng.random() < 0.35:
        creases += _folds(in_size, rng)
        p["folds"] = len(creases)
    if rng.random() < 0.3:
        crumple = _crumple(in_size, rng)
        creases += crumple
        p["crumple_creases"] = len(crumple)
    if not creases:
        return np.ones_like(xy[0]), []
    segs = np.array([c[0] for c in creases], dtype=np.float64)
    steps = np.array([c[1] for c in creases])
    half = np.array([c[2] for c in creases])
    ends = warp.apply_points(segs.reshape(-1, 2)).reshape(-1, 2, 2)
    dirs = ends[:, 1] - ends[:, 0]
    lengths = np.linalg.norm(dirs, axis=1)
    normal = np.stack([-dirs[:, 1], dirs[:, 0]], 1) / lengths[:, None]
    lines = np.column_stack([normal, -(normal * ends[:, 0]).sum(1)])
    half_out = half * lengths / np.linalg.norm(segs[:, 1] - segs[:, 0], axis=1)
    width = 2.0 * fx.unit(warp.out_size)
    # many creases: a coarser grid keeps this fast (the sharp ridges are drawn at full size)
    grid = xy if len(creases) <= 4 else fx.low_grid(warp.out_size, 2 * fx.LOW)
    field = fx.creases(grid, lines, steps, half_out, ends.mean(1), width)
    if grid is not xy:
        field = cv2.resize(field, xy[0].shape[::-1], interpolation=cv2.INTER_LINEAR)
    return field, list(zip(ends, steps, np.isinf(half)))


def _folds(in_size: tuple[int, int], rng: np.random.Generator) -> list[tuple]:
    """One or two folds right across the sheet at a half or a third: (ends px, step, inf)."""
    w, h = in_size
    folds = []
    for _ in range(int(rng.integers(1, 3))):
        at = float(rng.choice([1 / 3, 1 / 2, 2 / 3]) + rng.normal(0, 0.02))
        if rng.random() < 0.5:
            ends = ((at * w, -1.0), (at * w + rng.normal(0, 0.01) * w, h + 1.0))
        else:
            ends = ((-1.0, at * h), (w + 1.0, at * h + rng.normal(0, 0.01) * h))
        folds.append((ends, float(rng.choice([-1, 1]) * rng.uniform(0.03, 0.15)), np.inf))
    return folds


def _crumple(in_size: tuple[int, int], rng: np.random.Generator) -> list[tuple]:
    """Short random creases of crumpled paper: (ends px, step, half length px)."""
    w, h = in_size
    n = int(rng.integers(10, 30))
    c = rng.uniform(0, 1, (n, 2)) * (w, h)
    a = rng.uniform(0, np.pi, n)
    length = rng.uniform(0.06, 0.3, n) * max(w, h)
    d = np.stack([np.cos(a), np.sin(a)], 1) * length[:, None] / 2
    ends = np.clip(np.stack([c - d, c + d], 1), -1, (w + 1, h + 1))
    steps = rng.choice([-1, 1], n) * rng.uniform(0.015, 0.06, n)
    return [(e, float(s), float(l / 2)) for e, s, l in zip(ends, steps, length)]


def _ridges(creases: list, rng: np.random.Generator) -> list[tuple]:
    """The ridges of all folds and of some crumple creases: faint lines, (end, end, factor)."""
    ridges = []
    for ends, step, fold in creases:
        if fold or rng.random() >= 0.6:
            ridges.append((ends[0], ends[1], 1 + float(np.sign(step)) * float(rng.uniform(0.015, 0.06))))
    return ridges


def _drop_shadow(on_page: np.ndarray, size: tuple[int, int], rng: np.random.Generator, p: dict) -> np.ndarray:
    """The sheet's soft shadow on the surface around it (low grid)."""
    depth = float(rng.uniform(0.1, 0.45))
    shift = rng.normal(0, 1.5, 2)
    m = cv2.warpAffine(on_page, np.float32([[1, 0, shift[0]], [0, 1, shift[1]]]), on_page.shape[::-1])
    m = cv2.GaussianBlur(m, (0, 0), float(rng.uniform(0.8, 3.0)))
    p["drop_shadow"] = round(depth, 3)
    return 1 - depth * m * (1 - on_page)


# ---- surfaces --------------------------------------------------------------------------
def background(size: tuple[int, int], rng: np.random.Generator) -> tuple[np.ndarray, str]:
    """A random surface (H, W, 3) uint8 RGB of ``size`` (W, H), and its name."""
    name = str(rng.choice(list(SURFACES), p=SURFACE_SHARE))
    tex = _surface(name, bool(rng.random() < 0.5))
    return np.array(fx.stretched(tex, (size[1], size[0]), rng)), name


@lru_cache(maxsize=len(SURFACES) * 2)
def _surface(name: str, turned: bool) -> np.ndarray:
    """Surface ``name`` in colour, (n, n, 3) uint8 (n = FIELD + PAD); ``turned``: grain along
    the other axis."""
    kind, dark, light = SURFACES[name]
    x = np.linspace(0, 1, 256)[:, None]
    lut = (np.array(dark) + (np.array(light) - np.array(dark)) * x).round().astype(np.uint8)[None]
    t = _texture(kind)
    t = np.ascontiguousarray(t.T) if turned else t
    out = cv2.LUT(cv2.merge([t, t, t]), lut)
    out.setflags(write=False)
    return out


@lru_cache(maxsize=3)
def _texture(kind: str) -> np.ndarray:
    """A grey (n, n) uint8 texture (n = FIELD + PAD): wood grain, woven cloth or a plain table top."""
    n = fx.FIELD + fx.PAD
    rng = np.random.default_rng(("wood", "fabric", "plain").index(kind) + 11)
    g = rng.standard_normal((n, n), dtype=np.float32)
    low = _unit(cv2.GaussianBlur(rng.standard_normal((n, n), dtype=np.float32), (0, 0), n / 12))
    if kind == "wood":
        grain = _unit(cv2.GaussianBlur(g, (0, 0), sigmaX=n / 20, sigmaY=1.2))
        y = np.arange(n, dtype=np.float32)[:, None]
        rings = np.sin(2 * np.pi * (y / (n / 14) + 0.8 * low))
        v = 0.55 + 0.12 * grain + 0.07 * rings + 0.04 * g
        for seam in np.cumsum(rng.uniform(n / 4, n / 2, 4)).astype(int):
            v[seam % n: seam % n + 2] *= 0.75
        wave = cv2.GaussianBlur(rng.standard_normal((n, n), dtype=np.float32), (0, 0), n / 8)
        gx, gy = np.meshgrid(np.arange(n, dtype=np.float32), np.arange(n, dtype=np.float32))
        v = cv2.remap(v, gx, gy + _unit(wave) * (n / 150), cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    elif kind == "fabric":
        x = np.arange(n, dtype=np.float32)
        weave = np.cos(2 * np.pi * x / 3.1)[None, :] * np.cos(2 * np.pi * x / 3.1)[:, None]
        v = 0.55 + 0.10 * weave + 0.14 * low + 0.05 * g
    else:
        v = 0.55 + 0.10 * low + 0.04 * _unit(cv2.GaussianBlur(g, (0, 0), 1.0))
    out = (np.clip(v, 0, 1) * 255).astype(np.uint8)
    out.setflags(write=False)
    return out


def _unit(f: np.ndarray) -> np.ndarray:
    return (f - f.mean()) / (f.std() + 1e-9)


# ---- monitor ---------------------------------------------------------------------------
def _monitor(image: np.ndarray, warp: Warp, rng: np.random.Generator, p: dict) -> tuple[np.ndarray, np.ndarray]:
    """The page shown on a screen: bezel, dark room, glow and moire; no paper."""
    size = warp.out_size
    in_size = (image.shape[1], image.shape[0])
    white = np.array([235, 240, 255]) * rng.uniform(0.85, 1.0)
    screen = cv2.LUT(image, fx.tone_lut(white, np.full(3, rng.uniform(15, 45)), np.full(3, rng.uniform(0.8, 1.3))))
    bg, surface = background(size, rng)
    bg = (bg * rng.uniform(0.25, 0.6)).astype(np.uint8)
    rim = float(rng.uniform(0.03, 0.08)) * max(in_size)
    bezel = warp.apply_points(page_corners(in_size) + np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]]) * rim)
    frame = (float(rng.uniform(10, 40)),) * 3
    cv2.fillPoly(bg, [np.round(bezel * 16).astype(np.int32)], frame, cv2.LINE_AA, shift=4)
    img = fx.warp_image(screen, warp.homography, None, size, dst=bg)
    quad = warp.apply_points(page_corners(in_size))
    xy = fx.low_grid(size)
    glow = fx.blob(xy, tuple(quad.mean(0)), tuple(np.ptp(quad, 0) * 0.6), 0.0)
    light = fx.upsample(fx.vignette(xy, size, tuple(quad.mean(0)), float(rng.uniform(0, 0.3)))
                        * (1 + float(rng.uniform(0, 0.25)) * glow), size)
    on = fx.polygon_mask(size, [quad], 0.7)
    period, angle = float(rng.uniform(3.0, 12.0)), float(rng.uniform(0, np.pi))
    amp, chirp = float(rng.uniform(0.04, 0.15)), float(rng.normal(0, 2e-4))
    x = np.arange(size[0], dtype=np.float32)[None, :]
    y = np.arange(size[1], dtype=np.float32)[:, None]
    ca, sa = float(np.cos(angle)), float(np.sin(angle))
    phase = (2 * np.pi / period) * (x * ca + y * sa) + chirp * (x - size[0] / 2) ** 2
    moire = cv2.merge([light * (1 + amp * on * np.cos(phase + k * 2.1)) for k in range(3)])
    p.update(monitor=True, surface=surface, moire={"period_px": round(period, 2), "amplitude": round(amp, 3)})
    return img, moire
