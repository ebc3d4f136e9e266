"""Intervals read off the leads (core.intervals) against LUDB's cardiologists, on ``eval``.

Each LUDB ``eval`` record is measured three ways: on its own twelve leads (the delineator
alone), and printed by the studio at 200 dpi in each domain, read as ``analyze`` reads it
(``detect_geometry``, ``read_page`` at 500 Hz, ``measure_intervals``). The truth is the
cardiologists' delineation (``core.study.ludb.delineated_intervals``: medians over beats that
are not premature). Per interval: records where both give one, the median error (bias), the
median |error| (the issue's target: 10 ms clean, 20 ms photo) and the share within 10 and 20
ms. A page the reader cannot lay out gives no intervals and counts as "not read".
PR "false" counts records where the delineation has no P waves but a PR was reported.

    python benchmarks/bench_intervals.py [--domains clean,scan,photo] [--records N] [--doc docs/intervals.md]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.intervals import measure_intervals  # noqa: E402
from core.page import detect_geometry  # noqa: E402
from core.page.trace import READ_FS_HZ, read_page  # noqa: E402
from core.study.ludb import delineated_intervals, ludb_rows  # noqa: E402
from core.synth.degrade import DOMAINS  # noqa: E402
from core.synth.from_record import sample_from_record  # noqa: E402
from core.synth.pages import SynthOptions, page_from_sample  # noqa: E402
from core.train.evaluate import EVAL_SIM_SEED  # noqa: E402

KEYS = ("rr_ms", "pr_ms", "qrs_ms", "qt_ms")
BEGIN, END = "<!-- bench_intervals:begin -->", "<!-- bench_intervals:end -->"


def measured(how: str, row, index: int, dpi: int) -> dict[str, float | None] | None:
    """The intervals of one record read ``how`` ('signals' or a domain); None: page not read."""
    sample = sample_from_record(row)
    if how == "signals":
        return measure_intervals(sample.signals.T, sample.fs).as_dict()
    options = SynthOptions(n=1, seed=EVAL_SIM_SEED, domain=how, source="records", dpi=dpi)
    rng = np.random.default_rng([EVAL_SIM_SEED, index, DOMAINS.index(how)])
    page = page_from_sample(sample, options, rng, page_id=f"ludb_{index}", seed=[EVAL_SIM_SEED, index])
    geometry = detect_geometry(page.image).geometry
    if geometry is None or not geometry.panels:
        return None
    n = int(round(READ_FS_HZ * sample.signals.shape[0] / sample.fs))
    return measure_intervals(read_page(page.image, geometry, READ_FS_HZ, n).signals, READ_FS_HZ).as_dict()


def measure(how: str, rows: list, truths: list[dict], dpi: int) -> dict[str, object]:
    errors: dict[str, list[float]] = {k: [] for k in KEYS}
    read, false_pr = 0, 0
    for i, (row, truth) in enumerate(zip(rows, truths)):
        found = measured(how, row, i, dpi)
        if found is None:
            continue
        read += 1
        false_pr += truth["pr_ms"] is None and found["pr_ms"] is not None and bool(found["beats"])
        for key in KEYS:
            if truth[key] is not None and found[key] is not None:
                errors[key].append(found[key] - truth[key])
    out: dict[str, object] = {"how": how, "records": len(rows), "read": read, "false_pr": false_pr,
                              "no_p": sum(t["pr_ms"] is None for t in truths)}
    for key in KEYS:
        e = np.abs(errors[key])
        out[key] = (len(e), float(np.median(errors[key])) if len(e) else float("nan"),
                    float(np.median(e)) if len(e) else float("nan"),
                    float(np.mean(e <= 10)) if len(e) else float("nan"),
                    float(np.mean(e <= 20)) if len(e) else float("nan"))
    return out


def table(results: list[dict[str, object]], command: str, seconds: float) -> str:
    lines = [f"Command: `{command}` ({seconds:.0f} s on this machine).", "",
             "| read from | records read | interval | records with both | median error (ms) | median abs. error (ms) "
             "| within 10 ms | within 20 ms |",
             "|---|---|---|---|---|---|---|---|"]
    for r in results:
        how = "the record's own leads" if r["how"] == "signals" else f"{r['how']} page, reader's panels"
        for j, key in enumerate(KEYS):
            n, bias, mae, w10, w20 = r[key]
            first = f"| {how} | {r['read']} / {r['records']} " if j == 0 else "| | "
            name = key.removesuffix("_ms").upper()
            lines.append(f"{first}| {name} | {n} | {bias:+.0f} | {mae:.0f} | {w10:.0%} | {w20:.0%} |")
    lines += ["", "A PR reported where the cardiologists delineated no P waves: " + ", ".join(
        f"{r['how']} {r['false_pr']} / {r['no_p']}" for r in results) + "."]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--domains", default="clean,scan,photo")
    ap.add_argument("--records", type=int, default=None, help="only the first N eval records")
    ap.add_argument("--dpi", type=int, default=200)
    ap.add_argument("--doc", type=Path, help="replace the table between the bench_intervals markers in this file")
    args = ap.parse_args()
    t0 = time.perf_counter()
    rows = [r for r in ludb_rows() if r.split == "eval"][: args.records]
    truths = [delineated_intervals(r) for r in rows]
    results = []
    for how in ["signals", *args.domains.split(",")]:
        results.append(measure(how, rows, truths, args.dpi))
        print(results[-1], flush=True)
    command = "python benchmarks/bench_intervals.py " + " ".join(
        a for a in sys.argv[1:] if not a.startswith("--doc") and not a.endswith(".md"))
    text = table(results, command.strip(), time.perf_counter() - t0)
    print(text)
    if args.doc:
        doc = args.doc.read_text()
        start, stop = doc.index(BEGIN) + len(BEGIN), doc.index(END)
        args.doc.write_text(doc[:start] + "\n" + text + "\n" + doc[stop:])


if __name__ == "__main__":
    main()
