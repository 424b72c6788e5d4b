"""Sample: a grid of images from one model, by seed and temperature."""

import streamlit as st

from app import resources as R
from app import state, ui

st.title("Sample")
ui.teaching_note(
    "Each image decodes one random latent vector drawn from the model's prior, a standard normal. "
    "The **seed** fixes the draw, so the same seed gives the same grid on every computer. "
    "**Temperature** scales the latent before decoding: below 1 the samples are more typical "
    "(cleaner, less varied), above 1 more unusual (more varied, more broken)."
)
names = ui.models_for(("sample",), why={"sample": "no way to draw an image on its own"})


@ui.fragment("sample panel")
def panel() -> None:
    """Controls and grid in one fragment: a slider reruns this panel, not the page."""
    left, right = st.columns([1, 2])
    with left:
        name = state.model_choice(names)
        state.bind("seed", 0, low=0, high=2**31 - 1)
        if st.button("New seed", icon=":material/casino:"):
            st.session_state["seed"] = (st.session_state["seed"] * 7919 + 1) % 100_000
        seed = st.number_input("Seed", min_value=0, max_value=2**31 - 1, step=1, key="seed")
        n = st.select_slider(
            "Images", [16, 36, 64, 100], key=state.bind("n", 36, choices=[16, 36, 64, 100])
        )
        temperature = st.slider(
            "Temperature", 0.1, 1.5, step=0.05, key=state.bind("t", 1.0, low=0.1, high=1.5)
        )
    with right, ui.one_line_errors("sampling"):
        top = st.container()  # the grid goes here, above its chain
        if R.offers(name, "trajectory"):  # the chain first, streamed; the grid is its last step
            ui.trajectory_hook(name, seed=int(seed), n=int(n), temperature=float(temperature))
        timed = R.sample_grid(name, seed=int(seed), n=int(n), temperature=float(temperature))
        with top:
            ui.pixel_image(
                timed.value.png,
                width=560,
                caption=f"{name}, seed {seed}, temperature {temperature}",
            )
            ui.latency(timed)
        ui.download_button(
            st,
            "Download PNG",
            timed.value.png,
            f"{name}-seed{seed}.png",
            "image/png",
            icon=":material/download:",
        )
    state.sync()  # a fragment run skips the page's own sync


panel()
