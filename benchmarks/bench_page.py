"""Measure page understanding (``core.page.detect_geometry``) and write docs/page.md.

Synthetic pages come from the ECG studio (``core.synth.pages.make_page``: real records printed
on random paper, degraded as clean / scan / shadow / photo); their exact geometry is the truth.
Per domain: px/mm relative error (the worse axis), lead-box IoU (panels matched by lead, row
and column, in image px; a panel not found scores 0), layout accuracy, how often a geometry
came back, and time per page. The real images in the shared data's images/ are compared with
hand-measured values in resources/page_truth.json (layout, px/mm, rhythm strips, is-ECG).

    python benchmarks/bench_page.py            # 300 pages per domain (about 5 min on this 2-core CPU)
    python benchmarks/bench_page.py --quick    # 30 per domain
    python benchmarks/bench_page.py --styles world -n 100   # other machines' print styles
                                               # (core.synth.styles): synthetic table only
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.io.records import data_dir  # noqa: E402
from core.page import Geometry, detect_geometry  # noqa: E402
from core.synth.styles import STYLE_FIELDS  # noqa: E402
from core.page.trace import read_page  # noqa: E402

DOMAINS = ("clean", "scan", "shadow", "photo")
DPIS = (100, 150, 200)
TRUTH = ROOT / "resources" / "page_truth.json"
IMAGES = data_dir() / "images"
DOC = ROOT / "docs" / "page.md"
WORLD_BEGIN, WORLD_END = "<!-- bench_page_world:begin -->", "<!-- bench_page_world:end -->"
BEGIN, END = "<!-- bench_page:begin -->", "<!-- bench_page:end -->"
TARGETS = {"clean": (0.02, 0.9, 0.98), "scan": (0.02, 0.9, 0.98), "shadow": (0.05, 0.8, 0.90),
           "photo": (0.05, 0.8, 0.90)}  # px/mm error, IoU, layout accuracy


# ---- metrics ----------------------------------------------------------------------------------
def quad_iou(a: Any, b: Any) -> float:
    """Intersection over union of two convex quadrilaterals (image px)."""
    a, b = np.asarray(a, np.float32), np.asarray(b, np.float32)
    inter, _ = cv2.intersectConvexConvex(a, b)
    union = cv2.contourArea(a) + cv2.contourArea(b) - inter
    return float(inter / union) if union > 0 else 0.0


def panel_iou(found: Geometry | None, truth: Geometry) -> float:
    """Mean IoU over the true panels, each matched by (lead, row, col); 0 when not found."""
    if found is None:
        return 0.0
    by_key = {(p.lead, p.row, p.col): p for p in found.panels}
    scores = [quad_iou(p.quad_px, by_key[(p.lead, p.row, p.col)].quad_px)
              if (p.lead, p.row, p.col) in by_key else 0.0 for p in truth.panels]
    return float(np.mean(scores)) if scores else 0.0


def scale_error(found: Geometry | None, truth: Geometry) -> float:
    """max over x, y of |found / true - 1| of px per mm; inf when not calibrated."""
    if found is None or found.px_per_mm_xy is None or truth.px_per_mm_xy is None:
        return float("inf")
    return max(abs(f / t - 1.0) for f, t in zip(found.px_per_mm_xy, truth.px_per_mm_xy))


# ---- synthetic pages ----------------------------------------------------------------------------
def one_page(args: tuple[str, int, int, int, str]) -> dict[str, Any]:
    """Render page i of a domain's run and measure detection on it."""
    from core.synth.pages import SynthOptions, make_page

    domain, n, seed, i, styles = args
    page = make_page(SynthOptions(n=n, seed=seed, domain=domain, source="records", dpi=DPIS[i % 3],
                                  styles=styles), i)
    t0 = time.perf_counter()
    result = detect_geometry(page.image)
    seconds = time.perf_counter() - t0
    g, truth = result.geometry, page.geometry
    # what analyze explains on: the same boxes moved onto each row's printed trace
    registered = read_page(page.image, g).geometry if g is not None and g.panels else g
    return {"domain": domain, "i": i, "layout": truth.layout, "found_layout": g.layout if g else None,
            "error": scale_error(g, truth), "iou": panel_iou(g, truth), "seconds": seconds,
            "iou_registered": panel_iou(registered, truth),
            "size": list(page.image.shape[1::-1]), "reason": result.reason,
            "confidence": dict(g.confidence) if g is not None else {},
            "style": {k: page.paper[k] for k in STYLE_FIELDS if k in page.paper and k not in ("style_seed", "text_scale")}}


def run_synthetic(n: int, seed: int, workers: int, styles: str = "studio") -> list[dict[str, Any]]:
    jobs = [(d, n, seed, i, styles) for d in DOMAINS for i in range(n)]
    with ProcessPoolExecutor(workers) as pool:
        return list(pool.map(one_page, jobs, chunksize=4))


def summarise(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for d in DOMAINS:
        r = [x for x in rows if x["domain"] == d]
        err = np.array([x["error"] for x in r])
        iou = np.array([x["iou"] for x in r])
        out.append({
            "domain": d, "n": len(r),
            "calibrated": float(np.mean(np.isfinite(err))),
            "err_median": float(np.median(err[np.isfinite(err)])) if np.isfinite(err).any() else float("nan"),
            "within": float(np.mean(err <= TARGETS[d][0])),
            "iou_mean": float(iou.mean()), "iou_ok": float(np.mean(iou >= TARGETS[d][1])),
            "iou_registered": float(np.mean([x["iou_registered"] for x in r])),
            "layout": float(np.mean([x["layout"] == x["found_layout"] for x in r])),
            "seconds": float(np.median([x["seconds"] for x in r])),
        })
    return out


def synthetic_table(summary: list[dict[str, Any]]) -> str:
    lines = ["| domain | pages | calibrated | px/mm error (median) | px/mm within target | "
             "lead-box IoU (mean) | IoU >= target | IoU after time registration (mean) | layout right | median time |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for s in summary:
        e, i, lay = TARGETS[s["domain"]]
        lines.append(
            f"| {s['domain']} | {s['n']} | {s['calibrated']:.0%} | {100 * s['err_median']:.2f} % | "
            f"{s['within']:.0%} (<= {100 * e:g} %) | {s['iou_mean']:.3f} | {s['iou_ok']:.0%} (>= {i}) | "
            f"{s['iou_registered']:.3f} | "
            f"{s['layout']:.0%} (target {lay:.0%}) | {1000 * s['seconds']:.0f} ms |")
    return "\n".join(lines)


def confidence_table(rows: list[dict[str, Any]]) -> str:
    """Do the reader's confidences mean something? Over all domains' pages, by confidence
    band: how often the layout is right (layout confidence), the lead boxes meet the domain's
    IoU target (panels confidence) and px/mm is within the domain's target (calibration)."""
    bands = ((0.0, 0.5), (0.5, 0.8), (0.8, 0.95), (0.95, 1.01))
    checks = (("layout", lambda r: r["layout"] == r["found_layout"]),
              ("panels", lambda r: r["iou"] >= TARGETS[r["domain"]][1]),
              ("calibration", lambda r: r["error"] <= TARGETS[r["domain"]][0]))
    lines = ["| confidence | " + " | ".join(f"{lo:g}–{min(hi, 1):g}" for lo, hi in bands) + " |",
             "|---|" + "---|" * len(bands)]
    for key, right in checks:
        cells = []
        for lo, hi in bands:
            hit = [right(r) for r in rows if key in r["confidence"] and lo <= r["confidence"][key] < hi]
            cells.append(f"{np.mean(hit):.0%} of {len(hit)}" if hit else "—")
        lines.append(f"| {key}: share right | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def style_table(rows: list[dict[str, Any]]) -> str:
    """Layout right per value of each style field, on the clean and scan pages (where the
    style, not the camera, decides)."""
    pages = [r for r in rows if r["domain"] in ("clean", "scan")]
    lines = ["| style field | layout right (pages) per value |", "|---|---|"]
    for field in sorted({k for r in pages for k in r["style"]}):
        values = sorted({str(r["style"][field]) for r in pages if field in r["style"]})
        cells = []
        for v in values:
            hit = [r["layout"] == r["found_layout"] for r in pages if str(r["style"].get(field)) == v]
            cells.append(f"{v} {np.mean(hit):.0%} ({len(hit)})")
        lines.append(f"| {field} | {', '.join(cells)} |")
    return "\n".join(lines)


def timing(n: int = 12, seed: int = 5) -> tuple[float, float]:
    """(median, max) seconds of detect_geometry on 1200 x 900 pages, one process."""
    from core.synth.pages import SynthOptions, make_page

    seconds = []
    for i in range(n):
        domain = ("clean", "scan", "photo")[i % 3]
        image = make_page(SynthOptions(n=n, seed=seed, domain=domain, source="records", size=(1200, 900)), i).image
        t0 = time.perf_counter()
        detect_geometry(image)
        seconds.append(time.perf_counter() - t0)
    return float(np.median(seconds)), float(np.max(seconds))


# ---- real images ---------------------------------------------------------------------------------
def run_real() -> list[dict[str, Any]]:
    from core.io.images import load_image

    truth = json.loads(TRUTH.read_text())["images"]
    out = []
    for name, t in sorted(truth.items()):
        rgb = load_image(IMAGES / name).rgb
        result = detect_geometry(rgb)
        g = result.geometry
        ppm = None if g is None or g.px_per_mm_xy is None else float(np.mean(g.px_per_mm_xy))
        rhythm = None if g is None or not g.layout else _rhythm_strips(g.layout)
        row = {"image": name, "is_ecg": result.is_ecg, "truth_is_ecg": t["is_ecg"],
               "layout": g.layout if g else None, "truth_layout": t["layout"],
               "px_per_mm": ppm, "truth_px_per_mm": t["px_per_mm"],
               "rhythm": rhythm, "truth_rhythm": t["rhythm_strips"],
               "confidence": g.confidence if g else None, "reason": result.reason,
               "ms": result.timings.get("total")}
        row["scale_ok"] = (ppm is not None and t["px_per_mm"] is not None
                           and abs(ppm / t["px_per_mm"] - 1) <= 0.1)
        row["layout_ok"] = (row["layout"] or None) == (t["layout"] or None)
        out.append(row)
    return out


def _rhythm_strips(layout: str) -> int:
    base = layout.removeprefix("cabrera-")
    return int(base.split("+")[1]) if "+" in base else 0


def real_table(rows: list[dict[str, Any]]) -> str:
    lines = ["| image | is ECG (truth) | layout found (truth) | px/mm found (truth) | scale within 10 % | "
             "confidence cal/layout/panels |", "|---|---|---|---|---|---|"]
    for r in rows:
        conf = r["confidence"] or {}
        c = "/".join(f"{conf.get(k, 0):.2f}" for k in ("calibration", "layout", "panels")) if conf else "-"
        ppm = "-" if r["px_per_mm"] is None else f"{r['px_per_mm']:.2f}"
        tp = "-" if r["truth_px_per_mm"] is None else f"{r['truth_px_per_mm']:.2f}"
        lines.append(f"| {r['image']} | {r['is_ecg']} ({r['truth_is_ecg']}) | {r['layout']} ({r['truth_layout']}) "
                     f"| {ppm} ({tp}) | {'yes' if r['scale_ok'] else 'no'} | {c} |")
    n = len(rows)
    lines.append("")
    lines.append(f"ECG recognised: {sum(r['is_ecg'] == r['truth_is_ecg'] for r in rows)}/{n}; "
                 f"scale within 10 %: {sum(r['scale_ok'] for r in rows)}/{sum(r['truth_px_per_mm'] is not None for r in rows)}; "
                 f"layout right: {sum(r['layout_ok'] for r in rows)}/{n}.")
    return "\n".join(lines)


# ---- docs -------------------------------------------------------------------------------------
def write_doc(body: str, begin: str = BEGIN, end: str = END) -> None:
    text = DOC.read_text() if DOC.exists() else f"# Page understanding\n\n{begin}\n{end}\n"
    if begin not in text:
        text += f"\n{begin}\n{end}\n"
    head, rest = text.split(begin, 1)
    tail = rest.split(end, 1)[1]
    DOC.write_text(f"{head}{begin}\n{body}\n{end}{tail}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="30 pages per domain instead of 300")
    ap.add_argument("-n", type=int, default=None, help="pages per domain (overrides --quick)")
    ap.add_argument("--seed", type=int, default=2024)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--no-doc", action="store_true", help="print the tables, leave docs/page.md alone")
    ap.add_argument("--styles", default="studio", choices=["studio", "world"],
                    help="world: other machines' print styles; only the synthetic table, in its own section")
    args = ap.parse_args(argv)
    n = args.n or (30 if args.quick else 300)
    t0 = time.time()
    rows = run_synthetic(n, args.seed, args.workers, args.styles)
    if args.styles == "world":
        command = f"python benchmarks/bench_page.py --styles world -n {n} --seed {args.seed}"
        body = (f"Command: `{command}` ({n} pages per domain, records source, dpi {'/'.join(map(str, DPIS))}; "
                f"{time.time() - t0:.0f} s).\n\n{synthetic_table(summarise(rows))}\n\n"
                f"Layout right by style (clean and scan pages together):\n\n{style_table(rows)}\n")
        print(body)
        if not args.no_doc:
            write_doc(body, WORLD_BEGIN, WORLD_END)
        return 0
    real = run_real()
    t_median, t_max = timing()
    command = "python benchmarks/bench_page.py" + (" --quick" if args.quick and not args.n else "") + \
        (f" -n {args.n}" if args.n else "") + f" --seed {args.seed}"
    body = (f"Command: `{command}` ({n} pages per domain, records source, dpi {'/'.join(map(str, DPIS))}; "
            f"{time.time() - t0:.0f} s).\n\n### Synthetic pages\n\n{synthetic_table(summarise(rows))}\n\n"
            "Do the confidences mean something? All four domains' pages by the reader's confidence "
            "(pages with no geometry have none and are left out):\n\n"
            f"{confidence_table(rows)}\n\n"
            f"Times above are with {args.workers} pages at once on this machine; alone, on 1200 x 900 pages "
            f"(clean, scan, photo): median {1000 * t_median:.0f} ms, max {1000 * t_max:.0f} ms per page "
            "(target 500 ms).\n\n"
            f"### Real images (resources/page_truth.json)\n\n{real_table(real)}\n")
    print(body)
    if not args.no_doc:
        write_doc(body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
