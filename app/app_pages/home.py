"""Home: every checkpoint found, as a card; broken ones listed with their error."""

from pathlib import Path

import streamlit as st

from app import resources as R
from app import ui

st.title("latent-atlas")
st.write(
    "Explore what generative models have learned: sample them, walk their latent spaces, "
    "interpolate between digits, fill in hidden parts of an image and compare a GAN, a VAE and a "
    "normalizing flow side by side. Pick a page on the left."
)
ui.teaching_note(
    "Each card is one trained **checkpoint** in `pretrained/` (or in a folder named by the "
    "`LATENT_ATLAS_CHECKPOINTS` environment variable). A **VAE** learns an encoder and a decoder "
    "and gives a bound on the likelihood; a **GAN** learns only a generator, judged by a "
    "discriminator; a **flow** is an invertible network with an exact likelihood in bits per "
    "dimension (lower is better). The figures were measured on held-out images never trained on."
)

entries = R.catalog()
good = [e for e in entries if e.error is None]
broken = [e for e in entries if e.error is not None]
st.caption(f"{len(good)} checkpoints loaded" + (f", {len(broken)} broken" if broken else ""))


def headline(card: dict) -> str:
    test = card.get("metrics", {}).get("test", {})
    if "test_bpd" in test:
        return f"{test['test_bpd']:.3f} bits/dim"
    if "test_nll_nats" in test:
        return f"NLL {test['test_nll_nats']:.1f} nats"
    if "test_ll_nats" in test:  # log Z by annealed importance sampling
        return f"log-likelihood {test['test_ll_nats']:.1f} nats (AIS)"
    if "mean_max_probability" in test:
        return f"classifier confidence {test['mean_max_probability']:.3f}"
    if "test_accuracy" in test:
        return f"accuracy {test['test_accuracy']:.3f}"
    if "test_psnr_bottom_half" in test:
        return f"fills a hidden bottom half at {test['test_psnr_bottom_half']:.1f} dB PSNR"
    return "not evaluated"


def cards(found) -> None:
    cols = st.columns(3)
    for i, e in enumerate(found):
        card = e.card
        with cols[i % 3].container(border=True):
            st.subheader(e.name)
            minutes = card.get("wall_time_s", 0) / 60
            st.markdown(
                f"**{e.kind}** on **{e.dataset}** · {card.get('epochs', '?')} epochs · "
                f"{minutes:.0f} min on {card.get('device', '?')}  \n{headline(card)}"
            )
            grid = Path(e.path) / "samples.png"
            if grid.is_file():
                ui.image(st, str(grid), width=220)
            filters = Path(e.path) / "filters.png"  # what each hidden unit responds to
            if filters.is_file():
                ui.image(
                    st, str(filters), width=220, caption="filters of the first 100 hidden units"
                )
            with st.expander("card"):
                st.json({k: v for k, v in card.items() if k not in ("history",)}, expanded=False)


classifiers = [e for e in good if e.has("classify")]  # they read images, they generate none
st.header("Generative models")
cards([e for e in good if not e.has("classify")])
if classifiers:
    st.header("Classifiers used for evaluation")
    st.caption(
        "They generate nothing: they read images so the generative models can be measured (the "
        "feature space of FID and precision / recall, the labels of a GAN's samples and map)."
    )
    cards(classifiers)

for e in broken:
    st.error(f"{e.name}: {e.error}", icon=":material/broken_image:")
