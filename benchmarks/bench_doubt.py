"""When should the network's calls be withheld? Candidate rules measured on the shared real
images, on `val` printed as photographs, and on pictures that are not ECGs.

    .venv/bin/python benchmarks/bench_doubt.py [--renders 3]

For each rule: (a) the real photographs (and the other real images) whose calls it withholds,
and on the ECG-Paper-1K photos of NORM records (PTB-XL statements, ``SOURCES.csv``) how many
kept calls are right (SR and no rhythm or conduction finding) or wrong; (b) on every `val`
record printed ``--renders`` times as a phone photo at 2400 x 1200 px and read as the app reads
a file (the page reader on the full image, the network on its letterbox), the share withheld and
the macro AUROC of the pages kept, withheld and all; (c) whether it withholds five pictures that
are not ECGs (uniform noise, smooth colour blobs, a fur-like texture, a page of text, empty ECG
paper). Score cut-offs are set on those `val` photos (the value that withholds 10 % of them),
never on the real images. All at the card's thresholds, with the shipped network on the CPU;
readings are cached under ``cache/bench_doubt/`` (gitignored).
"""
from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_real_images import FINDINGS, statements  # noqa: E402

from core.labels import LABELS  # noqa: E402
from core.train.metrics import label_report  # noqa: E402

CACHE = ROOT / "cache" / "bench_doubt"
VAL_SHARE = 0.10  # score cut-offs withhold this share of the val photo prints
VAL_SIZE = (2400, 1200)  # val printed as photos this large: the page reader gets a phone photo's detail


@dataclass
class Pages:
    """Per page: probs (N, 8); is_ecg, panels (lead panels found), calibration (the page
    reader's scale confidence, NaN without geometry)."""

    probs: np.ndarray
    is_ecg: np.ndarray
    panels: np.ndarray
    calibration: np.ndarray


def not_ecgs(size: tuple[int, int] = (1600, 1200)) -> dict[str, np.ndarray]:
    """Five RGB pictures that are not ECGs: uniform noise, smooth colour blobs with a ball, a
    fur-like texture (short strokes of brown and black along a flowing direction field), a page
    of text-like lines, and empty ECG grid paper."""
    w, h = size
    rng = np.random.default_rng(7)
    noise = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    blobs = (cv2.GaussianBlur(rng.random((h, w, 3)).astype(np.float32), (0, 0), 40) * 765).clip(0, 255).astype(np.uint8)
    cv2.circle(blobs, (w // 2, h // 2), h // 4, (40, 120, 200), -1)
    fur = np.full((h, w, 3), (150, 110, 70), np.uint8)
    yy, xx = np.mgrid[0:h, 0:w]
    angle = np.sin(xx / 180.0) + np.cos(yy / 140.0)
    for _ in range(60_000):
        x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
        a, length = angle[y, x], int(rng.integers(8, 25))
        shade = tuple(int(v) for v in rng.choice([(60, 40, 25), (200, 160, 110), (20, 15, 10), (170, 130, 90)]))
        cv2.line(fur, (x, y), (int(x + length * np.cos(a)), int(y + length * np.sin(a))), shade, 1, cv2.LINE_AA)
    text = np.full((h, w, 3), 245, np.uint8)
    for y in range(100, h - 100, 40):
        x = 120
        while x < w - 150:
            length = int(rng.integers(15, 90))
            cv2.rectangle(text, (x, y), (x + length, y + 14), (30, 30, 30), -1)
            x += length + int(rng.integers(10, 18))
    grid = np.full((h, w, 3), (250, 235, 235), np.uint8)
    for v in range(0, max(w, h), 12):
        major = v % 60 == 0
        colour, thick = ((240, 170, 170), 2) if major else ((245, 210, 210), 1)
        cv2.line(grid, (v, 0), (v, h), colour, thick)
        cv2.line(grid, (0, v), (w, v), colour, thick)
    return {"noise": noise, "blobs": blobs, "fur": cv2.GaussianBlur(fur, (3, 3), 0), "text page": text,
            "empty ECG grid": grid}


def read(rgb: np.ndarray, model, weights) -> dict:
    """The card's probabilities and what the page reader found, without attributions."""
    from core.explain import explain
    from core.page.detect import detect_geometry

    reader = detect_geometry(rgb)
    ex = explain(model, weights.input, rgb, targets=())   # probabilities only: no decoder, no maps
    g = reader.geometry
    return {"probs": [float(p) for p in ex.probabilities], "is_ecg": reader.is_ecg,
            "panels": 0 if g is None else len(g.panels),
            "calibration": None if g is None else g.confidence.get("calibration"), "reason": reader.reason}


def real_images(model, weights) -> tuple[dict[str, dict], dict[str, dict]]:
    """Every shared real image read once (cached per weights) and the SOURCES.csv rows."""
    from core.io import load_image
    from core.io.records import data_dir

    folder = data_dir() / "images"
    with open(folder / "SOURCES.csv", newline="", encoding="utf-8") as handle:
        sources = {row["file"]: row for row in csv.DictReader(handle) if (folder / row["file"]).is_file()}
    path = CACHE / f"real_{weights.sha256[:12]}.json"
    cached = json.loads(path.read_text()) if path.is_file() else {}
    for name in sorted(sources):
        if name not in cached:
            cached[name] = read(load_image(folder / name).rgb, model, weights)
    CACHE.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(cached, indent=1))
    return cached, sources


def val_photos(model, weights, renders: int, size: tuple[int, int] = VAL_SIZE) -> tuple[Pages, np.ndarray]:
    """Every `val` record printed ``renders`` times as a phone photo at ``size`` px and read the
    way the app reads a file (page reader on the full image, the network on its letterbox);
    cached per weights. Returns the pages and their truths (N, 8), NaN = unknown."""
    from core.train.evaluate import VAL_SIM_SEED, record_pages

    rows, truths = [], []
    for r in range(renders):
        path = CACHE / f"val_{weights.sha256[:12]}_photo_{size[0]}x{size[1]}_{VAL_SIM_SEED + r}.json"
        if not path.is_file():
            done = [{**read(page.image, model, weights),
                     "truth": [page.sample.labels[k] for k in LABELS]}
                    for page in record_pages("val", "photo", size, seed=VAL_SIM_SEED + r)]
            CACHE.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(done))
        for row in json.loads(path.read_text()):
            rows.append(row)
            truths.append([np.nan if v is None else float(v) for v in row["truth"]])
    return as_pages(rows), np.array(truths)


def as_pages(rows: list[dict]) -> Pages:
    return Pages(np.array([r["probs"] for r in rows]), np.array([r["is_ecg"] for r in rows]),
                 np.array([r["panels"] for r in rows]),
                 np.array([np.nan if r["calibration"] is None else r["calibration"] for r in rows]))


def entropy(probs: np.ndarray) -> np.ndarray:
    """Mean binary entropy (bits) of the 8 sigmoid outputs per page."""
    p = np.clip(probs, 1e-6, 1 - 1e-6)
    return (-(p * np.log2(p) + (1 - p) * np.log2(1 - p))).mean(axis=1)


def energy(probs: np.ndarray) -> np.ndarray:
    """Joint energy of the label head, Σ log(1 + e^z) over the 8 logits (low: unlike training)."""
    p = np.clip(probs, 1e-6, 1 - 1e-6)
    return -np.log1p(-p).sum(axis=1)  # log(1 + e^z) = −log(1 − σ(z))


def margin(probs: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """The smallest distance, in logits, of any label from its threshold (small: a call on a knife edge)."""
    def logit(x: np.ndarray) -> np.ndarray:
        x = np.clip(x, 1e-6, 1 - 1e-6)
        return np.log(x / (1 - x))
    return np.abs(logit(probs) - logit(thresholds)[None]).min(axis=1)


def rhythm_conflict(probs: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """No rhythm called (none of SR, AF, AFL at its threshold), or SR called with AF or AFL."""
    pos = probs >= thresholds[None]
    sr, af, afl = (pos[:, LABELS.index(k)] for k in ("SR", "AF", "AFL"))
    return ~(sr | af | afl) | (sr & (af | afl))


def rules(val: Pages, thresholds: np.ndarray) -> dict[str, Callable[[Pages], np.ndarray]]:
    """Each candidate: pages -> withheld (bool per page). Cut-offs from the val photo prints."""
    e_hi = float(np.quantile(entropy(val.probs), 1 - VAL_SHARE))
    j_lo = float(np.quantile(energy(val.probs), VAL_SHARE))
    m_lo = float(np.quantile(margin(val.probs, thresholds), VAL_SHARE))
    cal = val.calibration[np.isfinite(val.calibration)]
    c_lo = float(np.quantile(cal, VAL_SHARE)) if len(cal) else 0.0

    def unreadable(p: Pages) -> np.ndarray:
        return ~p.is_ecg | (p.panels == 0)

    return {
        "not an ECG (today)": lambda p: ~p.is_ecg,
        "page unreadable (no lead panels found)": unreadable,
        f"page-scale confidence < {c_lo:.2f}": lambda p: unreadable(p) | ~(np.nan_to_num(p.calibration) >= c_lo),
        f"label entropy > {e_hi:.3f} bits": lambda p: ~p.is_ecg | (entropy(p.probs) > e_hi),
        f"joint energy < {j_lo:.2f}": lambda p: ~p.is_ecg | (energy(p.probs) < j_lo),
        f"a label within {m_lo:.2f} logits of its threshold": lambda p: ~p.is_ecg | (margin(p.probs, thresholds) < m_lo),
        "no rhythm, or SR with AF/AFL": lambda p: ~p.is_ecg | rhythm_conflict(p.probs, thresholds),
        "page unreadable, or no rhythm / SR with AF/AFL": lambda p: unreadable(p) | rhythm_conflict(p.probs, thresholds),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--renders", type=int, default=3, help="photo prints of each val record")
    args = parser.parse_args()
    t0 = time.perf_counter()

    from core.analyze import model_for

    model, weights = model_for("cpu")
    thresholds = np.array([weights.thresholds[k] for k in LABELS])
    val, val_truth = val_photos(model, weights, args.renders)

    real, sources = real_images(model, weights)
    names = sorted(real)
    pages = as_pages([real[n] for n in names])
    kinds = np.array([sources[n]["kind"] for n in names])
    truth = [statements(sources[n].get("notes", "")) for n in names]
    probs_ok = pages.probs >= thresholds[None]
    finding = probs_ok[:, [LABELS.index(k) for k in FINDINGS]].any(axis=1)
    right = probs_ok[:, LABELS.index("SR")] & ~finding
    norm = np.array([t is not None and "NORM" in t for t in truth])
    odd = not_ecgs()
    odd_pages = as_pages([read(img, model, weights) for img in odd.values()])

    lines = ["| rule | real photos withheld | other real images withheld | NORM photos kept: right / wrong "
             "(withheld) | val photos withheld | val macro AUROC, kept / withheld / all "
             "| not-ECG pictures withheld |", "|---|---|---|---|---|---|---|"]

    def macro(keep: np.ndarray) -> str:
        value = label_report(val_truth[keep], val.probs[keep], weights.thresholds, n_boot=0)["macro_auroc"]
        return "—" if value is None else f"{value:.3f}"

    for name, rule in rules(val, thresholds).items():
        w, wv, wo = rule(pages), rule(val), rule(odd_pages)
        photo = kinds == "photo"
        nk = norm & ~w
        lines.append(f"| {name} | {int(w[photo].sum())} of {int(photo.sum())} | {int(w[~photo].sum())} of "
                     f"{int((~photo).sum())} | {int((nk & right).sum())} / {int((nk & ~right).sum())} "
                     f"({int((norm & w).sum())}) | {int(wv.sum())} of {len(wv)} ({100 * wv.mean():.0f} %) | "
                     f"{macro(~wv)} / {macro(wv)} / {macro(np.ones_like(wv))} | {int(wo.sum())} of {len(odd)} "
                     f"({', '.join(k for k, x in zip(odd, wo) if x) or 'none'}) |")
    print(f"{len(val.probs)} val photos ({args.renders} prints of each val record, {VAL_SIZE[0]} x {VAL_SIZE[1]} px); "
          f"{len(names)} real images ({int((kinds == 'photo').sum())} photos, {int(norm.sum())} of them NORM "
          f"ECG-Paper-1K records); {time.perf_counter() - t0:.0f} s\n")
    print("\n".join(lines))
    print("\nThe pictures that are not ECGs, by the label head alone (cut-offs as above): "
          "entropy (bits), joint energy, smallest logit margin, calls at the card's thresholds")
    for k, probs in zip(odd, odd_pages.probs):
        calls = ", ".join(f"{key} {p:.2f}" for key, p, t in zip(LABELS, probs, thresholds) if p >= t) or "none"
        print(f"  {k}: {entropy(probs[None])[0]:.3f}, {energy(probs[None])[0]:.2f}, "
              f"{margin(probs[None], thresholds)[0]:.2f}; {calls}")
    print("\nPer real image: page reader, panels, scale confidence, calls")
    for n, r, w in zip(names, (real[n] for n in names), rules(val, thresholds)["page unreadable (no lead panels found)"](pages)):
        calls = ", ".join(k for k, p, t in zip(LABELS, r["probs"], thresholds) if p >= t) or "none"
        print(f"  {n}: is_ecg={r['is_ecg']} panels={r['panels']} calibration={r['calibration']} "
              f"{'UNREADABLE ' if w else ''}calls: {calls}")


if __name__ == "__main__":
    main()
