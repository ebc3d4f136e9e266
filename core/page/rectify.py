"""Make a photographed or scanned page flat and upright: one homography, image px -> rectified px.

When the whole sheet lies in the frame on a darker table, its outline says how the paper lies:
the four corners, refined to a fraction of a pixel, fix the homography up to a scale along each
axis, which calibration measures afterwards. Otherwise the grid does: its lines form two
families of straight segments, and each family meets at a vanishing point (at infinity for a
scan). The outline comes first because the corners sit a page apart, while a phone photo's
faint grid lines are short and noisy: on 16 studio photographs of `val`, the vanishing points
(support 0.28) left one page's rows stretched 2 mm (80 ms) more in one half than the other
where the refined outline left 0.01 mm; over 60 studio photographs the layout was right on
50 % instead of 40 %. Clear grid lines (support 0.6 or more) still set the plane: they follow
a folded sheet where its outline only gives the plane of its corners (on a real photograph of
a folded page, support 0.92, the outline's plane put lead III's calibration pulse into its
trace).
Either is finished by the grid lattice's affine frame (its 2-D spectrum), which alone
straightens scans whose dense grid the line detector cannot follow. Quarter turns (90/180/270 degrees) are decided later,
from the traces (``core.page.panels``), and composed in with :meth:`Rectification.turned`.

Image px are those of the image as given to :func:`rectify`; rectified px those of
:meth:`Rectification.warp`'s output.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np

from core.page.calibrate import channel_min, grid_signal
from core.page.geometry import apply_homography

MIN_SEGMENT_PX = 8.0
FAMILY_DEG = 25.0  # a family's segments lie within this angle of its mean direction
INLIER_PX = 1.0  # a segment's end points lie this close to the line through its middle and the vanishing point
RANSAC_ITERATIONS = 256
MIN_SUPPORT = 0.2  # below this the vanishing points are not trusted
CLEAR_LINES = 0.6  # from this support on, the grid's lines set the plane even when the sheet's outline is in view
MAX_AREA_GROWTH = 2.0  # the rectified image holds at most this many times the input's pixels
PARALLEL_SHARE = 0.01  # a family taken as parallel may hold this much less of its length ...
PARALLEL_FAR = 0.02    # ... when its meeting point lies beyond 1/this half-widths (normalised w)
PARALLEL_NEAR = 0.003  # ... and within 1/this: further, taking it as parallel moves a row by < 0.4 mm
EDGE_SEARCH_PX = 12  # the paper's edge is looked for this far either side of the thumbnail's outline
EDGE_MIN_STEP = 4.0  # grey levels per px: a paper edge falls at least this steeply


@dataclass(frozen=True)
class Rectification:
    """How an image maps to its flat, upright page.

    to_rect: 3x3 homography, image px -> rectified px. size: (W, H) of the rectified image.
    method: 'grid' (vanishing points of the grid lines), 'page' (the paper's outline),
    'lattice' (the grid's affine frame alone) or 'none'. confidence: 0..1. quarter_turns: how
    many quarter turns (clockwise, 0..3) are part of ``to_rect``. page_quad_px: the paper's corners in image
    px (tl, tr, br, bl in the rectified frame's sense) or None when the edge was not found.
    """

    to_rect: np.ndarray
    size: tuple[int, int]
    method: str
    confidence: float
    quarter_turns: int = 0
    page_quad_px: np.ndarray | None = None

    @property
    def from_rect(self) -> np.ndarray:
        """3x3 homography, rectified px -> image px."""
        h = np.linalg.inv(self.to_rect)
        return h / h[2, 2]

    def warp(self, rgb: np.ndarray) -> np.ndarray:
        """The rectified image (bilinear; outside the input is white paper)."""
        return cv2.warpPerspective(rgb, self.to_rect, self.size, flags=cv2.INTER_LINEAR,
                                   borderMode=cv2.BORDER_CONSTANT, borderValue=(255, 255, 255))

    def turned(self, k: int) -> "Rectification":
        """The same rectification followed by k clockwise quarter turns of the rectified image."""
        k %= 4
        w, h = self.size
        turns = {0: np.eye(3), 1: np.array([[0, -1, h - 1], [1, 0, 0], [0, 0, 1.0]]),
                 2: np.array([[-1, 0, w - 1], [0, -1, h - 1], [0, 0, 1.0]]),
                 3: np.array([[0, 1, 0], [-1, 0, w - 1], [0, 0, 1.0]])}
        size = self.size if k % 2 == 0 else (h, w)
        return replace(self, to_rect=turns[k] @ self.to_rect, size=size,
                       quarter_turns=(self.quarter_turns + k) % 4)


def identity(size: tuple[int, int]) -> Rectification:
    """No change: the image is taken as flat and upright."""
    return Rectification(np.eye(3), tuple(int(v) for v in size), "none", 0.0)  # type: ignore[arg-type]


def rectify(rgb: np.ndarray, paper: np.ndarray | None = None, grid_lines: bool = True) -> Rectification:
    """Find how the paper lies in ``rgb`` ((H, W, 3) uint8) and how to make it flat.

    The paper's outline first (when the whole sheet is in view, its corners refined by
    :func:`refined_quad`, unless the grid's lines are clear: support ``CLEAR_LINES``), then the
    grid's vanishing points; either is finished (or, when both
    fail, replaced) by the grid lattice's own affine frame from the 2-D spectrum, which
    straightens the small rotations and shears of scans. When none of these is found, the
    paper's outline is looked for once more by its colour (:func:`_photographed_quad`). ``paper``: the paper mask
    (:func:`paper_mask`) when the caller has it. ``grid_lines`` False: no vanishing points (for a
    page whose scale shows no grid, where the straight segments found were text, traces and
    shadows' edges rather than grid lines).
    """
    size = (rgb.shape[1], rgb.shape[0])
    quad = page_quad(paper_mask(rgb) if paper is None else paper)
    fit = grid_vanishing_points(line_segments(rgb), size) if grid_lines else None
    if quad is not None and (fit is None or fit[2] < CLEAR_LINES):
        quad = refined_quad(rgb, quad)
        rect = _framed(_quad_homography(quad), quad, size, "page", 0.5, quad)
        return _straightened(rect, rgb)
    if fit is not None:
        v1, v2, support, region = fit
        if quad is not None:
            region = cv2.convexHull(np.r_[region, quad].astype(np.float32)).reshape(-1, 2).astype(np.float64)
        h = homography_from_vanishing_points(v1, v2, region.mean(axis=0))
        rect = _framed(h, region, size, "grid", support, quad)
    else:
        rect = _straightened(identity(size), rgb)
        quad = _photographed_quad(rgb) if rect.method == "none" and paper is None else None
        if quad is None:
            return rect
        quad = refined_quad(rgb, quad)
        rect = _framed(_quad_homography(quad), quad, size, "page", 0.4, quad)
    return _straightened(rect, rgb)


def _straightened(rect: Rectification, rgb: np.ndarray) -> Rectification:
    """Compose the lattice's affine frame (measured on the rectified image) into ``rect``."""
    frame = lattice_frame(grid_signal(rect.warp(rgb)))
    if frame is None:
        return rect
    a, strength = frame
    if np.allclose(a, np.eye(2), atol=2e-4):
        return replace(rect, confidence=max(rect.confidence, strength)) if rect.method != "none" else \
            replace(rect, method="lattice", confidence=strength)
    w, h = rect.size
    corners = np.array([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]], np.float64)
    affine = np.eye(3)
    affine[:2, :2] = a
    out = corners @ a.T
    lo, hi = out.min(axis=0), out.max(axis=0)
    affine[:2, 2] = -lo
    method = rect.method if rect.method != "none" else "lattice"
    return replace(rect, to_rect=affine @ rect.to_rect, size=(int(np.ceil(hi[0] - lo[0])) + 1,
                   int(np.ceil(hi[1] - lo[1])) + 1), method=method,
                   confidence=max(rect.confidence, strength) if rect.method == "none" else rect.confidence)


def lattice_frame(signal: np.ndarray) -> tuple[np.ndarray, float] | None:
    """The 2x2 linear map that turns the grid's two line families to vertical and horizontal
    (rows: the unit normals of the 'vertical' and the 'horizontal' lines), from the peaks of
    the 2-D power spectrum of a grid signal, and its strength 0..1; None without a clear lattice.

    Each family's direction is read off its farthest clear harmonic (precision grows with the
    frequency); families more than 30 degrees off the image axes are left to the line-based
    rectification. Families more than 6 degrees from perpendicular are no grid (on plain paper
    the QRS complexes of simultaneous leads, one above the other, make such a lattice).
    """
    h, w = signal.shape
    n = cv2.getOptimalDFTSize(max(h, w))
    win = np.outer(np.hanning(h), np.hanning(w)).astype(np.float32)
    pad = np.zeros((n, n), np.float32)
    pad[:h, :w] = (signal - signal.mean()) * win
    spec = cv2.dft(pad, flags=cv2.DFT_COMPLEX_OUTPUT)
    power = np.fft.fftshift(spec[..., 0] ** 2 + spec[..., 1] ** 2)
    bg = cv2.GaussianBlur(power, (0, 0), 6.0) + 1e-12
    ratio = power / bg
    c = n // 2
    yy = np.arange(-c, n - c, dtype=np.float32)[:, None]
    xx = np.arange(-c, n - c, dtype=np.float32)[None, :]
    rad2 = xx * xx + yy * yy
    usable = (rad2 > (n / 60.0) ** 2) & (rad2 < (n / 2.3) ** 2)
    tan30 = np.float32(np.tan(np.radians(30.0)))
    normals = []
    for near in (usable & (np.abs(yy) <= tan30 * np.abs(xx)), usable & (np.abs(xx) <= tan30 * np.abs(yy))):
        found = _lattice_direction(power, ratio, near, c)
        if found is None:
            return None
        normals.append(found)
    (n1, r1), (n2, r2) = normals
    n1 = n1 if n1[0] >= 0 else -n1
    n2 = n2 if n2[1] >= 0 else -n2
    if abs(float(n1 @ n2)) > np.sin(np.radians(6.0)):  # paper grids are square; this is not one
        return None
    strength = float(np.clip(np.log10(min(r1, r2)) / 3.0, 0.0, 1.0))
    return np.array([n1, n2]), strength


def _lattice_direction(power: np.ndarray, ratio: np.ndarray, near: np.ndarray, c: int
                       ) -> tuple[np.ndarray, float] | None:
    """Unit direction (x, y) of the strongest lattice peak in ``near`` refined on its farthest
    clear harmonic, and that peak's power ratio; None when no clear peak."""
    score = np.where(near, power, 0.0)
    iy, ix = np.unravel_index(int(np.argmax(score)), score.shape)
    if ratio[iy, ix] < 20.0:
        return None
    g = _subpixel(power, iy, ix) - c
    best = g
    for k in range(2, 40):
        p = g * k + c
        jx, jy = int(round(p[0])), int(round(p[1]))
        if not (1 <= jx < power.shape[1] - 1 and 1 <= jy < power.shape[0] - 1) or not near[jy, jx]:
            break
        win = ratio[jy - 1:jy + 2, jx - 1:jx + 2]
        dy, dx = np.unravel_index(int(np.argmax(win)), win.shape)
        if win[dy, dx] >= 20.0:
            best = (_subpixel(power, jy + dy - 1, jx + dx - 1) - c)
            g = best / k
    return best / np.linalg.norm(best), float(ratio[iy, ix])


def _subpixel(power: np.ndarray, iy: int, ix: int) -> np.ndarray:
    """(x, y) of a spectral peak refined by parabolas through its log neighbours."""
    def shift(a: float, b: float, c: float) -> float:
        den = a - 2 * b + c
        return float(np.clip(0.5 * (a - c) / den, -0.5, 0.5)) if den < 0 else 0.0
    lp = np.log(power[iy - 1:iy + 2, ix - 1:ix + 2] + 1e-12)
    return np.array([ix + shift(*lp[1]), iy + shift(*lp[:, 1])])


# ---- paper ------------------------------------------------------------------------------------
def paper_mask(rgb: np.ndarray) -> np.ndarray | None:
    """Where the paper is (uint8 0/255, image size) when the image splits clearly into bright,
    nearly colourless paper and a darker or colourful background; None otherwise (a scan, or
    paper on a white table). Found on a ~200-px thumbnail, where grid and traces blur into
    the paper tone."""
    h, w = rgb.shape[:2]
    f = min(1.0, 200.0 / max(h, w))
    thumb = cv2.resize(rgb, (max(8, int(w * f)), max(8, int(h * f))), interpolation=cv2.INTER_AREA)
    hsv = cv2.cvtColor(thumb, cv2.COLOR_RGB2HSV)
    score = (hsv[..., 2].astype(np.float32) - 0.6 * hsv[..., 1]).clip(0, 255).astype(np.uint8)
    t, mask = cv2.threshold(score, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    lo, hi = score[score <= t], score[score > t]
    if _separation(score, t) < 0.75 or not len(lo) or not len(hi) or float(hi.mean()) - float(lo.mean()) < 80:
        return None
    mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=4)
    if n <= 1:
        return None
    biggest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    region = np.where(labels == biggest, 255, 0).astype(np.uint8)
    contours, _ = cv2.findContours(region, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    filled = np.zeros_like(region)
    cv2.drawContours(filled, contours, -1, 255, cv2.FILLED)
    return cv2.resize(filled, (w, h), interpolation=cv2.INTER_LINEAR)


def paper_mask_by_colour_model(rgb: np.ndarray, side: int = 200) -> np.ndarray | None:
    """Where the paper is (uint8 0/255, image size) by GrabCut on a ``side``-px thumbnail: the
    frame's border is taken for background and the paper for what differs from it in colour.
    For what :func:`paper_mask` cannot split by brightness: paper on a pale table, or paper
    and table crossed by the same shadow. None when GrabCut finds nothing."""
    h, w = rgb.shape[:2]
    f = min(1.0, side / max(h, w))
    thumb = cv2.resize(rgb, (max(16, int(w * f)), max(16, int(h * f))), interpolation=cv2.INTER_AREA)
    th, tw = thumb.shape[:2]
    mask = np.zeros((th, tw), np.uint8)
    models = np.zeros((1, 65)), np.zeros((1, 65))
    m = 3  # px of the thumbnail taken for background
    cv2.setRNGSeed(0)  # GrabCut's k-means start: the same image gives the same mask
    cv2.grabCut(np.ascontiguousarray(thumb[:, :, ::-1]), mask, (m, m, tw - 2 * m, th - 2 * m),
                *models, 4, cv2.GC_INIT_WITH_RECT)
    paper = np.where((mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD), 255, 0).astype(np.uint8)
    if not paper.any():
        return None
    return cv2.resize(paper, (w, h), interpolation=cv2.INTER_LINEAR)


def _photographed_quad(rgb: np.ndarray) -> np.ndarray | None:
    """The paper's corners by :func:`paper_mask_by_colour_model`, taken only where the picture
    is clearly a photograph of a page on some background: the paper covers at most 80 % of the
    frame, opposite sides differ by less than 40 % (a scan's margins, or a shadow's edge,
    give a quad that fails one or the other), a corner is more than 3 degrees from square and
    every side shows as an edge (:func:`_edge_contrast`)."""
    h, w = rgb.shape[:2]
    quad = page_quad(paper_mask_by_colour_model(rgb))
    if quad is None or cv2.contourArea(quad.astype(np.float32)) > 0.8 * w * h:
        return None
    edges = np.roll(quad, -1, axis=0) - quad
    side = np.linalg.norm(edges, axis=1)
    if min(side[0] / side[2], side[2] / side[0], side[1] / side[3], side[3] / side[1]) < 0.6:
        return None
    cosines = np.abs(np.sum(edges * np.roll(edges, 1, axis=0), axis=1)) / (side * np.roll(side, 1))
    if cosines.max() < np.sin(np.radians(3.0)):
        return None  # a rectangle seen square on (a scan): the grid's lattice straightens it more exactly
    return quad if _edge_contrast(rgb, quad) >= 12.0 else None


def _edge_contrast(rgb: np.ndarray, quad: np.ndarray, offset: float = 0.01) -> float:
    """The weakest of the quad's four sides: the median colour difference (0..255, largest
    channel) between points just inside and just outside it, ``offset`` of the image's longer
    side away. A paper's edge against a table shows; a block of traces on white paper not."""
    h, w = rgb.shape[:2]
    d = offset * max(h, w)
    centre = quad.mean(axis=0)
    weakest = np.inf
    for a, b in zip(quad, np.roll(quad, -1, axis=0)):
        t = np.linspace(0.1, 0.9, 32)[:, None]
        pts = a + t * (b - a)
        normal = np.array([a[1] - b[1], b[0] - a[0]]) / max(float(np.linalg.norm(b - a)), 1e-9)
        if np.dot(centre - a, normal) < 0:
            normal = -normal  # pointing into the paper
        inside = np.clip(np.round(pts + d * normal), 0, [w - 1, h - 1]).astype(int)
        outside = np.clip(np.round(pts - d * normal), 0, [w - 1, h - 1]).astype(int)
        diff = np.abs(rgb[inside[:, 1], inside[:, 0]].astype(np.float64) - rgb[outside[:, 1], outside[:, 0]]).max(axis=1)
        weakest = min(weakest, float(np.median(diff)))
    return weakest


def _separation(values: np.ndarray, t: float) -> float:
    """Otsu's between-class variance over the total variance (0..1): 1 = two clean tones."""
    v = values.astype(np.float64).ravel()
    lo, hi = v[v <= t], v[v > t]
    if not len(lo) or not len(hi) or v.var() == 0:
        return 0.0
    return float(len(lo) * len(hi) / len(v) ** 2 * (lo.mean() - hi.mean()) ** 2 / v.var())


def page_quad(mask: np.ndarray | None) -> np.ndarray | None:
    """The paper's four corners (tl, tr, br, bl; image px) when its outline is a clear
    quadrilateral lying inside the frame, else None (a scan filling the frame, a cut-off photo)."""
    if mask is None:
        return None
    h, w = mask.shape
    area = float(np.count_nonzero(mask))
    if not 0.12 * w * h <= area <= 0.92 * w * h:
        return None
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    hull = cv2.convexHull(max(contours, key=cv2.contourArea))
    peri = cv2.arcLength(hull, True)
    for eps in (0.01, 0.02, 0.03, 0.05):
        poly = cv2.approxPolyDP(hull, eps * peri, True).reshape(-1, 2).astype(np.float64)
        if len(poly) == 4:
            break
    else:
        return None
    if cv2.contourArea(poly.astype(np.float32)) < 0.85 * cv2.contourArea(hull):
        return None
    margin = max(3.0, 0.01 * max(h, w))  # px: a corner on the frame's edge is where the frame cut the page
    on_border = (poly[:, 0] < margin) | (poly[:, 1] < margin) | (poly[:, 0] > w - 1 - margin) | (poly[:, 1] > h - 1 - margin)
    if on_border.any():
        return None
    return order_corners(poly)


def refined_quad(rgb: np.ndarray, quad: np.ndarray) -> np.ndarray:
    """The paper's corners to a fraction of a pixel: each side's edge found where the
    brightness falls fastest across it (within ``EDGE_SEARCH_PX`` of the rough side, at 40
    places along its middle 80 %), a line fitted through those places (Huber), and the
    corners where neighbouring lines meet. The rough quad comes from a ~200-px thumbnail, so
    its corners are ~6 px off in a 1200-px working copy; over a page 700 px wide that tilts
    the page's plane enough to stretch one half of a row against the other by 1-2 mm (40-80
    ms) where no grid ruler corrects it. A side whose edge is not found keeps its rough line."""
    gray = cv2.GaussianBlur(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32), (0, 0), 1.0)
    centre = quad.mean(axis=0)
    offsets = np.arange(-EDGE_SEARCH_PX, EDGE_SEARCH_PX + 1, dtype=np.float32)
    lines = []
    for a, b in zip(quad, np.roll(quad, -1, axis=0)):
        along = (b - a) / max(float(np.linalg.norm(b - a)), 1e-9)
        normal = np.array([along[1], -along[0]])
        if np.dot(normal, (a + b) / 2 - centre) < 0:
            normal = -normal   # pointing out of the paper
        places = a + np.linspace(0.1, 0.9, 40)[:, None] * (b - a)
        xy = places[:, None, :] + offsets[None, :, None] * normal[None, None, :]
        profile = cv2.remap(gray, xy[..., 0].astype(np.float32), xy[..., 1].astype(np.float32),
                            cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        fall = -np.diff(profile, axis=1)   # brightness falling outwards, between samples
        i = np.argmax(fall, axis=1)
        strong = fall[np.arange(len(i)), i] >= EDGE_MIN_STEP
        inner = (i > 0) & (i < fall.shape[1] - 1)
        ok = strong & inner
        if ok.sum() < 10:
            lines.append((a, along))
            continue
        j = np.flatnonzero(ok)
        left, mid, right = fall[j, i[j] - 1], fall[j, i[j]], fall[j, i[j] + 1]
        curve = left - 2 * mid + right   # negative at a peak: the parabola through the three
        shift = np.where(curve < -1e-6, 0.5 * (left - right) / np.where(curve < -1e-6, curve, -1.0), 0.0)
        t = offsets[i[j]] + 0.5 + np.clip(shift, -0.5, 0.5)
        pts = places[j] + t[:, None] * normal
        vx, vy, x0, y0 = cv2.fitLine(pts.astype(np.float32), cv2.DIST_HUBER, 0, 0.01, 0.01).ravel()
        lines.append((np.array([x0, y0], np.float64), np.array([vx, vy], np.float64)))
    corners = []
    for (p, u), (q, v) in zip(lines[-1:] + lines[:-1], lines):
        m = np.array([u, -v], np.float64).T
        if abs(np.linalg.det(m)) < 1e-6:
            return quad
        along_p, _ = np.linalg.solve(m, q - p)   # p + along_p u = q + along_q v
        corners.append(p + along_p * u)
    out = np.array(corners, np.float64)
    return out if np.abs(out - quad).max() <= 2 * EDGE_SEARCH_PX else quad


def order_corners(pts: np.ndarray) -> np.ndarray:
    """Four points as (tl, tr, br, bl) by their angle around the centroid, starting top-left."""
    c = pts.mean(axis=0)
    ang = np.arctan2(pts[:, 1] - c[1], pts[:, 0] - c[0])
    pts = pts[np.argsort(ang)]  # clockwise in image coordinates (y down), starting near -pi
    start = int(np.argmin(pts[:, 0] + pts[:, 1]))
    return np.roll(pts, -start, axis=0)


def _quad_homography(quad: np.ndarray) -> np.ndarray:
    """Image px -> a rectangle with the quad's mean side lengths."""
    tl, tr, br, bl = quad
    w = (np.linalg.norm(tr - tl) + np.linalg.norm(br - bl)) / 2
    h = (np.linalg.norm(bl - tl) + np.linalg.norm(br - tr)) / 2
    dst = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32)
    return cv2.getPerspectiveTransform(quad.astype(np.float32), dst).astype(np.float64)


# ---- grid lines -------------------------------------------------------------------------------
def line_segments(rgb: np.ndarray, max_side: int = 1200) -> np.ndarray:
    """Straight segments (N, 4) x0, y0, x1, y1 (image px) of the darkest channel, found on a
    copy at most ``max_side`` px, at least MIN_SEGMENT_PX long there."""
    h, w = rgb.shape[:2]
    f = min(1.0, max_side / max(h, w))
    low = channel_min(rgb)
    if f < 1.0:
        low = cv2.resize(low, (int(round(w * f)), int(round(h * f))), interpolation=cv2.INTER_AREA)
    found = cv2.createLineSegmentDetector(cv2.LSD_REFINE_NONE).detect(low)[0]
    if found is None:
        return np.zeros((0, 4))
    seg = found.reshape(-1, 4).astype(np.float64)
    return seg[np.hypot(seg[:, 2] - seg[:, 0], seg[:, 3] - seg[:, 1]) >= MIN_SEGMENT_PX] / f


def grid_vanishing_points(seg: np.ndarray, size: tuple[int, int]
                          ) -> tuple[np.ndarray, np.ndarray, float, np.ndarray] | None:
    """The grid's two vanishing points (homogeneous 3-vectors, image px; the first of the
    more horizontal family), a support score 0..1 and the grid's outline (M, 2 image px), or
    None.

    The families are the pair of directions, 45-135 degrees apart, with the most segment
    length between them; only segments in cells where both families meet are kept, which
    drops wood grain, cloth and other one-directional texture around the paper.
    """
    if len(seg) < 30:
        return None
    d = seg[:, 2:] - seg[:, :2]
    length = np.hypot(d[:, 0], d[:, 1])
    ang = np.degrees(np.arctan2(d[:, 1], d[:, 0])) % 180.0
    first, second = _direction_pair(ang, length)
    fam = [_angle_diff(ang, a) < FAMILY_DEG for a in (first, second)]
    both, cells = _meeting_cells(seg, fam, length, size)
    fits = []
    for member, a in zip(fam, (first, second)):
        keep = member & both
        if keep.sum() < 12:
            return None
        vp, share = _ransac_vanishing_point(seg[keep], length[keep], size)
        if vp is None:
            return None
        fits.append((vp, share, a, length[keep].sum()))
    (va, sa, aa, la), (vb, sb, ab, lb) = fits
    horizontal_first = _angle_diff(np.array([aa]), 0.0)[0] <= _angle_diff(np.array([ab]), 0.0)[0]
    v1, v2 = (va, vb) if horizontal_first else (vb, va)
    covered = min(la, lb) / (size[0] + size[1])  # inlier length, in image perimeters / 2
    support = float(np.clip(min(sa, sb), 0, 1) * np.clip(covered / 4.0, 0, 1))
    if support < MIN_SUPPORT:
        return None
    return v1, v2, support, cells


def _direction_pair(ang: np.ndarray, weight: np.ndarray) -> tuple[float, float]:
    """Two line directions (degrees mod 180) 45-135 degrees apart that maximise the product
    of their (length-weighted, smoothed) histogram counts."""
    hist = np.bincount(np.floor(ang).astype(int) % 180, weights=weight, minlength=180)
    hist = np.convolve(np.r_[hist[-3:], hist, hist[:3]], np.ones(5) / 5, "same")[3:-3]
    best, pair = -1.0, (0.5, 90.5)
    for a in np.argsort(hist)[::-1][:12]:
        others = np.where(_angle_diff(np.arange(180) + 0.5, a + 90.5) <= 45.0, hist, 0)
        b = int(np.argmax(others))
        if hist[a] * others[b] > best:
            best, pair = hist[a] * others[b], (a + 0.5, b + 0.5)
    return pair


def _meeting_cells(seg: np.ndarray, fam: list[np.ndarray], length: np.ndarray,
                   size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Which segments lie in cells (1/24 of the larger side) holding both families, and the
    convex hull (M, 2; image px) of those cells."""
    cell = max(size) / 24.0
    mid = (seg[:, :2] + seg[:, 2:]) / 2
    ij = np.floor(mid / cell).astype(int)
    shape = (int(size[1] // cell) + 1, int(size[0] // cell) + 1)
    counts = []
    for member in fam:
        c = np.zeros(shape)
        np.add.at(c, (ij[member, 1], ij[member, 0]), length[member])
        counts.append(c)
    meet = (np.minimum(counts[0], counts[1]) >= 0.6 * cell).astype(np.uint8)
    meet = cv2.dilate(meet, np.ones((3, 3), np.uint8))
    inside = meet[ij[:, 1], ij[:, 0]] > 0
    ys, xs = np.nonzero(meet)
    if not len(xs):
        return inside, np.array([[0, 0], [size[0] - 1, 0], [size[0] - 1, size[1] - 1], [0, size[1] - 1]], float)
    corners = np.r_[np.c_[xs, ys], np.c_[xs + 1, ys], np.c_[xs, ys + 1], np.c_[xs + 1, ys + 1]] * cell
    corners = np.clip(corners, 0, [size[0] - 1, size[1] - 1])
    return inside, cv2.convexHull(corners.astype(np.float32)).reshape(-1, 2).astype(np.float64)


def _angle_diff(a: np.ndarray, b: float) -> np.ndarray:
    """|a - b| for line directions (mod 180), degrees."""
    d = np.abs((a - b) % 180.0)
    return np.minimum(d, 180.0 - d)


def _ransac_vanishing_point(seg: np.ndarray, length: np.ndarray, size: tuple[int, int]
                            ) -> tuple[np.ndarray | None, float]:
    """Vanishing point of one family (homogeneous, image px) and the share of its length
    that points at it (end points within INLIER_PX). RANSAC on pairs of segments, then a
    weighted least-squares refit on the inliers."""
    norm = _normaliser(size)
    tol = INLIER_PX * norm[0, 0]
    p = apply_homography(norm, seg[:, :2])
    q = apply_homography(norm, seg[:, 2:])
    lines = np.cross(np.c_[p, np.ones(len(p))], np.c_[q, np.ones(len(q))])
    lines /= np.linalg.norm(lines[:, :2], axis=1, keepdims=True)
    mid, direction = (p + q) / 2, (q - p) / np.linalg.norm(q - p, axis=1, keepdims=True)
    half = np.linalg.norm(q - p, axis=1) / 2
    rng = np.random.default_rng(0)
    pairs = rng.choice(len(seg), size=(RANSAC_ITERATIONS, 2), p=length / length.sum())
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    cand = np.cross(lines[pairs[:, 0]], lines[pairs[:, 1]])
    cand /= np.linalg.norm(cand, axis=1, keepdims=True) + 1e-300
    if not len(cand):
        return None, 0.0
    scores = [(length * _points_at(v, mid, direction, half, tol)).sum() for v in cand]
    best = cand[int(np.argmax(scores))]
    for _ in range(3):
        inl = _points_at(best, mid, direction, half, tol)
        if inl.sum() < 8:
            return None, 0.0
        a = lines[inl] * np.sqrt(length[inl])[:, None]
        best = np.linalg.eigh(a.T @ a)[1][:, 0]
    share = float((length * _points_at(best, mid, direction, half, tol)).sum() / length.sum())
    # A scan's lines are parallel; noise in short segments still puts their meeting point at a
    # finite distance (a val scan's: 60 half-widths), whose perspective bent each row 1.6 mm
    # mid-way (60 ms), more than the grid's 1-mm ruler took back. When the family, taken as
    # parallel, holds nearly as much of its length within INLIER_PX and the point is that far,
    # it is parallel. A photo's real perspective keeps its point nearer, or loses 2-10 % of
    # the length when taken as parallel. Beyond PARALLEL_NEAR's distance the point is left as
    # fitted: it bends rows by under 0.4 mm, and snapping it there only flipped clean pages'
    # grid-top and lead-name readings, both ways (world-style clean layouts 87 -> 81 %).
    inl = _points_at(best, mid, direction, half, tol)
    a = lines[inl][:, :2] * np.sqrt(length[inl])[:, None]
    along = np.linalg.eigh(a.T @ a)[1][:, 0]   # the direction most nearly across every line's normal
    parallel = np.array([along[0], along[1], 0.0])   # the family's direction, met at infinity
    share_parallel = float((length * _points_at(parallel, mid, direction, half, tol)).sum() / length.sum())
    if share_parallel >= share - PARALLEL_SHARE and PARALLEL_NEAR <= abs(best[2]) <= PARALLEL_FAR:
        best = parallel
    vp = np.linalg.inv(norm) @ best
    return vp / np.linalg.norm(vp), share


def _points_at(v: np.ndarray, mid: np.ndarray, direction: np.ndarray, half: np.ndarray,
               tol: float) -> np.ndarray:
    """Which segments (midpoint, unit direction, half length) point at the homogeneous point
    v: their end points lie within ``tol`` of the line from their midpoint to v."""
    to_v = v[:2][None, :] - mid * v[2]
    to_v /= np.linalg.norm(to_v, axis=1, keepdims=True) + 1e-300
    sin = np.abs(to_v[:, 0] * direction[:, 1] - to_v[:, 1] * direction[:, 0])
    return sin * half <= tol


def _normaliser(size: tuple[int, int]) -> np.ndarray:
    """Image px -> coordinates centred on the image, the larger side spanning [-1, 1]."""
    s = 2.0 / max(size)
    return np.array([[s, 0, -s * (size[0] - 1) / 2], [0, s, -s * (size[1] - 1) / 2], [0, 0, 1.0]])


def homography_from_vanishing_points(v1: np.ndarray, v2: np.ndarray, centre: np.ndarray) -> np.ndarray:
    """Image px -> rectified px sending v1 to the x direction and v2 to the y direction,
    with ``centre`` (image px) fixed and one rectified px per image px along both axes there."""
    o = np.array([centre[0], centre[1], 1.0])
    cols = []
    for v, axis in ((v1, 0), (v2, 1)):
        jac = v[:2] - v[2] * o[:2]
        scale = 1.0 / np.linalg.norm(jac)
        cols.append(v * scale * (1.0 if jac[axis] >= 0 else -1.0))
    back = np.column_stack([cols[0], cols[1], o])  # rectified (x, y, 1) -> image
    h = np.linalg.inv(back)
    h = np.array([[1, 0, centre[0]], [0, 1, centre[1]], [0, 0, 1.0]]) @ h
    return h / h[2, 2]


def _framed(h: np.ndarray, region: np.ndarray, size: tuple[int, int], method: str,
            confidence: float, quad: np.ndarray | None) -> Rectification:
    """Shift (and if need be shrink) a homography so ``region`` (image px) fills its output."""
    w, hh = size
    frame = np.array([[0, 0], [w - 1, 0], [w - 1, hh - 1], [0, hh - 1]], np.float64)
    pts = _clip_polygon(region, frame)
    out = apply_homography(h, pts)
    lo, hi = out.min(axis=0), out.max(axis=0)
    extent = np.maximum(hi - lo, 1.0)
    shrink = min(1.0, float(np.sqrt(MAX_AREA_GROWTH * w * hh / (extent[0] * extent[1]))))
    place = np.array([[shrink, 0, -shrink * lo[0]], [0, shrink, -shrink * lo[1]], [0, 0, 1.0]])
    to_rect = place @ h
    out_size = (int(np.ceil(extent[0] * shrink)) + 1, int(np.ceil(extent[1] * shrink)) + 1)
    return Rectification(to_rect / to_rect[2, 2], out_size, method, float(confidence),
                         page_quad_px=quad)


def _clip_polygon(poly: np.ndarray, frame: np.ndarray) -> np.ndarray:
    """The part of a convex polygon inside the image frame (both (N, 2), image px)."""
    inter, pts = cv2.intersectConvexConvex(poly.astype(np.float32), frame.astype(np.float32))
    if pts is None or inter <= 0:
        return frame
    return pts.reshape(-1, 2).astype(np.float64)
