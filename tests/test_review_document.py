"""The review document and the one path from a file to an analysis, without Qt."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.analyze import STAGES, analyze_path
from core.explain import Cancelled
from core.page.geometry import Geometry, Panel
from core.review.document import Document, looks_photographed, off_leads_share, sorted_labels, warnings

SAMPLES = Path(__file__).resolve().parents[1] / "resources" / "samples"


@pytest.fixture(scope="module")
def scan_analysis():  # type: ignore[no-untyped-def]
    return analyze_path(SAMPLES / "sample_scan.jpg", device="cpu")


def _geometry(h: np.ndarray, size=(1000, 500)) -> Geometry:
    panels = tuple(Panel(lead, 0, i, 2.5 * i, 2.5 * (i + 1), (10 + 62.5 * i, 20, 72.5 + 62.5 * i, 50), 35)
                   for i, lead in enumerate(("I", "aVR", "V1", "V4")))
    return Geometry.from_homography(size, "3x4", 25.0, 10.0, h, panels)


def test_analyze_path_reports_its_stages_in_order_and_shows_the_page_first(scan_analysis) -> None:  # type: ignore[no-untyped-def]
    events: list[str] = []
    a = analyze_path(SAMPLES / "sample_scan.jpg", device="cpu", labels=("AF", "PVC"),
                     on_loaded=lambda image: events.append(f"loaded {image.size}"),
                     progress=lambda stage, done, total: events.append(stage))
    assert events[0] == "loading" and events[1] == "loaded (1754, 1240)"
    seen = [e for i, e in enumerate(events) if e in STAGES and (i == 0 or events[i - 1] != e)]
    assert seen == list(STAGES)
    assert a.page_reader is not None and a.page_reader.is_ecg
    assert a.geometry is not None and a.geometry is a.page_reader.geometry
    np.testing.assert_allclose(a.explanation.probabilities, scan_analysis.explanation.probabilities, atol=1e-5)


def test_analyze_path_can_be_cancelled_between_stages() -> None:
    calls: list[str] = []

    def cancel() -> bool:
        return len(calls) >= 2

    with pytest.raises(Cancelled):
        analyze_path(SAMPLES / "sample_scan.jpg", device="cpu", cancel=cancel,
                     progress=lambda stage, done, total: calls.append(stage))
    assert "explaining" not in calls


def test_a_stale_analysis_is_dropped(scan_analysis) -> None:  # type: ignore[no-untyped-def]
    doc = Document(SAMPLES / "sample_scan.jpg")
    first = doc.new_request()
    second = doc.new_request()
    assert not doc.accept(first, scan_analysis) and doc.analysis is None
    assert doc.accept(second, scan_analysis) and doc.analysis is scan_analysis
    other = Document(SAMPLES / "sample_photo.jpg")
    assert not other.accept(other.new_request(), scan_analysis), "another file's answer is never shown"


def test_blinded_reading_shows_the_model_only_once_reviewed() -> None:
    doc = Document(Path("x.png"))
    assert doc.model_visible(blinded=False) and not doc.model_visible(blinded=True)
    doc.reviewed = True
    assert doc.model_visible(blinded=True)


def test_labels_are_listed_positives_first(scan_analysis) -> None:  # type: ignore[no-untyped-def]
    keys = sorted_labels(scan_analysis)
    calls = [scan_analysis.is_positive(k) for k in keys]
    assert calls == sorted(calls, reverse=True) and sorted(keys) == sorted(scan_analysis.labels)


def test_off_leads_share() -> None:
    g = _geometry(np.diag([4.0, 4.0, 1.0]))
    sal = np.zeros((500, 1000), np.float32)
    sal[0:10, :] = 1.0  # above every panel (panels start at y = 20 mm = 80 px)
    assert off_leads_share(sal, g) == pytest.approx(1.0)
    sal[150, 100] = sal.sum()  # as much again inside lead I's panel
    assert off_leads_share(sal, g) == pytest.approx(0.5, abs=1e-6)
    assert off_leads_share(sal, None) is None


def test_a_page_seen_at_an_angle_looks_photographed() -> None:
    flat = _geometry(np.diag([4.0, 4.0, 1.0]))
    a = np.radians(6)
    rotated = _geometry(np.array([[4 * np.cos(a), -4 * np.sin(a), 100], [4 * np.sin(a), 4 * np.cos(a), 0], [0, 0, 1]]))
    keystone = _geometry(np.array([[4.0, 0.3, 0], [0, 4.0, 0], [0, 0.0012, 1]]))
    assert not looks_photographed(flat)
    assert looks_photographed(rotated) and looks_photographed(keystone)
    assert not looks_photographed(None)


def test_warnings_say_when_no_ecg_is_recognised(tmp_path: Path) -> None:
    import cv2

    noise = np.random.default_rng(0).integers(0, 256, (600, 800, 3), dtype=np.uint8)
    path = tmp_path / "noise.png"
    cv2.imwrite(str(path), noise)
    a = analyze_path(path, device="cpu", labels=("AF",))
    said = warnings(a, "AF")
    assert any(w.startswith("No diagnosis is given") and "No ECG recognised" in w for w in said)
    assert a.positives() == [] and not a.is_positive("AF")  # random noise was called AF at 0.94
    assert any("geometry was not found" in w for w in said)


def test_a_clean_scan_gets_no_warning_about_its_capture(scan_analysis) -> None:  # type: ignore[no-untyped-def]
    said = warnings(scan_analysis, None)
    assert not any("No ECG" in w or "photographed" in w or "geometry" in w for w in said)
