"""The live model-vs-reader agreement of the selected label: recomputed in a worker after
each edit (debounced by the metrics timer), shown in the comparison panel and as the
agreement layer. ``core.review.agreement`` computes; this schedules and shows.
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from app.review.canvas import reduced


class MetricsMixin:
    """Part of ``ReviewWindow``: the agreement metrics and layer, off the event loop."""

    # ================================================================ comparison
    def _schedule_metrics(self, now: bool = False) -> None:
        if now:
            self.metrics_timer.stop()
            self._measure()
        else:
            self.metrics_timer.start()

    def _measure(self) -> None:
        from core.review.agreement import agreement_codes, agreement_image, live_metrics, per_lead_shares

        doc = self.doc
        a = doc.analysis if doc else None
        if doc is None or a is None or doc.annotations is None or doc.image is None or not self._model_visible():
            self.measuring.cancel()
            self.compare.show_metrics(None, None, "Blinded: agreement appears once you mark the image done."
                                      if doc is not None and a is not None and not self._model_visible() else "")
            self.canvas.set_layer("agreement", None)
            return
        key = self.selected
        maps, geometry, rgb = a.explanation.saliency, a.geometry, doc.image.rgb
        mask = np.array(doc.annotations.mask(key))  # a copy: the reader may draw on while this runs

        def job(cancel: threading.Event, _report: Callable[[Any], None]) -> dict[str, Any]:
            saliency = maps[key]  # at the image's size: made here, off the event loop
            codes = agreement_codes(saliency, mask)
            picture = agreement_image(np.full_like(rgb, 255), codes)  # colours only: the page shows beneath
            alpha = (codes > 0).astype(np.float32)
            layer = reduced(np.concatenate([picture, (alpha * 255).astype(np.uint8)[..., None]], axis=2))
            empty = not mask.any()
            return {"label": key, "metrics": None if empty else live_metrics(saliency, mask, geometry),
                    "shares": per_lead_shares(saliency, mask, geometry), "layer": layer, "empty": empty}

        self.measuring.submit(job, self._measured, lambda m: self.compare.show_metrics(None, None, m))

    def _measured(self, result: dict[str, Any]) -> None:
        if result["label"] != self.selected:
            return
        note = ("Draw where you see the evidence: the agreement appears as you draw."
                if result["empty"] else "Updated after each stroke.")
        self.compare.show_metrics(result["metrics"], result["shares"], note)
        self.canvas.set_layer("agreement", result["layer"])
        self._apply_layers()
        self.metrics_shown.emit(result["metrics"])
