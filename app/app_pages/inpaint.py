"""Reconstruct & inpaint: a user's image through each model, and its hidden part filled in."""

import time

import streamlit as st
from streamlit_drawable_canvas import st_canvas

from app import resources as R
from app import state, ui, warmup

st.title("Reconstruct & inpaint")
ui.teaching_note(
    "Give the models an image (upload a photo of a digit, draw one, or take a test digit) and "
    "hide part of it. Each model fills the hidden part its own way: the **VAE** alternates between "
    "guessing a code for the image and redrawing the hidden pixels from it; the **GAN** searches "
    "for the latent whose image best matches the visible pixels; the **flow** adjusts the hidden "
    "pixels to make the whole image as likely as possible. The **VAEAC** is a VAE trained only to "
    "fill in: it learned a distribution of the hidden part given the visible part, and draws "
    "from it in one pass. Several completions show what the "
    "model is unsure about (the **uncertainty** map is their per-pixel spread). **PSNR** (higher "
    "is better) compares the fill with the truth when it is known. The **surprise** score says "
    "how unusual the image is to the model, as a percentile of real test digits."
)
names = ui.models_for(("inpaint",))
SOURCES = ["test digit", "upload", "draw"]
CANVAS_PX = 224
PROGRESS_EVERY_S = 0.25

src_col, mask_col = st.columns(2)
with src_col:
    st.subheader("1. The image")
    first = state.model_choice(names, label="Model that prepares the image")
    source = st.radio(
        "Source",
        SOURCES,
        horizontal=True,
        key=state.bind("src", "test digit", choices=SOURCES),
    )
    raw, truth_known, test_index = None, False, None
    if source == "test digit":
        digit = st.selectbox("Digit", list(range(10)), key=state.bind("digit", 2, low=0, high=9))
        nth = st.number_input("Which one (0-49)", 0, 49, key=state.bind("nth", 0, low=0, high=49))
        later = warmup.Later()  # the test images are read once per server: seconds
        if later.get(("test images", first), lambda: R.test_images(first), private=False) is None:
            later.progress(st)
            later.poll()
            state.stop()
        test_index = R.test_digit_index(first, digit, int(nth))
        truth_known = True
    elif source == "upload":
        up = st.file_uploader(
            "An image (PNG, JPEG, GIF, BMP, WebP, TIFF; a dark digit on a light page works too)",
            type=R.UPLOAD_TYPES,
        )
        raw = up.getvalue() if up is not None else None
        truth_known = True
    else:
        drawing = st_canvas(
            stroke_width=18,
            stroke_color="#000000",
            background_color="#ffffff",
            height=CANVAS_PX,
            width=CANVAS_PX,
            drawing_mode="freedraw",
            key="draw_digit",
        )
        raw = R.image_from_canvas(getattr(drawing, "image_data", None))
        truth_known = True
        if raw is None:
            st.info("Draw a digit above (black on white).")

with mask_col:
    st.subheader("2. The hidden part")
    presets = list(R.MASK_PRESETS)
    preset = st.selectbox(
        "Mask",
        presets,
        key=state.bind("mask", "bottom half", choices=presets),
        help="'drawn': paint over the pixels to hide on the canvas below",
    )
    k = st.slider("Completions per model", 1, 8, key=state.bind("k", 4, low=1, high=8))
    seed = st.number_input("Seed", 0, 2**31 - 1, key=state.bind("seed", 0, low=0))


def model_input(name: str):
    """(x, picture the model saw or None) for one model, from the chosen source."""
    if test_index is not None:
        return R.test_image(first, test_index), None  # one image for every model
    prep = R.preprocess(name, raw)
    return prep.x, prep


if test_index is None and raw is None:
    state.stop()

chosen = None  # set once the image and the mask are ready
with ui.one_line_errors("the image"):
    x0, prep0 = model_input(first)
    shape = tuple(x0.shape[1:])
    with src_col:
        a, b = st.columns(2)
        if prep0 is not None:
            ui.image(a, raw, width=140, caption="your image")
            ui.image(b, R.upscale(R.pixels(x0), 140), caption="what the model sees")
            st.caption(" → ".join(prep0.steps))
        else:
            ui.image(a, R.upscale(R.pixels(x0), 140), caption=f"test image {test_index}")
    with mask_col:
        if preset == "drawn":
            mask_draw = st_canvas(
                fill_color="rgba(255, 0, 0, 0.6)",
                stroke_width=28,
                stroke_color="rgba(255, 0, 0, 0.8)",
                background_image=R.upscale(R.pixels(x0), CANVAS_PX),
                height=CANVAS_PX,
                width=CANVAS_PX,
                drawing_mode="freedraw",
                key="draw_mask",
            )
            known = R.known_from_drawing(getattr(mask_draw, "image_data", None), shape)
        else:
            known = R.mask_preset(preset, shape, seed=int(seed))
        ui.image(
            st,
            R.upscale(R.masked_view(x0, known), 140),
            caption="input with the hidden part in grey",
        )

    st.subheader("3. Run")
    same_shape = [n for n in names if R.model_facts(n)["image_shape"] == shape]
    chosen = st.multiselect("Models", same_shape, default=[first])
    go = st.button("Fill in the hidden part", type="primary", icon=":material/auto_fix_high:")
    if go:
        st.session_state["inpaint_go"] = True
    if not st.session_state.get("inpaint_go"):
        st.caption("Press the button to run the chosen models (a few seconds each).")
        state.stop()

if chosen is None:
    state.stop()
private = test_index is None  # results from the user's own image stay in this session
for name in chosen:
    st.markdown(f"#### {name} · {R.inpaint_method(name)}")
    with ui.one_line_errors(name):
        x, _ = model_input(name)
        bar = st.progress(0.0, text="starting")
        live = st.empty()
        total = max(1, R.inpaint_steps(name))

        shown = [0.0]

        def on_step(step, frame, bar=bar, live=live, total=total, shown=shown):
            now = time.perf_counter()
            if now - shown[0] < PROGRESS_EVERY_S and step < total:
                return  # a few updates a second are a progress view; more only load the browser
            shown[0] = now
            bar.progress(min(1.0, step / total), text=f"step {step} of {total}")
            ui.image(live, R.upscale(R.pixels(frame), 112), caption="first completion, live")

        timed = R.inpaint(
            name,
            x,
            known,
            samples=int(k),
            seed=int(seed),
            truth=truth_known,
            callback=on_step,
            private=private,
        )
        bar.empty()
        live.empty()
        res = timed.value
        cols = st.columns(len(res.completions) + 3)
        ui.image(cols[0], R.upscale(R.masked_view(x, known), 112), caption="input")
        for i, img in enumerate(res.completions):
            ui.image(cols[i + 1], R.upscale(img, 112), caption=f"completion {i + 1}")
        ui.image(cols[-2], R.upscale(res.mean, 112), caption="mean")
        ui.image(cols[-1], R.upscale(R.spread_image(res.spread), 112), caption="uncertainty")
        facts = [timed.caption if timed.cached else f"{timed.caption} for {k} completions"]
        if res.psnr is not None:
            facts.append(f"PSNR on the hidden pixels {res.psnr:.1f} dB")
        if R.offers(name, "reconstruct"):  # a model that only fills in reconstructs nothing
            rec = R.reconstruct(name, x, seed=int(seed), private=private)
            facts.append(f"reconstruction error (MSE) {float(rec.value.mse[0]):.4f}")
        if R.offers(name, "surprise"):
            value, unit, pct = R.anomaly(name, x, private=private).value
            facts.append(
                f"surprise {value:.2f} {unit}"
                + (f" ({pct:.0f}th percentile of test digits)" if pct is not None else "")
            )
        st.caption(" · ".join(facts))
        if len(res.frames) > 1:
            with st.expander("progress frames"):
                ui.image(st, R.row_pils(res.frames), width="stretch")
        ui.download_button(
            st,
            "Download completions PNG",
            R.png(R.row_pils([R.masked_view(x, known), *res.completions, res.mean])),
            f"{name}-inpainting.png",
            "image/png",
            key=f"dl_{name}",
            icon=":material/download:",
        )
