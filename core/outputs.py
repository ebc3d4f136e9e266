"""An analysis on disk: the files ``ecg-aio analyze`` writes, and reading them back.

One output folder per image (DESIGN.md "analyze outputs"):

- ``result.json`` (``ecg-aio/result@1``), naming each label's saliency ``saliency.npz:<LABEL>``
  and its ``saliency_scale``;
- ``saliency.npz``: per label, the map at the resolution it was computed at (the letterboxed
  network input, a uniform downscale of the image) divided by its maximum, as float16,
  compressed. The A4 sample's eight maps take 1.1 MB instead of 70 MB of float32 at the
  image's size (``benchmarks/bench_analyze.py``);
- ``signals.csv``; ``overlay_<LABEL>.png`` only when asked for (``--overlays``).

Dividing by the maximum first makes float16's 3-digit relative precision independent of the
weights' scale (the shipped Jacobians peak at 0.16-0.25 and fall to 1e-6: stored as they are,
the faintest tenth would sit in float16's subnormal range). Every compare metric is
scale-free but for the ranks' ties (tests/test_outputs.py bounds what the round trip moves).

Older outputs (``saliency_<LABEL>.npy``, float32 at the image's size) are read as they are.
No torch here: the study and the compare command read outputs without loading the network.
"""
from __future__ import annotations

import fnmatch
import io
import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np

RESULT_NAME = "result.json"
SALIENCY_NAME = "saliency.npz"
SIGNALS_NAME = "signals.csv"
#: Every name an ``analyze`` output folder may hold (this version's and older ones').
OUTPUT_PATTERNS = (RESULT_NAME, SALIENCY_NAME, SIGNALS_NAME, "saliency_*.npy", "overlay_*.png")


def is_output_name(name: str) -> bool:
    """Is ``name`` a file an ``analyze`` output folder holds (so a rerun may replace it)?"""
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in OUTPUT_PATTERNS)


def pack_saliency(maps: dict[str, np.ndarray]) -> tuple[bytes, dict[str, float]]:
    """The ``saliency.npz`` bytes for {label: map} and each map's scale (its maximum, 1.0 for an
    all-zero map): float16 map / scale, ``np.savez_compressed``."""
    scales = {k: float(np.max(v)) if v.size and float(np.max(v)) > 0 else 1.0 for k, v in maps.items()}
    stored = {k: (np.clip(np.asarray(v, np.float32), 0, None) / np.float32(scales[k])).astype(np.float16)
              for k, v in maps.items()}
    buf = io.BytesIO()
    np.savez_compressed(buf, **stored)
    return buf.getvalue(), scales


def unpack_saliency(npz_path: str | Path, label: str, scale: float = 1.0,
                    image_size: tuple[int, int] | None = None) -> np.ndarray:
    """One label's map from a ``saliency.npz`` as float32 × ``scale``; upsampled bilinearly to
    ``image_size`` (W, H) when given and the map is stored smaller. Raises ValueError with one
    sentence when the file or label is missing, damaged or of an impossible shape."""
    path = Path(npz_path)
    try:
        with np.load(path, allow_pickle=False) as npz:
            if label not in npz.files:
                raise ValueError(f"{path.name} holds no saliency map for {label} "
                                 f"(it has {', '.join(npz.files) or 'none'})")
            values = _checked_member(npz, label, path)
    except (OSError, EOFError) as exc:
        raise ValueError(f"{path}: not a readable saliency file ({exc})") from None
    values = values.astype(np.float32) * np.float32(scale)
    if image_size is not None:
        values = resize_map(values, image_size)
    return values


def npy_header(handle: Any) -> tuple[tuple[int, ...], bool, np.dtype]:
    """(shape, fortran_order, dtype) an .npy stream declares, read from its header only (nothing allocated).
    Raises ValueError for a damaged header or a format version NumPy's reader does not know."""
    from numpy.lib import format as npy_format

    version = npy_format.read_magic(handle)
    read = {(1, 0): npy_format.read_array_header_1_0, (2, 0): npy_format.read_array_header_2_0}.get(version)
    if read is None:
        raise ValueError(f"format version {version[0]}.{version[1]} is not supported")
    return read(handle)


def _checked_member(npz: Any, label: str, path: Path) -> np.ndarray:
    """The member's array, after its declared shape was checked (no huge allocation)."""
    import zipfile

    from core.io.errors import MAX_PIXELS

    try:
        with npz.zip.open(f"{label}.npy") as handle:
            shape, _, dtype = npy_header(handle)
    except (ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        raise ValueError(f"{path}: the saliency map for {label} is damaged ({exc})") from None
    if len(shape) != 2 or not np.issubdtype(dtype, np.floating) or int(np.prod(shape)) > MAX_PIXELS:
        raise ValueError(f"{path}: the saliency map for {label} has an impossible shape {shape} or type {dtype}")
    values = np.asarray(npz[label])
    if not np.all(np.isfinite(values)):
        raise ValueError(f"{path}: the saliency map for {label} contains NaN or infinite values")
    return values


def read_saliency(spec: str | Path, image_size: tuple[int, int] | None = None) -> np.ndarray:
    """A saliency map named as ``result.json`` names it: ``<folder>/saliency.npz:<LABEL>`` (the
    scale read from the ``result.json`` beside it), or an older ``saliency_<LABEL>.npy``. float32,
    upsampled to ``image_size`` (W, H) when given."""
    text = str(spec)
    if ".npz:" in text:
        file, label = text.rsplit(":", 1)
        path = Path(file)
        return unpack_saliency(path, label, _scale(path.parent / RESULT_NAME, label), image_size)
    values = np.load(Path(text), allow_pickle=False).astype(np.float32)
    if image_size is not None:
        values = resize_map(values, image_size)
    return values


def _scale(result_path: Path, label: str) -> float:
    """The label's ``saliency_scale`` in the result.json beside its npz (1.0 without one: the
    maps are then relative, which every compare metric accepts)."""
    try:
        entries = json.loads(result_path.read_text(encoding="utf-8"))["labels"]
        return float(next(e for e in entries if e["name"] == label).get("saliency_scale", 1.0))
    except (OSError, ValueError, KeyError, TypeError, StopIteration):
        return 1.0


def read_result(folder: str | Path) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """An output folder's ``result.json`` and every label's saliency in the image's pixels
    (this version's npz or older .npy files). Raises ValueError or OSError."""
    folder = Path(folder)
    result = json.loads((folder / RESULT_NAME).read_text(encoding="utf-8"))
    w, h = result["image"]["size"]
    maps = {}
    for entry in result["labels"]:
        name = str(entry["saliency"])
        file = name.split(":", 1)[0]
        if Path(file).name != file:
            raise ValueError(f"{folder / RESULT_NAME} names a saliency file outside its folder ({file})")
        if ".npz:" in name:
            maps[entry["name"]] = unpack_saliency(folder / file, name.rsplit(":", 1)[1],
                                                  float(entry.get("saliency_scale", 1.0)), (w, h))
        else:
            maps[entry["name"]] = read_saliency(folder / file, (w, h))
    return result, maps


def resize_map(native: np.ndarray, image_size: tuple[int, int]) -> np.ndarray:
    """A map at a uniform rescale of an image -> (H, W) float32 at ``image_size`` (W, H):
    bilinear when enlarging (OpenCV's pixel-centre convention, that of ``letterbox_matrix``),
    area-averaged when shrinking; a map already at that size is returned as it is."""
    w, h = image_size
    if native.shape == (h, w):
        return native
    shrink = native.shape[0] * native.shape[1] > w * h
    return cv2.resize(np.asarray(native, np.float32), (w, h),
                      interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
