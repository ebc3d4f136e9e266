"""Offline, provably: `ecg-aio analyze` and a window session run with every socket call refused,
and none is even attempted (no telemetry, no update check, no hub download)."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "resources" / "samples" / "sample_scan.jpg"

NO_NETWORK = textwrap.dedent("""
    import socket
    attempts = []

    def refuse(*args, **kwargs):
        attempts.append(repr(args)[:200])
        raise OSError("network access attempted (this run is offline)")

    for name in ("connect", "connect_ex", "sendto", "bind"):
        setattr(socket.socket, name, refuse)
    socket.create_connection = refuse
    socket.getaddrinfo = refuse
    socket.gethostbyname = refuse
""")

ANALYZE = NO_NETWORK + textwrap.dedent("""
    import sys
    from app.cli import main
    status = main(["analyze", sys.argv[1], "--out", sys.argv[2], "--labels", "AF,PVC"])
    print("status", status, "attempts", len(attempts), attempts[:3])
""")

WINDOW = NO_NETWORK + textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from PySide6 import QtCore, QtWidgets
    app = QtWidgets.QApplication([])
    from app.review.window import ReviewWindow
    image, tmp = Path(sys.argv[1]), Path(sys.argv[2])
    window = ReviewWindow(settings=QtCore.QSettings(str(tmp / "s.ini"), QtCore.QSettings.Format.IniFormat),
                          reader="Dr Offline", device="cpu")
    window.show()
    window.open_path(image)
    t0 = time.time()
    while (window.doc.analysis is None or window.labelling.busy) and time.time() - t0 < 120:
        app.processEvents(); time.sleep(0.01)
    window.set_tool("brush")
    window.select_label("PVC")
    window._stroke([(300.0, 500.0), (900.0, 520.0)])
    window.save_now()
    window.export_report(tmp / "r.pdf", tmp / "r.png", tmp / "r.csv")
    window.close()
    print("analysed", window.doc.analysis is not None, "attempts", len(attempts), attempts[:3])
""")


def _run(script: str, *args: str) -> str:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", script, *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_analyze_runs_with_the_network_refused(tmp_path: Path) -> None:
    out = _run(ANALYZE, str(SAMPLE), str(tmp_path / "out"))
    assert "status 0 attempts 0" in out, out
    assert (tmp_path / "out" / "result.json").is_file()


def test_a_window_session_runs_with_the_network_refused(tmp_path: Path) -> None:
    image = tmp_path / "ecg.jpg"
    image.write_bytes(SAMPLE.read_bytes())
    out = _run(WINDOW, str(image), str(tmp_path))
    assert "analysed True attempts 0" in out, out
    assert (tmp_path / "r.pdf").is_file() and (tmp_path / "ecg.jpg.ecg-aio").is_dir()


def test_the_guard_catches_a_connection() -> None:
    """The refusal itself works: a plain connection attempt is counted and refused."""
    script = NO_NETWORK + textwrap.dedent("""
        import urllib.request
        try:
            urllib.request.urlopen("http://example.org", timeout=1)
        except Exception:
            pass
        print("attempts", len(attempts))
    """)
    out = _run(script)
    assert "attempts 0" not in out and "attempts" in out, out
