"""ECG studio speed: pages per second, in memory, at the network's input size and at 150 DPI.

    python benchmarks/bench_synth.py [--pages 200] [--workers 2]

Each page = simulate (or a real record) + paper + evidence masks + degradation (domain 'mix').
Prints a Markdown table: median ms per page in one process, and pages/s with ``--workers``
processes (training renders in a DataLoader worker the same way).
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import statistics
import time

from core.synth.pages import SynthOptions, make_page

CASES = {
    "896×448 (network input, 0.40 MP)": dict(size=(896, 448)),
    "150 DPI Letter/A4 (≈ 2.2 MP)": dict(dpi=150),
}


def _time_pages(args: tuple[dict, int, int]) -> list[float]:
    kwargs, start, n = args
    options = SynthOptions(n=start + n, seed=123, source="mix", **kwargs)
    times = []
    for i in range(start, start + n):
        t0 = time.perf_counter()
        make_page(options, i)
        times.append(time.perf_counter() - t0)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    print(f"| pages | ms/page (median, 1 process) | pages/s (1 process) | pages/s ({args.workers} processes) |")
    print("|---|---|---|---|")
    for name, kwargs in CASES.items():
        _time_pages((kwargs, 10_000, 5))  # warm caches (records, textures)
        single = _time_pages((kwargs, 0, args.pages))
        chunk = args.pages // args.workers
        t0 = time.perf_counter()
        with mp.get_context("fork").Pool(args.workers) as pool:
            pool.map(_time_pages, [(kwargs, 20_000 + i * chunk, chunk) for i in range(args.workers)])
        parallel = chunk * args.workers / (time.perf_counter() - t0)
        print(f"| {name} | {1000 * statistics.median(single):.1f} | {len(single) / sum(single):.1f} | {parallel:.1f} |")


if __name__ == "__main__":
    main()
