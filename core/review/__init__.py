"""The review model, with no Qt: the document a reader opens, its layers, one reader's
annotation masks per label and their undo history, and the per-reader store on disk.
``app/review/`` only draws this model and forwards the reader's input to it, so every rule
about what a stroke changes, what undo restores and what is saved is tested without a display.
Submodules are imported where used (``from core.review.annotations import Annotations``).
"""
