"""Synthetic ECG pages: signal source -> paper -> evidence masks -> degradation, in memory or on disk.

``pages(options)`` yields the same pages that ``write_pages`` (``ecg-aio synth``) writes, so
training renders on the fly without the disk. Page ``i`` of a run depends only on
``(options.seed, i)``: any page can be regenerated alone.
"""
from __future__ import annotations

import hashlib
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from core.atomic import OutputSet, write_jpeg, write_json, write_npy, write_png
from core.labels import LABELS, LEADS, parse_label_list
from core.page import Geometry
from core.synth.degrade import DOMAINS, degrade
from core.synth.masks import label_masks
from core.synth.paper import PaperSpec, random_spec
from core.synth.render import render_page
from core.synth.sample import EcgSample
from core.synth.simulator import sample_labels, simulate
from core.synth.styles import STYLE_FIELDS, random_style

SCHEMA = "ecg-aio/synth@1"
SOURCES = ("sim", "records", "mix")
SPLITS = ("train", "eval", "fit", "val")
STYLES = ("studio", "world")
STYLE_STREAM = zlib.crc32(b"style")  # page (seed, index, STYLE_STREAM) draws a 'world' page's style


@dataclass(frozen=True)
class SynthOptions:
    """What to render. labels: comma-separated keys every page must carry (or None).

    domain: one of DOMAINS or 'mix'. layout/dpi: fixed paper choices or None for random.
    source: 'sim', 'records' or 'mix' (records with probability record_share). split: which
    records a record source draws from: 'train', 'eval', or the two parts of train used while
    training, 'fit' and 'val' (``in_split``). size: (W, H) px to render straight to, or None for
    the paper at its dpi. styles: 'studio' (the studio's own printing, as always) or 'world' (the
    grids, headers, label places and photocopies of other machines, ``core.synth.styles``). A
    'world' page draws its style from a generator of its own, seeded by (seed, index, 'style'),
    so it keeps the signal, paper, domain and degradation of the same page in 'studio'.
    """

    n: int = 1
    seed: int = 0
    labels: str | None = None
    domain: str = "mix"
    layout: str | None = None
    dpi: int | None = None
    source: str = "sim"
    split: str = "train"
    size: tuple[int, int] | None = None
    record_share: float = 0.5
    styles: str = "studio"

    def __post_init__(self) -> None:
        if self.n < 1:
            raise ValueError("the number of pages (-n) must be at least 1")
        if self.domain not in (*DOMAINS, "mix"):
            raise ValueError(f"unknown domain {self.domain!r}; use one of {', '.join(DOMAINS)} or mix")
        if self.source not in SOURCES:
            raise ValueError(f"unknown source {self.source!r}; use sim, records or mix")
        if self.split not in SPLITS:
            raise ValueError(f"unknown split {self.split!r}; use one of {', '.join(SPLITS)}")
        if self.styles not in STYLES:
            raise ValueError(f"unknown styles {self.styles!r}; use studio or world")
        if self.dpi is not None and not 50 <= self.dpi <= 600:
            raise ValueError(f"dpi {self.dpi} is out of range; use 50-600 (typical 100-300)")
        if self.size is not None and not all(64 <= v <= 10000 for v in self.size):
            raise ValueError("size must be between 64 and 10000 px on each side")
        parse_label_list(self.labels or "")  # raises on unknown keys


@dataclass(frozen=True)
class SynthPage:
    """One rendered page with everything known about it.

    image: (H, W, 3) uint8. geometry: exact, after degradation. masks: {label: (H, W) uint8 0/255}
    for present labels with evidence. sample: the printed signal, labels and evidence.
    """

    id: str
    seed: list[int]
    image: np.ndarray
    sample: EcgSample
    domain: str
    geometry: Geometry
    paper: dict[str, Any]
    masks: dict[str, np.ndarray] = field(default_factory=dict)
    degradation: dict[str, Any] = field(default_factory=dict)

    def sidecar(self, image_file: str) -> dict[str, Any]:
        """The ``ecg-aio/synth@1`` JSON that describes this page (DESIGN.md)."""
        s = self.sample
        return {
            "schema": SCHEMA, "id": self.id, "seed": self.seed, "image": image_file,
            "labels": {k: s.labels[k] for k in LABELS},
            "source": s.source, "domain": self.domain,
            "layout": self.geometry.layout, "dpi": self.paper.get("dpi"),
            "paper": self.paper, "geometry": self.geometry.to_json(),
            "signals": {"fs": s.fs, "leads": list(LEADS), "file": f"{self.id}_signals.npy"},
            "evidence": {k: [e.to_json() for e in v] for k, v in s.evidence.items()},
            "masks": {k: f"{self.id}_mask_{k}.png" for k in self.masks},
            "degradation": self.degradation,
        }


def make_page(options: SynthOptions, index: int) -> SynthPage:
    """Render page ``index`` of the run described by ``options`` (deterministic)."""
    seed = [options.seed, index]
    rng = np.random.default_rng(seed)
    return page_from_sample(draw_signal(options, rng), options, rng, page_id=f"s{options.seed}_{index:06d}",
                            seed=seed)


def page_from_sample(sample: EcgSample, options: SynthOptions, rng: np.random.Generator,
                     page_id: str, seed: list[int]) -> SynthPage:
    """Print a given signal on random paper, draw its evidence masks, then degrade it all."""
    fixed = {k: v for k, v in (("layout", options.layout), ("dpi", options.dpi)) if v is not None}
    spec = random_spec(rng, **fixed)
    if options.styles == "world":  # own generator: rng is drawn exactly as for a studio page
        spec = replace(spec, **random_style(np.random.default_rng([*seed, STYLE_STREAM])))
    page = render_page(sample, spec, rng, size=options.size)
    masks = label_masks(sample, page.geometry)
    domain = options.domain if options.domain != "mix" else str(rng.choice(DOMAINS))
    degraded = degrade(page.image, domain, rng, out_size=options.size)
    warp = degraded.warp
    return SynthPage(
        id=page_id, seed=seed, image=degraded.image, sample=sample,
        domain=domain, geometry=warp.apply_geometry(page.geometry),
        paper=_paper_json(spec, styled=options.styles != "studio"),
        masks={k: warp.apply_mask(m) for k, m in masks.items()}, degradation=degraded.params,
    )


def pages(options: SynthOptions, start: int = 0) -> Iterator[SynthPage]:
    """Yield pages ``start .. options.n - 1`` in memory."""
    for i in range(start, options.n):
        yield make_page(options, i)


def write_pages(out: str | Path, options: SynthOptions,
                progress: Callable[[int], None] | None = None) -> list[Path]:
    """Write ``options.n`` pages and their sidecars into ``out`` (atomically; all or nothing)."""
    written: list[Path] = []
    with OutputSet(out) as files:
        for i, page in enumerate(pages(options)):
            written.append(write_page(files, page))
            if progress:
                progress(i + 1)
    return written


def write_page(files: OutputSet, page: SynthPage) -> Path:
    """Write one page: image, sidecar JSON, signals .npy and one PNG per mask."""
    ext = ".jpg" if page.domain == "photo" else ".png"
    image_path = files.path(page.id + ext)
    (write_jpeg if ext == ".jpg" else write_png)(image_path, page.image)
    write_npy(files.path(f"{page.id}_signals.npy"), page.sample.signals.astype(np.float32))
    for label, mask in page.masks.items():
        write_png(files.path(f"{page.id}_mask_{label}.png"), mask)
    write_json(files.path(page.id + ".json"), page.sidecar(image_path.name))
    return files.target(image_path.name)


# ---- signal sources ------------------------------------------------------------------
def draw_signal(options: SynthOptions, rng: np.random.Generator) -> EcgSample:
    """The signal of one page: simulated, or a real record of ``options.split``, with the required labels."""
    required = set(parse_label_list(options.labels or ""))
    use_records = options.source == "records" or (options.source == "mix" and rng.random() < options.record_share)
    if use_records:
        return _record_sample(options.split, frozenset(required), rng)
    return simulate(_sim_labels(required, rng), rng)


def _sim_labels(required: set[str], rng: np.random.Generator) -> frozenset[str]:
    """A consistent random label set that contains ``required`` (rejection sampling)."""
    for _ in range(500):
        labels = sample_labels(rng)
        if required <= labels:
            return labels
    raise ValueError(f"the simulator cannot make a page with all of {', '.join(sorted(required))} together")


@lru_cache(maxsize=4)
def record_rows(split: str, required: frozenset[str] = frozenset()) -> tuple[Any, ...]:
    """The labels.csv rows of ``split`` that carry every label in ``required``."""
    from core.io.records import read_labels

    rows = tuple(r for r in read_labels() if in_split(r.split, r.record, split)
                 and all(r.labels[k] == 1 for k in required))
    if not rows:
        raise ValueError(f"no {split} record carries all of {', '.join(sorted(required))}")
    return rows


def in_split(record_split: str, record: str, split: str) -> bool:
    """Is a record in ``split``? 'fit' and 'val' partition 'train' (val ≈ 20 %, fixed by a hash
    of the record id) so models and thresholds are chosen without touching 'eval'."""
    if split in ("train", "eval"):
        return record_split == split
    if record_split != "train":
        return False
    is_val = int(hashlib.sha1(record.encode()).hexdigest(), 16) % 5 == 0
    return is_val == (split == "val")


def _record_sample(split: str, required: frozenset[str], rng: np.random.Generator) -> EcgSample:
    from core.synth.from_record import sample_from_record

    rows = record_rows(split, required)
    return sample_from_record(rows[int(rng.integers(len(rows)))])


def _paper_json(spec: PaperSpec, styled: bool = False) -> dict[str, Any]:
    """The sidecar's paper; a styled page adds its style fields (studio sidecars stay as they were)."""
    paper = {
        "size": spec.paper, "dpi": spec.dpi, "grid_colour": spec.grid_colour,
        "speed_mm_s": spec.speed_mm_s, "gain_mm_mv": spec.gain_mm_mv,
        "layout": spec.layout, "cabrera": spec.cabrera,
    }
    if styled:
        paper.update({k: getattr(spec, k) for k in STYLE_FIELDS})
    return paper


__all__ = ["SynthOptions", "SynthPage", "make_page", "pages", "write_pages"]
