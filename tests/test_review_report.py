"""The one-page report: a real analysis of the bundled scan as PDF and PNG, written atomically."""
from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest

pytest.importorskip("pytestqt")

from app.review.report import render_report  # noqa: E402
from core.analyze import Analysis, analyze_path  # noqa: E402
from core.compare import compare_maps  # noqa: E402
from core.explain import overlay  # noqa: E402
from core.review.report import DISCLAIMER, MISSING, ReportFacts, label_rows  # noqa: E402

SAMPLE = Path(__file__).resolve().parents[1] / "resources" / "samples" / "sample_scan.jpg"
WARNING = "The page reader found the panels with low confidence: check the leads before trusting them."


@pytest.fixture(scope="module")
def analysis() -> Analysis:
    return analyze_path(SAMPLE, device="cpu")


@pytest.fixture(scope="module")
def facts(analysis: Analysis) -> ReportFacts:
    """A reader who marked one band of lead II; the model's purple overlay of the headline label."""
    key = analysis.headline()
    rgb = analysis.image.rgb
    sal = analysis.explanation.saliency[key]
    mask = np.zeros(rgb.shape[:2], np.uint8)
    mask[480:720, 150:900] = 1
    reader = rgb.copy()
    reader[mask > 0] = (0.5 * reader[mask > 0] + 0.5 * np.array([230, 159, 0])).astype(np.uint8)
    return ReportFacts(
        image_name=SAMPLE.name, image_sha256=analysis.image.sha256, page=1, reader="dr_ada",
        date_iso="2025-03-01T09:30:00+01:00", model_name=analysis.weights.name,
        model_version=analysis.weights.version, weights_sha256=analysis.weights.sha256, device=analysis.device,
        selected=key, labels=label_rows(analysis, {key: "annotated"}),
        metrics=compare_maps(sal, mask, analysis.geometry), model_rgb=overlay(rgb, sal), reader_rgb=reader,
        agreement_rgb=None, warnings=(WARNING,), intervals=analysis.intervals.summary())


@pytest.fixture(scope="module")
def written(qapp, facts: ReportFacts, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:  # type: ignore[no-untyped-def]
    """The report, drawn once (fonts need the application pytest-qt makes)."""
    folder = tmp_path_factory.mktemp("report")
    pdf, png = folder / "report.pdf", folder / "report.png"
    render_report(facts, pdf, png)
    return pdf, png


def _pdf_text(path: Path) -> tuple[int, str]:
    import pypdfium2

    pdf = pypdfium2.PdfDocument(str(path))
    try:
        return len(pdf), "\n".join(pdf[i].get_textpage().get_text_range() for i in range(len(pdf)))
    finally:
        pdf.close()


def test_pdf_is_one_page_that_names_the_image_model_and_limits(written: tuple[Path, Path], facts: ReportFacts) -> None:
    pdf, _ = written
    assert pdf.read_bytes().startswith(b"%PDF")
    pages, text = _pdf_text(pdf)
    assert pages == 1
    flat = " ".join(text.split())
    assert facts.intervals.startswith("HR ")  # the measurement line read off the decoded leads
    for expected in ("ECG-AIO Review — report", facts.image_sha256, facts.weights_sha256, facts.model_version,
                     DISCLAIMER, WARNING, facts.selected_line(), "dr_ada", facts.intervals):
        assert expected in flat, expected
    # every label with its probability, and undefined metrics (mask-only ones here) as a dash
    for row in facts.labels:
        assert " ".join(row.cells()) in flat
    assert facts.metrics["dice"] is None and f"dice {MISSING}" in flat
    assert f"pearson_pixel {facts.metrics['pearson_pixel']:.3f}" in flat


def test_png_is_the_same_a4_landscape_page_with_the_purple_overlay(written: tuple[Path, Path]) -> None:
    import pypdfium2

    pdf, png = written
    img = cv2.imread(str(png), cv2.IMREAD_COLOR)
    assert img is not None
    h, w = img.shape[:2]
    assert w / h == pytest.approx(297 / 210, rel=0.01) and w >= 1700  # ~150 dpi
    b, g, r = (img[..., i].astype(int) for i in range(3))
    assert np.count_nonzero((b - g > 60) & (r - g > 30)) > 500  # the model's purple
    # the PDF page, rasterised at the same size, shows the same layout (one drawing function)
    doc = pypdfium2.PdfDocument(str(pdf))
    try:
        page = doc[0].render(scale=w / doc[0].get_width(), rev_byteorder=True).to_numpy()[..., :3]
    finally:
        doc.close()
    grey_pdf = cv2.resize(cv2.cvtColor(page, cv2.COLOR_RGB2GRAY), (w // 8, h // 8), interpolation=cv2.INTER_AREA)
    grey_png = cv2.resize(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY), (w // 8, h // 8), interpolation=cv2.INTER_AREA)
    assert np.corrcoef(grey_pdf.ravel(), grey_png.ravel())[0, 1] > 0.9


def test_a_folder_that_cannot_be_written_raises_and_leaves_no_temp_files(facts: ReportFacts, written, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    not_a_folder = tmp_path / "file.txt"
    not_a_folder.write_text("x")
    with pytest.raises(OSError):
        render_report(facts, not_a_folder / "report.pdf", None)
    with pytest.raises(OSError):
        render_report(facts, None, tmp_path / "missing" / "report.png")
    # the temp file is made, then the rename fails: it must be removed again
    (tmp_path / "taken.png").mkdir()
    with pytest.raises(OSError):
        render_report(facts, None, tmp_path / "taken.png")
    if os.geteuid() != 0:  # root writes into read-only folders anyway
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        with pytest.raises(OSError):
            render_report(facts, locked / "report.pdf", None)
        assert list(locked.iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.txt", "taken.png"]
    assert list((tmp_path / "taken.png").iterdir()) == []


def test_facts_refuse_images_that_are_not_rgb_uint8(facts: ReportFacts) -> None:
    import dataclasses

    with pytest.raises(ValueError, match="RGB uint8"):
        dataclasses.replace(facts, model_rgb=facts.model_rgb.astype(np.float32))
    with pytest.raises(ValueError, match="unknown label"):
        dataclasses.replace(facts, selected="STEMI")
