"""Training evolution: the sample grids saved during training, from a fixed latent."""

import streamlit as st

from app import resources as R
from app import state, ui

st.title("Training evolution")
ui.teaching_note(
    "While a model trained, the same 64 latent vectors were decoded at regular intervals. "
    "Scrub through the grids to watch the images converge: a VAE goes from blur to digits, a "
    "flow from noise to strokes, and a GAN often jumps between styles before it settles. "
    "Every frame is already in your browser, so scrubbing is instant."
)
names = ui.models_for(
    ("training grids",), none="No loaded checkpoint has sample grids from its training."
)
name = state.model_choice(names)
grids = R.training_grids(name)
epochs = [g[0] for g in grids]
with ui.one_line_errors("training grids"):
    ui.scrubber(
        [g[1] for g in grids],
        labels=[f"epoch {e}" for e in epochs],
        start=len(grids) - 1,
        px=448,
        label="training epoch",
    )
    card = R.entry(name).card
    st.caption(
        f"{len(grids)} grids over {card.get('epochs', '?')} epochs "
        f"({card.get('steps', '?')} steps, {card.get('wall_time_s', 0) / 60:.0f} min)"
    )
    ui.download_button(
        st,
        "Download as GIF",
        lambda: R.grids_gif(name),  # made when asked for, not on every run
        f"{name}-training.gif",
        "image/gif",
        icon=":material/gif:",
    )
