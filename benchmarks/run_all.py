"""`make bench`: the bedside numbers of README's "Speed and size" table, in one run.

    .venv/bin/python benchmarks/run_all.py [--runs 10] [--pages 12]

1. ``benchmarks/bench_analyze.py``: `analyze` per stage (medians of --runs) for the A4 sample,
   a 1200 × 600 photo and a 12-MP photo; peak RSS; output bytes; a cold CLI process; the
   Jacobians against Captum's loop and their floor.
2. Worklist throughput: ``ecg-aio analyze FOLDER --out OUT`` over --pages studio pages
   (``ecg-aio synth --domain mix``, 150 DPI A4), one process, wall clock, pages per minute.
3. ``benchmarks/bench_review.py``: the review window, offscreen: open to overlay and the
   event loop's longest stall during an analysis.
Prints Markdown; nothing is written into the repository.
"""
from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run(*cmd: str, env: dict[str, str] | None = None) -> str:
    res = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, env={**os.environ, **(env or {})})
    if res.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{res.stderr[-2000:]}")
    return res.stdout


def throughput(pages: int) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        folder, out = Path(tmp) / "worklist", Path(tmp) / "out"
        run(sys.executable, "-m", "app.cli", "synth", "--out", str(folder), "-n", str(pages), "--domain", "mix",
            "--dpi", "150", "--seed", "7")
        for extra in folder.glob("*"):  # keep the page images only, as a worklist folder holds them
            if extra.suffix not in (".png", ".jpg") or "_mask_" in extra.name:
                extra.unlink()
        t0 = time.perf_counter()
        run(sys.executable, "-m", "app.cli", "analyze", str(folder), "--out", str(out), "--device", "cpu")
        wall = time.perf_counter() - t0
        done = sum(1 for _ in out.glob("*/result.json"))
        size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    return (f"| worklist: `ecg-aio analyze FOLDER` over {done} studio pages (mix of domains, 150 DPI), one process "
            f"| {wall:.1f} s | {60 * done / wall:.0f} pages/min | {size / done / 1e6:.1f} MB per page |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--pages", type=int, default=12)
    args = parser.parse_args()
    print(f"## {platform.node() or 'this machine'}: {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} CPUs, {platform.system()} {platform.release()}, Python {platform.python_version()}\n")
    print(run(sys.executable, "benchmarks/bench_analyze.py", "--runs", str(args.runs)))
    print("| worklist | wall | throughput | outputs |\n|---|---|---|---|")
    print(throughput(args.pages))
    print()
    print(run(sys.executable, "benchmarks/bench_review.py", "--runs", "3", env={"QT_QPA_PLATFORM": "offscreen"}))


if __name__ == "__main__":
    main()
