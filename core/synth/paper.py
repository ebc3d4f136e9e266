"""What a printed 12-lead ECG page looks like: paper, grid, layout, and where each panel lies.

Page coordinates are millimetres on the paper, origin at its top-left corner, x right, y down
(``core.page.geometry``). Conventions (ECG_FACTS.md "Paper"):

- 3x4: rows (I, aVR, V1, V4), (II, aVL, V2, V5), (III, aVF, V3, V6); column c prints seconds
  c*T/4 .. (c+1)*T/4 of the row time T, so a column's leads are simultaneous. '3x4+1' and
  '3x4+3' add 10-s rhythm strips (default II, or V1, II, V5) in rows of their own.
- 6x2: limb leads in the left column (first half of T), precordial leads in the right (second half).
- 12x1: every lead over the whole row time T, one per row.
- Cabrera: limb leads in the order aVL, I, -aVR, II, aVF, III. The -aVR panel keeps
  ``Panel.lead == 'aVR'`` but prints the inverted signal; the geometry says so by its layout name
  ``'cabrera-<layout>'`` and ``core.labels.lead_sign`` gives the sign to print (and to read back) with.

Speed: the row time T is the record's duration at 25 mm/s (10 s -> 250 mm). At 50 mm/s a row
holds only half of it (10 s record -> its first 5 s, 250 mm): every layout may use 50 mm/s, its
panels then print the first half of the record (3x4 columns of 1.25 s, 5-s rhythm strips).
Evidence in the unprinted half has no place on the page, so ``random_spec`` draws 50 mm/s rarely.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from core.labels import CABRERA_LIMB, DEFAULT_RHYTHM, LEADS, PRECORDIAL, STANDARD_LIMB
from core.page.geometry import Panel

LAYOUTS: tuple[str, ...] = ("3x4", "3x4+1", "3x4+3", "6x2", "12x1")
PAPERS: dict[str, tuple[float, float]] = {"letter": (279.0, 216.0), "a4": (297.0, 210.0)}
GRID_COLOURS: tuple[str, ...] = ("red", "pink", "orange", "green", "blue", "grey", "none")
GAINS: tuple[float, ...] = (5.0, 10.0, 20.0)
SPEEDS: tuple[float, ...] = (25.0, 50.0)
TRACE_COLOURS: dict[str, tuple[int, int, int]] = {"black": (20, 20, 20), "blue": (25, 35, 110)}
CAL_PULSE_S = 0.2  # the calibration pulse is 1 mV for 200 ms
# How other machines print (``core.synth.styles``). The first of each is the studio's own look,
# the default, so a spec that names none of them prints exactly as before.
GRID_STYLES: tuple[str, ...] = ("lines", "dotted", "dots", "faint", "major")
HEADER_STYLES: tuple[str, ...] = ("studio", "machine")
COPIES: tuple[str, ...] = ("none", "grey", "bw", "halftone")
LABEL_POSITIONS: tuple[str, ...] = ("top", "below", "above", "inline")
SEPARATOR_STYLES: tuple[str, ...] = ("tick", "dotted")
FONT_NAMES: tuple[str, ...] = ("sans", "serif", "plain", "duplex", "triplex", "small")
ROW_PAD_MM = 2.0  # free grid above the first and below the last row


@dataclass(frozen=True)
class PaperSpec:
    """How one ECG page is printed.

    layout: one of LAYOUTS. cabrera: limb leads in Cabrera order with aVR printed inverted.
    paper: 'letter' (279 x 216 mm) or 'a4' (297 x 210 mm), landscape. dpi: px per inch of the
    full-page render (100-300). speed_mm_s: 25 or 50. gain_mm_mv: 5, 10 or 20.
    grid_colour: one of GRID_COLOURS ('none' = plain paper). trace_width_mm: 0.15-0.5.
    trace_colour: 'black' or 'blue'. header: print a line or block of measurements above the grid.
    rhythm_leads: rhythm strip leads, None = the layout's default (II for 3x4+1; V1, II, V5 for
    3x4+3; none otherwise). margins_mm: (left, top, right, bottom) paper left around the grid
    (mm). grid_offset_mm: (dx, dy) of the first grid line from the grid area's top-left (mm, 0-5).
    paper_rgb: paper colour. label_position: lead names 'top' (above the trace, at the panel's
    top-left), 'below' (under the baseline, as GE machines print them), 'above' (a few mm above
    the baseline at the panel start, as GE MUSE prints) or 'inline' (on the baseline right at the
    panel start, standing on the trace, as Philips prints). separators: marks between 3x4 columns.
    font: one of FONT_NAMES (OpenCV Hershey fonts). baseline_frac: where the baseline sits in a
    row (0 = top, 1 = bottom).

    The printing style of other machines (all defaults = the studio's own look, pixel for pixel):
    grid_style: one of GRID_STYLES — 'lines' (1-mm and 5-mm lines), 'dotted' (1-mm grid as dots,
    5-mm lines solid, as Philips paper), 'dots' (1-mm dots and dashed 5-mm lines), 'faint'
    (low-contrast 1-mm lines), 'major' (5-mm lines only). header_style: 'studio' (one line or a
    block of measurements) or 'machine' (patient fields, a measurement block, interpretation
    statements, a QR code or barcode, a filter footer; ``core.synth.styles``). copy: one of
    COPIES — 'grey' (greyscale photocopy), 'bw' (thresholded black and white), 'halftone'
    (dithered black and white). toner_streaks: a copier's dark streaks and faded bands.
    separator_style: 'tick' (short ticks at the baseline) or 'dotted' (dotted lines through the
    whole row). text_scale: lead names and header text this much larger (0.7-1.5).
    style_seed: seeds the style's own random content (header fields, dithering, streaks), so a
    spec alone reproduces its page.
    """

    layout: str = "3x4+1"
    cabrera: bool = False
    paper: str = "letter"
    dpi: int = 150
    speed_mm_s: float = 25.0
    gain_mm_mv: float = 10.0
    grid_colour: str = "red"
    trace_width_mm: float = 0.3
    trace_colour: str = "black"
    header: bool = True
    rhythm_leads: tuple[str, ...] | None = None
    margins_mm: tuple[float, float, float, float] = (5.0, 32.0, 5.0, 10.0)
    grid_offset_mm: tuple[float, float] = (0.0, 0.0)
    paper_rgb: tuple[int, int, int] = (255, 255, 255)
    label_position: str = "top"
    separators: bool = True
    font: str = "sans"
    baseline_frac: float = 0.6
    grid_style: str = "lines"
    header_style: str = "studio"
    copy: str = "none"
    toner_streaks: bool = False
    separator_style: str = "tick"
    text_scale: float = 1.0
    style_seed: int = 0

    def __post_init__(self) -> None:
        if self.rhythm_leads is None:
            object.__setattr__(self, "rhythm_leads", DEFAULT_RHYTHM.get(self.layout, ()))
        object.__setattr__(self, "rhythm_leads", tuple(self.rhythm_leads or ()))
        for name, value, allowed in (
            ("layout", self.layout, LAYOUTS), ("paper", self.paper, tuple(PAPERS)),
            ("grid_colour", self.grid_colour, GRID_COLOURS), ("speed_mm_s", self.speed_mm_s, SPEEDS),
            ("gain_mm_mv", self.gain_mm_mv, GAINS), ("trace_colour", self.trace_colour, tuple(TRACE_COLOURS)),
            ("label_position", self.label_position, LABEL_POSITIONS), ("font", self.font, FONT_NAMES),
            ("grid_style", self.grid_style, GRID_STYLES), ("header_style", self.header_style, HEADER_STYLES),
            ("copy", self.copy, COPIES), ("separator_style", self.separator_style, SEPARATOR_STYLES),
        ):
            if value not in allowed:
                raise ValueError(f"{name} {value!r} is not one of {', '.join(map(str, allowed))}")
        if not 50 <= self.dpi <= 600:
            raise ValueError(f"dpi {self.dpi} is out of range 50-600")
        if not 0.1 <= self.trace_width_mm <= 0.6:
            raise ValueError(f"trace_width_mm {self.trace_width_mm} is out of range 0.1-0.6")
        if not 0.7 <= self.text_scale <= 1.5:
            raise ValueError(f"text_scale {self.text_scale} is out of range 0.7-1.5")
        unknown = set(self.rhythm_leads) - set(LEADS)  # type: ignore[arg-type]
        if unknown:
            raise ValueError(f"unknown rhythm lead(s) {sorted(unknown)}")
        wanted = {"3x4": 0, "3x4+1": 1, "3x4+3": 3}.get(self.layout, 0)
        if len(self.rhythm_leads) != wanted:  # type: ignore[arg-type]
            raise ValueError(f"layout {self.layout} prints {wanted} rhythm strip(s), got {self.rhythm_leads}")

    @property
    def size_mm(self) -> tuple[float, float]:
        """(width, height) of the paper in mm, landscape."""
        return PAPERS[self.paper]

    @property
    def layout_name(self) -> str:
        """The geometry's layout name: '3x4+1', or 'cabrera-3x4+1' when limb leads are Cabrera."""
        return f"cabrera-{self.layout}" if self.cabrera else self.layout

    @property
    def grid_box_mm(self) -> tuple[float, float, float, float]:
        """(x0, y0, x1, y1) of the printed grid on the paper (mm)."""
        w, h = self.size_mm
        left, top, right, bottom = self.margins_mm
        return (left, top, w - right, h - bottom)

    def to_json(self) -> dict[str, Any]:
        return {f.name: (list(v) if isinstance(v := getattr(self, f.name), tuple) else v) for f in fields(self)}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "PaperSpec":
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})


def row_time_s(spec: PaperSpec, duration_s: float = 10.0) -> float:
    """Seconds one row prints: the whole record at 25 mm/s, half of it at 50 mm/s."""
    return duration_s * min(1.0, 25.0 / spec.speed_mm_s)


def cal_lead_in_mm(spec: PaperSpec) -> float:
    """Width (mm) left of each row's first panel for its calibration pulse (1 mm + pulse + 2 mm)."""
    return 1.0 + CAL_PULSE_S * spec.speed_mm_s + 2.0


def _rows(spec: PaperSpec, row_s: float) -> list[list[tuple[str, float, float]]]:
    """Each printed row as [(lead, t0_s, t1_s), ...] from left to right."""
    limb = CABRERA_LIMB if spec.cabrera else STANDARD_LIMB
    if spec.layout == "12x1":
        return [[(lead, 0.0, row_s)] for lead in (*limb, *PRECORDIAL)]
    if spec.layout == "6x2":
        half = row_s / 2
        return [[(a, 0.0, half), (b, half, row_s)] for a, b in zip(limb, PRECORDIAL)]
    col_s = row_s / 4
    columns = (limb[:3], limb[3:], PRECORDIAL[:3], PRECORDIAL[3:])
    rows = [[(columns[c][r], c * col_s, (c + 1) * col_s) for c in range(4)] for r in range(3)]
    return rows + [[(lead, 0.0, row_s)] for lead in spec.rhythm_leads]  # type: ignore[union-attr]


def row_pitch_mm(spec: PaperSpec, n_rows: int) -> float:
    """Height (mm) of one row: the grid height shared out, at most 4 mV (>= 40 mm) per row."""
    x0, y0, x1, y1 = spec.grid_box_mm
    shared = (y1 - y0 - 2 * ROW_PAD_MM) / n_rows
    return min(shared, max(40.0, 4.0 * spec.gain_mm_mv))


def layout_panels(spec: PaperSpec, duration_s: float = 10.0) -> tuple[Panel, ...]:
    """The printed panels of a page, in paper mm, row by row, left to right.

    Panel boxes of a row are contiguous (column c ends where c+1 begins) and span the row's
    height; rhythm strips are rows of their own (col 0). Raises ValueError if the rows do not
    fit the grid area.
    """
    row_s = row_time_s(spec, duration_s)
    rows = _rows(spec, row_s)
    gx0, gy0, gx1, gy1 = spec.grid_box_mm
    x_start = gx0 + cal_lead_in_mm(spec)
    if x_start + row_s * spec.speed_mm_s > gx1 + 1e-9:
        raise ValueError(f"{row_s:g} s at {spec.speed_mm_s:g} mm/s does not fit the grid width {gx1 - gx0:.0f} mm")
    pitch = row_pitch_mm(spec, len(rows))
    if pitch < 10.0:
        raise ValueError(f"{len(rows)} rows do not fit the grid height {gy1 - gy0:.0f} mm")
    panels = []
    for r, row in enumerate(rows):
        top = gy0 + ROW_PAD_MM + r * pitch
        baseline = top + spec.baseline_frac * pitch
        for c, (lead, t0, t1) in enumerate(row):
            x0 = x_start + t0 * spec.speed_mm_s
            box = (x0, top, x0 + (t1 - t0) * spec.speed_mm_s, top + pitch)
            panels.append(Panel(lead=lead, row=r, col=c, t0_s=t0, t1_s=t1,
                                box_mm=tuple(round(v, 6) for v in box),  # type: ignore[arg-type]
                                baseline_mm=round(baseline, 6)))
    return tuple(panels)


# ---- random specs -----------------------------------------------------------------------
def _choice(rng: np.random.Generator, options: tuple[Any, ...], p: tuple[float, ...]) -> Any:
    return options[int(rng.choice(len(options), p=np.asarray(p) / np.sum(p)))]


def _draw_layout(rng: np.random.Generator) -> str:
    return _choice(rng, LAYOUTS, (0.15, 0.40, 0.25, 0.12, 0.08))


def _draw_gain(rng: np.random.Generator, layout: str) -> float:
    if layout == "12x1":
        return _choice(rng, GAINS, (0.75, 0.25, 0.0))
    if layout in ("3x4", "3x4+1"):
        return _choice(rng, GAINS, (0.08, 0.82, 0.10))
    return _choice(rng, GAINS, (0.10, 0.90, 0.0))


def _draw_margins(rng: np.random.Generator, paper: str, header: bool, speed: float) -> tuple[float, ...]:
    """Side margins leave room for 8-13 mm of calibration lead-in plus 250 mm of trace."""
    width = PAPERS[paper][0]
    spare = width - 250.0 - (1.0 + CAL_PULSE_S * speed + 2.0)
    side = spare - rng.uniform(min(2.0, spare), min(10.0, spare))
    left = float(rng.uniform(0.25, 0.6) * side)
    top = float(rng.uniform(24.0, 42.0) if header else rng.uniform(3.0, 14.0))
    bottom = float(rng.uniform(3.0, 14.0))
    return (round(left, 2), round(top, 2), round(side - left, 2), round(bottom, 2))


def _draw_paper_rgb(rng: np.random.Generator) -> tuple[int, int, int]:
    if rng.random() < 0.6:
        return (255, 255, 255)
    tint = rng.uniform(0.0, 1.0)
    return (int(255 - 3 * tint), int(253 - 5 * tint), int(250 - 14 * tint))


def random_spec(rng: np.random.Generator, **fixed: Any) -> PaperSpec:
    """A realistic, varied paper spec; any field named in ``fixed`` is used as given.

    ``layout='cabrera-3x4+1'`` is read as layout '3x4+1' with cabrera=True. Mostly 3x4+1 and
    3x4+3 at 25 mm/s and 10 mm/mV; 12x1 mostly at 5 mm/mV; 20 mm/mV only where rows are tall
    enough (3x4, 3x4+1); 50 mm/s in about 4 % of pages.
    """
    fixed = dict(fixed)
    unknown = set(fixed) - {f.name for f in fields(PaperSpec)}
    if unknown:
        raise TypeError(f"PaperSpec has no field(s) {', '.join(sorted(unknown))}")
    if str(fixed.get("layout", "")).startswith("cabrera-"):
        fixed["layout"] = fixed["layout"][len("cabrera-"):]
        fixed["cabrera"] = True

    def pick(name: str, draw: Any) -> Any:
        return fixed[name] if name in fixed else draw()

    layout = pick("layout", lambda: _draw_layout(rng))
    paper = pick("paper", lambda: _choice(rng, ("letter", "a4"), (0.55, 0.45)))
    header = pick("header", lambda: bool(rng.random() < 0.7))
    speed = pick("speed_mm_s", lambda: _choice(rng, SPEEDS, (0.96, 0.04)))
    return PaperSpec(
        layout=layout,
        cabrera=pick("cabrera", lambda: bool(rng.random() < 0.08)),
        paper=paper,
        dpi=pick("dpi", lambda: int(rng.choice((100, 150, 200, 300), p=(0.2, 0.35, 0.3, 0.15)))),
        speed_mm_s=speed,
        gain_mm_mv=pick("gain_mm_mv", lambda: _draw_gain(rng, layout)),
        grid_colour=pick("grid_colour", lambda: _choice(
            rng, GRID_COLOURS, (0.30, 0.25, 0.15, 0.07, 0.08, 0.10, 0.05))),
        trace_width_mm=pick("trace_width_mm", lambda: round(float(rng.uniform(0.15, 0.5)), 3)),
        trace_colour=pick("trace_colour", lambda: _choice(rng, tuple(TRACE_COLOURS), (0.85, 0.15))),
        header=header,
        rhythm_leads=pick("rhythm_leads", lambda: None),
        margins_mm=pick("margins_mm", lambda: _draw_margins(rng, paper, header, speed)),
        grid_offset_mm=pick("grid_offset_mm", lambda: (
            (0.0, 0.0) if rng.random() < 0.5 else tuple(round(float(v), 2) for v in rng.uniform(0, 5, 2)))),
        paper_rgb=pick("paper_rgb", lambda: _draw_paper_rgb(rng)),
        label_position=pick("label_position", lambda: _choice(rng, ("top", "below"), (0.5, 0.5))),
        separators=pick("separators", lambda: bool(rng.random() < 0.6)),
        font=pick("font", lambda: _choice(rng, ("sans", "serif"), (0.5, 0.5))),
        baseline_frac=pick("baseline_frac", lambda: round(float(rng.uniform(0.5, 0.65)), 3)),
    )
