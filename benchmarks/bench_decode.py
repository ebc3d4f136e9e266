"""Reading the leads back at full resolution (core.page.trace): SNR, coverage and time lag.

Real ``eval`` records printed by the studio at 200 dpi (an A4 page of 2339 x 1654 px) in each
domain; each page read twice, through its true geometry and through the page reader's
(``detect_geometry``, then ``read_page``'s time registration), as ``analyze`` does, at the rate
``analyze`` reads them (``READ_FS_HZ``, 500 Hz: the records' own, as the Challenge scores). SNR
is the PhysioNet Challenge 2024 one (``core.train.metrics.snr_db``: per lead, pooled over pages,
mean-centred, no time shift allowed); coverage is the share of printed samples read; lag is
the shift (one-sample steps, within +-300 ms) that best lines a read lead up with the truth; the RR
error is how far the median beat-to-beat interval read off the longest printed lead (a rhythm
strip) is from the true one (beats found the same simple way on both); the R height is how
tall the read lead's tallest wave within 20 ms of each true wave of 0.5 mV or more is, as a share
of the true one (median): the Challenge SNR, which allows no time shift, scores a narrow R wave
read at half its height better than one read whole but a few ms late, and a physician needs the
height. Intervals: ``bench_intervals.py``.

    python benchmarks/bench_decode.py [--pages 8] [--fs 500] [--domains clean,scan,photo] [--doc docs/page.md]
    python benchmarks/bench_decode.py --split val --seed 11 --pages 16   # what tuning looks at
"""
from __future__ import annotations

import argparse
import re
import sys
import time
from itertools import islice
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.page import detect_geometry  # noqa: E402
from core.model.network import NetConfig  # noqa: E402
from core.page.trace import READ_FS_HZ, read_page  # noqa: E402
from core.train.evaluate import EVAL_SIM_SEED, record_pages  # noqa: E402
from core.train.metrics import snr_db  # noqa: E402
from core.train.targets import decoder_signals, printed_mask  # noqa: E402

BEGIN, END = "<!-- bench_decode:begin -->", "<!-- bench_decode:end -->"


def lags_ms(truth: np.ndarray, read: np.ndarray, known: np.ndarray, fs: float) -> list[float]:
    out, reach = [], int(round(0.3 * fs))
    for lead in range(truth.shape[0]):
        k = (known[lead] > 0) & np.isfinite(read[lead])
        if k.sum() < 100:
            continue
        a = np.where(k, truth[lead] - truth[lead][k].mean(), 0.0)
        b = np.where(k, read[lead] - read[lead][k].mean(), 0.0)
        best = max(range(-reach, reach + 1), key=lambda d: float(np.sum(np.roll(b, d) * a)))
        out.append(abs(best) * 1000.0 / fs)
    return out


def median_rr_ms(signal: np.ndarray, fs: float) -> float | None:
    """Median RR interval (ms) of one lead: beats are the peaks of the smoothed squared slope
    at least 0.3 s apart and above a third of its 95th percentile; None with under 3 beats."""
    from scipy.signal import find_peaks

    x = np.nan_to_num(signal - np.nanmedian(signal))
    k = max(int(round(0.05 * fs)), 1)
    energy = np.convolve(np.diff(x) ** 2, np.ones(k) / k, mode="same")
    if not energy.any():
        return None
    peaks, _ = find_peaks(energy, distance=int(0.3 * fs), height=np.percentile(energy, 95) / 3)
    return float(np.median(np.diff(peaks)) * 1000 / fs) if len(peaks) >= 3 else None


def rr_error_ms(truth: np.ndarray, read: np.ndarray, known: np.ndarray, fs: float) -> float | None:
    """|median RR read - median RR true| on the lead printed longest (a rhythm strip)."""
    lead = int(np.argmax((known > 0).sum(axis=1)))
    k = (known[lead] > 0) & np.isfinite(read[lead])
    if k.sum() < 3 * fs:
        return None
    a, b = median_rr_ms(np.where(k, truth[lead], np.nan), fs), median_rr_ms(np.where(k, read[lead], np.nan), fs)
    return None if a is None or b is None else abs(a - b)


def r_heights(truth: np.ndarray, read: np.ndarray, known: np.ndarray, fs: float) -> list[float]:
    """Read height / true height of each wave of 0.5 mV or more (from the lead's median) where
    the lead was read within 20 ms of it."""
    from scipy.signal import find_peaks

    out, half = [], max(int(round(0.02 * fs)), 1)
    for lead in range(truth.shape[0]):
        k = (known[lead] > 0) & np.isfinite(read[lead])
        if k.sum() < fs:
            continue
        true_h = np.abs(truth[lead] - np.median(truth[lead][k]))
        read_h = np.abs(read[lead] - np.median(read[lead][k]))
        peaks, _ = find_peaks(np.where(k, true_h, 0.0), distance=int(0.3 * fs), height=0.5)
        for p in peaks:
            near = slice(max(p - half, 0), p + half + 1)
            if k[near].all():
                out.append(float(read_h[near].max() / true_h[p]))
    return out


def measure(domain: str, pages: int, dpi: int, fs: float, split: str = "eval",
            seed: int = EVAL_SIM_SEED) -> dict[str, object]:
    net = NetConfig(decoder_fs=fs)
    found = {"true": ([], [], []), "reader": ([], [], [])}
    lags = {"true": [], "reader": []}
    rr: dict[str, list[float]] = {"true": [], "reader": []}
    heights: dict[str, list[float]] = {"true": [], "reader": []}
    cover = {"true": [], "reader": []}
    seconds, read_pages, n = [], 0, 0
    for page in islice(record_pages(split, domain, None, seed=seed, dpi=dpi), pages):
        n += 1
        truth, known = decoder_signals(page.sample, net), printed_mask(page.geometry, net)
        reader = detect_geometry(page.image).geometry
        for name, geometry in (("true", page.geometry), ("reader", reader)):
            if geometry is None or not geometry.panels:
                signals = np.full_like(truth, np.nan)
            else:
                t0 = time.perf_counter()
                signals = read_page(page.image, geometry, fs=fs, n_samples=net.n_samples).signals
                if name == "reader":
                    seconds.append(time.perf_counter() - t0)
                    read_pages += 1
            found[name][0].append(truth)
            found[name][1].append(np.nan_to_num(signals))
            found[name][2].append(known)
            lags[name] += lags_ms(truth, signals, known, fs)
            heights[name] += r_heights(truth, signals, known, fs)
            error = rr_error_ms(truth, signals, known, fs)
            if error is not None:
                rr[name].append(error)
            cover[name].append(float((np.isfinite(signals) & (known > 0)).sum() / max(known.sum(), 1)))
    out: dict[str, object] = {"domain": domain, "pages": n, "read": read_pages,
                              "seconds": float(np.median(seconds)) if seconds else float("nan")}
    for name in ("true", "reader"):
        t, p, k = (np.stack(v) for v in found[name])
        out[f"snr_{name}"] = float(np.nanmean(snr_db(t, p, k)))
        out[f"coverage_{name}"] = float(np.mean(cover[name]))
        out[f"lag_{name}"] = float(np.median(lags[name])) if lags[name] else float("nan")
        out[f"rr_{name}"] = float(np.median(rr[name])) if rr[name] else float("nan")
        out[f"height_{name}"] = float(np.median(heights[name])) if heights[name] else float("nan")
    return out


def table(results: list[dict[str, object]], command: str, seconds: float) -> str:
    lines = [f"Command: `{command}` ({seconds:.0f} s on this machine).", "",
             "| domain | pages | pages the reader found panels on | SNR (dB), true panels | SNR (dB), reader's panels "
             "| coverage, true / reader's | median lag (ms), true / reader's | median RR error (ms), true / reader's "
             "| R height read / true, true / reader's | time per page (reading only) |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        lines.append(f"| {r['domain']} | {r['pages']} | {r['read']} | {r['snr_true']:.1f} | {r['snr_reader']:.1f} | "
                     f"{r['coverage_true']:.2f} / {r['coverage_reader']:.2f} | {r['lag_true']:.0f} / {r['lag_reader']:.0f} | "
                     f"{r['rr_true']:.0f} / {r['rr_reader']:.0f} | {r['height_true']:.2f} / {r['height_reader']:.2f} | "
                     f"{r['seconds']:.2f} s |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pages", type=int, default=8)
    ap.add_argument("--dpi", type=int, default=200)
    ap.add_argument("--fs", type=float, default=READ_FS_HZ, help="rate the leads are read and scored at (Hz)")
    ap.add_argument("--domains", default="clean,scan,photo")
    ap.add_argument("--split", default="eval", choices=["eval", "val"],
                    help="val: the records tuning is done on (use with --seed 11)")
    ap.add_argument("--seed", type=int, default=EVAL_SIM_SEED, help="the pages' paper and degradation")
    ap.add_argument("--doc", type=Path, help="replace the table between the bench_decode markers in this file")
    args = ap.parse_args()
    t0 = time.perf_counter()
    results = []
    for domain in args.domains.split(","):
        results.append(measure(domain, args.pages, args.dpi, args.fs, args.split, args.seed))
        print(results[-1], flush=True)
    command = "python benchmarks/bench_decode.py " + " ".join(a for a in sys.argv[1:] if not a.startswith("--doc") and not a.endswith(".md"))
    text = table(results, command.strip(), time.perf_counter() - t0)
    print(text)
    if args.doc:
        doc = args.doc.read_text()
        block = f"{BEGIN}\n{text}\n{END}"
        doc = re.sub(re.escape(BEGIN) + ".*?" + re.escape(END), lambda _: block, doc, flags=re.S) if BEGIN in doc else doc + "\n" + block + "\n"
        args.doc.write_text(doc)


if __name__ == "__main__":
    main()
