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
- :class:`Later`: a page hands each slow public result to a background thread and waits for it
  at most ``$LATENT_ATLAS_PAGE_WAIT_S`` seconds in all (``python -m app`` sets 1.0); what is not
  ready by then is shown as :data:`PENDING_NOTE` with a progress bar, and the page reruns as the
  results come in (:meth:`Later.poll`). Unset (a bare ``streamlit run``, AppTest): a page waits
  for everything, as before. Results of a user's own image are always computed in the run.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from concurrent.futures import Future, ThreadPoolExecutor

ENV, BUDGET_ENV, WAIT_ENV = (
    "LATENT_ATLAS_WARMUP",
    "LATENT_ATLAS_WARMUP_BUDGET_S",
    "LATENT_ATLAS_PAGE_WAIT_S",
)
PENDING_NOTE = "still on its way"
QUIET_S = 0.3  # a step starts only after this long with no visitor's run going
POLL_S = 0.5  # how often a page with parts on their way looks for them
MAX_JOBS = 64  # results of background jobs kept for the pages that wait for them
MAX_WAITING = 16  # more background jobs than this: the next is computed in the run itself

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
    # First what is slow and needed soonest: the test images (Interpolate, Inpaint, Compare)
    # and the default model's directions (Latent walk).
    tested = {R.entry(n).dataset: n for n in reversed(R.names(needs=("inpaint",)))}
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
    """Compare's default columns: every grid first, then reconstructions, then fillings."""
    from app import resources as R

    chosen = compare_default(names)
    out = [
        (f"{n} samples", lambda n=n: R.sample_grid(n, seed=0, n=16, temperature=1.0, px=300))
        for n in chosen
    ]
    for op in ("reconstruct", "inpaint"):
        out += [
            (f"{n} {op}", lambda n=n, op=op: _compare_op(n, op)) for n in chosen if R.offers(n, op)
        ]
    return out


def _compare_op(name: str, op: str):
    from app import resources as R

    x, known = _test_digit(name, 5)
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


# ---------------------------------------------------------------- slow parts after the page


def page_wait() -> float | None:
    """Seconds a page waits for its slow public results in all (None: for all of them)."""
    return _float_env(WAIT_ENV, None)


_jobs: OrderedDict[Hashable, Future] = OrderedDict()
_jobs_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None


def _submit(key: Hashable, compute: Callable[[], object]) -> Future | None:
    global _pool
    from app.workers import lower_priority

    with _jobs_lock:
        future = _jobs.get(key)
        if future is not None:
            _jobs.move_to_end(key)
            return future
        if sum(not f.done() for f in _jobs.values()) >= MAX_WAITING:
            return None
        if _pool is None:
            _pool = ThreadPoolExecutor(2, thread_name_prefix="later", initializer=lower_priority)
        _jobs[key] = future = _pool.submit(compute)
        while len(_jobs) > MAX_JOBS and next(iter(_jobs.values())).done():
            _jobs.popitem(last=False)
        return future


_CAME_IN = "_later_came_in"


def _came_in() -> bool:
    import streamlit as st

    try:
        return bool(st.session_state.pop(_CAME_IN, False))
    except Exception:  # no session (a bare script): nothing came in
        return False


class Later:
    """One page run's slow results: each computed on a background thread, waited for until the
    run's deadline (:func:`page_wait` from now), then shown as on their way."""

    def __init__(self, wait_s: float | None = None) -> None:
        wait_s = page_wait() if wait_s is None else wait_s
        if wait_s is not None and _came_in():
            wait_s = 0.0  # a rerun for what came in: the rest is still running, no use waiting
        self.deadline = None if wait_s is None else time.monotonic() + wait_s
        self.ready = 0
        self.waiting: list[Future] = []

    def get(self, key: Hashable, compute: Callable[[], object], *, private: bool):
        """``compute()``'s value, or None while it is on its way. ``private`` (from a user's
        own image) or no deadline: computed here and now, never on another thread."""
        if private or self.deadline is None:
            self.ready += 1
            return compute()
        future = _submit(key, compute)
        if future is None:  # the background is full: this run computes it itself
            self.ready += 1
            return compute()
        with contextlib.suppress(TimeoutError):
            future.result(timeout=max(0.0, self.deadline - time.monotonic()))
        if future.done():
            if future.exception() is not None:  # the page's one line; the next visit retries
                with _jobs_lock:
                    if _jobs.get(key) is future:
                        del _jobs[key]
                raise future.exception()
            self.ready += 1
            return future.result()
        self.waiting.append(future)
        return None

    @property
    def pending(self) -> int:
        return len(self.waiting)

    def progress(self, where) -> None:
        """A progress bar of this run's results (nothing when all are in)."""
        if self.waiting:
            total = self.ready + len(self.waiting)
            where.progress(
                self.ready / total,
                text=f"{self.ready} of {total} results in; the rest is {PENDING_NOTE}",
            )

    def poll(self) -> None:
        """While results are on their way: look every :data:`POLL_S` s and rerun the page when
        one has come in (it then finds it at once). Call at the end of the page."""
        if not self.waiting:
            return
        import streamlit as st

        waiting = list(self.waiting)

        @st.fragment(run_every=POLL_S)
        def _poll() -> None:
            if any(f.done() for f in waiting):
                st.session_state[_CAME_IN] = True
                st.rerun()

        _poll()
