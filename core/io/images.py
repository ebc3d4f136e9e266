"""Open a scanned or photographed ECG page (PNG, JPEG, BMP, TIFF, WebP or PDF) as RGB pixels.

The file is read once, as bytes, and decoded from memory: nothing is ever written and the input
is never modified. Every failure is an :class:`ImageLoadError` whose message names the file.
"""
from __future__ import annotations

import hashlib
import io
import os
import struct
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pypdfium2 as pdfium
from PIL import Image, ImageFile, ImageOps

from core.io.errors import MAX_PIXELS, ImageLoadError, read_regular_file

FORMATS: tuple[str, ...] = ("PNG", "JPEG", "BMP", "TIFF", "WEBP", "PDF")
_PIL_FORMATS: tuple[str, ...] = ("PNG", "JPEG", "BMP", "TIFF", "WEBP")
_NAME_OF_FORMAT = {"MPO": "JPEG"}  # phones write JPEG + preview frames as MPO
_PDF_POINTS_PER_INCH = 72.0
_WHITE = 255
MAX_FILE_BYTES = 2 << 30  # a 100-MP page is at most 600 MB uncompressed; a long PDF may be more

# pdfium is not thread-safe, and the PIL flag below is process-wide.
_PDF_LOCK = threading.Lock()
_TRUNCATION_LOCK = threading.Lock()

_OPAQUE_MODES = ("RGB", "L", "1", "P", "CMYK", "YCbCr", "LAB", "HSV")
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, struct.error, IndexError)

# Signatures of files people try to open that we do not read: (offset, magic, what it is).
_OTHER_SIGNATURES: tuple[tuple[int, bytes, str], ...] = (
    (0, b"GIF87a", "a GIF image"),
    (0, b"GIF89a", "a GIF image"),
    (4, b"ftypheic", "a HEIC photo"),
    (4, b"ftypheix", "a HEIC photo"),
    (4, b"ftypmif1", "a HEIF photo"),
    (4, b"ftypavif", "an AVIF image"),
    (0, b"PK\x03\x04", "a ZIP archive or Office document"),
    (128, b"DICM", "a DICOM file"),
)


@dataclass(frozen=True)
class LoadedImage:
    """One page of an input file as pixels.

    rgb: (H, W, 3) uint8, C-contiguous, EXIF orientation applied, transparency on white.
    path: the file as given. format: one of ``FORMATS``. n_pages: pages (frames) in the file.
    page: the page shown, 1-based. sha256: hex digest of the file's bytes.
    """

    rgb: np.ndarray
    path: str
    format: str
    n_pages: int
    page: int
    sha256: str

    @property
    def size(self) -> tuple[int, int]:
        """(W, H) in px."""
        return int(self.rgb.shape[1]), int(self.rgb.shape[0])


def load_image(
    path: str | os.PathLike[str],
    page: int = 1,
    dpi: float = 200,
    max_pixels: int = MAX_PIXELS,
) -> LoadedImage:
    """Read one page of an image or PDF file as RGB.

    page: 1-based page of a multi-page TIFF or PDF. dpi: resolution a PDF page is rendered at
    (px per inch). max_pixels: largest W x H accepted, checked before any pixel is decoded.
    Raises ImageLoadError with a one-sentence message naming the file.
    """
    data = _read_bytes(path)
    name = Path(path).name
    digest = hashlib.sha256(data).hexdigest()
    if _is_pdf(data):
        rgb, n_pages = _load_pdf(data, name, page, dpi, max_pixels)
        fmt = "PDF"
    else:
        rgb, fmt, n_pages = _load_raster(data, name, page, max_pixels)
    return LoadedImage(np.ascontiguousarray(rgb), os.fspath(path), fmt, n_pages, page, digest)


def image_info(path: str | os.PathLike[str], page: int = 1) -> dict[str, Any]:
    """Describe a file after checking that the page decodes.

    Returns {path, format, size [W, H] px, pages, page, sha256, bytes (file size)}.
    """
    image = load_image(path, page=page)
    return {
        "path": image.path,
        "format": image.format,
        "size": list(image.size),
        "pages": image.n_pages,
        "page": image.page,
        "sha256": image.sha256,
        "bytes": os.path.getsize(path),
    }


def declared_size(data: bytes, name: str) -> tuple[str, tuple[int, int]]:
    """The format and (W, H) px a raster image's header declares, read without decoding a
    pixel (so a size can be refused before memory is spent on it). Raises ImageLoadError."""
    try:
        with _strict_pil():
            im = _identify(data, name)
    except ImageLoadError:
        raise
    except _DECODE_ERRORS as e:
        raise _decode_error(name, "image", e) from None
    return _NAME_OF_FORMAT.get(im.format or "", im.format or "image"), (int(im.size[0]), int(im.size[1]))


def _read_bytes(path: str | os.PathLike[str]) -> bytes:
    """The file's bytes; a folder, a named pipe, a device (/dev/zero) or a missing, unreadable,
    empty or oversized file is refused before anything is read."""
    return read_regular_file(path, "image file", MAX_FILE_BYTES, ImageLoadError)


def _is_pdf(data: bytes) -> bool:
    # The PDF header may follow up to 1 KiB of junk (PDF 1.7, annex H); an image whose first
    # bytes happen to contain the text "%PDF-" is still an image.
    return b"%PDF-" in data[:1024] and _raster_format(data) is None


def _check_page(name: str, page: int, n_pages: int) -> None:
    if not isinstance(page, (int, np.integer)) or not 1 <= page <= n_pages:
        pages = "1 page" if n_pages == 1 else f"{n_pages} pages"
        raise ImageLoadError(f"{name} has {pages}; page {page} was asked for.")


def _check_size(name: str, width: int, height: int, max_pixels: int) -> None:
    if width * height > max_pixels:
        raise ImageLoadError(
            f"{name} is {width:,} × {height:,} px, over the {max_pixels / 1e6:g} MP limit."
        )


def _load_pdf(
    data: bytes, name: str, page: int, dpi: float, max_pixels: int
) -> tuple[np.ndarray, int]:
    with _PDF_LOCK:
        try:
            doc = pdfium.PdfDocument(data)
        except pdfium.PdfiumError as e:
            if "password" in str(e).lower():
                message = f"{name} is password-protected; save an unprotected copy."
            else:
                message = f"{name} is damaged: it cannot be opened as a PDF."
            raise ImageLoadError(message) from None
        try:
            n_pages = len(doc)
            if n_pages == 0:
                raise ImageLoadError(f"{name} is a PDF with no pages.")
            _check_page(name, page, n_pages)
            pdf_page = doc[page - 1]
            scale = dpi / _PDF_POINTS_PER_INCH
            width_pt, height_pt = pdf_page.get_size()
            _check_size(name, round(width_pt * scale), round(height_pt * scale), max_pixels)
            bitmap = pdf_page.render(scale=scale, rev_byteorder=True)
            rgb = np.array(bitmap.to_numpy()[..., :3], dtype=np.uint8)
        finally:
            doc.close()
    return rgb, n_pages


def _load_raster(
    data: bytes, name: str, page: int, max_pixels: int
) -> tuple[np.ndarray, str, int]:
    fmt = "image"
    try:
        with _strict_pil():
            im = _identify(data, name)
            fmt = _NAME_OF_FORMAT.get(im.format or "", im.format or "image")
            n_pages = getattr(im, "n_frames", 1) if fmt == "TIFF" else 1
            _check_page(name, page, n_pages)
            if page > 1:
                im.seek(page - 1)
            _check_size(name, im.size[0], im.size[1], max_pixels)
            im.load()
            im = ImageOps.exif_transpose(im)
    except ImageLoadError:
        raise
    except Image.DecompressionBombError:
        raise ImageLoadError(f"{name} is over the {max_pixels / 1e6:g} MP limit.") from None
    except _DECODE_ERRORS as e:
        raise _decode_error(name, fmt, e) from None
    return _to_rgb(im), fmt, n_pages


def _identify(data: bytes, name: str) -> ImageFile.ImageFile:
    """Open the header only, with the format's own reader.

    ``Image.open`` would apply PIL's global size guard (a warning above 89 MP, an error above
    179 MP) before ours could say what is wrong; the format readers read the header without it.
    """
    fmt = _raster_format(data)
    if fmt is None:
        raise ImageLoadError(_not_an_image(name, data))
    factory, accept = Image.OPEN[fmt]
    if isinstance(accept(data[:16]), str):  # PIL knows the format but lacks its decoder
        raise ImageLoadError(f"{name} is a {fmt} image, which this installation cannot decode.")
    try:
        return factory(io.BytesIO(data), "")
    except _DECODE_ERRORS as e:
        raise _decode_error(name, fmt, e) from None


def _raster_format(data: bytes) -> str | None:
    """The first of ``_PIL_FORMATS`` whose signature the file starts with, by content."""
    Image.init()
    prefix = data[:16]
    for fmt in _PIL_FORMATS:
        _, accept = Image.OPEN[fmt]
        if accept is None or accept(prefix):
            return fmt
    return None


def _decode_error(name: str, fmt: str, error: BaseException) -> ImageLoadError:
    text = str(error).lower()
    if "truncated" in text or isinstance(error, EOFError) or "premature end" in text:
        return ImageLoadError(f"{name} is truncated: the file ends before the image does.")
    return ImageLoadError(f"{name} is damaged: its {fmt} data cannot be decoded.")


def _not_an_image(name: str, data: bytes) -> str:
    for offset, magic, what in _OTHER_SIGNATURES:
        if data[offset : offset + len(magic)] == magic:
            return f"{name} is {what}, which cannot be opened; save it as PNG, JPEG, TIFF or PDF."
    if _looks_like_text(data[:4096]):
        return f"{name} is not an image file (it looks like text)."
    return f"{name} is not an image file (its content is not PNG, JPEG, BMP, TIFF, WebP or PDF)."


def _looks_like_text(head: bytes) -> bool:
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return False
    printable = sum(ch.isprintable() or ch in "\r\n\t" for ch in text)
    return printable >= 0.95 * len(text)


@contextmanager
def _strict_pil() -> Iterator[None]:
    """Run PIL with its 'pad truncated images' switch off and its size warning silenced.

    Another part of a program may have set ``ImageFile.LOAD_TRUNCATED_IMAGES``; a truncated
    scan silently padded with grey would then look like a flat trace. Our own size limit has
    already been applied, so PIL's warning would only repeat it in other words.
    """
    with _TRUNCATION_LOCK, warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        saved = ImageFile.LOAD_TRUNCATED_IMAGES
        ImageFile.LOAD_TRUNCATED_IMAGES = False
        try:
            yield
        finally:
            ImageFile.LOAD_TRUNCATED_IMAGES = saved


def _to_rgb(im: Image.Image) -> np.ndarray:
    """Any PIL mode as (H, W, 3) uint8 RGB; transparency is composited on white paper."""
    if im.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        grey = _scale_to_uint8(np.asarray(im), im.mode)
        return np.repeat(grey[:, :, None], 3, axis=2)
    if im.mode in _OPAQUE_MODES and "transparency" not in im.info:
        return np.asarray(im.convert("RGB"))
    rgba = np.asarray(im.convert("RGBA"), dtype=np.uint16)
    alpha = rgba[:, :, 3:]
    # c * a + 255 * (1 - a) in 8-bit fixed point, rounded (+127): fits uint16.
    rgb = (rgba[:, :, :3] * alpha + _WHITE * (255 - alpha) + 127) // 255
    return rgb.astype(np.uint8)


def _scale_to_uint8(values: np.ndarray, mode: str) -> np.ndarray:
    """16-bit (or 32-bit int / float) grey levels to 0..255."""
    values = values.astype(np.float32)
    if mode.startswith("I;16"):
        full_scale = 65535.0
    elif mode == "F" and values.max(initial=0.0) <= 1.0:
        full_scale = 1.0
    else:
        full_scale = 65535.0 if values.max(initial=0.0) > 255 else 255.0
    return np.rint(np.clip(values / full_scale, 0.0, 1.0) * 255.0).astype(np.uint8)
