"""Figure: the leads read from a real photograph drawn back over it (docs/images/trace_*.jpg).

Each panel's samples (``core.page.trace.read_page`` on the page reader's geometry) are mapped to
image px through the registered geometry and drawn in the panel's colour; gaps stay undrawn.
Usage: python scripts/make_trace_figure.py IMAGE [IMAGE ...] [--out docs/images]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.io.images import load_image  # noqa: E402
from core.labels import LEADS, canonical_lead  # noqa: E402
from core.page import detect_geometry  # noqa: E402
from core.page.trace import read_page  # noqa: E402

COLOURS = [(0, 114, 178), (213, 94, 0), (0, 158, 115), (204, 121, 167), (230, 159, 0), (86, 180, 233)]


def figure(path: Path, width: int = 1400) -> np.ndarray:
    rgb = load_image(path).rgb
    found = detect_geometry(rgb)
    canvas = rgb.copy()
    caption = f"{path.name}: {found.reason}"
    if found.geometry is not None and found.geometry.panels:
        reading = read_page(rgb, found.geometry)
        g = reading.geometry
        thick = max(2, int(round(max(rgb.shape) / 1000)))
        for k, p in enumerate(g.panels):
            lead = LEADS.index(canonical_lead(p.lead))
            i0, i1 = int(round(p.t0_s * reading.fs)), int(round(p.t1_s * reading.fs))
            t = np.arange(i0, i1) / reading.fs
            mv = reading.signals[lead, i0:i1]
            pts = g.signal_to_pixel(p, t, np.nan_to_num(mv))
            colour = COLOURS[k % len(COLOURS)][::-1]
            ok = np.isfinite(mv)
            for a in np.split(np.arange(len(mv)), np.flatnonzero(np.diff(ok.astype(int))) + 1):
                if ok[a[0]] and len(a) > 1:
                    cv2.polylines(canvas, [pts[a].round().astype(np.int32)], False, colour, thick, cv2.LINE_AA)
            q = np.array(p.quad_px).round().astype(np.int32)
            cv2.polylines(canvas, [q], True, colour, 1, cv2.LINE_AA)
        cover = float(np.isfinite(reading.signals).sum()) / max(1, sum(int(round((p.t1_s - p.t0_s) * reading.fs)) for p in g.panels))
        caption += f" Rows timed from the trace: {reading.registered_rows[0]}/{reading.registered_rows[1]}; samples read: {min(cover, 1.0):.0%}."
    scale = width / canvas.shape[1]
    small = cv2.resize(canvas, (width, int(round(canvas.shape[0] * scale))), interpolation=cv2.INTER_AREA)
    strip = np.full((44, width, 3), 255, np.uint8)
    cv2.putText(strip, caption[:170], (8, 28), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    return np.vstack([small, strip])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("images", nargs="+", type=Path)
    ap.add_argument("--out", type=Path, default=Path("docs/images"))
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for path in args.images:
        out = args.out / f"trace_{path.stem}.jpg"
        cv2.imwrite(str(out), figure(path)[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 80])
        print(out)


if __name__ == "__main__":
    main()
