"""Loading pages: every supported format and mode, and every way a file can be unusable."""
from __future__ import annotations

import hashlib
import os
import struct
import warnings
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile, PngImagePlugin

from core.io import ImageLoadError, image_info, load_image
from core.io.records import data_dir

RED = (220, 30, 40)


def _noise(rng: np.random.Generator, h: int = 120, w: int = 160) -> np.ndarray:
    return rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


# --- bad inputs -------------------------------------------------------------------------------


def _empty(d: Path) -> Path:
    p = d / "empty.png"
    p.write_bytes(b"")
    return p


def _random_bytes(d: Path) -> Path:
    p = d / "noise.jpg"
    p.write_bytes(np.random.default_rng(1).integers(1, 256, 5000, dtype=np.uint8).tobytes())
    return p


def _text_as_png(d: Path) -> Path:
    p = d / "scan.png"
    p.write_text("Patient: Doe\nHR 72/min, PR 160 ms\n" * 20)
    return p


def _truncated(fmt: str, suffix: str) -> Callable[[Path], Path]:
    def make(d: Path) -> Path:
        p = d / f"cut{suffix}"
        Image.fromarray(_noise(np.random.default_rng(2), 200, 240)).save(p, fmt)
        data = p.read_bytes()
        p.write_bytes(data[: len(data) * 6 // 10])
        return p

    return make


def _huge_png(d: Path) -> Path:
    """Only a header that claims 120000 x 90000 px: decoding it would need 32 GB."""
    p = d / "big.png"
    ihdr = struct.pack(">IIBBBBB", 120_000, 90_000, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 16)
    p.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", idat)
        + _png_chunk(b"IEND", b"")
    )
    return p


def _heic(d: Path) -> Path:
    p = d / "IMG_0001.heic"
    p.write_bytes(b"\x00\x00\x00\x18ftypheic" + bytes(200))
    return p


def _folder(d: Path) -> Path:
    p = d / "scans"
    p.mkdir()
    return p


def _missing(d: Path) -> Path:
    return d / "nowhere.png"


BAD_INPUTS = {
    "empty": (_empty, "is empty (0 bytes)"),
    "random bytes": (_random_bytes, "is not an image file"),
    "text renamed .png": (_text_as_png, "it looks like text"),
    "truncated JPEG": (_truncated("JPEG", ".jpg"), "is truncated"),
    "truncated PNG": (_truncated("PNG", ".png"), "is truncated"),
    "decompression bomb": (_huge_png, "is 120,000 × 90,000 px, over the 100 MP limit"),
    "HEIC photo": (_heic, "is a HEIC photo, which cannot be opened"),
    "folder": (_folder, "is a folder, not an image file"),
    "missing": (_missing, "does not exist"),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_raises_one_clear_sentence(tmp_path: Path, case: str) -> None:
    make, expected = BAD_INPUTS[case]
    path = make(tmp_path)
    before = _sha(path) if path.is_file() else None
    listing = sorted(os.listdir(tmp_path))

    with pytest.raises(ImageLoadError) as info:
        load_image(path)

    message = str(info.value)
    assert message.startswith(path.name)
    assert expected in message
    assert message.endswith(".") and message.count(". ") == 0
    if before is not None:
        assert _sha(path) == before
    assert sorted(os.listdir(tmp_path)) == listing


def test_bad_input_is_a_value_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        load_image(_empty(tmp_path))


def test_truncated_file_raises_even_if_pil_is_told_to_pad(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    path = _truncated("JPEG", ".jpg")(tmp_path)
    with pytest.raises(ImageLoadError, match="truncated"):
        load_image(path)
    assert ImageFile.LOAD_TRUNCATED_IMAGES is True


def test_size_limit_is_checked_before_decoding(tmp_path: Path) -> None:
    path = tmp_path / "page.png"
    Image.fromarray(_noise(np.random.default_rng(3), 100, 100)).save(path)
    assert load_image(path, max_pixels=10_000).size == (100, 100)
    with pytest.raises(ImageLoadError, match=r"page.png is 100 × 100 px, over the 0.009 MP limit"):
        load_image(path, max_pixels=9_000)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
def test_pil_size_guard_is_not_what_the_user_sees(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    path = tmp_path / f"page.{fmt.lower()}"
    Image.fromarray(_noise(np.random.default_rng(5), 80, 100)).save(path, fmt)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 5_000)  # PIL would warn at 8,000 px
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert load_image(path).size == (100, 80)
    assert not [w for w in caught if issubclass(w.category, Image.DecompressionBombWarning)]


def test_unreadable_file(tmp_path: Path) -> None:
    path = tmp_path / "locked.png"
    Image.new("RGB", (10, 10)).save(path)
    path.chmod(0)
    try:
        if os.access(path, os.R_OK):
            pytest.skip("running as a user who can read any file (root); permissions not testable")
        with pytest.raises(ImageLoadError, match=r"locked.png cannot be read: permission denied\."):
            load_image(path)
    finally:
        path.chmod(0o644)


def _two_page_pdf(path: Path) -> None:
    first = Image.new("RGB", (144, 72), (255, 0, 0))
    second = Image.new("RGB", (72, 144), (0, 0, 255))
    first.save(path, "PDF", resolution=72.0, save_all=True, append_images=[second])


def test_pdf_page_out_of_range(tmp_path: Path) -> None:
    path = tmp_path / "report.pdf"
    _two_page_pdf(path)
    before = _sha(path)
    with pytest.raises(ImageLoadError) as info:
        load_image(path, page=5)
    assert str(info.value) == "report.pdf has 2 pages; page 5 was asked for."
    with pytest.raises(ImageLoadError, match="page 0 was asked for"):
        load_image(path, page=0)
    assert _sha(path) == before


def test_damaged_pdf(tmp_path: Path) -> None:
    path = tmp_path / "report.pdf"
    path.write_bytes(b"%PDF-1.4\n" + bytes(300))
    with pytest.raises(ImageLoadError, match=r"^report.pdf is damaged"):
        load_image(path)


# --- good inputs ------------------------------------------------------------------------------


def test_pdf_page_is_rendered_at_dpi(tmp_path: Path) -> None:
    path = tmp_path / "report.pdf"
    _two_page_pdf(path)  # page 2 is 1 x 2 inches, blue
    image = load_image(path, page=2, dpi=100)
    assert (image.format, image.n_pages, image.page) == ("PDF", 2, 2)
    assert image.size == (100, 200)
    centre = image.rgb[100, 50]
    assert centre[2] > 200 and centre[0] < 50
    with pytest.raises(ImageLoadError, match="over the 0.01 MP limit"):
        load_image(path, page=1, dpi=100, max_pixels=10_000)  # 200 x 100 px


def test_multipage_tiff_page_choice(tmp_path: Path) -> None:
    path = tmp_path / "pages.tif"
    colours = [(255, 0, 0), (0, 255, 0), (0, 0, 255)]
    frames = [Image.new("RGB", (30 + 10 * i, 20), c) for i, c in enumerate(colours)]
    frames[0].save(path, save_all=True, append_images=frames[1:])
    for page, colour in enumerate(colours, start=1):
        image = load_image(path, page=page)
        assert (image.format, image.n_pages, image.page) == ("TIFF", 3, page)
        assert image.size == (20 + 10 * page, 20)
        assert tuple(image.rgb[10, 10]) == colour
    with pytest.raises(ImageLoadError, match="pages.tif has 3 pages; page 4 was asked for."):
        load_image(path, page=4)


def test_single_page_file_rejects_page_two(tmp_path: Path) -> None:
    path = tmp_path / "one.png"
    Image.new("RGB", (8, 8)).save(path)
    with pytest.raises(ImageLoadError, match="one.png has 1 page; page 2 was asked for."):
        load_image(path, page=2)


def test_16_bit_grey_png_is_scaled_to_8_bit(tmp_path: Path) -> None:
    path = tmp_path / "deep.png"
    values = np.array([[0, 128 * 257, 65535]], dtype=np.uint16)
    Image.fromarray(values).save(path)
    image = load_image(path)
    assert image.rgb.dtype == np.uint8
    np.testing.assert_array_equal(image.rgb[0, :, 0], [0, 128, 255])
    np.testing.assert_array_equal(image.rgb[..., 0], image.rgb[..., 2])


def test_grey_and_palette_become_rgb(tmp_path: Path) -> None:
    grey = tmp_path / "grey.png"
    Image.fromarray(np.full((5, 7), 77, np.uint8)).save(grey)
    assert load_image(grey).rgb.shape == (5, 7, 3)
    assert np.all(load_image(grey).rgb == 77)

    palette = tmp_path / "palette.png"
    Image.new("RGB", (6, 4), RED).convert("P", palette=Image.Palette.ADAPTIVE).save(palette)
    assert tuple(load_image(palette).rgb[2, 3]) == RED


def test_transparency_is_composited_on_white(tmp_path: Path) -> None:
    rgba = np.zeros((2, 3, 4), np.uint8)
    rgba[..., :3] = (0, 0, 0)
    rgba[0, :, 3] = [0, 255, 128]
    rgba[1, :, 3] = 255
    path = tmp_path / "alpha.png"
    Image.fromarray(rgba, "RGBA").save(path)
    rgb = load_image(path).rgb
    np.testing.assert_array_equal(rgb[0, :, 0], [255, 0, 127])
    assert np.all(rgb[1] == 0)

    grey_alpha = tmp_path / "la.png"
    Image.fromarray(rgba[..., [0, 3]], "LA").save(grey_alpha)
    np.testing.assert_array_equal(load_image(grey_alpha).rgb[0, :, 1], [255, 0, 127])


def test_cmyk_jpeg_becomes_rgb(tmp_path: Path) -> None:
    path = tmp_path / "cmyk.jpg"
    Image.new("CMYK", (16, 16), (0, 0, 0, 0)).save(path, quality=95)
    rgb = load_image(path).rgb
    assert rgb.shape == (16, 16, 3) and rgb.min() > 245


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    pixels = np.full((20, 40, 3), 255, np.uint8)
    pixels[:6, :6] = (0, 0, 0)  # dark corner at the stored top-left
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    path = tmp_path / "phone.jpg"
    Image.fromarray(pixels).save(path, exif=exif, quality=95)
    image = load_image(path)
    assert image.size == (20, 40)
    assert image.rgb[2, 17].max() < 60  # now at the top-right
    assert image.rgb[2, 2].min() > 200


@pytest.mark.parametrize("fmt, suffix", [("WEBP", ".webp"), ("BMP", ".bmp"), ("PNG", ".png")])
def test_lossless_formats_round_trip(tmp_path: Path, fmt: str, suffix: str) -> None:
    pixels = _noise(np.random.default_rng(4), 30, 50)
    path = tmp_path / f"page{suffix}"
    Image.fromarray(pixels).save(path, fmt, **({"lossless": True} if fmt == "WEBP" else {}))
    image = load_image(path)
    assert image.format == fmt
    assert image.rgb.flags.c_contiguous and image.rgb.dtype == np.uint8
    np.testing.assert_array_equal(image.rgb, pixels)


def test_format_is_found_by_content_not_name(tmp_path: Path) -> None:
    path = tmp_path / "really_a_png.jpg"
    Image.new("RGB", (9, 9), RED).save(path, "PNG")
    assert load_image(path).format == "PNG"


def test_pdf_is_told_from_an_image_by_its_header(tmp_path: Path) -> None:
    note = PngImagePlugin.PngInfo()
    note.add_text("comment", "printed from %PDF-1.4 report")
    png = tmp_path / "scan.png"
    Image.new("RGB", (9, 9), RED).save(png, pnginfo=note)
    assert b"%PDF-" in png.read_bytes()[:1024]
    assert load_image(png).format == "PNG"

    pdf = tmp_path / "mail.pdf"
    _two_page_pdf(pdf)
    pdf.write_bytes(b"From: ward 4\r\n" + pdf.read_bytes())  # junk before the PDF header
    assert load_image(pdf, dpi=72).size == (144, 72)


def test_image_info(tmp_path: Path) -> None:
    path = tmp_path / "scan.tif"
    frames = [Image.new("RGB", (40, 30)), Image.new("RGB", (50, 20))]
    frames[0].save(path, save_all=True, append_images=frames[1:])
    info = image_info(path, page=2)
    assert info == {
        "path": str(path),
        "format": "TIFF",
        "size": [50, 20],
        "pages": 2,
        "page": 2,
        "sha256": _sha(path),
        "bytes": path.stat().st_size,
    }
    with pytest.raises(ImageLoadError):
        image_info(_truncated("PNG", ".png")(tmp_path))


def _real_images() -> list[Path]:
    folder = data_dir() / "images"
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in {".png", ".jpg", ".jpeg"})


@pytest.mark.skipif(not _real_images(), reason="shared data images not found (set ECG_AIO_DATA)")
def test_every_real_image_loads() -> None:
    for path in _real_images():
        image = load_image(path)
        w, h = image.size
        assert image.rgb.dtype == np.uint8 and image.rgb.shape == (h, w, 3), path.name
        assert 200 <= min(w, h) and max(w, h) <= 8000, path.name  # small real scans exist: 640 × 289
        assert image.rgb.std() > 5, path.name  # not a blank page
