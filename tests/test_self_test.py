"""`ecg-aio-review --self-test` from the source tree: what `make dist-test` runs in the bundle.

Each run is a fresh process offscreen (its own QApplication, cold imports), as a user's would be.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from core.labels import LABELS

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT_S = 240  # about 10 s on the 2-core CPU; generous for a loaded CI machine


def _self_test(**env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k != "ECG_AIO_WEIGHTS"}
    environ.update(QT_QPA_PLATFORM="offscreen", **env)
    return subprocess.run([sys.executable, "-m", "app.review.main", "--self-test", "--device", "cpu"], check=False,
                          cwd=ROOT, env=environ, capture_output=True, text=True, timeout=TIMEOUT_S)


def _checks(stdout: str) -> dict[str, str]:
    """check name -> 'ok' or 'FAIL' for each check line (the last line of a name wins)."""
    found = {}
    for line in stdout.splitlines():
        status, _, rest = line.partition(" ")
        if status in ("ok", "FAIL"):
            name = rest.strip()
            name = " ".join(name.split()[:2]) if name.startswith("label ") else name.split()[0]
            found[name] = status
    return found


def test_self_test_passes_and_prints_one_line_per_check() -> None:
    out = _self_test()
    assert out.returncode == 0, out.stdout + out.stderr
    checks = _checks(out.stdout)
    expected = ["version", "window", "weights", "sample", "analysis", "probabilities", "saliency", "page",
                *(f"label {k}" for k in LABELS), "total"]
    assert {name: checks.get(name) for name in expected} == {name: "ok" for name in expected}, out.stdout
    assert "FAIL" not in out.stdout
    assert "first window painted" in out.stdout
    assert "painted the analysis and the purple overlay" in out.stdout
    assert "analysed through core.analyze.analyze_path" in out.stdout
    assert out.stdout.splitlines()[-1].startswith("ok   total         self-test passed in ")


def _corrupt_card(folder: Path) -> Path:
    (folder / "model_card.json").write_text("{ not json", encoding="utf-8")
    return folder


def _card_without_weights(folder: Path) -> Path:
    shutil.copy(ROOT / "resources" / "model_card.json", folder / "model_card.json")
    return folder


def _weights_corrupted(folder: Path) -> Path:
    shutil.copy(ROOT / "resources" / "model_card.json", folder / "model_card.json")
    card = json.loads((folder / "model_card.json").read_text(encoding="utf-8"))
    (folder / card["file"]).write_bytes(b"\0" * 1024)
    return folder


@pytest.mark.parametrize(("make", "words"), [
    (_corrupt_card, "cannot be read"),
    (_card_without_weights, "is missing"),
    (_weights_corrupted, "is corrupt"),
])
def test_self_test_fails_with_one_sentence_on_bad_weights(tmp_path: Path, make: Callable[[Path], Path],
                                                          words: str) -> None:
    out = _self_test(ECG_AIO_WEIGHTS=str(make(tmp_path)))
    assert out.returncode == 1, out.stdout + out.stderr
    assert "FAIL weights" in out.stdout
    failed = [line for line in out.stderr.splitlines() if line.startswith("ecg-aio-review: self-test failed:")]
    assert len(failed) == 1, out.stderr
    sentence = failed[0].removeprefix("ecg-aio-review: self-test failed: weights: ")
    assert words in sentence and sentence.endswith(".") and "\n" not in sentence
    assert "Traceback" not in out.stderr


def test_the_bundles_ecg_aio_executable_is_the_command_line(monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    import core
    from app.review import main as entry

    monkeypatch.setattr(sys, "executable", str(Path("/opt/bundle") / ("ecg-aio.exe" if os.name == "nt" else "ecg-aio")))
    monkeypatch.setattr(sys, "argv", ["ecg-aio", "--version"])
    with pytest.raises(SystemExit) as exited:
        entry._frozen_entry()
    assert exited.value.code in (0, None)
    assert capsys.readouterr().out.strip() == f"ecg-aio {core.__version__}"


def test_the_bundles_ecg_aio_runs_the_self_test_too(monkeypatch: pytest.MonkeyPatch) -> None:
    """`ecg-aio --self-test`: on Windows the window's executable has no console to print to."""
    from app.review import main as entry

    called: list[list[str] | None] = []
    monkeypatch.setattr(entry, "main", lambda argv=None: called.append(argv) or 0)
    monkeypatch.setattr(sys, "executable", str(Path("/opt/bundle") / "ecg-aio-review"))
    monkeypatch.setattr(sys, "argv", [str(Path("/opt/bundle") / "ecg-aio"), "--self-test"])
    assert entry._frozen_entry() == 0
    assert called == [["--self-test"]]
    monkeypatch.setattr(sys, "argv", [str(Path("/opt/bundle") / "ecg-aio-review")])
    assert entry._frozen_entry() == 0
    assert called[-1] is None  # the window, with its own arguments
