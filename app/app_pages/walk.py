"""Latent walk: move a seed's latent along directions and watch the image change."""

import streamlit as st

from app import resources as R
from app import state, ui, warmup
from app.components import latent_canvas

st.title("Latent walk")
ui.teaching_note(
    "Start from one latent vector (the **seed**) and move it along a **direction**. "
    "*principal* directions are the main axes of variation of the model's codes (GANSpace: PCA of "
    "many codes); *class* directions go from the average code of one digit to another's (walk "
    "`3 - 8` and an 8 turns into a 3); *axis* moves one latent coordinate alone. Smooth, "
    "meaningful changes mean the model has organised its space; sudden jumps or garbage mean the "
    "walk left the region the model was trained on. The strip on the right is already in your "
    "browser: drag its slider to scrub through it like a video."
)
names = ui.models_for(("decode",), why={"decode": "no latent code to walk"})
controls, view = st.columns([1, 2])
with controls:
    name = state.model_choice(names)
    seed = st.number_input("Seed", 0, 2**31 - 1, key=state.bind("seed", 0, low=0))
    # A model's built-in directions are computed once per server (seconds): on a first visit
    # they come in after the page is up.
    later = warmup.Later()
    if later.get(("directions", name), lambda: R.direction_families(name), private=False) is None:
        later.progress(st)
        st.caption(f"The directions of {name} are {warmup.PENDING_NOTE}…")
        later.poll()
        state.stop()
    families = R.direction_families(name)
    fam_names = list(families)
    family = st.selectbox(
        "Direction family", fam_names, key=state.bind("fam", fam_names[0], choices=fam_names)
    )
    options = families[family]
    chosen = st.multiselect(
        "Directions (up to 4)",
        options,
        max_selections=4,
        key=state.bind("dirs", options[:1], choices=options),
        help="each chosen direction gets a slider; the first is the scrubbable strip",
    )
    span = st.slider(
        "Span of the strip (latent units)",
        0.5,
        6.0,
        step=0.5,
        key=state.bind("span", 3.0, low=0.5, high=6.0),
    )

if not chosen:
    view.info("Choose at least one direction.")
    state.stop()
controls.caption(f"`{chosen[0]}`: {R.find_direction(name, family, chosen[0]).source}")

with view:
    with ui.one_line_errors("walk"):
        timed = R.walk_strip(
            name, seed=int(seed), family=family, direction=chosen[0], steps=25, span=float(span)
        )
        frames = timed.value
        offsets = [round(-span + 2 * span * i / 24, 2) for i in range(25)]
        st.markdown(f"**Scrub along `{chosen[0]}`** (no server round trip)")
        ui.scrubber(
            R.frames_to_pils(frames),
            labels=[f"{chosen[0]} {o:+.2f}" for o in offsets],
            start=12,
            label=f"scrub {chosen[0]}",
        )
        ui.latency(timed, "25 frames decoded in one batch")
        ui.image(st, R.strip(frames[::3]), caption="every third frame", width="stretch")
        c1, c2 = st.columns(2)
        ui.download_button(
            c1,
            "Download GIF",
            lambda: R.gif(frames),  # made when asked for, not on every run
            f"{name}-walk-{chosen[0]}.gif",
            "image/gif",
            icon=":material/gif:",
        )
        ui.download_button(
            c2,
            "Download strip PNG",
            lambda: R.png(R.strip(frames)),
            f"{name}-walk-{chosen[0]}.png",
            "image/png",
            icon=":material/download:",
        )


@ui.fragment("walk panel")
def combined(name: str, seed: int, family: str, chosen: list[str]) -> None:
    """Sliders for every chosen direction together; only this panel reruns as they move. Where
    the browser can run the decoder itself, the image follows every slider and pad move there
    and this panel reruns only when the student lets go."""
    st.subheader("Combine directions")
    from_url = [
        state.url_value("amt", 0.0, low=-4.0, high=4.0, raw=v)
        for v in st.query_params.get("amts", "").split(",")
    ]
    keys = [f"amt_{name}_{family}_{d}" for d in chosen]
    for i, key in enumerate(keys):
        if key not in st.session_state:  # first value from the link, then the session's
            st.session_state[key] = from_url[i] if i < len(from_url) else 0.0
    decoder, why_not = R.browser_decoder(name)
    why_not = why_not or latent_canvas.fallback_reason()
    if why_not is None:
        with ui.one_line_errors("walk"):
            base, vectors = R.walk_vectors(name, seed=seed, family=family, directions=chosen)
            released = latent_canvas.walk_canvas(
                decoder,
                base=base,
                directions=list(zip(chosen, vectors, strict=True)),
                amounts=[st.session_state[k] for k in keys],
                key=f"canvas_{name}_{family}_{seed}_{'|'.join(chosen)}",
                caption=f"{name}, seed {seed}",
            )
            for key, value in zip(keys, released or [], strict=False):
                st.session_state[key] = round(float(value), 2)
        amounts = [st.session_state[k] for k in keys]
    else:
        st.caption(f"These sliders ask the server for each image: {why_not}.")
        cols = st.columns([1, 1])
        with cols[0]:
            amounts = [
                st.slider(d, -4.0, 4.0, step=0.25, key=k) for d, k in zip(chosen, keys, strict=True)
            ]
        with cols[1], ui.one_line_errors("walk"):
            moves = [(family, d, float(a)) for d, a in zip(chosen, amounts, strict=True)]
            timed = R.multi_walk(name, seed=int(seed), moves=moves)
            image, z = timed.value
            ui.show(
                R.pixels(image),
                caption=", ".join(f"{d} {a:+.2f}" for d, a in zip(chosen, amounts, strict=True)),
            )
            ui.latency(timed)
    state.remember(amts=",".join(f"{a:g}" for a in amounts))
    moves = [(family, d, float(a)) for d, a in zip(chosen, amounts, strict=True)]
    ui.download_button(
        st,
        "Download this image (PNG)",
        lambda: R.png(
            R.upscale(R.pixels(R.multi_walk(name, seed=int(seed), moves=moves).value[0]))
        ),
        f"{name}-seed{seed}-combined.png",
        "image/png",
        key="combined_png",
        icon=":material/download:",
    )
    with st.form("save_direction", clear_on_submit=True, border=False):
        new = st.text_input("Save the combined move as a direction named", max_chars=40)
        if st.form_submit_button("Save direction", icon=":material/bookmark_add:"):
            with ui.one_line_errors("saving"):
                R.save_combined(name, new, moves)
                st.success(f"saved {new.strip()!r} (family 'saved')")
                st.rerun()


combined(name, int(seed), family, chosen)

with st.expander("Saved directions: export or load a file"):
    saved = R.saved_directions(name)
    if saved:
        ui.download_button(
            st,
            "Download saved directions (JSON)",
            R.directions_json(name),
            f"{name}-directions.json",
            "application/json",
        )
    up = st.file_uploader("Load a directions file", type=["json"], key="dir_upload")
    if up is not None:
        with ui.one_line_errors(up.name):
            count = R.load_direction_file(name, up.getvalue())
            st.success(f"loaded {count} direction(s) into the family 'saved'")
