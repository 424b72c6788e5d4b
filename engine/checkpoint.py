"""Checkpoint folders: ``config.json`` + ``model.safetensors`` + ``card.json`` (+ sample grids).

Weights are read with safetensors only; no pickle is ever loaded. :func:`load` checks every file
and fails with one :class:`~engine.errors.CheckpointError` that names the file at fault.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from engine.device import pick_device
from engine.errors import CheckpointError, EngineError
from engine.images import write_atomic

FORMAT_VERSION = 1
CONFIG, WEIGHTS, CARD = "config.json", "model.safetensors", "card.json"
REQUIRED = (CONFIG, WEIGHTS, CARD)
MAX_PARAMETERS = 50_000_000  # refuse configs that would allocate absurd models


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _json_bytes(obj) -> bytes:
    return (json.dumps(obj, indent=2, sort_keys=False) + "\n").encode()


def save_checkpoint(model, out_dir: str | Path, *, card: dict, extra: dict | None = None) -> Path:
    """Write a complete checkpoint folder atomically: a temp folder renamed into place.

    ``extra`` maps relative file names (e.g. ``samples/epoch-0001.png``) to bytes. An existing
    folder at ``out_dir`` is replaced only once the new one is complete.
    """
    from engine.models import config_dict

    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_dir.parent / f".{out_dir.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        tmp.mkdir()
        state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
        save_file(state, tmp / WEIGHTS, metadata={"kind": model.kind})
        (tmp / WEIGHTS).chmod(0o644)  # safetensors writes 0600
        config = {
            "format_version": FORMAT_VERSION,
            "kind": model.kind,
            "config": config_dict(model),
        }
        (tmp / CONFIG).write_bytes(_json_bytes(config))
        card = {**card, "weights_sha256": sha256_file(tmp / WEIGHTS)}
        (tmp / CARD).write_bytes(_json_bytes(card))
        for name, data in (extra or {}).items():
            (tmp / name).parent.mkdir(parents=True, exist_ok=True)
            (tmp / name).write_bytes(data)
        old = out_dir.parent / f".{out_dir.name}.old-{os.getpid()}"
        if out_dir.exists():
            os.replace(out_dir, old)
        os.replace(tmp, out_dir)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out_dir


def _read_json(path: Path) -> dict:
    try:
        obj = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise CheckpointError(f"{path}: not readable JSON ({err})") from None
    if not isinstance(obj, dict):
        raise CheckpointError(f"{path}: expected a JSON object")
    return obj


def read_card(path: str | Path) -> dict:
    return _read_json(Path(path) / CARD)


def update_card(path: str | Path, **fields) -> dict:
    """Merge ``fields`` into ``card.json`` (atomic write); the weights are untouched."""
    card = {**read_card(path), **fields}
    write_atomic(Path(path) / CARD, _json_bytes(card))
    return card


def read_config(path: str | Path) -> tuple[str, dict]:
    """(kind, config dict) of a checkpoint, checking format version and kind."""
    from engine.models import KINDS

    file = Path(path) / CONFIG
    obj = _read_json(file)
    version = obj.get("format_version")
    if not isinstance(version, int):
        raise CheckpointError(f"{file}: no integer format_version")
    if version > FORMAT_VERSION:
        raise CheckpointError(
            f"{file}: format version {version} is newer than this engine reads ({FORMAT_VERSION});"
            " upgrade latent-atlas"
        )
    kind = obj.get("kind")
    if kind not in KINDS:
        raise CheckpointError(f"{file}: unknown model kind {kind!r} (known: {', '.join(KINDS)})")
    if not isinstance(obj.get("config"), dict):
        raise CheckpointError(f"{file}: no 'config' object")
    return kind, obj["config"]


def _build_checked(kind: str, config: dict, file: Path):
    from engine.models import build_model

    try:
        with torch.device("meta"):  # count parameters before allocating anything
            n = sum(p.numel() for p in build_model(kind, config).parameters())
        if n > MAX_PARAMETERS:
            raise CheckpointError(
                f"{file}: config asks for {n:,} parameters (limit {MAX_PARAMETERS:,})"
            )
        return build_model(kind, config)
    except CheckpointError:
        raise
    except (EngineError, ValueError, TypeError, KeyError, RuntimeError) as err:
        raise CheckpointError(f"{file}: cannot build a {kind} model from it ({err})") from None


def load(path: str | Path, device: str | torch.device | None = None):
    """Load a checkpoint folder as a model in eval mode with frozen weights.

    Args:
        path: the checkpoint folder.
        device: ``cpu``, ``cuda``, ``mps``...; default CUDA, else MPS, else CPU
            (``$LATENT_ATLAS_DEVICE`` overrides the default).
    Raises:
        CheckpointError naming the file on any missing, unreadable or mismatching part.
    """
    path = Path(path)
    if not path.is_dir():
        raise CheckpointError(f"{path}: no such checkpoint folder")
    for name in REQUIRED:
        if not (path / name).is_file():
            raise CheckpointError(
                f"{path / name}: missing (a checkpoint needs {', '.join(REQUIRED)})"
            )
    kind, config = read_config(path)
    card = read_card(path)
    weights = path / WEIGHTS
    if card.get("weights_sha256") != sha256_file(weights):
        raise CheckpointError(
            f"{weights}: sha256 does not match card.json (file changed or corrupt)"
        )
    model = _build_checked(kind, config, path / CONFIG)
    try:
        state = load_file(weights)
    except (SafetensorError, OSError, ValueError) as err:
        raise CheckpointError(f"{weights}: not a readable safetensors file ({err})") from None
    expected = model.state_dict()
    missing, unexpected = sorted(set(expected) - set(state)), sorted(set(state) - set(expected))
    if missing or unexpected:
        raise CheckpointError(
            f"{weights}: keys do not match the config (missing {missing[:3]}, unexpected {unexpected[:3]})"
        )
    for key, value in state.items():
        if value.shape != expected[key].shape:
            raise CheckpointError(
                f"{weights}: {key} has shape {tuple(value.shape)}, config expects"
                f" {tuple(expected[key].shape)}"
            )
    model.load_state_dict(state)
    model.eval().requires_grad_(False)
    model.checkpoint_path = path
    model.weights_sha256 = card["weights_sha256"]
    return model.to(pick_device(device))
