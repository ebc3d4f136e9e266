"""The embedded weights: a safetensors file and the model card that vouches for it.

Loading checks the file against the card (sha256), the card's labels against
``core.labels.LABELS`` and the tensors against the network, and refuses anything else with a
``WeightsError`` whose message says what to do. Never unpickles anything.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save

from core.atomic import write_bytes, write_json
from core.labels import LABELS
from core.model.network import EcgAio, NetConfig
from core.model.preprocess import InputSpec

REPO = Path(__file__).resolve().parents[2]
CARD_NAME = "model_card.json"
WEIGHTS_NAME = "ecg_aio.safetensors"
ENV_VAR = "ECG_AIO_WEIGHTS"


class WeightsError(RuntimeError):
    """The weights are missing, corrupt or made for another version (the CLI exits 3)."""


@dataclass(frozen=True)
class Weights:
    """What the model card says about the weights file.

    file: the safetensors file (absolute). sha256: its hex digest. labels: output order.
    thresholds: label -> probability at or above which the label is called positive.
    input: the network's input size and normalisation. net: the network's shape.
    training/metrics: free-form records of how it was made and how well it does.
    limits: sentences on what its evaluation showed it is weak at (the review window quotes them).
    """

    name: str
    version: str
    file: Path
    sha256: str
    labels: tuple[str, ...]
    thresholds: dict[str, float]
    input: InputSpec
    net: NetConfig
    training: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    limits: tuple[str, ...] = ()

    @classmethod
    def from_card(cls, card_path: str | Path) -> "Weights":
        """Read a model card; a missing or malformed card raises WeightsError."""
        card_path = Path(card_path)
        card = _read_card(card_path)
        try:
            labels = tuple(str(k) for k in card["labels"])
            weights = cls(
                name=str(card["name"]),
                version=str(card["version"]),
                file=(card_path.parent / card["file"]).resolve(),
                sha256=str(card["sha256"]).lower(),
                labels=labels,
                thresholds={k: float(card["thresholds"][k]) for k in labels},
                input=InputSpec.from_json(card["input"]),
                net=NetConfig.from_json(card["net"]),
                training=dict(card.get("training") or {}),
                metrics=dict(card.get("metrics") or {}),
                limits=tuple(str(line) for line in card.get("limits") or ()),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise WeightsError(
                f"The model card {_shown(card_path)} is incomplete or malformed ({exc!r}); "
                "reinstall ECG-AIO Review."
            ) from exc
        if weights.input.channels != weights.net.in_channels:
            raise WeightsError(
                f"The model card {_shown(card_path)} contradicts itself (input channels "
                f"{weights.input.channels}, network channels {weights.net.in_channels}); "
                "reinstall ECG-AIO Review."
            )
        return weights


def _read_card(card_path: Path) -> dict[str, Any]:
    try:
        card = json.loads(card_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise WeightsError(
            f"The model card {_shown(card_path)} is missing; reinstall ECG-AIO Review."
        ) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise WeightsError(
            f"The model card {_shown(card_path)} cannot be read ({exc}); "
            "reinstall ECG-AIO Review."
        ) from exc
    if not isinstance(card, dict):
        raise WeightsError(f"The model card {_shown(card_path)} is not a JSON object; "
                           "reinstall ECG-AIO Review.")
    return card


def _shown(path: Path) -> str:
    """The path as a person should read it: relative to the install when inside it."""
    path = Path(path).resolve()
    try:
        return path.relative_to(REPO).as_posix()
    except ValueError:
        return str(path)


def default_card_path() -> Path:
    """The card to load: $ECG_AIO_WEIGHTS (a card, a folder holding one, or a weights file
    beside one) when set, else <repo>/resources/model_card.json."""
    override = os.environ.get(ENV_VAR)
    return card_path_for(override) if override else REPO / "resources" / CARD_NAME


def card_path_for(path: str | Path) -> Path:
    """Card path for a card, a folder holding ``model_card.json``, or a ``.safetensors`` file."""
    path = Path(path)
    if path.is_dir():
        return path / CARD_NAME
    if path.suffix == ".safetensors":
        return path.with_name(CARD_NAME)
    return path


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def save_weights(model: EcgAio, card: dict[str, Any], out_dir: str | Path) -> Path:
    """Write ``model`` as safetensors plus its card into ``out_dir``; return the card path.

    ``card`` gives name, version, thresholds, input, training, metrics, intended_use, limits;
    ``file`` defaults to ecg_aio.safetensors, ``labels`` to core.labels.LABELS, and ``net``
    and ``sha256`` are filled in from the model and the written file.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    card = dict(card)
    card.setdefault("file", WEIGHTS_NAME)
    card.setdefault("labels", list(LABELS))
    card["net"] = model.config.to_json()
    if len(card["labels"]) != model.config.n_labels:
        raise ValueError("the card's labels do not match the model's number of outputs")
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    # one key: safetensors writes metadata in hash order, and the same weights must hash the same
    meta = {"model": f"{card.get('name', '')} {card.get('version', '')}".strip()}
    weights_path = out_dir / card["file"]
    write_bytes(weights_path, save(tensors, metadata=meta))
    card["sha256"] = sha256_file(weights_path)
    card_path = out_dir / CARD_NAME
    write_json(card_path, card)
    return card_path


def load_model(card_path: str | Path | None = None,
               device: str | torch.device = "cpu") -> tuple[EcgAio, Weights]:
    """Load and verify the network; returns it in eval mode with frozen parameters.

    Raises WeightsError when the file is missing, its sha256 differs from the card's, its
    labels differ from core.labels.LABELS, or its tensors do not fit the network.
    """
    weights = Weights.from_card(card_path or default_card_path())
    shown = _shown(weights.file)
    if not weights.file.is_file():
        raise WeightsError(f"The model weights file {shown} is missing; "
                           "reinstall ECG-AIO Review.")
    if sha256_file(weights.file) != weights.sha256:
        raise WeightsError(f"The model weights file {shown} is corrupt (checksum mismatch); "
                           "reinstall ECG-AIO Review.")
    if weights.labels != LABELS:
        raise WeightsError(
            f"The model weights file {shown} was made for labels {', '.join(weights.labels)}; "
            f"this version expects {', '.join(LABELS)}. Install weights made for this version."
        )
    model = EcgAio(weights.net)
    try:
        model.load_state_dict(load_file(str(weights.file), device="cpu"), strict=True)
    except (SafetensorError, RuntimeError, OSError) as exc:
        raise WeightsError(
            f"The model weights file {shown} does not fit this version's network ({exc}); "
            "reinstall ECG-AIO Review."
        ) from exc
    model.to(resolve_device(device)).eval()
    model.requires_grad_(False)
    return model, weights


def resolve_device(name: str | torch.device = "auto") -> torch.device:
    """'auto' -> CUDA when PyTorch sees a GPU, else CPU; 'cpu'; 'cuda' (or 'cuda:N')."""
    if isinstance(name, torch.device):
        name = str(name)
    name = name.strip().lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ValueError("CUDA was asked for but PyTorch sees no CUDA GPU on this machine; "
                             "use --device cpu or --device auto.")
        return torch.device(name)
    raise ValueError(f"unknown device {name!r}; use auto, cpu or cuda")
