"""Pack what training needs from the shared data into a small folder for a remote GPU machine.

Only the ``train`` split travels (the ``eval`` records never leave this machine): its rows of
labels.csv, its records cut to 10 s and resampled to 250 Hz (WFDB format 16, no delineation:
training never uses evidence), and the real unlabelled images downscaled to 1600 px. The result
has the layout of the shared data folder, so ``ECG_AIO_DATA=<out>`` points the code at it.

    python scripts/pack_training_data.py .pack/data
"""
from __future__ import annotations

import argparse
import csv
import shutil
from pathlib import Path

import cv2
import numpy as np
import wfdb
from scipy.signal import resample_poly

from core.io.images import load_image
from core.io.records import data_dir, read_record
from core.labels import LEADS

FS_OUT = 250
SECONDS = 10


def pack(out: Path, max_side: int = 1600) -> None:
    src = data_dir()
    if out.exists():
        shutil.rmtree(out)
    (out / "images").mkdir(parents=True)
    with open(src / "labels.csv", newline="") as f:
        reader = csv.DictReader(f)
        rows = [r for r in reader if r["split"] == "train"]
        fields = reader.fieldnames
    with open(out / "labels.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    for row in rows:
        record = read_record(src / "records" / row["record"])
        sig = resample_poly(record.signals.astype(np.float64), FS_OUT, int(round(record.fs)), axis=0)
        sig = sig[: FS_OUT * SECONDS]
        folder = out / "records" / Path(row["record"]).parent
        folder.mkdir(parents=True, exist_ok=True)
        wfdb.wrsamp(Path(row["record"]).name, fs=FS_OUT, units=["mV"] * 12, sig_name=list(LEADS),
                    p_signal=sig, fmt=["16"] * 12, adc_gain=[1000.0] * 12, baseline=[0] * 12,
                    write_dir=str(folder))
    for path in sorted((src / "images").iterdir()):
        if path.suffix.lower() not in (".png", ".jpg", ".jpeg"):
            continue
        rgb = load_image(path).rgb
        scale = min(1.0, max_side / max(rgb.shape[:2]))
        small = cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        cv2.imwrite(str(out / "images" / f"{path.stem}.jpg"), cv2.cvtColor(small, cv2.COLOR_RGB2BGR),
                    [cv2.IMWRITE_JPEG_QUALITY, 90])
    print(f"packed {len(rows)} train records and the real images into {out}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    pack(parser.parse_args().out)
