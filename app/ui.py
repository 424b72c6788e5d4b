"""Small pieces every page uses: teaching notes, one-line errors, latency captions, the scrubber."""

from __future__ import annotations

import contextlib
import functools
import html
import json
import logging
import time

import streamlit as st
from PIL import Image

from app import resources as R
from app import state
from engine.errors import EngineError


def fragment(panel: str):
    """``st.fragment`` whose reruns are timed into the run log as ``panel`` (load tests)."""

    def wrap(fn):
        @functools.wraps(fn)
        def run(*args, **kwargs):
            with R.timed_run(panel, whole_page=False):
                return fn(*args, **kwargs)

        return st.fragment(run)

    return wrap


log = logging.getLogger("latent_atlas.app")


def teaching_note(text: str) -> None:
    with st.expander("What am I looking at?", expanded=False):
        st.markdown(text)


@contextlib.contextmanager
def one_line_errors(what: str = ""):
    """Show a bad input or failed operation as one line on the page; the session keeps working."""
    try:
        yield
    except EngineError as e:
        st.error(f"{what}{': ' if what else ''}{e}", icon=":material/error:")
    except Exception as e:  # never a traceback on the page; the server log keeps the details
        log.exception("unexpected error%s", f" in {what}" if what else "")
        st.error(
            f"{what}{': ' if what else ''}something went wrong ({type(e).__name__}); "
            "the rest of the page still works",
            icon=":material/error:",
        )


def download_button(where, *args, **kwargs):
    """``where.download_button`` that does not rerun the page when clicked. A rerun would also
    replace a file made on the click (``data`` a function) while the browser is fetching it:
    under load the browser then waited forever."""
    return where.download_button(*args, on_click="ignore", **kwargs)


def latency(timed: R.Timed, what: str = "") -> None:
    st.caption(f"{what + ' · ' if what else ''}{timed.caption}")


def image(where, picture, **kwargs) -> None:
    """``where.image`` as PNG: Streamlit's default JPEG smears pixel art."""
    where.image(picture, output_format="PNG", **kwargs)


PIXELATED = (
    "<style>[data-testid='stImage'] img[alt^='pixels:'] {image-rendering: pixelated}</style>"
)


def pixel_image(png: bytes, *, width: int, caption: str | None = None) -> None:
    """A small PNG shown at ``width`` pixels, scaled by the browser without smoothing: the
    server sends a few kilobytes instead of an upscaled picture."""
    st.html(PIXELATED)
    alt = f"pixels: {caption or 'image'}"
    st.image(png, width=width, caption=caption, output_format="PNG", alt=alt)


def show(picture: Image.Image, caption: str | None = None, px: int = R.DISPLAY_PX) -> None:
    image(st, R.upscale(picture, px), caption=caption)


def models_for(
    needs: tuple[str, ...],
    *,
    why: dict[str, str] | None = None,
    none: str = "No loaded checkpoint can do this; see the Models page for what each offers.",
) -> list[str]:
    """The loaded models that offer every one of ``needs`` (capabilities, or the catalog's
    features such as ``"map"``), the page's default first. One caption names the models left
    out and why (``why`` rewords :data:`app.resources.WHY`); with none left the page stops."""
    names = R.names(needs=needs)
    note = R.absent(needs, why=why)
    if note:
        st.caption(note)
    if not names:
        st.warning(none)
        state.stop()
    return names


LIVE_INTERVAL_S = 0.25  # a streamed chain redraws its state at most this often


def trajectory_hook(
    name: str, *, seed: int, n: int, temperature: float = 1.0, key: str = "", shown: bool = True
) -> None:
    """The sampling chain of a ``trajectory`` model's grid (same seed, same images) as a strip
    scrubbed in the browser: the chain's state and, where the chain has one, the model's guess
    of the end (diffusion: x_t and the predicted x_0), each step labelled by the kind."""
    if not st.toggle("Watch the chain converge", value=shown, key=f"chain {key or name}"):
        return
    start_index = None
    if R.offers(name, "trajectory_start"):  # a chain that can also start from an image
        where = st.radio(
            "The chain starts from",
            ("noise", "a test digit"),
            horizontal=True,
            key=f"chain start {key or name}",
        )
        if where == "a test digit":
            digit = st.selectbox("Test digit", list(range(10)), key=f"chain digit {key or name}")
            start_index = R.test_digit_index(name, int(digit))
            st.caption(
                f"Every chain starts at the same test {digit}, each with its own noise; the grid "
                "above is the chains from noise."
            )
    bar = st.progress(0.0, text="running the chain")
    live = st.empty()  # the chain's state as it is made (a PixelCNN's rows filling in)
    px = min(360, 60 * round(n**0.5))
    shown_at = [0.0]

    def advance(step) -> None:
        bar.progress(step.step / step.total, text=f"running the chain: {step.label or step.step}")
        if time.monotonic() - shown_at[0] > LIVE_INTERVAL_S or step.step == step.total:
            live.image(R.png(R.upscale(R.grid(step.x), px)), caption=step.label, width=px)
            shown_at[0] = time.monotonic()

    try:
        strip = R.chain_strip(
            name,
            seed=seed,
            n=n,
            temperature=temperature,
            callback=advance,
            start_index=start_index,
        )
    finally:
        bar.empty()
        live.empty()
    chain_scrubber(strip.value, px=px, label=f"{name} chain step")
    latency(strip)


CHAIN_SCRUBBER = """
<div id="chain" style="font-family: sans-serif; user-select: none">
  <div style="display: flex; gap: 12px">
    <figure style="margin: 0">
      <img id="state" src="{first_state}" width="{px}" height="{px}" alt="chain state"
           style="image-rendering: pixelated; display: block; border-radius: 4px"/>
      <figcaption style="font-size: 12px; color: #666">{state_caption}</figcaption>
    </figure>
    {guess_figure}
  </div>
  <input id="pos" type="range" min="0" max="{last}" value="{last}" step="1"
         style="width: {width}px; margin-top: 6px" aria-label="{label}"/>
  <div style="font-size: 12px; color: #666"><span id="lab">{last_label}</span></div>
</div>
<script>
const states = {states};
const guesses = {guesses};
const labels = {labels};
const stateImg = document.getElementById("state");
const guessImg = document.getElementById("guess");
const pos = document.getElementById("pos");
const lab = document.getElementById("lab");
const cache = states.concat(guesses || []).map(src => {{ const i = new Image(); i.src = src; return i; }});
window.scrubTimes = [];
function show(i) {{
  const t0 = performance.now();
  stateImg.src = states[i];
  if (guesses) guessImg.src = guesses[i];
  lab.textContent = `step ${{i + 1}} of ${{states.length}}: ${{labels[i]}}`;
  requestAnimationFrame(() => window.scrubTimes.push(performance.now() - t0));
}}
pos.addEventListener("input", () => show(+pos.value));
show({last});
</script>
"""

GUESS_FIGURE = """<figure style="margin: 0">
      <img id="guess" src="{first_guess}" width="{px}" height="{px}" alt="predicted end"
           style="image-rendering: pixelated; display: block; border-radius: 4px"/>
      <figcaption style="font-size: 12px; color: #666">its guess of the end (predicted x_0)</figcaption>
    </figure>"""


def chain_scrubber(strip, *, px: int = 240, label: str = "chain step") -> None:
    """A :class:`~app.resources.ChainStrip` in the browser with one slider over its steps: every
    frame is already on the page as a data URI, so scrubbing needs no server round trip."""
    states = [R.data_uri(im) for im in strip.states]
    guesses = None if strip.guesses is None else [R.data_uri(im) for im in strip.guesses]
    last = len(states) - 1
    guess_figure = "" if guesses is None else GUESS_FIGURE.format(first_guess=guesses[last], px=px)
    body = CHAIN_SCRUBBER.format(
        first_state=states[last],
        px=px,
        width=2 * px + 12 if guesses else px,
        state_caption="the chain's state (x_t)" if guesses else "the chain's state",
        guess_figure=guess_figure,
        last=last,
        label=html.escape(label),
        last_label=html.escape(f"step {last + 1} of {last + 1}: {strip.labels[last]}"),
        states=json.dumps(states),
        guesses=json.dumps(guesses),
        labels=json.dumps(strip.labels),
    )
    st.iframe(body, height=px + 90)


SCRUBBER = """
<div id="scrub" style="font-family: sans-serif; user-select: none">
  <img id="frame" src="{first}" width="{px}" height="{px}"
       style="image-rendering: pixelated; display: block; border-radius: 4px" alt="frame"/>
  <input id="pos" type="range" min="0" max="{last}" value="{start}" step="1"
         style="width: {px}px; margin-top: 6px" aria-label="{label}"/>
  <div style="font-size: 12px; color: #666"><span id="lab">{first_label}</span></div>
</div>
<script>
const frames = {frames};
const labels = {labels};
const img = document.getElementById("frame");
const pos = document.getElementById("pos");
const lab = document.getElementById("lab");
const cache = frames.map(src => {{ const i = new Image(); i.src = src; return i; }});
window.scrubTimes = [];
function show(i) {{
  const t0 = performance.now();
  img.src = frames[i];
  lab.textContent = labels[i];
  requestAnimationFrame(() => window.scrubTimes.push(performance.now() - t0));
}}
pos.addEventListener("input", () => show(+pos.value));
show({start});
</script>
"""


def scrubber(
    images: list[Image.Image],
    *,
    labels: list[str],
    start: int = 0,
    px: int = 224,
    label: str = "scrub",
) -> None:
    """Frames already in the browser with their own slider: scrubbing needs no server round trip.
    The frames go at their own size and the browser scales them without smoothing."""
    uris = [R.data_uri(im) for im in images]
    body = SCRUBBER.format(
        first=uris[start],
        px=px,
        last=len(uris) - 1,
        start=start,
        label=html.escape(label),
        first_label=html.escape(labels[start]),
        frames=json.dumps(uris),
        labels=json.dumps(labels),
    )
    st.iframe(body, height=px + 60)
