"""Directions in a model's latent space: the built-in families and those a session saves."""

from __future__ import annotations

import streamlit as st
import torch

import engine
from app.resources.checkpoints import _load, entry, model
from app.resources.results import gen
from engine.errors import EngineError

MAX_SAVED_DIRECTIONS = 32


@st.cache_resource(show_spinner=False)
def _directions(path: str) -> dict[str, list[engine.Direction]]:
    """Built-in direction families of a model (computed once per server)."""
    m = _load(path)
    lm = engine.load_map(path)
    codes = None if lm is None else torch.from_numpy(lm.codes).view(-1, *lm.latent_shape)
    if m.has("trajectory") and lm is not None and lm.encoded:
        # The latent starts a chain (a diffusion model's x_T): GANSpace would run 1,024 chains,
        # and a latent coordinate is one pixel of noise. PCA of the map's codes (training images
        # found by inversion) instead; benchmarks/diffusion_ops.py measures what they change.
        out = {"principal": engine.principal_directions(m, codes=codes, k=10)}
    else:
        out = {"principal": engine.principal_directions(m, n=1024, k=10, generator=gen(0))}
        out["axis"] = engine.axis_directions(m, limit=64)
    if lm is not None and (lm.labels >= 0).any():
        classes = sorted(set(int(v) for v in lm.labels if v >= 0))
        pairs = [(a, b) for a, b in zip(classes[1:], classes[:-1], strict=True)]
        pairs += [(3, 8), (1, 7), (4, 9)] if set(classes) >= {1, 3, 4, 7, 8, 9} else []
        out["class"] = [engine.class_directions(codes, lm.labels, a, b) for a, b in pairs]
    return out


def direction_families(name: str) -> dict[str, list[str]]:
    fams = {k: [d.name for d in v] for k, v in _directions(entry(name).path).items()}
    saved = saved_directions(name)
    if saved:
        fams["saved"] = [d.name for d in saved]
    return fams


def saved_directions(name: str) -> list[engine.Direction]:
    return st.session_state.setdefault("_saved_directions", {}).get(name, [])


def find_direction(name: str, family: str, direction: str) -> engine.Direction:
    pool = saved_directions(name) if family == "saved" else _directions(entry(name).path)[family]
    return engine.find_direction(pool, direction)


def save_direction(name: str, new_name: str, vector) -> None:
    """Keep a direction in this session (export it as JSON with :func:`directions_json`)."""
    new_name = new_name.strip()
    if not new_name:
        raise EngineError("give the direction a name")
    saved = [d for d in saved_directions(name) if d.name != new_name]
    if len(saved) >= MAX_SAVED_DIRECTIONS:
        raise EngineError(f"at most {MAX_SAVED_DIRECTIONS} saved directions per model; export them")
    saved.append(engine.Direction(new_name, torch.as_tensor(vector).float().cpu(), "saved here"))
    st.session_state["_saved_directions"][name] = saved


def save_combined(name: str, new_name: str, moves: list[tuple[str, str, float]]) -> None:
    """Save the sum of several moves (family, direction, amount) as one unit direction."""
    vector = sum(a * find_direction(name, f, d).vector for f, d, a in moves)
    if not any(a for _, _, a in moves) or float(vector.norm()) == 0:
        raise EngineError("move at least one slider away from 0 first")
    save_direction(name, new_name, vector / vector.norm())


def directions_json(name: str) -> bytes:
    """The session's saved directions as the engine's direction file (built in memory)."""
    return engine.dump_directions(saved_directions(name), where=f"{name} directions")


def load_direction_file(name: str, data: bytes) -> int:
    """Add the directions of an uploaded JSON file to this session; returns how many."""
    loaded = engine.parse_directions(data, latent_shape=model(name).latent_shape)
    for d in loaded:
        save_direction(name, d.name, d.vector)
    return len(loaded)
