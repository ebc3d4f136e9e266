"""A demo study: studio pages read by simulated readers, small enough for ``make test``.

Each page is a simulated 12-lead ECG printed by the studio (a mix of clean, scanned, shadowed
and photographed pages), carrying some of the study's labels, so that every label has
positives and negatives. Its exact evidence masks (core.synth.masks) are the ground truth;
three simulated readers draw them as people do: coarser (thick strokes or boxes), shifted by
a millimetre or two, partial (segments left out or cut short) and now and then not at all
(status "not_visible" on a page that carries the label). The study is saved "already read":
every reader's annotation of every page is saved with ``reviewed: true``, and study.json
says ``simulated_readers: true`` so that every report made from it says so in its title.

Page ``i`` and each reader's drawing of it depend only on ``(seed, i)`` and the reader's
name: the same seed gives the same study, byte for byte, on every machine.
"""
from __future__ import annotations

import hashlib
import itertools
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from core.atomic import write_jpeg, write_png
from core.labels import LABELS
from core.review import store
from core.review.annotations import Annotations
from core.study.study import STUDY_FILE, Study, init_study
from core.synth.pages import SynthOptions, SynthPage, page_from_sample
from core.synth.simulator import sample_labels, simulate

DEMO_DPI = 100  # Letter at 100 DPI is 1100 x 850 px: a page renders, degrades and saves in ~0.2 s
DOMAIN_CYCLE = ("clean", "photo", "scan", "shadow")  # page i's domain: a mix already at n = 2
SEGMENT_MM = 25.0  # a reader leaves out / boxes / cuts short stretches of about one second of paper


@dataclass(frozen=True)
class ReaderStyle:
    """How a simulated reader draws a label's evidence (lengths in mm on the paper).

    stroke_mm: radius of the brush (the exact masks are the trace dilated to 1.5 mm; a reader's
    brush is wider than the trace). box: chance that a segment is drawn as a box around it
    instead of brushed along it. shift_mm: largest offset of the whole drawing (hand and
    screen parallax). drop: chance that a segment is left out; cut: chance that a kept segment
    is cut short (a reader stops before its end). miss: chance that a label the page carries
    is not marked at all ("not_visible").
    """

    description: str
    stroke_mm: float
    box: float
    shift_mm: float
    drop: float
    cut: float
    miss: float


# Three personalities, cycled over the readers: a careful reader, one who boxes, a hasty one.
STYLES: tuple[ReaderStyle, ...] = (
    ReaderStyle("careful: thin strokes close to the evidence, rarely misses", 0.6, 0.0, 0.6, 0.10, 0.15, 0.05),
    ReaderStyle("coarse: mostly boxes around the evidence, wide strokes", 1.5, 0.7, 1.0, 0.20, 0.20, 0.10),
    ReaderStyle("hasty: shifted, partial, leaves out segments and misses more", 1.0, 0.2, 2.0, 0.45, 0.40, 0.25),
)


def make_demo_study(folder: str | Path, n_images: int = 6, readers: Sequence[str] = ("sim-a", "sim-b", "sim-c"),
                    labels: Sequence[str] = ("AFL", "PVC"), seed: int = 0) -> Study:
    """Write a study of ``n_images`` studio pages read by simulated ``readers`` into ``folder``.

    The folder may exist but must not hold a study yet. Images, then every reader's
    annotation, then study.json are written (each file atomically), so a folder with a
    study.json is a complete study. About 0.2 s a page on one core of this CPU, after ~3 s
    for the first photo (the studio draws its table textures once).
    """
    folder = Path(folder)
    labels = _check(n_images, readers, labels, seed)
    if (folder / STUDY_FILE).exists():
        raise ValueError(f"{folder} already holds a study; choose an empty folder for the demo.")
    folder.mkdir(parents=True, exist_ok=True)
    seen = dict.fromkeys(readers, 0)  # positives each reader has met so far (for their misses)
    images: list[str] = []
    truth: dict[str, dict[str, int | None]] = {}
    for index in range(n_images):
        page = demo_page(index, labels, seed)
        name = f"demo_{index + 1:02d}_{page.domain}{'.jpg' if page.domain == 'photo' else '.png'}"
        path = folder / name
        (write_jpeg if path.suffix == ".jpg" else write_png)(path, page.image)
        sha256 = hashlib.sha256(path.read_bytes()).hexdigest()
        positives = [label for label in labels if page.sample.labels[label] == 1]
        for r, reader in enumerate(readers):
            style = STYLES[r % len(STYLES)]
            missed = {label for j, label in enumerate(positives, start=seen[reader])
                      if is_missed(j, style.miss, _miss_start(seed, reader))}
            seen[reader] += len(positives)
            annotations = draw_reader(page, labels, style, _reader_rng(seed, index, reader), missed)
            store.save(store.annotation_folder(path, reader), annotations, reader=reader, image_name=name,
                       image_sha256=sha256, page=1, model_version=None, reviewed=True, blinded=True)
        images.append(name)
        truth[name] = {label: page.sample.labels[label] for label in labels}
    notes = {reader: f"simulated reader ({STYLES[r % len(STYLES)].description}); masks are the studio's "
                     "exact evidence masks perturbed as people draw"
             for r, reader in enumerate(readers)}
    return init_study(folder, labels, tuple(readers), blinded=True, seed=seed,
                      name=f"demo: {n_images} studio pages", images=images,
                      simulated_readers=True, reader_notes=notes, truth=truth)


def demo_page(index: int, labels: Sequence[str], seed: int = 0) -> SynthPage:
    """Page ``index`` of the demo study in memory, with its exact evidence masks.

    Its study labels follow ``label_patterns(labels)`` in turn (each label alone, all together,
    none, ...), its domain ``DOMAIN_CYCLE``; the rest (the other labels, the patient, the
    paper, the degradation) is drawn from ``(seed, index)``.
    """
    labels = tuple(labels)
    patterns = label_patterns(labels)
    wanted = patterns[index % len(patterns)]
    rng = np.random.default_rng([seed, index])
    keys = _draw_keys(wanted, labels, rng)
    domain = DOMAIN_CYCLE[index % len(DOMAIN_CYCLE)]
    options = SynthOptions(domain=domain, dpi=DEMO_DPI)
    return page_from_sample(simulate(keys, rng), options, rng, page_id=f"demo{seed}_{index:03d}",
                            seed=[seed, index])


@lru_cache(maxsize=32)
def label_patterns(labels: tuple[str, ...]) -> tuple[frozenset[str], ...]:
    """The combinations of study labels the demo's pages carry, in order: each label alone,
    all of them together, none, then the other combinations; those the simulator cannot make
    (AF with AFL; PAC or IAVB without SR) are left out."""
    singles = [frozenset({label}) for label in labels]
    others = [frozenset(c) for k in range(2, len(labels)) for c in itertools.combinations(labels, k)]
    ordered = dict.fromkeys([*singles, frozenset(labels), frozenset(), *others])
    probe = np.random.default_rng(0)
    return tuple(p for p in ordered if _draw_keys(p, labels, probe, tries=5000, strict=False) is not None)


def draw_reader(page: SynthPage, labels: Sequence[str], style: ReaderStyle,
                rng: np.random.Generator, missed: Collection[str] = ()) -> Annotations:
    """One simulated reader's annotation of a page: a perturbed mask and "annotated" for each
    study label the page shows, "not_visible" for the labels it does not carry and those in
    ``missed``, and "not_assessable" for a label the page carries without printed evidence."""
    w, h = page.geometry.image_size
    annotations = Annotations((w, h))
    px_per_mm = float(np.mean(page.geometry.px_per_mm_xy or (w / 280.0, w / 280.0)))
    for label in labels:
        truth = page.masks.get(label)
        if page.sample.labels[label] != 1 or label in missed:
            annotations.set_status(label, "not_visible")
        elif truth is None or not truth.any():
            annotations.set_status(label, "not_assessable")
        else:
            annotations.set_mask(label, perturb_mask(truth, style, px_per_mm, rng))
            annotations.set_status(label, "annotated")
    return annotations


def is_missed(j: int, rate: float, start: float) -> bool:
    """Whether a reader misses their ``j``-th positive (0-based, in page order): systematic
    sampling at ``rate`` from a random ``start`` in [0, 1). Of any first n positives,
    floor(n * rate + start) are missed, so a six-page demo shows misses at the stated rate
    rather than by luck (independent draws at 5-25 % left seed 0's demo with none), and a
    longer demo's first pages are read exactly as a shorter one's."""
    return int(np.floor((j + 1) * rate + start)) > int(np.floor(j * rate + start))


def perturb_mask(truth: np.ndarray, style: ReaderStyle, px_per_mm: float, rng: np.random.Generator) -> np.ndarray:
    """The exact evidence mask (H, W, nonzero = evidence) as a reader of ``style`` draws it:
    (H, W) bool. A segment is one connected piece of the mask (an evidence interval in one
    printed lead) within one second of paper (25 mm): a rhythm strip's flutter waves run into
    each other once dilated, and a reader leaves out or boxes stretches, not whole strips. At
    least one segment is always kept."""
    n, components, stats, _ = cv2.connectedComponentsWithStats((truth > 0).astype(np.uint8), connectivity=8)
    step = max(1, round(SEGMENT_MM * px_per_mm))
    segments = [(c, x0, min(x0 + step, int(stats[c, 0] + stats[c, 2])))
                for c in range(1, n) for x0 in range(int(stats[c, 0]), int(stats[c, 0] + stats[c, 2]), step)]
    kept = [seg for seg in segments if rng.random() >= style.drop] or [segments[int(rng.integers(len(segments)))]]
    strokes = np.zeros(truth.shape, np.uint8)  # brushed: the segment's pixels, widened by the brush
    boxes = np.zeros(truth.shape, np.uint8)  # boxed: a rectangle around the segment, one brush wider
    radius = max(1, round(style.stroke_mm * px_per_mm * rng.uniform(0.7, 1.3)))
    for c, x0, x1 in kept:
        if rng.random() < style.cut:  # stops short: 50-90 % of the segment's width, from one end
            keep = max(1, round((x1 - x0) * rng.uniform(0.5, 0.9)))
            x0, x1 = (x0, x0 + keep) if rng.random() < 0.5 else (x1 - keep, x1)
        piece = components[:, x0:x1] == c
        if rng.random() < style.box:
            rows = np.flatnonzero(piece.any(axis=1))
            if len(rows):
                top_left, bottom_right = (x0 - radius, int(rows[0]) - radius), (x1 - 1 + radius, int(rows[-1]) + radius)
                cv2.rectangle(boxes, top_left, bottom_right, 1, -1)
        else:
            strokes[:, x0:x1] |= piece.astype(np.uint8)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    drawn = cv2.dilate(strokes, kernel) | boxes
    angle, r = rng.uniform(0, 2 * np.pi), rng.uniform(0.3, 1.0) * style.shift_mm * px_per_mm
    shift = np.float32([[1, 0, r * np.cos(angle)], [0, 1, r * np.sin(angle)]])
    moved = cv2.warpAffine(drawn, shift, (truth.shape[1], truth.shape[0]), flags=cv2.INTER_NEAREST)
    return moved > 0


def _draw_keys(wanted: frozenset[str], labels: tuple[str, ...], rng: np.random.Generator, tries: int = 5000,
               strict: bool = True) -> frozenset[str] | None:
    """A simulator label set whose study labels are exactly ``wanted`` (rejection sampling
    from the studio's own label mix, so the other labels stay as varied as in training)."""
    for _ in range(tries):
        keys = sample_labels(rng)
        if keys & set(labels) == wanted:
            return keys
    if strict:
        raise ValueError(f"the simulator cannot make a page with exactly {', '.join(sorted(wanted)) or 'none'} "
                         f"of {', '.join(labels)}")
    return None


def _reader_rng(seed: int, index: int, reader: str) -> np.random.Generator:
    """The reader's own random stream for one page, stable across machines (sha256, not hash())."""
    digest = hashlib.sha256(f"{seed}:{index}:{reader}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def _miss_start(seed: int, reader: str) -> float:
    """Where in [0, 1) the reader's systematic misses start (``is_missed``), one per reader."""
    digest = hashlib.sha256(f"{seed}:{reader}:misses".encode()).digest()
    return int.from_bytes(digest[:8], "little") / 2.0**64


def _check(n_images: int, readers: Sequence[str], labels: Sequence[str], seed: int) -> tuple[str, ...]:
    """The labels in core.labels order, after refusing (one sentence) what init_study would
    refuse only once every page is written."""
    if n_images < 1:
        raise ValueError("a demo study needs at least one page.")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"the demo's seed must be a whole number >= 0, not {seed!r}.")
    folders = [store.safe_reader_name(reader).casefold() for reader in readers]
    if not folders or len(set(folders)) != len(folders):
        raise ValueError("a demo study needs at least one simulated reader, each with a distinct name.")
    unknown = [label for label in labels if label not in LABELS]
    if unknown or not labels:
        raise ValueError(f"the demo study's labels must be among {', '.join(LABELS)}, "
                         f"not {', '.join(unknown) or 'none'}.")
    return tuple(label for label in LABELS if label in labels)


__all__ = ["STYLES", "ReaderStyle", "demo_page", "draw_reader", "is_missed", "label_patterns", "make_demo_study",
           "perturb_mask"]
