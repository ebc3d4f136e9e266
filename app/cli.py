"""`ecg-aio`: the command line. Thin: every command calls the same core functions as the GUI.

Exit status: 0 success; 2 bad input or usage (one line ``ecg-aio: error: ...`` on stderr);
3 weights missing, corrupt or mismatched; 130 interrupted by Ctrl-C or SIGTERM (partial
outputs removed); 1 an internal error (one line ``ecg-aio: internal error: ...``; the
traceback too when ECG_AIO_DEBUG=1). Imports no Qt.
"""
from __future__ import annotations

import argparse
import dataclasses
import dis
import json
import math
import os
import signal
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

import core

if TYPE_CHECKING:

    from core.page import Geometry
    from core.train.loop import TrainConfig

PROG = "ecg-aio"
EXIT_INTERNAL, EXIT_USAGE, EXIT_WEIGHTS, EXIT_INTERRUPTED = 1, 2, 3, 130
DEBUG_ENV = "ECG_AIO_DEBUG"  # =1: an internal error prints its traceback too


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
    if not (64 <= w <= 10000 and 64 <= h <= 10000):
        raise argparse.ArgumentTypeError(f"size must be 64 to 10000 px on each side, not {text!r}")
    return w, h


def _whole(lo: int, hi: int) -> Callable[[str], int]:
    """An argparse type: a whole number from lo to hi."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f"must be a whole number at least {lo} and at most {hi:,}, not {text!r}")
        return value
    return parse


def _positive(hi: float) -> Callable[[str], float]:
    """An argparse type: a finite number above 0 and at most hi."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not 0 < value <= hi:  # NaN fails every comparison
            raise argparse.ArgumentTypeError(f"must be a number above 0 and at most {hi:g}, not {text!r}")
        return value
    return parse


def _path(text: str) -> Path:
    """An argparse type: a non-empty path (Path('') would silently be the working folder)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty path was given; name a file or folder")
    return Path(text)


PAGE = _whole(1, 100_000)
SEED = _whole(0, 2**63 - 1)  # NumPy's generators take no negative seed


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog=PROG, description="ECG-AIO Review: what the network diagnoses on an ECG image, and where it looked.")
    p.add_argument("--version", action="version", version=f"{PROG} {core.__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    info = sub.add_parser("info", help="size, format, pages, checksum and page geometry of an image")
    info.add_argument("image", type=_path)
    info.add_argument("--page", type=PAGE, default=1, help="page of a PDF or multi-page TIFF (1-based)")
    info.add_argument("--json", action="store_true", help="print JSON instead of text")
    info.set_defaults(func=cmd_info)

    an = sub.add_parser("analyze", help="diagnose an ECG image and explain each label")
    an.add_argument("image", type=_path, help="an image, or a folder of images (each into OUT/<image name>/)")
    an.add_argument("--out", type=_path, required=True, help="output folder")
    an.add_argument("--page", type=PAGE, default=1)
    an.add_argument("--labels", default=None, help="comma-separated labels to explain (default: all)")
    an.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    an.add_argument("--smoothgrad", type=_whole(0, 256), default=0, metavar="N",
                    help="SmoothGrad samples (0 = plain Jacobian)")
    an.add_argument("--method", default="jacobian", choices=["jacobian", "gradcam", "ig"])
    an.add_argument("--overlays", action="store_true",
                    help="also write overlay_<LABEL>.png, the image with each label's purple overlay")
    an.set_defaults(func=cmd_analyze)

    cmp_ = sub.add_parser("compare", help="agreement between a saliency map or mask and a mask (JSON)")
    cmp_.add_argument("a", type=_path, help="saliency (DIR/saliency.npz:LABEL as analyze writes it, or .npy) or mask .png")
    cmp_.add_argument("b", type=_path, help="mask .png")
    cmp_.add_argument("--geometry", type=_path, default=None, help="page geometry JSON (enables grid metrics)")
    cmp_.add_argument("--sigma-mm", type=_positive(100.0), default=1.0,
                      help="smoothing of the pixel correlations, mm of paper (above 0, at most 100)")
    cmp_.set_defaults(func=cmd_compare)

    syn = sub.add_parser("synth", help="render synthetic ECG pages with labels, geometry and evidence masks")
    syn.add_argument("--out", type=_path, required=True)
    syn.add_argument("-n", type=_whole(1, 10_000_000), required=True, help="number of pages")
    syn.add_argument("--seed", type=SEED, default=0)
    syn.add_argument("--labels", default=None, help="comma-separated labels every page must carry")
    syn.add_argument("--domain", default="mix", choices=["clean", "scan", "shadow", "photo", "mix"])
    syn.add_argument("--layout", default=None, choices=["3x4", "3x4+1", "3x4+3", "6x2", "12x1"])
    syn.add_argument("--dpi", type=_whole(50, 600), default=None)
    syn.add_argument("--source", default="sim", choices=["sim", "records", "mix"])
    syn.add_argument("--size", type=_size, default=None, metavar="WxH", help="render straight to this pixel size")
    syn.add_argument("--split", default="train", choices=["train", "eval", "fit", "val"],
                     help="which records a record source draws from")
    syn.add_argument("--styles", default="studio", choices=["studio", "world"],
                     help="the studio's own printing, or other machines' grids, headers and copies")
    syn.set_defaults(func=cmd_synth)

    tr = sub.add_parser("train", help="train the network on pages rendered on the fly (checkpoints, resume)")
    tr.add_argument("--out", type=_path, required=True, help="run folder: checkpoint, log, curves, weights")
    tr.add_argument("--config", type=_path, default=None, help="JSON recipe (core.train.loop.TrainConfig fields)")
    tr.add_argument("--resume", action="store_true", help="continue from the run folder's checkpoint")
    tr.add_argument("--device", default=None, choices=["auto", "cpu", "cuda"],
                    help="override the recipe's device")
    tr.set_defaults(func=cmd_train)

    ex = sub.add_parser("export", help="checkpoint -> shipped weights + model card (thresholds chosen on val)")
    ex.add_argument("checkpoint", type=_path, help="a run's checkpoint.pt")
    ex.add_argument("--config", type=_path, required=True, help="the recipe the checkpoint was trained with")
    ex.add_argument("--out", type=_path, required=True, help="folder for ecg_aio.safetensors + model_card.json")
    ex.add_argument("--note", action="append", default=[], help="a line for the card's training notes")
    ex.add_argument("--limit", action="append", default=[], help="a known limit of this model, for the card")
    ex.set_defaults(func=cmd_export)

    st = sub.add_parser("study", help="reader studies: several readers, many ECGs, the agreement table")
    study = st.add_subparsers(dest="study_command", metavar="STUDY_COMMAND", parser_class=_Parser, required=True)
    si = study.add_parser("init", help="make a folder of ECG images a study")
    si.add_argument("folder", type=_path)
    si.add_argument("--labels", required=True, help="labels to annotate, e.g. AFL,PVC")
    si.add_argument("--readers", required=True, help="reader names, e.g. a,b,c")
    si.add_argument("--name", default=None)
    si.add_argument("--seed", type=SEED, default=0, help="seed of each reader's randomised order")
    si.add_argument("--unblinded", action="store_true", help="readers see the model while they annotate")
    si.set_defaults(func=cmd_study_init)
    sr = study.add_parser("report", help="model vs readers and reader vs reader, per label (CSV, JSON, Markdown, HTML, PDF)")
    sr.add_argument("folder", type=_path)
    sr.add_argument("--out", type=_path, default=None, help="report folder (default: FOLDER/report)")
    sr.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    sr.add_argument("--boot", type=_whole(1, 1_000_000), default=1000,
                    help="bootstrap resamples for the 95 %% intervals")
    sr.set_defaults(func=cmd_study_report)
    sd = study.add_parser("demo", help="a small study of studio pages with simulated readers")
    sd.add_argument("folder", type=_path)
    sd.add_argument("-n", type=_whole(1, 10_000), default=6, help="number of pages")
    sd.add_argument("--seed", type=SEED, default=0)
    sd.set_defaults(func=cmd_study_demo)
    sl = study.add_parser("ludb", help="LUDB records printed by the studio, read by the LUDB cardiologists' delineations")
    sl.add_argument("folder", type=_path)
    sl.add_argument("-n", type=_whole(1, 100_000), default=None, help="records (default: every LUDB record)")
    sl.add_argument("--domains", default="clean,photo", help="print domains, e.g. clean,photo")
    sl.add_argument("--seed", type=SEED, default=0)
    sl.set_defaults(func=cmd_study_ludb)

    ev = sub.add_parser("eval", help="evaluation report on held-out simulated pages and eval records")
    ev.add_argument("--weights", type=_path, default=None, help="model card JSON (default: the installed one)")
    ev.add_argument("--out", type=_path, required=True)
    ev.add_argument("--pages", type=_whole(1, 100_000), default=200, help="simulated pages per domain")
    ev.set_defaults(func=cmd_eval)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status.

    SIGTERM is handled as Ctrl-C while it runs (the previous handler is restored after).
    Bad input (CliError, OSError, and a ValueError a ``raise`` in this project's code meant
    for the user) exits 2 with one line; weights exit 3; anything else is an internal error,
    one line and exit 1, never shown as bad input.
    """
    parser = build_parser()
    try:
        with _sigterm_as_interrupt():
            args = parser.parse_args(argv)
            if args.command is None:
                parser.print_help()
                return EXIT_USAGE
            func: Callable[[argparse.Namespace], int] = args.func
            return func(args)
    except (KeyboardInterrupt, Terminated):
        print(f"{PROG}: interrupted; partial outputs removed", file=sys.stderr)
        return EXIT_INTERRUPTED
    except _WeightsFailure as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return EXIT_WEIGHTS
    except Exception as exc:  # noqa: BLE001 (every error becomes one line and an exit status)
        from core.io.errors import one_line

        if _is_weights_error(exc):
            print(f"{PROG}: error: {one_line(exc)}", file=sys.stderr)
            return EXIT_WEIGHTS
        if _is_bad_input(exc):
            print(f"{PROG}: error: {one_line(exc)}", file=sys.stderr)
            return EXIT_USAGE
        if os.environ.get(DEBUG_ENV) == "1":
            import traceback

            traceback.print_exc()
        what = "out of memory" if isinstance(exc, MemoryError) else f"{type(exc).__name__}: {one_line(exc)}"
        print(f"{PROG}: internal error: {what[:300]}; this is a fault of {PROG}, not of the input: "
              f"please report it (run again with {DEBUG_ENV}=1 for the details)", file=sys.stderr)
        return EXIT_INTERNAL


class _WeightsFailure(Exception):
    """Weights missing, corrupt or mismatched (exit 3)."""


class Terminated(BaseException):
    """SIGTERM, raised in the main thread where Ctrl-C raises KeyboardInterrupt and unwound the
    same way (every clean-up catches BaseException). Not a KeyboardInterrupt: CPython ends the
    process by SIGINT (status -2, not 130) once a KeyboardInterrupt has passed through code that
    C ran with PyRun_String, even when it was caught later; a SIGTERM during torch's import did."""


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """While the block runs, SIGTERM (a logout, ``kill``, a closing terminal) raises
    ``Terminated`` as Ctrl-C raises KeyboardInterrupt, so partial outputs are removed the same way; a second
    SIGTERM during that clean-up is ignored. The previous handler is restored afterwards.
    Only the main thread can install handlers; elsewhere nothing changes."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "SIGTERM"):
        yield
        return

    def interrupt(signum: int, frame: FrameType | None) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise Terminated(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _is_weights_error(exc: BaseException) -> bool:
    weights = sys.modules.get("core.model.weights")
    return weights is not None and isinstance(exc, weights.WeightsError)


def _is_bad_input(exc: BaseException) -> bool:
    """Is ``exc`` a message about the user's input, rather than a fault of the program?

    CliError and OSError (a file the system refused) are; so is a ValueError of this project's
    own classes (ImageLoadError, ...), a file that is not valid JSON or text, or a plain
    ValueError raised by a ``raise`` statement in core/ or app/ (the core raises those on
    purpose, as sentences for the user). A ValueError from inside NumPy, OpenCV or PyTorch (a
    failed reshape, a singular matrix) is a bug of ours, as is any other exception."""
    if isinstance(exc, (CliError, OSError)):
        return True
    if not isinstance(exc, ValueError):
        return False
    if type(exc).__module__.split(".")[0] in ("core", "app") or isinstance(exc, (json.JSONDecodeError, UnicodeError)):
        return True
    tb = exc.__traceback__
    if tb is None:
        return False
    while tb.tb_next is not None:
        tb = tb.tb_next
    if str(tb.tb_frame.f_globals.get("__name__", "")).split(".")[0] not in ("core", "app"):
        return False
    return any(i.offset == tb.tb_lasti and i.opname == "RAISE_VARARGS" and (i.arg or 0) >= 1
               for i in dis.get_instructions(tb.tb_frame.f_code))


def _check_out(out: Path, inputs: Sequence[Path] = (), option: str = "--out", may_hold_inputs: bool = True) -> None:
    """Refuse an output folder that cannot serve, before any work: one of the input files,
    an existing file (not a folder), a folder that holds an input (when ``may_hold_inputs`` is
    False: the results would be written, and replaced, beside the source), or a folder that
    cannot be created or written (a read-only disk, another user's folder). Writes nothing that
    stays: at most an empty probe folder, removed at once."""
    for source in inputs:
        if _same_file(out, source):
            raise CliError(f"{option} {out} is the input file itself; give a folder for the results "
                           "(the source is never written)")
    if os.path.lexists(out) and not out.exists():
        raise CliError(f"{option} {out} is a broken link; give a folder for the results")
    if out.exists() and not out.is_dir():
        raise CliError(f"{option} {out} is an existing file, not a folder; give a folder for the results "
                       "(it is created when missing)")
    if not may_hold_inputs:
        folder = out.resolve()
        for source in inputs:
            if folder in source.resolve().parents:
                raise CliError(f"{option} {out} holds the input {source.name}; give the results a folder "
                               "of their own (the source is never written)")
    ancestor = out
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise CliError(f"{option} {out} cannot be created: {ancestor} is a file, not a folder")
    if not _writable(ancestor):
        where = "it" if ancestor == out else f"{ancestor}"
        raise CliError(f"{option} {out} cannot be written: {where} is read-only or not yours; "
                       "choose a folder you can write to")


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return a.resolve() == b.resolve()


def _writable(folder: Path) -> bool:
    """Can files be created in ``folder``? Asked of the system, then tried with an empty
    folder removed at once (root passes the first on a read-only disk such as /sys)."""
    if not os.access(folder, os.W_OK | os.X_OK):
        return False
    try:
        probe = tempfile.mkdtemp(prefix=".ecg-aio-probe-", dir=folder)
    except OSError:
        return False
    os.rmdir(probe)
    return True


def _read_json(path: Path, what: str) -> Any:
    """A JSON file the user gave, read only once it is known to be a regular file of sane
    size; raises CliError or InputFileError with one sentence naming it."""
    from core.io.errors import read_regular_file

    data = read_regular_file(path, what, 64 << 20, name=str(path))
    try:
        return json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise CliError(f"{path} is not a {what}: it is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise CliError(f"{path} is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})") from None




# ---- commands -------------------------------------------------------------------------
def cmd_info(args: argparse.Namespace) -> int:
    from core.io import image_info

    from core.io import load_image

    info = image_info(args.image, page=args.page)
    from core.analyze import read_page_geometry

    page = read_page_geometry(load_image(args.image, page=args.page).rgb)
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
    from core.analyze import check_output_folder
    from core.labels import LABELS, parse_label_list

    labels = parse_label_list(args.labels) if args.labels else LABELS
    if not labels:
        raise CliError("--labels names no label; use e.g. --labels AFL,PVC")
    if args.image.is_dir():
        return _analyze_folder(args, labels)
    _check_out(args.out, [args.image], may_hold_inputs=False)  # before the network is loaded
    check_output_folder(args.out)  # and what write_analysis would refuse, refused now
    result = _analyze_one(args, args.image, args.out, labels, _progress_bar(len(labels), "explaining", unit="label"))
    if result.withheld is not None:
        print(f"warning: {args.image.name}: {result.withheld} If it is an ECG, check the photo: the whole "
              "sheet in view, flat, in focus.", file=sys.stderr)
    if result.page_reader is not None:
        print(f"page       {result.page_reader.reason}")
    for entry in json.loads((args.out / "result.json").read_text())["labels"]:
        mark = "withheld" if result.withheld is not None else "POSITIVE" if entry["positive"] else "negative"
        print(f"{entry['name']:>5}  {entry['probability']:.3f}  {mark:8}  {entry['where']['summary']}")
    if result.intervals is not None and result.intervals.beats:
        print(f"intervals  {result.intervals.summary()} (read off the decoded leads: check with calipers)")
    print(f"results in {args.out}/")
    return 0


def _analyze_one(args: argparse.Namespace, image: Path, out: Path, labels: Sequence[str],
                 bar: Callable[[int], None] = lambda done: None) -> Any:
    """Analyse one image into ``out`` (replaced as a whole); returns the Analysis."""
    from core.analyze import analyze_path, write_analysis
    from core.io import LoadedImage
    from core.model.weights import WeightsError

    loaded: list[LoadedImage] = []
    try:
        result = analyze_path(image, page=args.page, device=args.device, labels=labels, method=args.method,
                              smoothgrad=args.smoothgrad, on_loaded=loaded.append,
                              progress=lambda stage, done, total: bar(done) if stage == "explaining" else None)
    except WeightsError as exc:
        w, h = loaded[0].size
        raise _WeightsFailure(
            f"{exc} The image {image.name} ({w} × {h} px) was loaded and checked; nothing was written to {out}."
        ) from None
    write_analysis(result, out, overlays=args.overlays)
    return result


def _analyze_folder(args: argparse.Namespace, labels: Sequence[str]) -> int:
    """A worklist: every image directly in the folder, each into ``--out/<image name>/``, the
    network loaded once. An image that cannot be read is reported in one line and skipped;
    the exit status is then 2."""
    from core.analyze import check_output_folder
    from core.io.errors import one_line
    from core.review.worklist import list_images

    images = list_images(args.image)
    if not images:
        raise CliError(f"{args.image} holds no ECG image (PNG, JPEG, TIFF, BMP, WebP or PDF)")
    _check_out(args.out, images, may_hold_inputs=False)
    for image in images:
        check_output_folder(args.out / image.name)
    failed = 0
    bar = _progress_bar(len(images), "analysing", unit="image")
    for i, image in enumerate(images):
        try:
            result = _analyze_one(args, image, args.out / image.name, labels)
        except (ValueError, OSError) as exc:  # this image's own fault: say so, go on with the others
            failed += 1
            print(f"{PROG}: error: {one_line(exc)}", file=sys.stderr)
            continue
        finally:
            bar(i + 1)
        call = "withheld" if result.withheld else ", ".join(result.positives()) or "no label positive"
        print(f"{image.name}: {call}")
    print(f"results of {len(images) - failed} of {len(images)} images in {args.out}/")
    if failed:
        print(f"{PROG}: error: {failed} of {len(images)} images could not be analysed (see above)", file=sys.stderr)
        return EXIT_USAGE
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from core.compare import compare_maps, load_map
    from core.page import Geometry

    if args.b.suffix.lower() != ".png":
        raise CliError(f"{args.b.name} must be a mask .png (B is the reader's mask)")
    geometry = None
    if args.geometry is not None:
        found = _read_json(args.geometry, "geometry file")
        try:
            geometry = Geometry.from_json(found)
        except ValueError as exc:
            raise CliError(f"{args.geometry}: {exc}") from None
    b, _ = load_map(args.b)
    a, _ = load_map(args.a, expected_shape=b.shape)  # a saliency.npz map is read at the mask's size
    print(json.dumps(compare_maps(a, b, geometry=geometry, sigma_mm=args.sigma_mm), indent=2))
    return 0


def cmd_synth(args: argparse.Namespace) -> int:
    from core.synth.pages import SynthOptions, write_pages

    options = SynthOptions(
        n=args.n, seed=args.seed, labels=args.labels, domain=args.domain, layout=args.layout,
        dpi=args.dpi, source=args.source, size=args.size, split=args.split, styles=args.styles,
    )
    _check_out(args.out)
    write_pages(args.out, options, progress=_progress_bar(args.n, "rendering"))
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from core.train.export import export
    from core.train.loop import TrainConfig, train

    from core.train.report import plot_training_log

    _check_out(args.out, [args.config] if args.config else [])
    cfg = _recipe(args.config) if args.config else TrainConfig()
    if args.resume and (args.out / "config.json").exists() and args.config is None:
        cfg = _recipe(args.out / "config.json")
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

    _check_out(args.out, [args.checkpoint, args.config])
    cfg = _recipe(args.config)
    card, val = export(args.checkpoint, cfg, args.out, notes=args.note, limits=args.limit)
    print(f"weights and card: {card.parent} (validation macro AUROC {val['macro_auroc']:.3f})")
    return 0


def _recipe(path: Path) -> TrainConfig:
    """A training recipe file as a TrainConfig; a field it cannot take is the file's fault."""
    from core.train.loop import TrainConfig

    found = _read_json(path, "training recipe")
    if not isinstance(found, dict):
        raise CliError(f"{path} is not a training recipe: expected a JSON object of TrainConfig fields")
    try:
        return TrainConfig.from_json(found)
    except (TypeError, KeyError, ValueError) as exc:
        raise CliError(f"{path} is not a usable training recipe ({exc})") from None


def cmd_eval(args: argparse.Namespace) -> int:
    from core.model.weights import REPO, WeightsError, load_model
    from core.train.report import evaluate_all, write_report

    _check_out(args.out, [args.weights] if args.weights else [])
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
    _check_out(args.out or args.folder / "report")
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
