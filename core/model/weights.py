"""The embedded weights: a safetensors file and the model card that vouches for it.

Loading checks the file against the card (sha256), the card's labels against
``core.labels.LABELS`` and the tensors against the network, and refuses anything else with a
``WeightsError`` whose message says what to do. Never unpickles anything.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
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
        """Read a model card; a missing or malformed card raises WeightsError, whose one
        sentence names the first field that is missing, mistyped or out of range."""
        card_path = Path(card_path)
        card = _read_card(card_path)
        problem = _card_problem(card)
        if problem is not None:
            raise WeightsError(f"The model card {_shown(card_path)} is malformed: {problem}; "
                               "reinstall ECG-AIO Review.")
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
                net=NetConfig.from_json({k: int(v) if k in _NET_INTS else float(v) for k, v in card["net"].items()}),
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


# Ranges a card's fields must lie in: wide enough for any network this code could have
# trained, narrow enough that a typo cannot make the network ask for all the memory there is.
_NET_INTS = {"width": (1, 512), "in_channels": (1, 3), "n_labels": (1, 64), "n_domains": (1, 64),
             "decoder_leads": (1, 64), "decoder_rows": (1, 1024), "decoder_cols": (1, 4096),
             "decoder_width": (1, 1024)}
_NET_FLOATS = {"decoder_fs": (1.0, 10_000.0), "decoder_seconds": (0.1, 600.0),
               "decoder_window_s": (0.01, 600.0), "decoder_reach": (0.0, 10.0)}
_INPUT_INTS = {"height": (8, 8192), "width": (8, 8192), "channels": (1, 3)}


def _card_problem(card: dict[str, Any]) -> str | None:
    """What is wrong with a card's fields (a phrase naming the first bad one), or None.

    Checked before anything is built from them: the network's shape (each of ``net``'s fields
    a number in its range, no unknown field), the input size and normalisation, the labels, a
    threshold in [0, 1] for each label, the weights file's name and checksum."""
    for key in ("name", "version", "file", "sha256", "labels", "thresholds", "input", "net"):
        if key not in card:
            return f"the field {key!r} is missing"
    if not isinstance(card["file"], str) or not card["file"].strip():
        return "'file' must name the weights file"
    if not isinstance(card["sha256"], str) or len(card["sha256"]) != 64 or \
            any(c not in "0123456789abcdefABCDEF" for c in card["sha256"]):
        return "'sha256' must be the 64 hex digits of the weights file's checksum"
    labels = card["labels"]
    if not isinstance(labels, list) or not labels or not all(isinstance(k, str) for k in labels):
        return "'labels' must be a list of label names"
    thresholds = card["thresholds"]
    if not isinstance(thresholds, dict):
        return "'thresholds' must map each label to a probability"
    for key in labels:
        if key not in thresholds:
            return f"the threshold for {key} is missing"
        if not _is_number(thresholds[key]) or not 0.0 <= thresholds[key] <= 1.0:
            return f"the threshold for {key} must be a probability from 0 to 1, not {thresholds[key]!r}"
    net, spec = card["net"], card["input"]
    if not isinstance(net, dict) or not isinstance(spec, dict):
        return "'net' and 'input' must be JSON objects"
    unknown = sorted(set(net) - {f.name for f in fields(NetConfig)})
    if unknown:
        return f"net.{unknown[0]} is not a field of this version's network"
    for key, (lo, hi) in _NET_INTS.items():
        if key in net and not (_is_whole(net[key]) and lo <= net[key] <= hi):
            return f"net.{key} must be a whole number from {lo} to {hi}, not {net[key]!r}"
    for key, (lo, hi) in _NET_FLOATS.items():
        if key in net and not (_is_number(net[key]) and lo <= net[key] <= hi):
            return f"net.{key} must be a number from {lo:g} to {hi:g}, not {net[key]!r}"
    if _is_number(net.get("decoder_window_s")) and _is_number(net.get("decoder_seconds")) and \
            net["decoder_window_s"] > net["decoder_seconds"]:
        return "net.decoder_window_s must not exceed net.decoder_seconds"
    for key, (lo, hi) in _INPUT_INTS.items():
        if key not in spec:
            return f"input.{key} is missing"
        if not (_is_whole(spec[key]) and lo <= spec[key] <= hi):
            return f"input.{key} must be a whole number from {lo} to {hi}, not {spec[key]!r}"
    for key in ("mean", "std"):
        values = spec.get(key)
        if not isinstance(values, list) or len(values) != spec["channels"] or \
                not all(_is_number(v) and (v > 0 if key == "std" else True) for v in values):
            return (f"input.{key} must be {spec['channels']} number(s)"
                    + (", each above 0" if key == "std" else "") + f", not {values!r}")
    return None


def _is_number(v: Any) -> bool:
    """A finite JSON number (a bool is none)."""
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _is_whole(v: Any) -> bool:
    return _is_number(v) and float(v).is_integer()


def _read_card(card_path: Path) -> dict[str, Any]:
    from core.io.errors import InputFileError, read_regular_file

    if not card_path.exists():
        raise WeightsError(
            f"The model card {_shown(card_path)} is missing; reinstall ECG-AIO Review."
        )
    try:
        card = json.loads(read_regular_file(card_path, "model card", 16 << 20).decode("utf-8"))
    except InputFileError as exc:
        raise WeightsError(
            f"The model card {_shown(card_path)} cannot be used ({str(exc).rstrip('.')}); "
            "reinstall ECG-AIO Review."
        ) from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
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
    misfit = _misfit(weights)
    if misfit is not None:
        raise WeightsError(f"The model weights file {shown} does not fit this version's network "
                           f"({misfit}); reinstall ECG-AIO Review.")
    model = EcgAio(weights.net)
    try:
        model.load_state_dict(load_file(str(weights.file), device="cpu"), strict=True)
    except (SafetensorError, RuntimeError, OSError) as exc:
        first = " ".join(str(exc).split())[:200]
        raise WeightsError(
            f"The model weights file {shown} does not fit this version's network ({first}); "
            "reinstall ECG-AIO Review."
        ) from exc
    model.to(resolve_device(device)).eval()
    model.requires_grad_(False)
    return model, weights


def _misfit(weights: Weights) -> str | None:
    """How the file's tensors differ from the network the card describes, in one phrase (the
    first differing tensor and how many more differ), or None when they fit. Read from the
    file's header and a network built without memory (PyTorch's meta device), so a card that
    asks for a huge network costs nothing."""
    try:
        with safe_open(str(weights.file), "pt") as f:
            found = {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}  # noqa: SIM118 (not a dict)
    except (SafetensorError, OSError) as exc:
        return f"its header cannot be read: {' '.join(str(exc).split())[:120]}"
    try:
        with torch.device("meta"):
            wanted = {k: tuple(v.shape) for k, v in EcgAio(weights.net).state_dict().items()}
    except Exception as exc:  # noqa: BLE001 (an in-range field the network cannot be built with is the card's fault)
        return f"the card's network cannot be built: {' '.join(str(exc).split())[:120] or type(exc).__name__}"
    problems = []
    for key, shape in wanted.items():
        if key not in found:
            problems.append(f"the network's tensor {key} is not in the file")
        elif found[key] != shape:
            problems.append(f"tensor {key} is {_dims(found[key])} in the file but {_dims(shape)} "
                            "in the network the card describes")
    problems += [f"the file's tensor {key} is not in the network" for key in found if key not in wanted]
    if not problems:
        return None
    more = f", and {len(problems) - 1} more differ" if len(problems) > 1 else ""
    return problems[0] + more


def _dims(shape: tuple[int, ...]) -> str:
    return " × ".join(map(str, shape)) or "a scalar"


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
