"""Lists of latent directions in a small JSON file.

The format (version 1), vectors flattened in C order and written as exact float32 values::

    {"format": "latent-atlas directions", "version": 1, "latent_shape": [32],
     "directions": [{"name": "PC 1", "source": "...", "vector": [0.12, ...]}, ...]}

Files are written atomically (a temporary file renamed over the old one), so a failed save never
loses an existing file. Anything wrong with a file on loading is one :class:`EngineError` naming it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path

import torch

from engine.errors import EngineError
from engine.images import write_atomic
from engine.ops.directions import Direction

FORMAT, VERSION = "latent-atlas directions", 1


def save_directions(path: str | Path, directions: Sequence[Direction]) -> Path:
    """Write ``directions`` (all of one latent shape, unique names) to the JSON file ``path``.

    Raises:
        EngineError: empty list, mixed shapes, duplicate names, non-finite values, or the file
            cannot be written (the old file, if any, is left as it was).
    """
    path = Path(path)
    data = dump_directions(directions, where=str(path))
    try:
        write_atomic(path, data)
    except OSError as err:
        raise EngineError(f"{path}: cannot write the directions file ({err.strerror})") from None
    return path


def dump_directions(directions: Sequence[Direction], *, where: str = "directions") -> bytes:
    """The directions file's bytes (for a download: nothing touches the disk)."""
    path = where
    if not directions:
        raise EngineError(f"{path}: no directions to save")
    shape = tuple(directions[0].vector.shape)
    names = [d.name for d in directions]
    if len(set(names)) != len(names):
        raise EngineError(f"{path}: direction names must be unique, got {names}")
    entries = []
    for d in directions:
        if tuple(d.vector.shape) != shape:
            raise EngineError(
                f"{path}: direction {d.name!r} has shape {tuple(d.vector.shape)}, not {shape}"
            )
        v = d.vector.detach().cpu().float().flatten()
        if not torch.isfinite(v).all():
            raise EngineError(f"{path}: direction {d.name!r} has NaN or infinite values")
        entries.append({"name": str(d.name), "source": str(d.source), "vector": v.tolist()})
    doc = {"format": FORMAT, "version": VERSION, "latent_shape": list(shape), "directions": entries}
    return (json.dumps(doc) + "\n").encode()


def _check(condition: bool, path, problem: str) -> None:
    if not condition:
        raise EngineError(f"{path}: not a valid directions file ({problem})")


def load_directions(
    path: str | Path, *, latent_shape: Sequence[int] | None = None
) -> list[Direction]:
    """Read a directions file written by :func:`save_directions`.

    Args:
        latent_shape: the model's latent shape; a file made for another shape is refused.

    Raises:
        EngineError naming the file: missing, unreadable, not JSON, not this format, a newer
        version, malformed entries, or a latent shape that does not match.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise EngineError(f"{path}: no such directions file") from None
    except OSError as err:
        raise EngineError(f"{path}: cannot read the directions file ({err.strerror})") from None
    return parse_directions(data, latent_shape=latent_shape, where=str(path))


def parse_directions(
    data: bytes, *, latent_shape: Sequence[int] | None = None, where: str = "the upload"
) -> list[Direction]:
    """Directions from a file's bytes (an upload); errors name ``where``."""
    path = where
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise EngineError(f"{path}: not a valid directions file (not JSON: {err})") from None
    _check(isinstance(doc, dict) and doc.get("format") == FORMAT, path, f"no format {FORMAT!r}")
    version = doc.get("version")
    _check(isinstance(version, int), path, "no integer version")
    if version > VERSION:
        raise EngineError(f"{path}: directions format {version} is newer than this engine reads")
    shape = doc.get("latent_shape")
    _check(
        isinstance(shape, list) and all(type(s) is int and s > 0 for s in shape) and shape,
        path,
        "latent_shape must be a list of positive integers",
    )
    shape = tuple(shape)
    if latent_shape is not None and shape != tuple(latent_shape):
        raise EngineError(
            f"{path}: the directions are for latents of shape {shape}, this model's are"
            f" {tuple(latent_shape)}"
        )
    entries = doc.get("directions")
    _check(isinstance(entries, list) and entries, path, "no list of directions")
    out, size = [], math.prod(shape)
    for i, e in enumerate(entries):
        _check(isinstance(e, dict), path, f"direction {i} is not an object")
        name, source, vector = e.get("name"), e.get("source", ""), e.get("vector")
        _check(isinstance(name, str) and name, path, f"direction {i} has no name")
        _check(isinstance(source, str), path, f"direction {name!r}: source is not text")
        _check(
            isinstance(vector, list)
            and all(type(x) in (int, float) and math.isfinite(x) for x in vector),
            path,
            f"direction {name!r}: vector is not a list of finite numbers",
        )
        _check(
            len(vector) == size,
            path,
            f"direction {name!r} has {len(vector)} values, latent shape {shape} needs {size}",
        )
        out.append(Direction(name, torch.tensor(vector, dtype=torch.float32).view(shape), source))
    names = [d.name for d in out]
    _check(len(set(names)) == len(names), path, "direction names are not unique")
    return out


def find_direction(directions: Sequence[Direction], name: str) -> Direction:
    """The direction called ``name``; the error lists the names there are."""
    for d in directions:
        if d.name == name:
            return d
    known = ", ".join(repr(d.name) for d in directions)
    raise EngineError(f"no direction named {name!r} (there are {known})")
