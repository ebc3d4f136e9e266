"""Pixel effects shared by the scan, shadow and photo degradations (``core.synth.degrade``).

Images are (H, W, 3) uint8 RGB. A light field is a float32 multiplier (1 = lit as on a flat
scanner). Noise and texture fields are drawn once from a fixed seed and cached; each call takes
a random window of them with the caller's Generator, so a result depends on that Generator
alone and no per-pixel random numbers are drawn per call. Pixel centres sit at
integer coordinates (OpenCV's convention).
"""
from __future__ import annotations

import threading
from functools import lru_cache

import cv2
import numpy as np

FIELD = 1024              # side of the cached random fields (px); larger images repeat or stretch them
PAD = 64                  # margin of cached fields (px): the range of their random offsets
LOW = 4                   # light fields are built at 1/LOW of the output size, then upsampled
INKS = ((25, 45, 150), (25, 25, 30), (170, 30, 40), (45, 50, 110))  # pen RGB: blue, black, red, navy


def unit(size: tuple[int, int]) -> float:
    """Length scale of an image of ``size`` (W, H): its diagonal / 1000, px."""
    return float(np.hypot(*size)) / 1000.0


def scale_matrix(fx: float, fy: float) -> np.ndarray:
    """3x3 homography of an image resize by (fx, fy), pixel centres kept (as cv2.resize)."""
    return np.array([[fx, 0, 0.5 * (fx - 1)], [0, fy, 0.5 * (fy - 1)], [0, 0, 1]], dtype=np.float64)


def local_scale(h: np.ndarray, in_size: tuple[int, int]) -> float:
    """Smallest px-per-px scale of homography ``h`` at the centre of an ``in_size`` image."""
    c = np.array([(in_size[0] - 1) / 2, (in_size[1] - 1) / 2])
    p = np.array([c, c + (1, 0), c + (0, 1)], dtype=np.float64)
    q = np.hstack([p, np.ones((3, 1))]) @ h.T
    q = q[:, :2] / q[:, 2:]
    return float(min(np.linalg.norm(q[1] - q[0]), np.linalg.norm(q[2] - q[0])))


def warp_image(img: np.ndarray, h: np.ndarray, map_xy: np.ndarray | None, out_size: tuple[int, int],
               border_value: float | tuple[float, ...] = 0, dst: np.ndarray | None = None) -> np.ndarray:
    """Warp ``img`` (input px -> output px by ``h``, or the out->in ``map_xy`` when given).

    Bilinear; an image shrunk below 0.7x is first halved (2x2 means) until it is not, so thin
    lines do not alias. With ``dst`` the warped image is drawn over it (blended at the page edge)
    instead of over a border.
    """
    s = local_scale(h, (img.shape[1], img.shape[0]))
    while s < 0.7 and min(img.shape[:2]) >= 4:
        img = cv2.resize(img[:img.shape[0] // 2 * 2, :img.shape[1] // 2 * 2],
                         (img.shape[1] // 2, img.shape[0] // 2), interpolation=cv2.INTER_AREA)
        h = h @ np.linalg.inv(scale_matrix(0.5, 0.5))
        if map_xy is not None:
            map_xy = cv2.transform(map_xy, np.float32([[0.5, 0, -0.25], [0, 0.5, -0.25]]))
        s *= 2
    mode = cv2.BORDER_TRANSPARENT if dst is not None else cv2.BORDER_CONSTANT
    if map_xy is None:
        return cv2.warpPerspective(img, h, out_size, dst=dst, flags=cv2.INTER_LINEAR,
                                   borderMode=mode, borderValue=border_value)
    return cv2.remap(img, map_xy, None, cv2.INTER_LINEAR, dst=dst, borderMode=mode, borderValue=border_value)


# ---- cached random fields --------------------------------------------------------------
@lru_cache(maxsize=1)
def _gauss() -> np.ndarray:
    f = np.random.default_rng(0x5EED).standard_normal((FIELD + PAD, FIELD + PAD), dtype=np.float32)
    f.setflags(write=False)
    return f


@lru_cache(maxsize=1)
def _paper() -> np.ndarray:
    """Paper fibre and formation: unit-variance noise with structure at ~1, 3 and 12 px."""
    g = _gauss()
    f = sum(k * _standard(cv2.GaussianBlur(np.ascontiguousarray(v), (0, 0), sigma))
            for k, v, sigma in ((0.6, g, 0.8), (0.6, g[::-1], 3.0), (0.5, g[:, ::-1], 12.0)))
    f = _standard(f)
    f.setflags(write=False)
    return f


@lru_cache(maxsize=1)
def _sensor() -> np.ndarray:
    g = _gauss()
    luma = g[:, ::-1]
    f = np.dstack([luma + 0.4 * g, luma + 0.4 * g[::-1], luma + 0.4 * g[::-1, ::-1]]) / np.float32(np.sqrt(1.16))
    f.setflags(write=False)
    return f


def _standard(f: np.ndarray) -> np.ndarray:
    return ((f - f.mean()) / f.std()).astype(np.float32)


def window(field: np.ndarray, shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """An (H, W) view of a cached field (at least PAD larger than H, W) at a random offset."""
    dy, dx = (int(v) for v in rng.integers(0, PAD + 1, size=2))
    assert shape[0] + PAD <= field.shape[0] and shape[1] + PAD <= field.shape[1]
    return field[dy:dy + shape[0], dx:dx + shape[1]]


def stretched(field: np.ndarray, shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """(H, W) of a cached texture field, enlarged for images larger than FIELD so that its
    features keep their size relative to the image."""
    k = max(shape) / FIELD
    if k <= 1:
        return window(field, shape, rng)
    small = window(field, (int(np.ceil(shape[0] / k)), int(np.ceil(shape[1] / k))), rng)
    return cv2.resize(small, (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)


def paper_texture(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Unit-variance paper texture, (H, W) float32."""
    return stretched(_paper(), shape, rng)


def sensor_noise(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Unit-variance RGB sensor noise (H, W, 3) float32, mostly shared by the channels."""
    if max(shape) <= FIELD:
        return window(_sensor(), shape, rng)
    return window(_sensor_tiled(-(-(shape[0] + PAD) // FIELD), -(-(shape[1] + PAD) // FIELD)), shape, rng)


@lru_cache(maxsize=2)
def _sensor_tiled(ny: int, nx: int) -> np.ndarray:
    """The sensor field repeated ny x nx times, for images larger than FIELD."""
    f = np.tile(_sensor()[:FIELD, :FIELD], (ny, nx, 1))
    f.setflags(write=False)
    return f


# ---- tone and colour -------------------------------------------------------------------
def tone_lut(paper: np.ndarray, ink: np.ndarray, gamma: np.ndarray) -> np.ndarray:
    """Per-channel 256-entry LUT (1, 256, 3) uint8: 0 -> ink, 255 -> paper, curve x**gamma.

    gamma < 1 fades light colours (a printed grid) towards the paper; gamma > 1 deepens them.
    """
    x = (np.arange(256, dtype=np.float64) / 255.0)[:, None] ** np.asarray(gamma, np.float64)[None, :]
    lut = np.asarray(ink, np.float64) + (np.asarray(paper, np.float64) - ink) * x
    return np.clip(lut, 0, 255).round().astype(np.uint8)[None]


def random_tone(rng: np.random.Generator, grey_share: float) -> tuple[np.ndarray, bool, dict]:
    """A random paper colour / ink / grid-fade LUT; also whether to make the page grey first."""
    yellow = rng.uniform(0, 1) ** 3 * 0.16        # most paper is white, some is aged
    paper = 255 * np.array([1.0, 1.0 - 0.35 * yellow, 1.0 - yellow]) * rng.uniform(0.93, 1.0)
    ink = 60 * rng.uniform(0, 1) ** 1.5 + rng.normal(0, 6, 3)
    fade = float(rng.choice([rng.uniform(0.45, 1.0), rng.uniform(1.0, 1.5)], p=[0.75, 0.25]))
    gamma = fade * np.exp(rng.normal(0, 0.06, 3))  # per channel: the grid's hue drifts
    grey = bool(rng.random() < grey_share)
    params = {"paper_rgb": _r(paper), "ink_rgb": _r(np.clip(ink, 0, 255)), "gamma_rgb": _r(gamma, 3),
              "grey": grey}
    return tone_lut(paper, np.clip(ink, 0, 255), gamma), grey, params


def apply_tone(img: np.ndarray, lut: np.ndarray, grey: bool) -> np.ndarray:
    """The image through ``lut`` (after converting to grey when ``grey``)."""
    if grey:
        img = cv2.cvtColor(cv2.cvtColor(img, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)
    return cv2.LUT(img, lut)


def colour_gains(rng: np.random.Generator, temperature: float, exposure: float) -> np.ndarray:
    """RGB gains for a colour temperature in -1 (cool) .. 1 (warm) and an exposure factor."""
    t = temperature
    tint = np.array([1 + 0.10 * t, 1.0 + rng.normal(0, 0.02), 1 - 0.16 * t])
    return (exposure * tint / tint.max()).astype(np.float32)


def jpeg(img: np.ndarray, quality: int) -> np.ndarray:
    """The RGB image after a JPEG round trip at ``quality`` (0..100)."""
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(img, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    assert ok
    return cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def blur(img: np.ndarray, sigma: float, motion_px: float = 0.0, motion_deg: float = 0.0) -> np.ndarray:
    """Gaussian (lens) blur of ``sigma`` px, then a linear motion blur ``motion_px`` long."""
    if sigma > 0.2:
        img = cv2.GaussianBlur(img, (0, 0), sigma)
    if motion_px >= 1.5:
        n = int(np.ceil(motion_px)) | 1
        k = np.zeros((n, n), np.float32)
        d = np.array([np.cos(np.radians(motion_deg)), np.sin(np.radians(motion_deg))]) * motion_px / 2
        c = np.array([n // 2, n // 2])
        cv2.line(k, tuple(np.round((c - d) * 16).astype(int)), tuple(np.round((c + d) * 16).astype(int)),
                 1.0, 1, cv2.LINE_AA, shift=4)
        img = cv2.filter2D(img, -1, k / k.sum())
    return img


def shade(img: np.ndarray, light: np.ndarray, gains: np.ndarray, noise_sigma: float,
          rng: np.random.Generator) -> np.ndarray:
    """``img * light * gains + noise``: light (H, W) or (H, W, 3) float32, gains (3,), noise
    standard deviation in grey levels (mostly luminance, some colour)."""
    light3 = work_array("light3", img.shape, np.float32)
    cv2.merge(cv2.split(light) if light.ndim == 3 else [light] * 3, dst=light3)
    cv2.multiply(light3, (*(float(g) for g in gains), 0.0), dst=light3)
    lit = cv2.multiply(img, light3, dtype=cv2.CV_8U)
    n = sensor_noise(img.shape[:2], rng)
    return cv2.addWeighted(lit, 1.0, n, float(noise_sigma), 0.0, dtype=cv2.CV_8U)  # rounds and saturates


_work = threading.local()


def work_array(key: str, shape: tuple[int, ...], dtype: type) -> np.ndarray:
    """A per-thread scratch array kept between calls (contents undefined). Large fresh arrays
    cost more to fault in than the arithmetic done on them."""
    arrays = _work.__dict__.setdefault("arrays", {})
    a = arrays.get(key)
    if a is None or a.shape != shape or a.dtype != dtype:
        a = arrays[key] = np.empty(shape, dtype)
    return a


# ---- light fields (built at 1/LOW size) -------------------------------------------------
def low_shape(size: tuple[int, int], factor: int = LOW) -> tuple[int, int]:
    """(h, w) of the low-resolution light grid (1/factor) for an output of ``size`` (W, H)."""
    return (-(-size[1] // factor), -(-size[0] // factor))


def low_grid(size: tuple[int, int], factor: int = LOW) -> tuple[np.ndarray, np.ndarray]:
    """Output-px coordinates (x, y) of the low grid's cells, each (h, w) float32."""
    h, w = low_shape(size, factor)
    xs = (np.arange(w, dtype=np.float32) + 0.5) * (size[0] / w) - 0.5
    ys = (np.arange(h, dtype=np.float32) + 0.5) * (size[1] / h) - 0.5
    return np.meshgrid(xs, ys)


def upsample(low: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A low-grid field at full output ``size`` (bilinear)."""
    return cv2.resize(low, size, interpolation=cv2.INTER_LINEAR)


def gradient(xy: tuple[np.ndarray, np.ndarray], size: tuple[int, int], angle_deg: float,
             strength: float) -> np.ndarray:
    """Light falling linearly by ``strength`` across the image along ``angle_deg``."""
    a = np.radians(angle_deg)
    t = ((xy[0] - size[0] / 2) * np.cos(a) + (xy[1] - size[1] / 2) * np.sin(a)) / np.hypot(*size)
    return 1 + strength * t.astype(np.float32)


def vignette(xy: tuple[np.ndarray, np.ndarray], size: tuple[int, int], centre: tuple[float, float],
             strength: float) -> np.ndarray:
    """Radial fall-off: 1 at ``centre`` (px), 1 - strength at half the diagonal."""
    r2 = ((xy[0] - centre[0]) ** 2 + (xy[1] - centre[1]) ** 2) / (np.hypot(*size) / 2) ** 2
    return (1 - strength * np.minimum(r2, 2.0)).astype(np.float32)


def blob(xy: tuple[np.ndarray, np.ndarray], centre: tuple[float, float], radii: tuple[float, float],
         angle_deg: float) -> np.ndarray:
    """A soft elliptical blob in 0..1 (Gaussian profile), px units."""
    a = np.radians(angle_deg)
    dx, dy = xy[0] - centre[0], xy[1] - centre[1]
    u = (dx * np.cos(a) + dy * np.sin(a)) / radii[0]
    v = (-dx * np.sin(a) + dy * np.cos(a)) / radii[1]
    return np.exp(-(u * u + v * v)).astype(np.float32)


def edge_shade(xy: tuple[np.ndarray, np.ndarray], size: tuple[int, int], edge: int, depth: float,
               width: float) -> np.ndarray:
    """Darkening near one image edge (0 left, 1 top, 2 right, 3 bottom): page lifted off the glass."""
    d = (xy[0], xy[1], size[0] - 1 - xy[0], size[1] - 1 - xy[1])[edge]
    return (1 - depth * np.exp(-np.maximum(d, 0) / width)).astype(np.float32)


def creases(xy: tuple[np.ndarray, np.ndarray], lines: np.ndarray, steps: np.ndarray, half_len: np.ndarray,
            centres: np.ndarray, width: float) -> np.ndarray:
    """Facet shading of folded or crumpled paper: a soft brightness step across each line.

    lines: (N, 3) normalised a*x + b*y + c = 0 in output px; steps: (N,) the light change across
    each; half_len (N,) px and centres (N, 2) px: a crease fades out this far along its line
    from its centre (inf = a fold right across). width: px of the step.
    """
    f32 = np.float32
    x, y = xy[0][..., None], xy[1][..., None]
    a, b, c = (lines[:, i].astype(f32) for i in range(3))
    half_len = np.asarray(half_len, f32)
    across = np.clip((x * (a / width) + y * (b / width) + (c / width).astype(f32)), -1, 1)
    along = (x * (-b / half_len) + y * (a / half_len)
             + ((centres[:, 0] * b - centres[:, 1] * a) / half_len).astype(f32))
    reach = np.maximum(1 - along * along, 0)  # 1 on the crease, 0 beyond its ends
    return 1 + (across * reach) @ steps.astype(f32)


def to_grid(pts: np.ndarray, size: tuple[int, int], shape: tuple[int, int]) -> np.ndarray:
    """Output px (N, 2) of an image of ``size`` (W, H) -> px of a resized grid of ``shape`` (h, w)."""
    k = np.array([shape[1] / size[0], shape[0] / size[1]])
    return (np.asarray(pts, np.float64) + 0.5) * k - 0.5


def line_light(shape: tuple[int, int], lines: list[tuple]) -> np.ndarray:
    """A light multiplier (H, W) float32: 1 except along 1-px lines (end px, end px, factor)."""
    f = np.ones(shape, np.float32)
    for a, b, v in lines:
        cv2.line(f, _fixed(a), _fixed(b), float(v), 1, cv2.LINE_8, shift=4)
    return f


def _fixed(p: np.ndarray) -> tuple[int, int]:
    """A point (px) in the 4-bit fixed point of cv2's drawing functions (``shift=4``)."""
    x, y = np.round(np.asarray(p, np.float64) * 16).astype(int)
    return int(x), int(y)


def polygon_mask(size: tuple[int, int], polys: list[np.ndarray], sigma: float,
                 shape: tuple[int, int] | None = None) -> np.ndarray:
    """Filled polygons (output px) on a grid of ``shape`` (h, w; default full size), blurred by
    ``sigma`` grid px; float32 0..1."""
    shape = shape or (size[1], size[0])
    m = np.zeros(shape, np.uint8)
    cv2.fillPoly(m, [np.round(to_grid(p, size, shape) * 16).astype(np.int32) for p in polys], 255,
                 cv2.LINE_AA, shift=4)
    if sigma > 0.3:
        m = cv2.GaussianBlur(m, (0, 0), sigma)
    return m.astype(np.float32) * (1 / 255)


# ---- marks on the page -----------------------------------------------------------------
def handwriting(rng: np.random.Generator, origin: np.ndarray, height: float, angle_deg: float) -> list[np.ndarray]:
    """Polylines that read like a line of cursive (one per word), px; height: of small letters."""
    words, x = [], 0.0
    for _ in range(int(rng.integers(1, 6))):
        word = np.concatenate([_letter(rng, i) for i in range(int(rng.integers(2, 8)))])
        word = word * height * np.array([rng.uniform(0.45, 0.6), 1.0]) + rng.normal(0, 0.03 * height, word.shape)
        word[:, 0] += x - 0.3 * word[:, 1]  # slant
        words.append(word)
        x = word[:, 0].max() + height * rng.uniform(0.6, 1.2)
    a = np.radians(angle_deg)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    return [w @ rot.T + origin for w in words]


def _letter(rng: np.random.Generator, i: int) -> np.ndarray:
    """One joined letter starting at (i, 0) in letter units (y up is negative): a loop like
    'e' or 'l', a hump like 'n', or an 'o'."""
    t = np.linspace(0, 1, 12)
    kind = rng.choice(3, p=[0.45, 0.35, 0.2])
    tall = 2.0 if rng.random() < 0.25 else 1.0
    if kind == 0:
        x, y = t - rng.uniform(0.12, 0.25) * np.sin(2 * np.pi * t), -0.5 * tall * (1 - np.cos(2 * np.pi * t))
    elif kind == 1:
        x, y = t, -tall * np.abs(np.sin(np.pi * t * 2 if rng.random() < 0.4 else np.pi * t))
    else:
        x, y = 0.5 - 0.4 * np.cos(2 * np.pi * t + 0.3), -0.5 - 0.45 * np.sin(2 * np.pi * t + 0.3)
    return np.stack([x + i, y], 1)


def bezier_stroke(rng: np.random.Generator, centre: np.ndarray, reach: float) -> np.ndarray:
    """A random cubic Bezier pen stroke around ``centre`` (px); or a loose loop around it."""
    if rng.random() < 0.35:
        t = np.linspace(0, 2 * np.pi * rng.uniform(0.9, 1.15), 60) + rng.uniform(0, 2 * np.pi)
        r = reach * rng.uniform(0.3, 0.7) * np.array([1.0, rng.uniform(0.4, 1.0)])
        return centre + np.stack([np.cos(t) * r[0], np.sin(t) * r[1]], 1) * (1 + 0.06 * np.sin(3 * t))[:, None]
    p = centre + rng.uniform(-reach, reach, (4, 2))
    t = np.linspace(0, 1, 50)[:, None]
    return ((1 - t) ** 3 * p[0] + 3 * (1 - t) ** 2 * t * p[1] + 3 * (1 - t) * t ** 2 * p[2] + t ** 3 * p[3])


def draw_pen(img: np.ndarray, rng: np.random.Generator, n: int) -> list[str]:
    """Draw ``n`` handwritten lines or pen strokes on ``img`` in place; returns their kinds."""
    h, w = img.shape[:2]
    u = unit((w, h))
    kinds = []
    for _ in range(n):
        ink = tuple(float(c) for c in np.array(INKS[int(rng.integers(len(INKS)))]) + rng.normal(0, 10, 3))
        thick = max(1, round(u * rng.uniform(0.8, 2.2)))
        at = np.array([rng.uniform(0.05, 0.8) * w, rng.uniform(0.08, 0.95) * h])
        if rng.random() < 0.5:
            kinds.append("text")
            strokes = handwriting(rng, at, rng.uniform(0.012, 0.03) * w, rng.normal(0, 5))
        else:
            kinds.append("stroke")
            strokes = [bezier_stroke(rng, at, rng.uniform(0.03, 0.12) * w)]
        cv2.polylines(img, [np.round(s * 16).astype(np.int32) for s in strokes], False, ink, thick,
                      cv2.LINE_AA, shift=4)
    return kinds


def speckle(img: np.ndarray, rng: np.random.Generator, n: int) -> None:
    """Toner specks: ``n`` dark 1-2 px dots at random places, in place."""
    h, w = img.shape[:2]
    ys, xs = rng.integers(0, h - 1, n), rng.integers(0, w - 1, n)
    v = rng.integers(0, 140, n).astype(np.uint8)[:, None]
    img[ys, xs] = v
    big = rng.random(n) < 0.3
    img[ys[big] + 1, xs[big]] = v[big]
    img[ys[big], xs[big] + 1] = v[big]


def punch_holes(img: np.ndarray, rng: np.random.Generator, colour: float) -> dict:
    """Two or three punch holes along the left or top edge, in place; returns what was drawn."""
    h, w = img.shape[:2]
    edge = int(rng.integers(2))
    n = int(rng.integers(2, 4))
    r = 0.011 * max(w, h) * rng.uniform(0.85, 1.15)
    span = (h, w)[edge]
    pos = span / 2 + (np.arange(n) - (n - 1) / 2) * span * rng.uniform(0.25, 0.32)
    inset = rng.uniform(0.03, 0.06) * (w, h)[edge]
    for p in pos:
        c = (inset, p) if edge == 0 else (p, inset)
        ci = tuple(int(round(v * 16)) for v in c)
        cv2.circle(img, ci, int(round((r + 1) * 16)), (150, 150, 150), -1, cv2.LINE_AA, shift=4)
        cv2.circle(img, ci, int(round(r * 16)), (colour,) * 3, -1, cv2.LINE_AA, shift=4)
    return {"edge": ("left", "top")[edge], "n": n, "radius_px": round(float(r), 2)}


def _r(v: np.ndarray, nd: int = 1) -> list[float]:
    return [round(float(x), nd) for x in np.ravel(v)]
