"""What the canvas shows of the open image: each layer's visibility and opacity (the Layers
panel, the View menu, the opacity slider) and the comparison view (the model's overlay over
the reader's marks, the agreement colours, or side by side).
"""
from __future__ import annotations

from app.review.panels import ComparePanel


class LayersMixin:
    """Part of ``ReviewWindow``: the layers shown on the canvas and the comparison view."""

    def _apply_layers(self) -> None:
        if self.doc is None:
            return
        self.layers_panel.show_layers(self.doc.layers)
        agreement = self.compare_mode == "agreement"
        for name, layer in self.doc.layers.items():
            visible = layer.visible
            if name == "model":
                visible = visible and not agreement and self._model_visible()
            if name == "reader" and self.compare_mode != "overlay":
                visible = False  # agreement colours show it; side by side shows it in its own view
            if name == "agreement":
                visible = visible and agreement and self._model_visible()
            self.canvas.set_layer_style(name, visible, layer.opacity)

    def _layer_changed(self, name: str, visible: bool, opacity: float) -> None:
        if self.doc is None:
            return
        layer = self.doc.layers[name]
        layer.visible, layer.opacity = visible, opacity
        self._shown_layers = {**self._shown_layers, name: visible}
        self.layer_actions[name].setChecked(visible)
        if name == "model":
            self.opacity.blockSignals(True)
            self.opacity.setValue(round(100 * opacity))
            self.opacity.blockSignals(False)
            self.settings.setValue("opacity", opacity)
        self._apply_layers()

    def toggle_layer(self, name: str) -> None:
        if self.doc is None:
            self.layer_actions[name].setChecked(name != "geometry")
            return
        layer = self.doc.layers[name]
        layer.visible = not layer.visible
        self._shown_layers = {**self._shown_layers, name: layer.visible}
        self.layer_actions[name].setChecked(layer.visible)
        self._apply_layers()

    def _set_opacity(self, value: float) -> None:
        self.settings.setValue("opacity", value)
        if self.doc is not None:
            self.doc.layers["model"].opacity = value
            self._apply_layers()

    def change_opacity(self, delta: float) -> None:
        self.opacity.setValue(int(round(self.opacity.value() + 100 * delta)))

    def set_compare_mode(self, mode: str) -> None:
        self.compare_mode = mode
        if self.doc is not None:
            self.doc.layers["agreement"].visible = mode == "agreement"
        index = self.compare.mode_box.findData(mode)
        if index != self.compare.mode_box.currentIndex():
            self.compare.mode_box.setCurrentIndex(index)
        self._apply_layers()
        self._side_by_side()

    def cycle_compare_mode(self) -> None:
        modes = [m for m, _ in ComparePanel.MODES]
        self.set_compare_mode(modes[(modes.index(self.compare_mode) + 1) % len(modes)])

    def _side_by_side(self) -> None:
        doc = self.doc
        if self.compare_mode != "side_by_side" or doc is None or doc.image is None:
            self.canvas.set_side_by_side(None, None)
            return
        self.canvas.set_side_by_side(doc.image.rgb, self._reader_rgba())
