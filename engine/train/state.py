"""Training state on disk, so a long run can stop and continue exactly (``--resume``).

A state is a nested tree of dicts, lists, numbers, strings, tensors and bytes (the model, EMA and
optimiser states, the objective's counters, generator states, history, best-so-far). It is stored
without pickle: every tensor (and byte string, as uint8) goes into ``state.safetensors``, the rest
into ``state.json`` with a reference where each tensor was. The folder is written atomically, so a
run killed while saving leaves the previous state.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from engine.errors import EngineError

STATE_VERSION = 1
TENSORS, TREE = "state.safetensors", "state.json"


def state_path(out: str | Path) -> Path:
    """Where the training state of the checkpoint folder ``out`` lives: beside it, hidden."""
    out = Path(out)
    return out.parent / f".{out.name}.train-state"


def _flatten(obj, tensors: dict, path: str):
    if isinstance(obj, torch.Tensor):
        tensors[path] = obj.detach().cpu().clone().contiguous()
        return {"__tensor__": path}
    if isinstance(obj, bytes | bytearray):
        tensors[path] = torch.frombuffer(bytearray(obj), dtype=torch.uint8).clone()
        return {"__bytes__": path}
    if isinstance(obj, dict):
        if all(isinstance(k, str) for k in obj) and not {"__tensor__", "__bytes__"} & set(obj):
            return {k: _flatten(v, tensors, f"{path}/{k}") for k, v in obj.items()}
        items = [[k, _flatten(v, tensors, f"{path}/{k}")] for k, v in obj.items()]
        return {"__items__": items}  # non-string keys (optimiser states are keyed by int)
    if isinstance(obj, list | tuple):
        return [_flatten(v, tensors, f"{path}/{i}") for i, v in enumerate(obj)]
    if obj is None or isinstance(obj, bool | int | float | str):
        return obj
    raise EngineError(f"training state: cannot store {type(obj).__name__} at {path}")


def _unflatten(obj, tensors: dict):
    if isinstance(obj, dict):
        if "__tensor__" in obj:
            return tensors[obj["__tensor__"]]
        if "__bytes__" in obj:
            return tensors[obj["__bytes__"]].numpy().tobytes()
        if "__items__" in obj:
            return {k: _unflatten(v, tensors) for k, v in obj["__items__"]}
        return {k: _unflatten(v, tensors) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_unflatten(v, tensors) for v in obj]
    return obj


def save_state(path: str | Path, state: dict) -> Path:
    """Write ``state`` (a tree, see the module docstring) to the folder ``path`` atomically."""
    path = Path(path)
    tensors: dict[str, torch.Tensor] = {}
    tree = {"version": STATE_VERSION, "state": _flatten(state, tensors, "")}
    tmp = path.parent / f"{path.name}.tmp-{os.getpid()}"
    old = path.parent / f"{path.name}.old-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        tmp.mkdir(parents=True)
        save_file(tensors, tmp / TENSORS)
        (tmp / TREE).write_text(json.dumps(tree))
        if path.exists():
            os.replace(path, old)
        os.replace(tmp, path)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return path


def load_state(path: str | Path) -> dict | None:
    """The state saved at ``path``, or None when there is none. Raises EngineError naming the
    file when it is unreadable."""
    path = Path(path)
    if not path.exists():
        return None
    try:
        tree = json.loads((path / TREE).read_text())
        tensors = load_file(path / TENSORS)
    except (OSError, ValueError, SafetensorError) as err:
        raise EngineError(
            f"{path}: unreadable training state ({err}); delete it to start over"
        ) from None
    if tree.get("version") != STATE_VERSION:
        raise EngineError(f"{path}: training state version {tree.get('version')} is not supported")
    return _unflatten(tree["state"], tensors)


def objective_state(objective, model: nn.Module) -> dict:
    """What an objective holds beyond the model: its optimisers, its own modules (a GAN's
    discriminator) and its counters, found by type so every objective is covered."""
    if hasattr(objective, "state_dict"):
        return {"custom": objective.state_dict()}
    own = {id(p) for p in model.parameters()}
    out = {}
    for name, value in vars(objective).items():
        if isinstance(value, torch.optim.Optimizer):
            out[name] = {"optimizer": value.state_dict()}
        elif isinstance(value, nn.Module):
            if not any(id(p) in own for p in value.parameters()):
                out[name] = {"module": value.state_dict()}
        elif isinstance(value, bool | int | float):
            out[name] = {"value": value}
    return out


def load_objective_state(objective, state: dict) -> None:
    """Restore what :func:`objective_state` saved."""
    if "custom" in state:
        objective.load_state_dict(state["custom"])
        return
    for name, entry in state.items():
        if "optimizer" in entry:
            getattr(objective, name).load_state_dict(entry["optimizer"])
        elif "module" in entry:
            getattr(objective, name).load_state_dict(entry["module"])
        else:
            setattr(objective, name, entry["value"])
