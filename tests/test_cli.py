"""The `ecg-aio` command line as a user meets it: exit codes, one-line errors, nothing written."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from app.cli import main
from core.io import data_dir

ROOT = Path(__file__).resolve().parents[1]
IMAGES = data_dir() / "images"


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "app.cli", *args], cwd=ROOT, capture_output=True,
                          text=True, env={**os.environ, **(env or {})}, timeout=300)


def _png(path: Path) -> Path:
    img = np.full((60, 90, 3), 255, np.uint8)
    cv2.line(img, (0, 30), (89, 30), (0, 0, 0), 1)
    cv2.imwrite(str(path), img)
    return path


def test_version_prints_pyproject_version() -> None:
    import core

    out = run_cli("--version")
    assert out.returncode == 0 and out.stdout.strip() == f"ecg-aio {core.__version__}"


def test_info_json_on_a_png(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _png(tmp_path / "page.png")
    assert main(["info", str(path), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["size"] == [90, 60] and info["format"] == "PNG" and info["pages"] == 1
    assert info["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert "geometry" in info


@pytest.mark.skipif(not IMAGES.is_dir(), reason="shared data folder not present")
def test_info_works_on_every_shared_image(capsys: pytest.CaptureFixture[str]) -> None:
    paths = sorted(p for p in IMAGES.iterdir() if p.suffix.lower() in (".png", ".jpg"))
    assert len(paths) >= 30
    for path in paths:
        assert main(["info", str(path), "--json"]) == 0, path.name
        info = json.loads(capsys.readouterr().out)
        assert min(info["size"]) > 100


@pytest.mark.skipif(not IMAGES.is_dir(), reason="shared data folder not present")
def test_info_text_lists_scale_and_panels(capsys: pytest.CaptureFixture[str]) -> None:
    """What a reader checks first: the scale and, per panel, lead, time span and box."""
    path = IMAGES / "scan_pink_3x4_3rhythm_fullpage_redacted_01.png"
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "px/mm, 25 mm/s, 10 mm/mV" in out
    panels = [line.split()[1] for line in out.splitlines() if line.strip().startswith("panel ")]
    assert panels[:4] == ["I", "aVR", "V1", "V4"] and len(panels) == 15


@pytest.mark.parametrize("content", [b"", b"hello, this is text\n", os.urandom(500)])
def test_bad_image_is_one_line_exit_2_and_untouched(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "scan.png"
    path.write_bytes(content)
    out = run_cli("info", str(path))
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ecg-aio: error: ") and "scan.png" in lines[0]
    assert "Traceback" not in out.stderr
    assert path.read_bytes() == content


def test_missing_file_and_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", str(tmp_path / "nope.jpg")]) == 2
    assert "nope.jpg" in capsys.readouterr().err
    assert main(["info", str(tmp_path)]) == 2
    assert "folder" in capsys.readouterr().err


def test_usage_error_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["analyze"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("ecg-aio: error:")


def test_analyze_without_weights_exits_3_and_writes_nothing(tmp_path: Path) -> None:
    image = _png(tmp_path / "page.png")
    out_dir = tmp_path / "out"
    missing_card = tmp_path / "no_card.json"
    res = run_cli("analyze", str(image), "--out", str(out_dir), env={"ECG_AIO_WEIGHTS": str(missing_card)})
    assert res.returncode == 3, res.stderr
    assert len(res.stderr.strip().splitlines()) == 1 and "Traceback" not in res.stderr
    assert not out_dir.exists()


def test_analyze_bad_image_exits_2_before_weights(tmp_path: Path) -> None:
    bad = tmp_path / "cat.jpg"
    bad.write_bytes(b"not a jpeg at all")
    res = run_cli("analyze", str(bad), "--out", str(tmp_path / "out"))
    assert res.returncode == 2 and "cat.jpg" in res.stderr
    assert not (tmp_path / "out").exists()


def test_compare_mask_vs_mask_prints_all_keys(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = np.zeros((40, 40), np.uint8)
    a[10:20, 10:30] = 255
    b = np.zeros_like(a)
    b[10:20, 10:20] = 255
    cv2.imwrite(str(tmp_path / "a.png"), a)
    cv2.imwrite(str(tmp_path / "b.png"), b)
    assert main(["compare", str(tmp_path / "a.png"), str(tmp_path / "b.png")]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["dice"] == pytest.approx(2 * 100 / (200 + 100))
    assert result["iou"] == pytest.approx(0.5)
    assert result["pearson_grid"] is None  # no geometry given


@pytest.mark.skipif(not IMAGES.is_dir(), reason="shared data folder not present")
def test_info_gives_the_boxes_analyze_explains_on(capsys: pytest.CaptureFixture[str]) -> None:
    """One path: info reports the geometry with each row timed from its trace, as analyze
    uses it, not the page reader's first guess."""
    from core.analyze import read_page_geometry
    from core.io import load_image
    from core.page import detect_geometry
    from core.page.trace import read_page

    path = IMAGES / "scan_pink_3x4_3rhythm_fullpage_redacted_01.png"
    assert main(["info", str(path), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    rgb = load_image(path).rgb
    guess = detect_geometry(rgb).geometry
    registered = read_page(rgb, guess).geometry
    assert info["geometry"] == json.loads(json.dumps(registered.to_json()))
    assert read_page_geometry(rgb).geometry.to_json() == registered.to_json()
    assert info["geometry"] != json.loads(json.dumps(guess.to_json()))   # registration moved the boxes
