"""The reader's name and their annotation on disk: loaded when an image opens, saved
(atomically, debounced by the autosave timer) beside the image or, where that folder is
read-only or the reader chooses, in another folder. ``core.review.store`` holds the files.
"""
from __future__ import annotations

import time
from pathlib import Path

from PySide6 import QtWidgets

from app.review.workers import one_sentence
from core.review import store


class SavingMixin:
    """Part of ``ReviewWindow``: who reads, and loading and saving their annotation."""

    # ================================================================ saving
    def ask_reader(self) -> None:
        name, ok = QtWidgets.QInputDialog.getText(
            self, "Reader", "Your name (saved with your annotations; each reader's are kept apart):",
            text=self.reader or "")
        if ok and name.strip():
            try:
                store.safe_reader_name(name)
            except ValueError as exc:
                self._tell(str(exc))
                return
            self.set_reader(name.strip())

    def set_reader(self, name: str) -> None:
        self.save_now()
        self.reader = name
        self.settings.setValue("reader", name)
        if self.doc is not None and self.doc.image is not None:
            self._load_annotation()

    def _load_annotation(self) -> None:
        """This reader's saved annotation of the open image, wherever it was saved."""
        doc = self.doc
        if doc is None or doc.image is None or self.reader is None:
            return
        image = doc.image
        try:
            found = store.find_folder(doc.path, self.reader, doc.page, image.sha256)
            if found is not None:
                doc.annotations, meta = store.load(found, image.size)
                doc.reviewed = bool(meta.get("reviewed"))
                spent = meta.get("seconds_spent")
                self._seconds_before = float(spent) if isinstance(spent, (int, float)) else 0.0
            self.folder = found
        except ValueError as exc:
            self._tell(f"Your earlier annotation of this image could not be read ({str(exc).rstrip('.')}), so it "
                       "is left as it is and new strokes are not saved until you choose another folder (File ▸ "
                       "Save annotations in another folder).")
            self.folder = None
            self._save_blocked = True
            return
        self._save_blocked = False
        self.done_action.setChecked(doc.reviewed)
        self._redraw_reader()
        self.select_label(self.selected)

    def _target_folder(self) -> Path | None:
        doc = self.doc
        assert doc is not None and self.reader is not None
        if self.folder is not None:
            return self.folder
        beside = store.annotation_folder(doc.path, self.reader, doc.page)
        if store.is_writable(beside.parent.parent if doc.page == 1 else beside.parent.parent.parent):
            self.folder = beside
        else:
            base = store.fallback_base()
            self.folder = store.annotation_folder(doc.path, self.reader, doc.page, base)
            self._tell(f"The folder of {doc.path.name} is read-only, so your annotation is saved in "
                       f"{self.folder} instead (File ▸ Save annotations in another folder to choose).",
                       "Read-only folder")
        return self.folder

    def save_now(self, force: bool = False) -> None:
        """Write this reader's annotation of the open image (atomically), if anything changed."""
        self.autosave_timer.stop()
        doc = self.doc
        if doc is None or doc.image is None or doc.annotations is None or self.reader is None:
            return
        if self._save_blocked:
            return
        ann = doc.annotations
        if not force and ann.saved_to is None and not ann.labels_drawn() and not any(ann.status.values()) \
                and not doc.reviewed:
            return  # nothing drawn yet: no folder beside every image merely looked at
        if not force and self._saved_version == (id(ann), ann.version, tuple(ann.status.values())):
            return
        folder = self._target_folder()
        if folder is None:
            return
        a = doc.analysis
        try:
            store.save(folder, ann, reader=self.reader, image_name=doc.path.name, image_sha256=doc.image.sha256,
                       page=doc.page, model_version=a.weights.version if a else None, reviewed=doc.reviewed,
                       blinded=self.blinded, seconds_spent=self._seconds_before + time.monotonic() - self._opened_at)
        except OSError as exc:
            self._tell(f"Your annotation could not be saved in {folder} ({one_sentence(exc).rstrip('.')}); "
                       "choose another folder (File ▸ Save annotations in another folder).", "Not saved")
            self.folder = None
            return
        self._saved_version = (id(ann), ann.version, tuple(ann.status.values()))

    def choose_save_folder(self) -> None:
        if self.doc is None or self.reader is None:
            return
        path = QtWidgets.QFileDialog.getExistingDirectory(self, "Save annotations in")
        if path:
            self.folder = store.annotation_folder(self.doc.path, self.reader, self.doc.page, Path(path))
            self._save_blocked = False
            self.save_now(force=True)
