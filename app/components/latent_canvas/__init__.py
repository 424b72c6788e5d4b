"""The latent canvas: a decoder running in the student's browser (onnxruntime-web), drawn on a
``<canvas>`` on every input event of native range sliders and a 2-D pad, with no server round
trip while they drag; on release one value comes back (the amounts, or the position t).

A Streamlit components-v2 component: its JavaScript runs in the page itself (no iframe), so the
runtime and each decoder are loaded once per browser tab and kept across reruns and pages. The
runtime and the decoder files are served by the app (``app/static``, see :mod:`.serve`), never
from another host. Without WebAssembly, or when the runtime or the model cannot load, the
component reports why (:func:`fallback_reason`) and the page uses its server path instead.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path

import streamlit as st

from app.components.latent_canvas.serve import RUNTIME_DIR, BrowserDecoder, static_url

HERE = Path(__file__).resolve().parent
FALLBACK_KEY = "_latent_canvas_fallback"  # session: the reason the browser cannot decode

_component = st.components.v2.component(
    "latent_atlas.latent_canvas",
    html="",
    js=(HERE / "latent_canvas.js").read_text(),
    css=(HERE / "latent_canvas.css").read_text(),
)


def fallback_reason() -> str | None:
    """Why this session's browser cannot decode (it said so once), or None."""
    return st.session_state.get(FALLBACK_KEY)


def _floats(values) -> list[float]:
    return [float(v) for v in getattr(values, "tolist", lambda: values)()]


def _mount(decoder: BrowserDecoder, *, key: str, px: int, caption: str, note: str, **data):
    data = {
        "runtime": static_url(f"{RUNTIME_DIR}/ort.wasm.bundle.min.mjs"),
        "wasm": static_url(f"{RUNTIME_DIR}/ort-wasm-simd-threaded.wasm.gz"),
        "model": decoder.url,
        "latent_shape": list(decoder.latent_shape),
        "image_shape": list(decoder.image_shape),
        "px": px,
        "caption": caption,
        "note": note,
        **data,
    }
    # What is decoded: the component rebuilds (and resets its sliders) only when this changes.
    data["config"] = hashlib.sha1(json.dumps(data, sort_keys=True).encode()).hexdigest()
    noop = lambda: None  # noqa: E731  (the callbacks declare the state names)
    result = _component(
        key=key,
        data=data,
        on_amounts_change=noop,
        on_t_change=noop,
        on_backend_change=noop,
    )
    reason = getattr(result, "backend", None)
    if reason and not fallback_reason():
        st.session_state[FALLBACK_KEY] = str(reason)[:200]
        st.rerun()
    return result


def walk_canvas(
    decoder: BrowserDecoder,
    *,
    base,
    directions: Sequence[tuple[str, object]],
    amounts: Sequence[float],
    low: float = -4.0,
    high: float = 4.0,
    step: float = 0.05,
    key: str,
    px: int = 224,
    caption: str = "",
    note: str = "decoded in your browser as you drag: nothing is sent until you let go",
) -> list[float] | None:
    """``decode(base + sum_i amounts[i] * directions[i])`` redrawn as the sliders move.

    Args:
        base: the starting latent, flattened (any sequence of floats).
        directions: ``(name, flattened vector)`` pairs, one slider each; with two or more a pad
            drags two of them at once.
        amounts: the sliders' first values (e.g. from the link).

    Returns:
        The amounts the student last let go at, or None before any release.
    """
    result = _mount(
        decoder,
        key=key,
        px=px,
        caption=caption,
        note=note,
        mode="walk",
        base=_floats(base),
        directions=[{"name": n, "vector": _floats(v)} for n, v in directions],
        amounts=[float(a) for a in amounts],
        lo=low,
        hi=high,
        step=step,
    )
    amounts = getattr(result, "amounts", None)
    return None if amounts is None else [float(a) for a in amounts]


def path_canvas(
    decoder: BrowserDecoder,
    *,
    a,
    b,
    method: str,
    t: float,
    low: float = 0.0,
    high: float = 1.0,
    step: float = 0.01,
    key: str,
    px: int = 224,
    caption: str = "",
    label: str = "position t",
    note: str = "decoded in your browser as you drag: nothing is sent until you let go",
) -> float | None:
    """The image at time ``t`` on the path from latent ``a`` to ``b`` (``"lerp"`` or
    ``"slerp"``, the weights of ``engine.ops.interpolate_latents``), redrawn as t moves.

    Returns:
        The t the student last let go at, or None before any release.
    """
    result = _mount(
        decoder,
        key=key,
        px=px,
        caption=caption,
        note=note,
        mode="path",
        path={
            "a": _floats(a),
            "b": _floats(b),
            "method": method,
            "t": float(t),
            "lo": low,
            "hi": high,
            "step": step,
            "label": label,
        },
    )
    value = getattr(result, "t", None)
    return None if value is None else float(value)
