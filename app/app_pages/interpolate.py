"""Interpolate: the path between two latents, straight (lerp) and on the great circle (slerp)."""

import streamlit as st

from app import resources as R
from app import state, ui

st.title("Interpolate")
ui.teaching_note(
    "Pick two end points (seeds, test digits, your own image, or a point picked on the latent "
    "map) and decode the latents on the path between them. **lerp** walks the straight line; "
    "**slerp** follows the great circle, which keeps the latent's length typical of the prior: "
    "in high dimensions the middle of a straight line is unusually short, and a GAN or VAE often "
    "draws a faded image there. **Extrapolation** continues past both ends."
)
names = ui.models_for(("decode",), why={"decode": "no latent code to interpolate"})
SOURCES = ["seed", "test digit", "upload", "map pick"]


def endpoint(col, tag: str, default_seed: int, default_digit: int):
    """One end point: ("seed", s) | ("test", index) | ("upload", bytes) | ("point", code)."""
    with col:
        how = st.radio(
            f"End {tag}",
            SOURCES,
            horizontal=True,
            key=state.bind(f"{tag}_src", "seed", choices=SOURCES),
        )
        if how == "seed":
            s = st.number_input(
                f"Seed {tag}", 0, 2**31 - 1, key=state.bind(f"{tag}_seed", default_seed, low=0)
            )
            return ("seed", int(s))
        if how == "test digit":
            d = st.selectbox(
                f"Digit {tag}",
                list(range(10)),
                key=state.bind(f"{tag}_digit", default_digit, low=0, high=9),
            )
            return ("test", R.test_digit_index(name, d))
        if how == "map pick":
            pick = st.session_state.get("map_pick", {}).get(name)
            if pick is None:
                st.info("Click the latent map of this model first (Latent map page).")
                return None
            return ("point", pick)
        up = st.file_uploader(f"Image {tag}", type=R.UPLOAD_TYPES, key=f"up_{tag}")
        if up is None:
            st.info("Upload an image (a digit on any background).")
            return None
        return ("upload", up.getvalue())


name = state.model_choice(names)
a_col, b_col = st.columns(2)
a = endpoint(a_col, "A", 0, 3)
b = endpoint(b_col, "B", 1, 8)
c1, c2 = st.columns(2)
steps = c1.slider("Frames", 3, 31, step=2, key=state.bind("steps", 11, low=3, high=31))
extra = c2.slider(
    "Extrapolate past both ends", 0.0, 1.0, step=0.1, key=state.bind("x", 0.0, low=0.0, high=1.0)
)

if a is None or b is None:
    state.stop()

for method in ("lerp", "slerp"):
    with ui.one_line_errors(f"{method} interpolation"):
        timed = R.interpolation(
            name, ends=(a, b), steps=int(steps), method=method, extrapolate=float(extra)
        )
        frames = timed.value
        st.subheader(method)
        ui.image(st, R.strip(frames), width="stretch")
        ui.latency(timed, f"{steps} frames in one batch")
        d1, d2, _ = st.columns([1, 1, 3])
        ui.download_button(
            d1,
            "Strip PNG",
            lambda frames=frames: R.png(R.strip(frames)),  # made when asked for
            f"{name}-{method}.png",
            "image/png",
            key=f"png_{method}",
            icon=":material/download:",
        )
        ui.download_button(
            d2,
            "GIF",
            lambda frames=frames: R.gif(frames),
            f"{name}-{method}.gif",
            "image/gif",
            key=f"gif_{method}",
            icon=":material/gif:",
        )
