"""A test page for the latent canvas alone: ``?model=mnist-vae&mode=walk|path``.

Served with the app's flags (``harness.streamlit_command``) by the browser tests and the latency
benchmark; it shows what the component sent back on release, so a test can read it.
"""

import sys
from pathlib import Path

import streamlit as st
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from app.components.latent_canvas import fallback_reason, path_canvas, walk_canvas  # noqa: E402
from app.components.latent_canvas.serve import publish_decoder  # noqa: E402
from engine.checkpoint import load  # noqa: E402
from engine.export_onnx import onnx_decoder  # noqa: E402
from engine.ops import axis_directions, latent_from_seed  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


@st.cache_resource
def model_and_decoder(name: str):
    path = ROOT / "pretrained" / name
    model = load(path, device="cpu")
    file, entry = onnx_decoder(path)
    decoder = publish_decoder(
        file.read_bytes(),
        sha256=entry["sha256"],
        latent_shape=entry["latent_shape"],
        image_shape=entry["image_shape"],
    )
    return model, decoder


name = st.query_params.get("model", "mnist-vae")
mode = st.query_params.get("mode", "walk")
model, decoder = model_and_decoder(name)
st.title("Latent canvas")
if fallback_reason():
    st.caption(f"server path: {fallback_reason()}")
z0 = latent_from_seed(model, 0).flatten()
if mode == "path":
    z1 = latent_from_seed(model, 1).flatten()
    t = path_canvas(decoder, a=z0, b=z1, method="slerp", t=0.0, key="path")
    st.write(f"released at t = {t}")
else:
    dirs = [(d.name, d.vector.flatten()) for d in axis_directions(model, indices=[0, 1, 2])]
    amounts = walk_canvas(decoder, base=z0, directions=dirs, amounts=[0, 0, 0], key="walk")
    st.write(f"released at {amounts}")
torch.set_num_threads(1)
