"""The ECG-AIO network, its input preprocessing and the verified weights record."""
from core.model.grl import dann_lambda, grl
from core.model.network import EcgAio, NetConfig, count_parameters
from core.model.preprocess import InputSpec, image_to_tensor, letterbox_matrix, to_model_input
from core.model.weights import (
    Weights,
    WeightsError,
    default_card_path,
    load_model,
    resolve_device,
    save_weights,
)

__all__ = [
    "EcgAio", "InputSpec", "NetConfig", "Weights", "WeightsError", "count_parameters",
    "dann_lambda", "default_card_path", "grl", "image_to_tensor", "letterbox_matrix",
    "load_model", "resolve_device", "save_weights", "to_model_input",
]
