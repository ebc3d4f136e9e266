"""Output sets: written whole or not at all, an earlier set never lost or mixed with a new one."""
from __future__ import annotations

from pathlib import Path

import pytest

from core import atomic
from core.atomic import OutputSet, write_bytes
from core.outputs import is_output_name


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def earlier_set(folder: Path) -> dict[str, bytes]:
    with OutputSet(folder, replace=is_output_name) as out:
        for name in ("result.json", "saliency.npz", "overlay_PVC.png"):
            write_bytes(out.path(name), f"old {name}".encode())
    return snapshot(folder)


@pytest.mark.parametrize("replace", [None, is_output_name])
def test_a_failed_run_leaves_the_earlier_set_as_it_was(tmp_path: Path, replace) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "out"
    before = earlier_set(folder)
    for fault in (OSError(28, "No space left on device"), KeyboardInterrupt()):
        with pytest.raises(type(fault)):
            with OutputSet(folder, replace=replace) as out:
                write_bytes(out.path("saliency.npz"), b"new")  # same name as the earlier run's
                raise fault
        assert snapshot(folder) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no staging folder left


def test_a_new_set_replaces_the_earlier_one_as_a_whole(tmp_path: Path) -> None:
    folder = tmp_path / "out"
    earlier_set(folder)
    with OutputSet(folder, replace=is_output_name) as out:
        write_bytes(out.path("result.json"), b"new")
        assert not (folder / "result.json").read_bytes() == b"new"  # nothing moves in before the end
    assert snapshot(folder) == {"result.json": b"new"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_the_swap_without_renameat2_is_also_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """macOS and Windows have no atomic exchange: two renames, the old folder deleted after."""
    monkeypatch.setattr(atomic, "_renameat2", lambda: None)
    test_a_new_set_replaces_the_earlier_one_as_a_whole(tmp_path)


def test_adding_files_keeps_the_others(tmp_path: Path) -> None:
    folder = tmp_path / "pages"
    folder.mkdir()
    (folder / "mine.txt").write_text("mine")
    with OutputSet(folder) as out:
        write_bytes(out.path("plots/a.png"), b"a")
        assert out.target("plots/a.png") == folder / "plots" / "a.png"
    assert snapshot(folder) == {"mine.txt": b"mine", "plots/a.png": b"a"}


def test_a_folder_of_other_files_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    folder = tmp_path / "desktop"
    folder.mkdir()
    (folder / "letter.docx").write_bytes(b"dear")
    with pytest.raises(ValueError, match="letter.docx"):
        with OutputSet(folder, replace=is_output_name) as out:
            write_bytes(out.path("result.json"), b"new")
    assert snapshot(folder) == {"letter.docx": b"dear"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["desktop"]


def test_an_interruption_while_the_staging_folder_is_made_leaves_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A Ctrl-C or SIGTERM that lands after the staging folder exists but before the with-block
    runs (so __exit__ never does) must not leave the folder behind."""
    def interrupted(*args: object) -> None:
        raise KeyboardInterrupt
    monkeypatch.setattr(atomic.os, "chmod", interrupted)
    with pytest.raises(KeyboardInterrupt):
        with OutputSet(tmp_path / "out"):
            pass
    assert list(tmp_path.iterdir()) == []
