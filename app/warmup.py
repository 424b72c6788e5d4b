"""A newcomer's first visit: the default public views made ready in the background, and a page's
slow parts filled in after the page is up.

- :func:`start` (called by ``python -m app``, once per server process) runs :func:`warm` on one
  background thread: the models, then each page's default view in sidebar order (its sample grid,
  directions and walk, interpolation, test images and default inpainting, latent map, Compare's
  default columns, report and training grids), through the same resource helpers as the pages,
  so the results land in the caches every session shares (``st.cache_resource`` and the shared
  result cache of :mod:`app.resources.results`). Only public inputs (seed 0, test digits, built-in
  directions) are warmed: nothing of a user's upload or drawing is ever computed here.
  - Low priority: after the models, the thread runs ``nice`` +10 (long work it hands to the
    worker pool runs there at the pool's priority), and before each step it waits until no
    visitor's script run is going (:func:`user_run`), so a first visitor's own clicks go first.
  - Bounded: a fixed list of steps (the default model of each page, and Compare's default
    columns), a step already cached costs nothing, and none starts after
    ``$LATENT_ATLAS_WARMUP_BUDGET_S`` seconds (default 300).
  - ``$LATENT_ATLAS_WARMUP=0`` switches it off. Each step and the end ("warm-up done") are
    written to the run log (``$LATENT_ATLAS_RUN_LOG``) and to the server's log.
- What a visitor reaches before the warm-up does comes in after the page is up:
  :class:`app.lazy.Later` (re-exported here with :data:`PENDING_NOTE` for the pages).
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable

from app.lazy import PENDING_NOTE, WAIT_ENV, Later  # noqa: F401  (the pages' names)

ENV, BUDGET_ENV = "LATENT_ATLAS_WARMUP", "LATENT_ATLAS_WARMUP_BUDGET_S"
QUIET_S = 0.3  # a step starts only after this long with no visitor's run going

log = logging.getLogger("latent_atlas.warmup")


def _float_env(name: str, default: float | None) -> float | None:
    try:
        return float(os.environ[name])
    except (KeyError, ValueError):
        return default


def enabled() -> bool:
    return os.environ.get(ENV, "1").strip().lower() not in ("0", "off", "false", "no")


# ---------------------------------------------------------------- visitors' runs first

_active = 0
_last_end = 0.0
_activity = threading.Condition()


@contextlib.contextmanager
def user_run():
    """Around a visitor's script run (app/main.py): the warm-up waits while one is going."""
    global _active, _last_end
    with _activity:
        _active += 1
    try:
        yield
    finally:
        with _activity:
            _active -= 1
            _last_end = time.monotonic()
            _activity.notify_all()


def _wait_quiet() -> None:
    with _activity:
        while _active or time.monotonic() - _last_end < QUIET_S:
            _activity.wait(timeout=QUIET_S)


# ---------------------------------------------------------------- the default public views


def steps() -> list[tuple[str, Callable[[], object]]]:
    """(label, call) for each page's default view, in sidebar order; the same helpers and the
    same arguments the pages use on a first visit (tests/test_warmup.py holds them to it)."""
    from app import resources as R

    out: list[tuple[str, Callable[[], object]]] = []
    sample = R.names(needs=("sample",))
    decode = R.names(needs=("decode",))
    # First what is slow and needed soonest: the test images of the default views (Inpaint,
    # Compare, test digits on Interpolate) and the default model's directions (Latent walk).
    defaults = [*R.names(needs=("inpaint",))[:1], *compare_default(sample)]
    tested = {R.entry(n).dataset: n for n in reversed(defaults)}
    out += [(f"test images {d}", lambda n=n: R.test_images(n)) for d, n in tested.items()]
    if decode:
        out.append((f"directions {decode[0]}", lambda: R.direction_families(decode[0])))
    if sample:
        out.append(
            (f"sample {sample[0]}", lambda: R.sample_grid(sample[0], seed=0, n=36, temperature=1.0))
        )
    if decode:
        out += [(f"walk {decode[0]}", lambda: _walk(decode[0]))]
        out += [(f"interpolate {decode[0]}", lambda: _interpolate(decode[0]))]
    inpaint = R.names(needs=("inpaint",))
    if inpaint:
        out.append((f"inpaint {inpaint[0]}", lambda: _inpaint_page(inpaint[0])))
    mapped = R.names(needs=("decode", "map"))
    if mapped:
        out.append((f"map {mapped[0]}", lambda: R.latent_map(mapped[0])))
    out += [(f"compare {label}", call) for label, call in _compare(sample)]
    out.append(("report", R.report_parts))
    grids = R.names(needs=("training grids",))
    if grids:
        out.append((f"evolution {grids[0]}", lambda: R.training_grids(grids[0])))
    return out


def _walk(name: str) -> None:
    from app import resources as R

    families = R.direction_families(name)
    family = next(iter(families))
    direction = families[family][0]
    R.walk_strip(name, seed=0, family=family, direction=direction, steps=25, span=3.0)
    R.multi_walk(name, seed=0, moves=[(family, direction, 0.0)])


def _interpolate(name: str) -> None:
    from app import resources as R

    for method in ("lerp", "slerp"):
        ends = (("seed", 0), ("seed", 1))
        R.interpolation(name, ends=ends, steps=11, method=method, extrapolate=0.0)


def _test_digit(name: str, digit: int, nth: int = 0):
    """(image, known) of a test digit under the bottom-half mask, as the pages make them."""
    from app import resources as R

    x = R.test_image(name, R.test_digit_index(name, digit, nth))
    return x, R.mask_preset("bottom half", tuple(x.shape[1:]), seed=0)


def _inpaint_page(name: str) -> None:
    """What the inpaint page shows after its button, for its default test digit (a 2)."""
    from app import resources as R

    x, known = _test_digit(name, 2)
    R.inpaint(name, x, known, samples=4, seed=0, truth=True, private=False)
    if R.offers(name, "reconstruct"):
        R.reconstruct(name, x, seed=0, private=False)
    if R.offers(name, "surprise"):
        R.anomaly(name, x, private=False)


def compare_default(names: list[str]) -> list[str]:
    """Compare's default columns: the first three models of the most common image size (every
    column adds to the page's first load)."""
    from app import resources as R

    shapes: dict[tuple, list[str]] = {}
    for n in names:
        shapes.setdefault(R.model_facts(n)["image_shape"], []).append(n)
    groups = sorted(shapes.values(), key=len, reverse=True)
    return groups[0][:3] if groups else []


def _compare(names: list[str]) -> list[tuple[str, Callable[[], object]]]:
    """Compare's default columns: every grid first, then the exact likelihoods of the test digit,
    reconstructions and fillings."""
    from app import resources as R

    chosen = compare_default(names)
    out = [
        (f"{n} samples", lambda n=n: R.sample_grid(n, seed=0, n=16, temperature=1.0, px=300))
        for n in chosen
    ]
    for op in ("log_prob", "reconstruct", "inpaint"):
        out += [
            (f"{n} {op}", lambda n=n, op=op: _compare_op(n, op)) for n in chosen if R.offers(n, op)
        ]
    return out


def _compare_op(name: str, op: str):
    from app import resources as R

    x, known = _test_digit(name, 5)
    if op == "log_prob":  # its bits/dim of the same image
        return R.anomaly(name, x, private=False)
    if op == "reconstruct":
        return R.reconstruct(name, x, seed=0, private=False)
    return R.inpaint(name, x, known, samples=4, seed=0, truth=True, private=False)


_state = {"state": "off", "done": [], "skipped": [], "seconds": None}


def status() -> dict:
    """``state`` ("off", "running" or "done"), the steps ``done`` ((label, seconds)) and
    ``skipped`` (past the budget, or failed), and the ``seconds`` it took."""
    return {k: list(v) if isinstance(v, list) else v for k, v in _state.items()}


def warm(*, budget_s: float | None = None, lower: bool = True) -> dict:
    """Compute every default public view not cached yet (see the module's docstring); returns
    :func:`status`. ``lower``: run at low priority after the models are loaded."""
    from app import resources as R
    from app.workers import lower_priority

    budget_s = _float_env(BUDGET_ENV, 300.0) if budget_s is None else budget_s
    started = time.monotonic()
    _state.update(state="running", done=[], skipped=[], seconds=None)

    def step(label: str, call: Callable[[], object], *, budgeted: bool = True) -> None:
        if budgeted and time.monotonic() - started > budget_s:
            _state["skipped"].append(label)
            return
        _wait_quiet()
        t0 = time.perf_counter()
        try:
            call()
        except Exception as e:  # a view that fails here fails on its page, in one line
            log.warning("warm-up %s: %s", label, e)
            _state["skipped"].append(label)
            return
        seconds = time.perf_counter() - t0
        _state["done"].append((label, round(seconds, 3)))
        R.log_run(f"warm-up {label}", seconds)

    step("models", R.catalog, budgeted=False)  # at the server's priority: every page needs it
    if lower:
        lower_priority()
    for label, call in steps():
        step(label, call)
    seconds = time.monotonic() - started
    _state.update(state="done", seconds=round(seconds, 2))
    R.log_run("warm-up done", seconds)
    log.info(
        "warm-up done in %.1f s: %d steps, %d skipped",
        seconds,
        len(_state["done"]),
        len(_state["skipped"]),
    )
    return status()


_thread: threading.Thread | None = None


def start() -> threading.Thread | None:
    """Warm up on a background thread of this process (once; None when switched off). Waits
    for Streamlit's runtime, so that the server starts first."""
    global _thread
    if not enabled():
        return None
    # Libraries the pages import on first use are imported here, before the thread exists: a
    # page's first import racing the warm-up's (plotly importing pandas on two threads) can leave
    # one of them holding a partially initialised module.
    import pandas  # noqa: F401
    import plotly.graph_objects  # noqa: F401

    with _activity:
        if _thread is None:
            _thread = threading.Thread(target=_when_served, name="warm-up", daemon=True)
            _thread.start()
    return _thread


def _when_served() -> None:
    from streamlit.runtime import Runtime

    while not Runtime.exists():
        time.sleep(0.2)
    time.sleep(0.5)
    try:
        warm()
    except Exception:  # never take the server down; the pages compute what they need
        log.exception("warm-up stopped")
