"""Interpolate: the path between two latents, straight (lerp) and on the great circle (slerp)."""

import hashlib

import streamlit as st

from app import resources as R
from app import state, ui
from app.components import latent_canvas

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


@ui.fragment("path position")
def along(name: str, ends: tuple, extra: float) -> None:
    """One image at a chosen position t on the path. Where the browser can run the decoder, it
    follows the slider there; the page hears of t only when the student lets go."""
    st.subheader("Along the path")
    methods = ["slerp", "lerp"]
    method = st.radio(
        "Path", methods, horizontal=True, key=state.bind("pm", "slerp", choices=methods)
    )
    low, high = -extra, 1.0 + extra
    if "path_t" not in st.session_state:  # first from the link, then the session's
        st.session_state["path_t"] = state.url_value("t", 0.5, low=low, high=high)
    st.session_state["path_t"] = min(high, max(low, float(st.session_state["path_t"])))
    decoder, why_not = R.browser_decoder(name)
    why_not = why_not or latent_canvas.fallback_reason()
    if why_not is None:
        with ui.one_line_errors("path"):
            za, zb = R.path_ends(name, ends)
            where = hashlib.sha1(repr(ends).encode()).hexdigest()[:12]
            released = latent_canvas.path_canvas(
                decoder,
                a=za,
                b=zb,
                method=method,
                t=st.session_state["path_t"],
                low=low,
                high=high,
                key=f"path_{name}_{method}_{extra}_{where}",
                caption=f"{name}, {method}",
            )
            if released is not None:
                st.session_state["path_t"] = round(released, 2)
    else:
        st.caption(f"This slider asks the server for each image: {why_not}.")
        c1, c2 = st.columns([1, 1])
        t = c1.slider("position t", low, high, step=0.05, key="path_t")
        with c2, ui.one_line_errors("path"):
            ui.show(
                R.pixels(R.path_frame(name, ends=ends, method=method, t=t)), caption=f"t = {t:.2f}"
            )
    t = float(st.session_state["path_t"])
    state.remember(t=f"{t:g}")
    ui.download_button(
        st,
        "Download this frame (PNG)",
        lambda: R.png(R.upscale(R.pixels(R.path_frame(name, ends=ends, method=method, t=t)))),
        f"{name}-{method}-t{t:g}.png",
        "image/png",
        key="path_png",
        icon=":material/download:",
    )


along(name, (a, b), float(extra))
