"""What the in-browser decoder (the latent canvas) needs from the engine: the verified decoder
file of a model, or the one line saying why it has none, and the latents it moves between."""

from __future__ import annotations

import streamlit as st
import torch

from app.components.latent_canvas.serve import BrowserDecoder, publish_decoder
from app.resources.checkpoints import entry, model
from app.resources.directions import find_direction
from app.resources.operations import latent_for, start_latent
from engine.errors import EngineError
from engine.export_onnx import frame_decoder_reason, onnx_decoder
from engine.ops.interpolate import interpolate_latents

NO_FILE = "its checkpoint has no decoder.onnx (python -m engine export-onnx --checkpoint DIR)"


@st.cache_resource(show_spinner=False)
def _published(path: str, sha256: str) -> BrowserDecoder:
    """Check the card's hash and place the bytes where the app serves them (once per file)."""
    file, card = onnx_decoder(path)
    return publish_decoder(
        file.read_bytes(),
        sha256=card["sha256"],
        latent_shape=card["latent_shape"],
        image_shape=card["image_shape"],
    )


def browser_decoder(name: str) -> tuple[BrowserDecoder | None, str | None]:
    """``(decoder, None)`` when a browser can decode this model itself, else ``(None, why)``:
    why in a few words, for a one-line note beside the server's sliders."""
    reason = frame_decoder_reason(model(name))
    if reason:
        return None, reason
    found = entry(name).card.get("onnx")
    if not isinstance(found, dict) or "sha256" not in found:
        return None, NO_FILE
    try:
        return _published(entry(name).path, str(found["sha256"])), None
    except (EngineError, ValueError, OSError) as err:
        return None, f"its decoder file cannot be served ({err})"


def walk_vectors(
    name: str, *, seed: int, family: str, directions: list[str]
) -> tuple[list[float], list[list[float]]]:
    """The seed's latent and each direction's vector, flattened, for the latent canvas."""
    z = start_latent(name, seed).flatten().tolist()
    vectors = [find_direction(name, family, d).vector.flatten().tolist() for d in directions]
    return z, vectors


def path_ends(name: str, ends: tuple) -> tuple[list[float], list[float]]:
    """The two end latents of an interpolation (as :func:`latent_for` makes them), flattened."""
    a, b = (latent_for(name, how, value).flatten().tolist() for how, value in ends)
    return a, b


def path_frame(name: str, *, ends: tuple, method: str, t: float):
    """The image at time ``t`` on the path (for the export of what the canvas shows)."""
    a, b = (latent_for(name, how, value) for how, value in ends)
    z = interpolate_latents(a, b, torch.tensor([float(t)]), method=method)
    with torch.no_grad():
        return model(name).decode(z).cpu()
