"""`analyze` on this machine: time per stage, peak memory, output bytes, and the Jacobians
against Captum and against their floor (medians, side by side in one run).

    .venv/bin/python benchmarks/bench_analyze.py [--runs 10] [--threads 2]

Each image runs in its own process (its peak RSS is its own): the shipped network is loaded
once, one warm-up analysis, then ``--runs`` analyses as ``ecg-aio analyze`` does them
(``analyze_path`` + ``write_analysis`` into a fresh folder, overlays not written). Images:
- the bundled A4 sample (resources/samples/sample_scan.jpg, 1754 × 1240, 150 DPI);
- a 1200 × 600 photo and a 12-MP phone photo (4000 × 3000): a shared real photograph
  (../shared/data/images/photo_table_wood_folds_01.jpg) resized, or the bundled photo sample
  when the shared data is absent.
Also one cold ``ecg-aio analyze`` process of the A4 sample (start to exit, imports and
network loading included) and, for the A4 sample, all eight labels' Jacobians three ways:
ours (one forward, eight input-only backwards), Captum ``Saliency`` looped over the labels (a
forward and a backward each), and the floor t_forward + 8 × t_backward timed separately.
Prints Markdown tables.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

SAMPLE = REPO / "resources" / "samples" / "sample_scan.jpg"
SHARED_PHOTO = "photo_table_wood_folds_01.jpg"
TARGETS_S = {"a4": 1.5, "photo12mp": 3.0}


def source_photo() -> Path:
    from core.io.records import data_dir

    shared = data_dir() / "images" / SHARED_PHOTO
    return shared if shared.is_file() else REPO / "resources" / "samples" / "sample_photo.jpg"


def make_images(folder: Path) -> dict[str, tuple[str, Path]]:
    """{case: (description, path)} of the images the benchmark analyses."""
    import cv2

    src = source_photo()
    rgb = cv2.imread(str(src))
    cases = {"a4": (f"A4 sample, 1754 × 1240 ({SAMPLE.name})", SAMPLE)}
    for case, size, interp in (("photo1200", (1200, 600), cv2.INTER_AREA), ("photo12mp", (4000, 3000), cv2.INTER_CUBIC)):
        path = folder / f"{case}.jpg"
        cv2.imwrite(str(path), cv2.resize(rgb, size, interpolation=interp), [cv2.IMWRITE_JPEG_QUALITY, 92])
        cases[case] = (f"photo {size[0]} × {size[1]} ({src.name} resized)", path)
    return cases


# ---- one image, in its own process ------------------------------------------------------------
def measure_case(path: Path, runs: int, threads: int) -> dict:
    """Medians of the stages over ``runs`` analyses (after one warm-up), peak RSS, bytes."""
    import torch

    from core.analyze import analyze_path, model_for, write_analysis

    torch.set_num_threads(threads)
    model_for("cpu")
    stages: dict[str, list[float]] = {}
    totals, sizes = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(runs + 1):
            out = Path(tmp) / f"out{i}"
            t0 = time.perf_counter()
            a = analyze_path(path, device="cpu")
            write_analysis(a, out)
            total = time.perf_counter() - t0
            if i == 0:
                continue  # warm-up: the first pass pays one-off kernel selection
            totals.append(total)
            sizes.append(sum(f.stat().st_size for f in out.iterdir()))
            for k, v in a.timings_ms.items():
                stages.setdefault(k, []).append(v)
    return {"total_s": statistics.median(totals), "max_s": max(totals),
            "stages_ms": {k: statistics.median(v) for k, v in stages.items()},
            "bytes": statistics.median(sizes),
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def measure_jacobians(path: Path, runs: int, threads: int) -> dict:
    """All eight labels' Jacobians of one page: ours, Captum's loop, and the floor (s)."""
    import torch
    from captum.attr import Saliency

    from core.analyze import model_for
    from core.explain import _inference, explain, input_gradients
    from core.io import load_image
    from core.labels import LABELS
    from core.model.preprocess import image_to_tensor, letterbox_resize, pad_and_normalise

    torch.set_num_threads(threads)
    model, weights = model_for("cpu")
    rgb = load_image(path).rgb
    scaled = letterbox_resize(image_to_tensor(rgb), weights.input).detach()
    spec = weights.input

    def logits_of(s: torch.Tensor) -> torch.Tensor:
        return model.forward_head(model.forward_features(pad_and_normalise(s, spec)))

    ours_s: list[float] = []

    def ours() -> None:  # forward + Jacobians as explain times them (the resize is the same for all)
        t = explain(model, spec, rgb, list(LABELS)).timings_ms  # no geometry: no decoder
        ours_s.append((t["forward"] + t["jacobian"]) / 1000)

    def captum() -> None:
        sal = Saliency(logits_of)
        for k in range(len(LABELS)):
            sal.attribute(scaled.clone(), target=k, abs=True)

    forward_s, backward_s = [], []

    def floor_parts() -> None:
        with _inference(model):
            x = scaled.clone().requires_grad_(True)
            t0 = time.perf_counter()
            logits = logits_of(x)
            t1 = time.perf_counter()
            input_gradients(x, logits, [0])
            t2 = time.perf_counter()
        forward_s.append(t1 - t0)
        backward_s.append(t2 - t1)

    def median_of(fn) -> float:  # type: ignore[no-untyped-def]
        fn()
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        return statistics.median(times)

    median_of(ours)
    t_ours = statistics.median(ours_s[1:])
    with _inference(model):
        t_captum = median_of(captum)
    for _ in range(runs + 1):
        floor_parts()
    t_forward, t_backward = statistics.median(forward_s[1:]), statistics.median(backward_s[1:])
    return {"ours_s": t_ours, "captum_s": t_captum, "forward_s": t_forward, "backward_s": t_backward,
            "floor_s": t_forward + len(LABELS) * t_backward}


def child(args: argparse.Namespace) -> None:
    fn = measure_jacobians if args.jacobians else measure_case
    print(json.dumps(fn(Path(args.child), args.runs, args.threads)))


def run_child(path: Path, runs: int, threads: int, *extra: str) -> dict:
    cmd = [sys.executable, __file__, "--child", str(path), "--runs", str(runs), "--threads", str(threads), *extra]
    res = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, check=False)
    if res.returncode != 0:
        raise SystemExit(f"benchmark child failed: {res.stderr.strip().splitlines()[-1] if res.stderr else res.returncode}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def cold_cli_s(path: Path) -> float:
    """One ``ecg-aio analyze`` process, start to exit (imports and network loading included)."""
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "app.cli", "analyze", str(path), "--out", f"{tmp}/out", "--device", "cpu"],
                       cwd=REPO, capture_output=True, check=True, env={**os.environ, "OMP_NUM_THREADS": "2"})
        return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--jacobians", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    import torch

    print(f"{os.cpu_count()} CPUs, torch {torch.__version__}, {args.threads} threads, "
          f"medians of {args.runs} runs after one warm-up\n")
    print("| image | total (s) | target | load | page | leads | preprocess | forward | Jacobians | write (ms) "
          "| peak RSS (MB) | output (MB) |\n|---|---|---|---|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        cases = make_images(Path(tmp))
        for case, (what, path) in cases.items():
            r = run_child(path, args.runs, args.threads)
            st = r["stages_ms"]
            target = TARGETS_S.get(case)
            met = "" if target is None else f"≤ {target} {'✓' if r['total_s'] <= target else '✗'}"
            print(f"| {what} | {r['total_s']:.2f} | {met} | "
                  + " | ".join(f"{st.get(k, 0):.0f}" for k in ("load", "page", "leads", "preprocess", "forward", "jacobian", "write"))
                  + f" | {r['peak_rss_mb']:.0f} | {r['bytes'] / 1e6:.1f} |")
        print(f"\nCold `ecg-aio analyze` of the A4 sample, process start to exit: {cold_cli_s(SAMPLE):.1f} s")
        j = run_child(SAMPLE, args.runs, args.threads, "--jacobians")
    print("\n| all 8 labels, A4 sample | median (s) | ours vs it |\n|---|---|---|")
    print(f"| ours: one forward + 8 input-only backwards | {j['ours_s']:.2f} | 1.00 |")
    print(f"| Captum `Saliency` looped over the labels | {j['captum_s']:.2f} | "
          f"{j['captum_s'] / j['ours_s']:.2f} × faster (target ≥ 1.4) |")
    print(f"| floor: t_forward {j['forward_s']:.3f} + 8 × t_backward {j['backward_s']:.3f} | {j['floor_s']:.2f} | "
          f"{j['ours_s'] / j['floor_s']:.2f} × the floor (target ≤ 1.1) |")


if __name__ == "__main__":
    main()
