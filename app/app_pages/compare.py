"""Compare: 2-4 models side by side on the same seed, the same image and the same mask."""

import streamlit as st

from app import resources as R
from app import state, ui

st.title("Compare")
ui.teaching_note(
    "The same seed means the same random numbers, but each model turns them into an image its "
    "own way, so the columns are not expected to agree: compare their sharpness and variety. "
    "With the same image and mask, compare how faithfully each model reconstructs it and how "
    "plausibly it fills the hidden part. The table gives each model's held-out figures and the "
    "times measured here for this page."
)
if ui.no_models():
    state.stop()

entries = R.generative_entries()
shapes = {}
for e in entries:
    shapes.setdefault(R.model_facts(e.name)["image_shape"], []).append(e.name)
groups = sorted(shapes.values(), key=len, reverse=True)
default = [n for n in groups[0]][:4]
names = [e.name for e in entries]
chosen = st.multiselect(
    "Models (2-4 of the same image size)",
    names,
    max_selections=4,
    key=state.bind("models", default, choices=names),
)
if len(chosen) < 2:
    st.info("Choose at least two models.")
    state.stop()
if len({R.model_facts(n)["image_shape"] for n in chosen}) > 1:
    st.error("These models make images of different sizes; choose models of one size.")
    state.stop()

c1, c2, c3, c4 = st.columns(4)
seed = c1.number_input("Seed", 0, 2**31 - 1, key=state.bind("seed", 0, low=0))
SOURCES = ["test digit", "upload"]
source = c2.radio("Image", SOURCES, key=state.bind("src", "test digit", choices=SOURCES))
if source == "test digit":
    digit = c3.selectbox("Test digit", list(range(10)), key=state.bind("digit", 5, low=0, high=9))
    upload = None
else:
    up = c3.file_uploader("Your image", type=R.UPLOAD_TYPES)
    upload = up.getvalue() if up is not None else None
presets = [p for p in R.MASK_PRESETS if p != "drawn"]
preset = c4.selectbox("Mask", presets, key=state.bind("mask", "bottom half", choices=presets))


def same_image(name: str):
    """The chosen image as this model sees it; truth is known either way."""
    if upload is None:
        return R.test_image(name, R.test_digit_index(name, int(digit)))
    return R.preprocess(name, upload).x


rows = []
cols = st.columns(len(chosen))
for col, name in zip(cols, chosen, strict=True):
    with col, ui.one_line_errors(name):
        st.subheader(name)
        grid = R.sample_grid(name, seed=int(seed), n=16, temperature=1.0, px=300)
        ui.image(st, grid.value.shown, caption=f"seed {seed}")
        if source == "upload" and upload is None:
            st.info("Upload an image to compare the models on it.")
            continue
        x = same_image(name)
        known = R.mask_preset(preset, tuple(x.shape[1:]), seed=int(seed))
        private = upload is not None  # the user's own image: results stay in this session
        rec = R.reconstruct(name, x, seed=int(seed), private=private)
        fill = R.inpaint(name, x, known, samples=4, seed=int(seed), truth=True, private=private)
        ui.image(
            st,
            R.row_pils(
                [R.pixels(x), R.pixels(rec.value.x_hat), R.masked_view(x, known), fill.value.mean]
            ),
            caption="image · reconstruction · masked · filled (mean of 4)",
            width="stretch",
        )
        card = R.entry(name).card
        test = card.get("metrics", {}).get("test", {})
        rows.append(
            {
                "model": name,
                "kind": R.entry(name).kind,
                "held-out likelihood": (
                    f"{test['test_bpd']:.3f} bits/dim"
                    if "test_bpd" in test
                    else f"{test['test_nll_nats']:.1f} nats"
                    if "test_nll_nats" in test
                    else "none"
                ),
                "reconstruction MSE": round(float(rec.value.mse[0]), 4),
                "inpainting PSNR (dB)": round(fill.value.psnr, 2) if fill.value.psnr else None,
                "16 samples": grid.caption,
                "reconstruction": rec.caption,
                "inpainting (4)": fill.caption,
            }
        )
if rows:
    st.dataframe(rows, hide_index=True, width="stretch")
