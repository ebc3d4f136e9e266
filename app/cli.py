"""`ecg-aio`: the command line. Thin: every command calls the same core functions as the GUI.

Exit status: 0 success; 2 bad input or usage (one line ``ecg-aio: error: ...`` on stderr);
3 weights missing, corrupt or mismatched; 130 interrupted (partial outputs removed).
Imports no Qt.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import core

if TYPE_CHECKING:
    import numpy as np

    from core.page import Geometry, PageResult

PROG = "ecg-aio"
EXIT_USAGE, EXIT_WEIGHTS, EXIT_INTERRUPTED = 2, 3, 130


class CliError(Exception):
    """Bad input or usage: printed as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, no usage dump, per the CLI contract
        raise CliError(f"{message} (see '{PROG} --help')")


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must look like 896x448, not {text!r}") from None
    return w, h


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog=PROG, description="ECG-AIO Review: what the network diagnoses on an ECG image, and where it looked.")
    p.add_argument("--version", action="version", version=f"{PROG} {core.__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    info = sub.add_parser("info", help="size, format, pages, checksum and page geometry of an image")
    info.add_argument("image", type=Path)
    info.add_argument("--page", type=int, default=1, help="page of a PDF or multi-page TIFF (1-based)")
    info.add_argument("--json", action="store_true", help="print JSON instead of text")
    info.set_defaults(func=cmd_info)

    an = sub.add_parser("analyze", help="diagnose an ECG image and explain each label")
    an.add_argument("image", type=Path)
    an.add_argument("--out", type=Path, required=True, help="output folder")
    an.add_argument("--page", type=int, default=1)
    an.add_argument("--labels", default=None, help="comma-separated labels to explain (default: all)")
    an.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    an.add_argument("--smoothgrad", type=int, default=0, metavar="N", help="SmoothGrad samples (0 = plain Jacobian)")
    an.add_argument("--method", default="jacobian", choices=["jacobian", "gradcam", "ig"])
    an.set_defaults(func=cmd_analyze)

    cmp_ = sub.add_parser("compare", help="agreement between a saliency map or mask and a mask (JSON)")
    cmp_.add_argument("a", type=Path, help="saliency .npy or mask .png")
    cmp_.add_argument("b", type=Path, help="mask .png")
    cmp_.add_argument("--geometry", type=Path, default=None, help="page geometry JSON (enables grid metrics)")
    cmp_.add_argument("--sigma-mm", type=float, default=1.0)
    cmp_.set_defaults(func=cmd_compare)

    syn = sub.add_parser("synth", help="render synthetic ECG pages with labels, geometry and evidence masks")
    syn.add_argument("--out", type=Path, required=True)
    syn.add_argument("-n", type=int, required=True, help="number of pages")
    syn.add_argument("--seed", type=int, default=0)
    syn.add_argument("--labels", default=None, help="comma-separated labels every page must carry")
    syn.add_argument("--domain", default="mix", choices=["clean", "scan", "shadow", "photo", "mix"])
    syn.add_argument("--layout", default=None, choices=["3x4", "3x4+1", "3x4+3", "6x2", "12x1"])
    syn.add_argument("--dpi", type=int, default=None)
    syn.add_argument("--source", default="sim", choices=["sim", "records", "mix"])
    syn.add_argument("--size", type=_size, default=None, metavar="WxH", help="render straight to this pixel size")
    syn.add_argument("--split", default="train", choices=["train", "eval", "fit", "val"],
                     help="which records a record source draws from")
    syn.set_defaults(func=cmd_synth)

    tr = sub.add_parser("train", help="train the network on pages rendered on the fly (checkpoints, resume)")
    tr.add_argument("--out", type=Path, required=True, help="run folder: checkpoint, log, curves, weights")
    tr.add_argument("--config", type=Path, default=None, help="JSON recipe (core.train.loop.TrainConfig fields)")
    tr.add_argument("--resume", action="store_true", help="continue from the run folder's checkpoint")
    tr.add_argument("--device", default=None, choices=["auto", "cpu", "cuda"],
                    help="override the recipe's device")
    tr.set_defaults(func=cmd_train)

    ex = sub.add_parser("export", help="checkpoint -> shipped weights + model card (thresholds chosen on val)")
    ex.add_argument("checkpoint", type=Path, help="a run's checkpoint.pt")
    ex.add_argument("--config", type=Path, required=True, help="the recipe the checkpoint was trained with")
    ex.add_argument("--out", type=Path, required=True, help="folder for ecg_aio.safetensors + model_card.json")
    ex.add_argument("--note", action="append", default=[], help="a line for the card's training notes")
    ex.add_argument("--limit", action="append", default=[], help="a known limit of this model, for the card")
    ex.set_defaults(func=cmd_export)

    st = sub.add_parser("study", help="reader studies: several readers, many ECGs, the agreement table")
    study = st.add_subparsers(dest="study_command", metavar="STUDY_COMMAND", parser_class=_Parser, required=True)
    si = study.add_parser("init", help="make a folder of ECG images a study")
    si.add_argument("folder", type=Path)
    si.add_argument("--labels", required=True, help="labels to annotate, e.g. AFL,PVC")
    si.add_argument("--readers", required=True, help="reader names, e.g. a,b,c")
    si.add_argument("--name", default=None)
    si.add_argument("--seed", type=int, default=0, help="seed of each reader's randomised order")
    si.add_argument("--unblinded", action="store_true", help="readers see the model while they annotate")
    si.set_defaults(func=cmd_study_init)
    sr = study.add_parser("report", help="model vs readers and reader vs reader, per label (CSV, JSON, Markdown, HTML, PDF)")
    sr.add_argument("folder", type=Path)
    sr.add_argument("--out", type=Path, default=None, help="report folder (default: FOLDER/report)")
    sr.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    sr.add_argument("--boot", type=int, default=1000, help="bootstrap resamples for the 95 %% intervals")
    sr.set_defaults(func=cmd_study_report)
    sd = study.add_parser("demo", help="a small study of studio pages with simulated readers")
    sd.add_argument("folder", type=Path)
    sd.add_argument("-n", type=int, default=6, help="number of pages")
    sd.add_argument("--seed", type=int, default=0)
    sd.set_defaults(func=cmd_study_demo)
    sl = study.add_parser("ludb", help="LUDB records printed by the studio, read by the LUDB cardiologists' delineations")
    sl.add_argument("folder", type=Path)
    sl.add_argument("-n", type=int, default=None, help="records (default: every LUDB record)")
    sl.add_argument("--domains", default="clean,photo", help="print domains, e.g. clean,photo")
    sl.add_argument("--seed", type=int, default=0)
    sl.set_defaults(func=cmd_study_ludb)

    ev = sub.add_parser("eval", help="evaluation report on held-out simulated pages and eval records")
    ev.add_argument("--weights", type=Path, default=None, help="model card JSON (default: the installed one)")
    ev.add_argument("--out", type=Path, required=True)
    ev.add_argument("--pages", type=int, default=200, help="simulated pages per domain")
    ev.set_defaults(func=cmd_eval)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help()
            return EXIT_USAGE
        func: Callable[[argparse.Namespace], int] = args.func
        return func(args)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted; partial outputs removed", file=sys.stderr)
        return EXIT_INTERRUPTED
    except _WeightsFailure as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return EXIT_WEIGHTS
    except (CliError, ValueError, OSError) as exc:
        from core.io.errors import one_line

        print(f"{PROG}: error: {one_line(exc)}", file=sys.stderr)
        return EXIT_USAGE


class _WeightsFailure(Exception):
    """Weights missing, corrupt or mismatched (exit 3)."""




# ---- commands -------------------------------------------------------------------------
def cmd_info(args: argparse.Namespace) -> int:
    from core.io import image_info

    from core.io import load_image

    info = image_info(args.image, page=args.page)
    page, _ = _detect_page(load_image(args.image, page=args.page).rgb)
    geometry = page.geometry
    info["geometry"] = None if geometry is None else geometry.to_json()
    info["is_ecg"], info["page_reader"] = page.is_ecg, page.reason
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    w, h = info["size"]
    print(f"{info['path']}\n  format   {info['format']}, page {info['page']} of {info['pages']}\n"
          f"  size     {w} × {h} px ({w * h / 1e6:.1f} MP), {info['bytes']:,} bytes\n"
          f"  sha256   {info['sha256']}\n"
          f"  geometry {'not detected' if geometry is None else geometry.layout or 'calibrated, layout unknown'}"
          + ("" if geometry is None else f" (confidence {geometry.confidence})")
          + "".join(f"\n  {line}" for line in _geometry_lines(geometry))
          + f"\n  reader   {page.reason}")
    return 0


def _geometry_lines(geometry: Geometry | None) -> list[str]:
    """The scale, paper speed and gain, and each panel's lead, time span and box (image px)."""
    if geometry is None or geometry.px_per_mm_xy is None:
        return []
    kx, ky = geometry.px_per_mm_xy
    lines = [f"scale    {kx:.2f} × {ky:.2f} px/mm, {geometry.speed_mm_s:g} mm/s, {geometry.gain_mm_mv:g} mm/mV"]
    for p in geometry.panels:
        xs, ys = [q[0] for q in p.quad_px], [q[1] for q in p.quad_px]
        lines.append(f"panel    {p.lead:<4} {p.t0_s:4.1f}–{p.t1_s:4.1f} s  x {min(xs):5.0f}–{max(xs):5.0f}  "
                     f"y {min(ys):5.0f}–{max(ys):5.0f} px")
    return lines


def cmd_analyze(args: argparse.Namespace) -> int:
    from core.analyze import analyze_path, write_analysis
    from core.io import LoadedImage
    from core.labels import LABELS, parse_label_list
    from core.model.weights import WeightsError

    labels = parse_label_list(args.labels) if args.labels else LABELS
    if not labels:
        raise CliError("--labels names no label; use e.g. --labels AFL,PVC")
    loaded: list[LoadedImage] = []
    bar = _progress_bar(len(labels), "explaining", unit="label")
    try:
        result = analyze_path(args.image, page=args.page, device=args.device, labels=labels, method=args.method,
                              smoothgrad=args.smoothgrad, on_loaded=loaded.append,
                              progress=lambda stage, done, total: bar(done) if stage == "explaining" else None)
    except WeightsError as exc:
        w, h = loaded[0].size
        raise _WeightsFailure(
            f"{exc} The image {args.image.name} ({w} × {h} px) was loaded and "
            f"checked; nothing was written to {args.out}."
        ) from None
    reader = result.page_reader
    if reader is not None and not reader.is_ecg:
        print(f"warning: {args.image.name} does not look like an ECG to the page reader ({reader.reason}) "
              "If it is not one, ignore the diagnoses below.", file=sys.stderr)
    path = write_analysis(result, args.out)
    for entry in json.loads(path.read_text())["labels"]:
        mark = "POSITIVE" if entry["positive"] else "negative"
        print(f"{entry['name']:>5}  {entry['probability']:.3f}  {mark:8}  {entry['where']['summary']}")
    print(f"results in {args.out}/")
    return 0


def _detect_page(rgb: "np.ndarray") -> tuple["PageResult", float]:
    """What the page reader found (geometry, is it an ECG, why) and the time it took (ms)."""
    import time

    from core.page.detect import detect_geometry

    t0 = time.perf_counter()
    found = detect_geometry(rgb)
    return found, (time.perf_counter() - t0) * 1000


def cmd_compare(args: argparse.Namespace) -> int:
    from core.compare import compare_maps, load_map
    from core.page import Geometry

    a, _ = load_map(args.a)
    b, b_is_mask = load_map(args.b)
    if not b_is_mask:
        raise CliError(f"{args.b.name} must be a mask .png (B is the reader's mask)")
    geometry = None
    if args.geometry is not None:
        geometry = Geometry.from_json(json.loads(args.geometry.read_text()))
    print(json.dumps(compare_maps(a, b, geometry=geometry, sigma_mm=args.sigma_mm), indent=2))
    return 0


def cmd_synth(args: argparse.Namespace) -> int:
    from core.synth.pages import SynthOptions, write_pages

    options = SynthOptions(
        n=args.n, seed=args.seed, labels=args.labels, domain=args.domain, layout=args.layout,
        dpi=args.dpi, source=args.source, size=args.size, split=args.split,
    )
    write_pages(args.out, options, progress=_progress_bar(args.n, "rendering"))
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from core.train.export import export
    from core.train.loop import TrainConfig, train

    from core.train.report import plot_training_log

    cfg = TrainConfig.from_json(json.loads(args.config.read_text())) if args.config else TrainConfig()
    if args.resume and (args.out / "config.json").exists() and args.config is None:
        cfg = TrainConfig.from_json(json.loads((args.out / "config.json").read_text()))
    if args.device:
        cfg = dataclasses.replace(cfg, device=args.device)
    bar = _progress_bar(1000, "training", unit="‰")
    ckpt = train(cfg, args.out, resume=args.resume, progress=lambda p, losses: bar(min(1000, int(p * 1000))))
    plot_training_log(args.out / "log.csv", args.out / "loss_curves.png")
    card, val = export(ckpt, cfg, args.out / "weights")
    print(f"weights and card: {card.parent} (validation macro AUROC {val['macro_auroc']})")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from core.train.export import export
    from core.train.loop import TrainConfig

    cfg = TrainConfig.from_json(json.loads(args.config.read_text()))
    card, val = export(args.checkpoint, cfg, args.out, notes=args.note, limits=args.limit)
    print(f"weights and card: {card.parent} (validation macro AUROC {val['macro_auroc']:.3f})")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from core.model.weights import REPO, WeightsError, load_model
    from core.train.report import evaluate_all, write_report

    try:
        model, weights = load_model(args.weights)
    except WeightsError as exc:
        raise _WeightsFailure(str(exc)) from None
    preds = evaluate_all(model, weights, n_sim=args.pages,
                         progress=lambda what: print(f"evaluating {what}", file=sys.stderr))
    ablation = REPO / "docs" / "ablation.jsonl"  # the GPU ablation runs' rows (a checkout has them)
    rows = ablation.read_text().splitlines() if ablation.exists() else []
    write_report(args.out, preds, weights, ablation=[json.loads(r) for r in rows if r.strip()])
    print((args.out / "report.md").read_text())
    return 0


def cmd_study_init(args: argparse.Namespace) -> int:
    from core.labels import parse_label_list
    from core.study.study import init_study, reader_order

    readers = tuple(r.strip() for r in args.readers.split(",") if r.strip())
    study = init_study(args.folder, parse_label_list(args.labels), readers, blinded=not args.unblinded,
                       seed=args.seed, name=args.name)
    print(f"study {study.name!r}: {len(study.images)} images, labels {', '.join(study.labels)}, "
          f"readers {', '.join(study.readers)}, {'blinded' if study.blinded else 'not blinded'}")
    for reader in study.readers:
        print(f"  {reader}: starts with {reader_order(study, reader)[0]}")
    return 0


def cmd_study_report(args: argparse.Namespace) -> int:
    from core.model.weights import WeightsError
    from core.study.report import study_table, write_report
    from core.study.study import load_study

    study = load_study(args.folder)
    try:
        table = study_table(study, device=args.device, n_boot=args.boot, progress=_sized_bar("reading the study", "image"))
    except WeightsError as exc:
        raise _WeightsFailure(str(exc)) from None
    path = write_report(table, args.out or args.folder / "report")
    print(path.read_text())
    return 0


def cmd_study_demo(args: argparse.Namespace) -> int:
    from core.study.demo import make_demo_study

    study = make_demo_study(args.folder, n_images=args.n, seed=args.seed)
    print(f"demo study with simulated readers: {len(study.images)} pages in {args.folder}")
    return 0


def cmd_study_ludb(args: argparse.Namespace) -> int:
    from core.study.ludb import make_ludb_study

    domains = tuple(d.strip() for d in args.domains.split(",") if d.strip())
    study = make_ludb_study(args.folder, domains=domains, n_records=args.n, seed=args.seed,
                            progress=_sized_bar("printing LUDB records"))
    print(f"LUDB study: {len(study.images)} pages in {args.folder}; reader {', '.join(study.readers)}")
    return 0


def _sized_bar(what: str, unit: str = "page") -> Callable[[int, int], None]:
    """A progress bar whose total comes with the first ``progress(done, total)`` call."""
    bars: list[Callable[[int], None]] = []

    def update(done: int, total: int) -> None:
        if not bars:
            bars.append(_progress_bar(total, what, unit))
        bars[0](done)

    return update


def _progress_bar(total: int, what: str, unit: str = "page") -> Callable[[int], None]:
    """A tqdm bar on a TTY, nothing when piped; returns ``update(done)``."""
    if not sys.stderr.isatty():
        return lambda done: None
    from tqdm import tqdm

    bar = tqdm(total=total, desc=what, unit=unit, file=sys.stderr)

    def update(done: int) -> None:
        bar.update(done - bar.n)
        if done >= total:
            bar.close()

    return update


if __name__ == "__main__":
    sys.exit(main())
