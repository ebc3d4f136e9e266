"""Bad inputs a new user tries (issue #23, "nothing lost, no traceback"), one test per class of
fault: each gets exit status 2 (bad input) or 3 (weights) and one sentence on stderr, writes
and deletes nothing; a fault of the program itself is said to be one (exit 1), never passed off
as bad input; SIGTERM is handled as Ctrl-C. The real CLI throughout, the real network where it
runs."""
from __future__ import annotations

import io
import json
import math
import os
import shutil
import signal
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest

from app.cli import main

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "resources" / "samples" / "sample_scan.jpg"
CARD = ROOT / "resources" / "model_card.json"


# ---- helpers --------------------------------------------------------------------------------------
def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "app.cli", *args], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=timeout, check=False)


def one_error(err: str, kind: str = "error") -> str:
    """The single stderr line, checked to be ``ecg-aio: <kind>: ...`` without a traceback."""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"ecg-aio: {kind}: "), err
    assert "Traceback" not in err
    return lines[0]


def snapshot(folder: Path) -> dict[str, bytes | None]:
    """Every entry under ``folder`` (hidden ones too): a file's bytes, None for a folder."""
    return {p.relative_to(folder).as_posix(): (p.read_bytes() if p.is_file() else None)
            for p in sorted(folder.rglob("*")) if not p.is_symlink()}


def leftovers(folder: Path) -> list[str]:
    """Temporary and staging files a run may have left."""
    return sorted(p.name for p in folder.rglob(".*")
                  if p.name.endswith((".tmp", ".staging", ".old")) or p.name.startswith(".ecg-aio-probe-"))


@pytest.fixture()
def no_weights(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Weights that cannot load: a command refused with 2 was refused before the network."""
    card = tmp_path / "absent" / "model_card.json"
    monkeypatch.setenv("ECG_AIO_WEIGHTS", str(card))
    return card


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def huge_png(path: Path, w: int = 30_000, h: int = 30_000) -> Path:
    """A valid 1-bit PNG of w × h px, all black: small on disk (deflate), 900 MB decoded."""
    comp = zlib.compressobj(9)
    row = b"\x00" * (1 + (w + 7) // 8)
    body = b"".join(comp.compress(row * 1000) for _ in range(h // 1000)) + comp.flush()
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 1, 0, 0, 0, 0))
                     + png_chunk(b"IDAT", body) + png_chunk(b"IEND", b""))
    return path


def ecg_like_strip(w: int = 20_000, h: int = 200) -> np.ndarray:
    """A long thin strip: a red grid and a wavy trace, BGR."""
    img = np.full((h, w, 3), 255, np.uint8)
    img[:, ::8] = img[::8, :] = (180, 180, 255)
    x = np.arange(w)
    y = (h / 2 + 0.3 * h * np.sin(x / 40.0) * (np.sin(x / 7.0) > 0.95)).astype(int)
    img[np.clip(y, 0, h - 1), x] = 0
    return img


def text_page(w: int = 1700, h: int = 1100) -> np.ndarray:
    """A page of plain typed text, BGR (the page reader once took its lines for trace rows)."""
    img = np.full((h, w, 3), 255, np.uint8)
    words = ["the", "patient", "was", "seen", "in", "clinic", "today", "with", "palpitations", "and", "no",
             "chest", "pain", "reported"]
    rng = np.random.default_rng(0)
    for y in range(60, h - 40, 35):
        cv2.putText(img, " ".join(rng.choice(words, 12)), (40, y), cv2.FONT_HERSHEY_SIMPLEX, 1.0, (0, 0, 0), 2,
                    cv2.LINE_AA)
    return img


# ---- 1. the output folder is checked before any work ------------------------------------------------
def _out_is_input(d: Path, image: Path) -> str:
    return str(image)


def _out_is_a_file(d: Path, image: Path) -> str:
    (d / "notes.txt").write_text("my notes\n")
    return str(d / "notes.txt")


def _out_is_empty(d: Path, image: Path) -> str:
    return ""


def _out_holds_the_input(d: Path, image: Path) -> str:
    # named like an output, so only the up-front check keeps the source from being replaced
    held = d / "results" / "overlay_AFL.png"
    held.parent.mkdir()
    shutil.copyfile(image, held)
    image.unlink()
    return str(held.parent)


def _out_is_read_only(d: Path, image: Path) -> str:
    if os.geteuid() != 0:
        locked = d / "locked"
        locked.mkdir()
        locked.chmod(0o555)
        return str(locked / "results")
    if not Path("/sys").is_dir() or os.access("/sys/fs", os.W_OK) and _can_make_folder_in(Path("/sys")):
        pytest.skip("running as root with no read-only folder to try")
    return "/sys/ecg-aio-results"


def _can_make_folder_in(folder: Path) -> bool:
    try:
        (folder / "ecg-aio-probe").mkdir()
    except OSError:
        return False
    (folder / "ecg-aio-probe").rmdir()
    return True


@pytest.mark.parametrize("make_out", [_out_is_input, _out_is_a_file, _out_is_empty, _out_holds_the_input,
                                      _out_is_read_only], ids=lambda f: f.__name__[1:])
def test_a_bad_output_folder_is_refused_before_the_analysis(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                              no_weights: Path, make_out) -> None:
    image = tmp_path / "scan.jpg"
    shutil.copyfile(SAMPLE, image)
    out = make_out(tmp_path, image)
    source = next(p for p in (image, Path(out) / "overlay_AFL.png") if p.is_file())
    before = snapshot(tmp_path)
    try:
        status = main(["analyze", str(source), "--out", out, "--labels", "AFL", "--device", "cpu"])
        line = one_error(capsys.readouterr().err)
        assert status == 2, line  # 3 would mean the network was reached first
        assert "--out" in line
        assert snapshot(tmp_path) == before  # nothing written, the source untouched
    finally:
        for p in tmp_path.rglob("locked"):
            p.chmod(0o755)


# ---- 2. SIGTERM is Ctrl-C ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def previous_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A complete earlier analysis, to be left exactly as it was by an interrupted one."""
    out = tmp_path_factory.mktemp("previous") / "out"
    res = run_cli("analyze", str(SAMPLE), "--out", str(out), "--labels", "AFL", "--device", "cpu", timeout=300)
    assert res.returncode == 0, res.stderr
    return out


@pytest.mark.parametrize("when", ["working", "writing"])
def test_sigterm_during_analyze_is_handled_like_ctrl_c(tmp_path: Path, previous_run: Path, when: str) -> None:
    """SIGTERM while the network works, or once the outputs are being written: exit 130, no
    temporary file left, and the earlier complete result still there byte for byte."""
    out = tmp_path / "out"
    shutil.copytree(previous_run, out)
    before = snapshot(out)
    proc = subprocess.Popen([sys.executable, "-m", "app.cli", "analyze", str(SAMPLE), "--out", str(out),
                             "--labels", "AFL", "--device", "cpu"], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        if when == "working":
            time.sleep(2.0)
        else:  # the moment the run starts writing: its staging folder appears beside the output folder
            deadline = time.monotonic() + 240
            while not any(n.endswith(".staging") for n in os.listdir(tmp_path)) and time.monotonic() < deadline:
                assert proc.poll() is None, "the analysis ended before it wrote anything"
                time.sleep(0.005)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    assert leftovers(tmp_path) == []
    after = snapshot(out)
    if after != before:  # the signal came while the finished set was put in place: held back till then
        assert when == "writing" and sorted(after) == ["result.json", "saliency.npz", "signals.csv"]
        assert json.loads(after["result.json"])["labels"][0]["name"] == "AFL"


def test_the_sigterm_handler_is_restored_after_main(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    previous = signal.getsignal(signal.SIGTERM)
    main(["info", str(tmp_path / "missing.png")])
    assert signal.getsignal(signal.SIGTERM) is previous
    capsys.readouterr()


# ---- 3. special files are refused at once -----------------------------------------------------------
@pytest.mark.parametrize("command, special", [
    ("info", "fifo"), ("info", "/dev/zero"), ("info", "/dev/urandom"), ("analyze", "fifo"), ("geometry", "fifo"),
])
def test_a_pipe_or_device_is_not_a_regular_file(tmp_path: Path, command: str, special: str) -> None:
    path = tmp_path / "scan.png"
    if special == "fifo":
        os.mkfifo(path)  # opened for reading, a FIFO waits for a writer: the run would hang
    else:
        path = Path(special)
        if not path.exists():
            pytest.skip(f"{special} is not on this system")
    args = {"info": ["info", str(path)],
            "analyze": ["analyze", str(path), "--out", str(tmp_path / "out")],
            "geometry": ["compare", str(tmp_path / "a.png"), str(tmp_path / "a.png"), "--geometry", str(path)]}
    cv2.imwrite(str(tmp_path / "a.png"), np.zeros((20, 40), np.uint8))
    res = run_cli(*args[command], env={"ECG_AIO_WEIGHTS": str(tmp_path / "none")}, timeout=60)
    line = one_error(res.stderr)
    assert res.returncode == 2 and f"{path} is not a regular file" in line
    assert not (tmp_path / "out").exists()


def test_a_folder_as_image_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str], no_weights: Path) -> None:
    assert main(["info", str(tmp_path)]) == 2
    assert "is a folder, not an image file" in one_error(capsys.readouterr().err)
    # analyze takes a folder as a worklist: one without images is said so
    assert main(["analyze", str(tmp_path), "--out", str(tmp_path / "out")]) == 2
    assert "holds no ECG image" in one_error(capsys.readouterr().err)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "TIFF", "PDF"])
def test_every_format_is_held_to_the_pixel_limit_before_decoding(tmp_path: Path, fmt: str,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    from PIL import Image

    path = tmp_path / f"big.{fmt.lower()}"
    if fmt == "PNG":
        huge_png(path)
    elif fmt == "TIFF":
        Image.new("1", (12_000, 9_000)).save(path, "TIFF", compression="tiff_deflate")
    elif fmt == "JPEG":  # a small JPEG whose frame header claims 30000 x 30000 px
        buf = io.BytesIO()
        Image.new("L", (16, 16)).save(buf, "JPEG")
        data = bytearray(buf.getvalue())
        sof = data.index(b"\xff\xc0")
        data[sof + 5:sof + 9] = struct.pack(">HH", 30_000, 30_000)
        path.write_bytes(bytes(data))
    else:  # a 5000 x 5000 pt page is 13,889 px square at 200 dpi
        import pypdfium2 as pdfium

        doc = pdfium.PdfDocument.new()
        doc.new_page(5000, 5000)
        doc.save(str(path))
    assert main(["info", str(path)]) == 2
    assert "MP limit" in one_error(capsys.readouterr().err)


# ---- 4. odd pages are read, not crashed on; a fault of ours is said to be one -----------------------------
@pytest.mark.parametrize("make", [ecg_like_strip, text_page], ids=["20000x200 strip", "typed text"])
def test_odd_pages_get_an_answer_from_the_page_reader(tmp_path: Path, make, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "page.png"
    cv2.imwrite(str(path), make())
    assert main(["info", str(path), "--json"]) == 0, capsys.readouterr().err
    info = json.loads(capsys.readouterr().out)
    assert info["geometry"] is None and not info["is_ecg"], info["page_reader"]


def test_a_strip_is_analysed_to_the_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "strip.png"
    cv2.imwrite(str(path), ecg_like_strip())
    assert main(["analyze", str(path), "--out", str(tmp_path / "out"), "--labels", "AFL", "--device", "cpu"]) == 0, \
        capsys.readouterr().err
    result = json.loads((tmp_path / "out" / "result.json").read_text())
    assert result["image"]["size"] == [20_000, 200] and result["page_reader"]["is_ecg"] is False


def _numpy_fault(rgb: np.ndarray) -> None:
    np.zeros(5).reshape(2, 3)  # a ValueError from inside NumPy: our bug, not the user's input


def _index_fault(rgb: np.ndarray) -> None:
    rgb.shape[7]  # an IndexError: a bug in the page reader


@pytest.mark.parametrize("fault", [_numpy_fault, _index_fault], ids=["numpy ValueError", "IndexError"])
def test_an_internal_error_is_reported_as_one_exit_1(tmp_path: Path, fault, monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """A bug in the page reader (simulated) is an internal error, exit 1, one line; the
    traceback only with ECG_AIO_DEBUG=1."""
    import core.analyze

    path = tmp_path / "page.png"
    cv2.imwrite(str(path), text_page(400, 300))
    monkeypatch.setattr(core.analyze, "detect_geometry", fault)   # where info and analyze call it
    monkeypatch.delenv("ECG_AIO_DEBUG", raising=False)
    assert main(["info", str(path)]) == 1
    line = one_error(capsys.readouterr().err, kind="internal error")
    assert "please report it" in line
    monkeypatch.setenv("ECG_AIO_DEBUG", "1")
    assert main(["info", str(path)]) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and err.strip().splitlines()[-1].startswith("ecg-aio: internal error: ")


def test_a_value_error_meant_for_the_user_stays_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                          no_weights: Path) -> None:
    assert main(["analyze", str(SAMPLE), "--out", str(tmp_path / "out"), "--labels", "XYZ"]) == 2
    assert "XYZ" in one_error(capsys.readouterr().err)


# ---- 5. a model card with a bad network shape -----------------------------------------------------------
@pytest.mark.parametrize("width", [7, -1, "abc", 10**9, 32.5, None])
def test_a_card_with_a_bad_width_exits_3_in_one_sentence(tmp_path: Path, width, capsys: pytest.CaptureFixture[str]) -> None:
    card = json.loads(CARD.read_text())
    card["file"] = str(CARD.with_name(card["file"]))  # the real weights, so only the width is wrong
    card["net"]["width"] = width
    bad = tmp_path / "bad_card.json"
    bad.write_text(json.dumps(card))
    assert main(["eval", "--weights", str(bad), "--out", str(tmp_path / "report"), "--pages", "1"]) == 3
    line = one_error(capsys.readouterr().err)
    assert len(line) < 400 and ("net.width" in line or "stem.0.weight" in line), line
    assert not (tmp_path / "report").exists()


def test_analyze_with_a_misfitting_card_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    card = json.loads(CARD.read_text())
    card["file"] = str(CARD.with_name(card["file"]))
    card["net"]["width"] = 16
    (tmp_path / "w").mkdir()
    (tmp_path / "w" / "model_card.json").write_text(json.dumps(card))
    monkeypatch.setenv("ECG_AIO_WEIGHTS", str(tmp_path / "w"))
    assert main(["analyze", str(SAMPLE), "--out", str(tmp_path / "out"), "--labels", "AFL"]) == 3
    line = one_error(capsys.readouterr().err)
    assert "32 × 3 × 7 × 7 in the file but 16 × 3 × 7 × 7" in line and len(line) < 500
    assert not (tmp_path / "out").exists()


# ---- 6. compare, and every numeric option ---------------------------------------------------------------
def _geometry(w: int = 40, h: int = 20) -> dict:
    return {"schema": "ecg-aio/geometry@1", "image_size": [w, h], "layout": None, "speed_mm_s": 25.0,
            "gain_mm_mv": 10.0, "px_per_mm_xy": [1.0, 1.0], "page_to_image": [[1, 0, 0], [0, 1, 0], [0, 0, 1]],
            "confidence": {}, "panels": [{"lead": "II", "row": 0, "col": 0, "t0_s": 0.0, "t1_s": 1.6,
                                          "box_mm": [0, 0, 40, 20], "baseline_mm": 10.0, "quad_px": [],
                                          "confidence": 1.0}]}


def _panel(**fields):
    def edit(g: dict) -> dict:
        g["panels"][0].update(fields)
        return g
    return edit


GEOMETRY_FAULTS = {
    "a list": (lambda g: [], "expected a JSON object"),
    "an empty object": (lambda g: {}, "not a page geometry"),
    "no image_size": (lambda g: {k: v for k, v in g.items() if k != "image_size"}, "'image_size' is missing"),
    "t1_s 1e9": (_panel(t1_s=1e9), "t0_s < t1_s <= 60"),
    "t1_s NaN": (_panel(t1_s=math.nan), "t1_s must be a finite number"),
    "t0_s inf": (_panel(t0_s=math.inf), "t0_s must be a finite number"),
    "t1_s = t0_s": (_panel(t1_s=0.0), "t0_s < t1_s"),
    "a 3-point quad": (_panel(quad_px=[[0, 0], [1, 0], [1, 1]]), "quad_px must be a list of 4"),
    "px_per_mm 0": (lambda g: {**g, "px_per_mm_xy": [0, 1]}, "px_per_mm_xy must be two positive"),
    "speed as text": (lambda g: {**g, "speed_mm_s": "25"}, "speed_mm_s must be a number"),
    "a singular mapping": (lambda g: {**g, "page_to_image": [[0, 0, 0], [0, 0, 0], [0, 0, 1]]}, "singular"),
}


@pytest.mark.parametrize("case", list(GEOMETRY_FAULTS))
def test_a_bad_geometry_is_named_in_one_sentence(tmp_path: Path, case: str, capsys: pytest.CaptureFixture[str]) -> None:
    mask = np.zeros((20, 40), np.uint8)
    mask[5:10, 5:20] = 255
    cv2.imwrite(str(tmp_path / "m.png"), mask)
    geo = tmp_path / "g.json"
    geo.write_text(json.dumps(_geometry()))
    assert main(["compare", str(tmp_path / "m.png"), str(tmp_path / "m.png"), "--geometry", str(geo)]) == 0
    capsys.readouterr()
    edit, message = GEOMETRY_FAULTS[case]
    geo.write_text(json.dumps(edit(_geometry())))
    assert main(["compare", str(tmp_path / "m.png"), str(tmp_path / "m.png"), "--geometry", str(geo)]) == 2
    line = one_error(capsys.readouterr().err)
    assert message in line and "g.json" in line, line


def test_compare_refuses_huge_maps_by_their_headers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    mask = tmp_path / "m.png"
    cv2.imwrite(str(mask), np.zeros((20, 40), np.uint8))
    npy = tmp_path / "huge.npy"  # declares 100000 x 100000 float32 (40 GB), holds 64 bytes
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "<f4", "fortran_order": False, "shape": (100_000, 100_000)})
    npy.write_bytes(buf.getvalue() + bytes(64))
    t0 = time.perf_counter()
    assert main(["compare", str(npy), str(mask)]) == 2
    assert "100,000×100,000" in one_error(capsys.readouterr().err)
    assert main(["compare", str(mask), str(huge_png(tmp_path / "big.png"))]) == 2
    assert "30,000×30,000 px, over the 100 MP limit" in one_error(capsys.readouterr().err)
    assert time.perf_counter() - t0 < 5  # refused from the headers: nothing was decoded
    short = tmp_path / "short.npy"  # a sane shape, but the file ends early
    np.save(short, np.zeros((20, 40), np.float32))
    short.write_bytes(short.read_bytes()[:-100])
    assert main(["compare", str(short), str(mask)]) == 2
    assert "is truncated" in one_error(capsys.readouterr().err)


def test_compare_maps_of_two_sizes_is_one_sentence(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    np.save(tmp_path / "sal.npy", np.random.default_rng(0).random((30, 40)).astype(np.float32))
    cv2.imwrite(str(tmp_path / "m.png"), np.zeros((20, 40), np.uint8))
    assert main(["compare", str(tmp_path / "sal.npy"), str(tmp_path / "m.png")]) == 2
    line = one_error(capsys.readouterr().err)
    assert "sal.npy is 40×30 px but the other map is 40×20 px" in line  # the mask is read first


@pytest.mark.parametrize("args", [
    ["compare", "a.npy", "b.png", "--sigma-mm", "inf"],
    ["compare", "a.npy", "b.png", "--sigma-mm", "nan"],
    ["compare", "a.npy", "b.png", "--sigma-mm", "-1"],
    ["compare", "a.npy", "b.png", "--sigma-mm", "0"],
    ["analyze", "x.png", "--out", "o", "--smoothgrad", "-3"],
    ["analyze", "x.png", "--out", "o", "--smoothgrad", "100000"],
    ["analyze", "x.png", "--out", "o", "--page", "0"],
    ["info", "x.png", "--page", "-1"],
    ["synth", "--out", "o", "-n", "-5"],
    ["synth", "--out", "o", "-n", "2", "--seed", "-1"],
    ["synth", "--out", "o", "-n", "2", "--size", "0x0"],
    ["eval", "--out", "o", "--pages", "0"],
    ["study", "report", "s", "--boot", "-1"],
    ["study", "demo", "s", "-n", "0"],
    ["study", "init", "s", "--labels", "AFL", "--readers", "a", "--seed", "-2"],
], ids=" ".join)
def test_nonsense_numbers_are_refused_by_the_parser(tmp_path: Path, args: list[str], monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(args) == 2
    line = one_error(capsys.readouterr().err)
    assert "argument" in line and repr(args[-1]) in line
    assert list(tmp_path.iterdir()) == []
