"""Compare: 2-4 models side by side on the same seed, the same image and the same mask."""

import streamlit as st

from app import resources as R
from app import state, ui, warmup

st.title("Compare")
ui.teaching_note(
    "The same seed means the same random numbers, but each model turns them into an image its "
    "own way, so the columns are not expected to agree: compare their sharpness and variety. "
    "With the same image and mask, compare how faithfully each model reconstructs it and how "
    "plausibly it fills the hidden part. The table gives each model's held-out figures and the "
    "times measured here for this page."
)
names = ui.models_for(("sample",), why={"sample": "no way to draw an image on its own"})
default = warmup.compare_default(names)  # the views the server warms at its start
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


def timing(result, name: str, op: str) -> str:
    return result.caption if result else ("on its way" if R.offers(name, op) else "none")


rows = []
# Slow results (a GAN's inversion, a chain's samples) fill in after the page is up: each waits
# for at most the page's deadline, then shows as on its way while the rest of the page works.
progress = st.empty()
later = warmup.Later()
cols = st.columns(len(chosen))
for col, name in zip(cols, chosen, strict=True):
    with col, ui.one_line_errors(name):
        st.subheader(name)
        grid = later.get(
            ("compare samples", name, int(seed)),
            lambda name=name, s=int(seed): R.sample_grid(
                name, seed=s, n=16, temperature=1.0, px=300
            ),
            private=False,
        )
        if grid is not None:
            ui.image(st, grid.value.shown, caption=f"seed {seed}")
        else:
            st.caption(f"16 samples {warmup.PENDING_NOTE}…")
        if R.offers(name, "trajectory"):  # the chain that drew them, scrubbed in the browser
            ui.trajectory_hook(name, seed=int(seed), n=16, key=f"compare {name}", shown=False)
        if source == "upload" and upload is None:
            st.info("Upload an image to compare the models on it.")
            continue
        tests = lambda name=name: R.test_images(name)  # noqa: E731  (read once per server)
        if upload is None and later.get(("test images", name), tests, private=False) is None:
            st.caption(f"The test digit is {warmup.PENDING_NOTE}…")
            continue
        x = same_image(name)
        known = R.mask_preset(preset, tuple(x.shape[1:]), seed=int(seed))
        private = upload is not None  # the user's own image: results stay in this session
        public = ("compare", name, None if private else int(digit), preset, int(seed))
        shown, what, coming = [R.pixels(x)], ["image"], []
        rec = fill = None  # what this model cannot do stays empty in its column and row
        if R.offers(name, "reconstruct"):
            rec = later.get(
                (*public, "reconstruct"),
                lambda name=name, x=x, s=int(seed), p=private: R.reconstruct(
                    name, x, seed=s, private=p
                ),
                private=private,
            )
            if rec is not None:
                shown, what = [*shown, R.pixels(rec.value.x_hat)], [*what, "reconstruction"]
            else:
                coming.append("reconstruction")
        if R.offers(name, "inpaint"):
            fill = later.get(
                (*public, "inpaint"),
                lambda name=name, x=x, known=known, s=int(seed), p=private: R.inpaint(
                    name, x, known, samples=4, seed=s, truth=True, private=p
                ),
                private=private,
            )
            shown, what = [*shown, R.masked_view(x, known)], [*what, "masked"]
            if fill is not None:
                shown, what = [*shown, fill.value.mean], [*what, "filled (mean of 4)"]
            else:
                coming.append("filling in")
        ui.image(st, R.row_pils(shown), caption=" · ".join(what), width="stretch")
        if coming:
            st.caption(f"{' and '.join(coming)} {warmup.PENDING_NOTE}…")
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
                "this image (bits/dim)": (  # an exact likelihood of the same image: flow, PixelCNN
                    round(R.anomaly(name, x, private=private).value[0], 3)
                    if R.offers(name, "log_prob")
                    else None
                ),
                "reconstruction MSE": round(float(rec.value.mse[0]), 4) if rec else None,
                "inpainting PSNR (dB)": (
                    round(fill.value.psnr, 2) if fill and fill.value.psnr else None
                ),
                "16 samples": grid.caption if grid else "on its way",
                "reconstruction": timing(rec, name, "reconstruct"),
                "inpainting (4)": timing(fill, name, "inpaint"),
            }
        )
later.progress(progress)
if rows:
    st.dataframe(rows, hide_index=True, width="stretch")
later.poll()  # the page reruns as the results on their way come in
