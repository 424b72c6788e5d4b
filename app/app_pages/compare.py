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
names = ui.models_for(("sample",), why={"sample": "no way to draw an image on its own"})
shapes = {}
for n in names:
    shapes.setdefault(R.model_facts(n)["image_shape"], []).append(n)
groups = sorted(shapes.values(), key=len, reverse=True)
default = [n for n in groups[0]][:4]
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
        shown, what = [R.pixels(x)], ["image"]
        rec = fill = None  # what this model cannot do stays empty in its column and row
        if R.offers(name, "reconstruct"):
            rec = R.reconstruct(name, x, seed=int(seed), private=private)
            shown, what = [*shown, R.pixels(rec.value.x_hat)], [*what, "reconstruction"]
        if R.offers(name, "inpaint"):
            fill = R.inpaint(name, x, known, samples=4, seed=int(seed), truth=True, private=private)
            shown += [R.masked_view(x, known), fill.value.mean]
            what += ["masked", "filled (mean of 4)"]
        ui.image(st, R.row_pils(shown), caption=" · ".join(what), width="stretch")
        lacking = [op for op in ("reconstruct", "inpaint") if not R.offers(name, op)]
        if lacking:
            st.caption(f"{name} cannot {' or '.join(lacking)}: it has {R.reason(lacking[0])}.")
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
                "reconstruction MSE": round(float(rec.value.mse[0]), 4) if rec else None,
                "inpainting PSNR (dB)": (
                    round(fill.value.psnr, 2) if fill and fill.value.psnr else None
                ),
                "16 samples": grid.caption,
                "reconstruction": rec.caption if rec else "none",
                "inpainting (4)": fill.caption if fill else "none",
            }
        )
if rows:
    st.dataframe(rows, hide_index=True, width="stretch")
