"""Draw the application icon in resources/icons/: a purple ECG trace on white paper.

    python scripts/make_icon.py

Writes ecg-aio.png (256 px: the window icon; build.spec gives it to PyInstaller on macOS, which
converts it to .icns with Pillow at build time: a committed .icns would be 300 kB of upscaled
PNGs) and ecg-aio.ico (16-256 px, Windows: build.spec). Drawn by Pillow from a few lines of
geometry, so the files are reproducible and carry no licence question.
"""
from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

OUT = Path(__file__).resolve().parents[1] / "resources" / "icons"
SIZE = 256
SCALE = 4  # drawn at 1024 px and reduced: smooth edges without an anti-aliasing renderer
PURPLE = (128, 0, 160)  # core.explain.PURPLE: the colour of where the network looked
GRID = (244, 205, 205)  # ECG paper's pale red grid
# one heartbeat as (x, y) on a 0..1 square (y down): baseline, P, Q, R, S, ST, T, baseline
BEAT = ((0.06, 0.58), (0.22, 0.58), (0.27, 0.52), (0.32, 0.58), (0.38, 0.58), (0.41, 0.64),
        (0.47, 0.14), (0.53, 0.80), (0.57, 0.58), (0.66, 0.58), (0.73, 0.46), (0.80, 0.58),
        (0.94, 0.58))


def draw(size: int = SIZE) -> Image.Image:
    """The icon as an RGBA image of ``size`` pixels."""
    big = size * SCALE
    img = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    margin, radius = big * 0.04, big * 0.16
    d.rounded_rectangle((margin, margin, big - margin, big - margin), radius=radius, fill=(255, 255, 255, 255),
                        outline=(200, 190, 215, 255), width=max(1, big // 96))
    step = (big - 2 * margin) / 8
    for i in range(1, 8):
        at = margin + i * step
        d.line((at, margin + radius / 3, at, big - margin - radius / 3), fill=GRID, width=max(1, big // 160))
        d.line((margin + radius / 3, at, big - margin - radius / 3, at), fill=GRID, width=max(1, big // 160))
    points = [(x * big, y * big) for x, y in BEAT]
    d.line(points, fill=PURPLE, width=big // 18, joint="curve")
    r = big // 36  # round the trace's two ends
    for x, y in (points[0], points[-1]):
        d.ellipse((x - r, y - r, x + r, y + r), fill=PURPLE)
    return img.resize((size, size), Image.Resampling.LANCZOS)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    icon = draw()
    icon.save(OUT / "ecg-aio.png", optimize=True)
    icon.save(OUT / "ecg-aio.ico", sizes=[(16, 16), (24, 24), (32, 32), (48, 48), (64, 64), (128, 128), (256, 256)])
    for name in ("ecg-aio.png", "ecg-aio.ico"):
        print(f"{OUT / name}: {(OUT / name).stat().st_size} bytes")


if __name__ == "__main__":
    main()
