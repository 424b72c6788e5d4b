"""A page's slow parts filled in after the page is up (what a first visit meets before the
warm-up of :mod:`app.warmup` has reached them, and what a slow kind always costs).

A page hands each slow public result to :class:`Later`: it is computed on a low-priority
background thread (one computation per key, whichever session asks), and the page waits for it
at most ``$LATENT_ATLAS_PAGE_WAIT_S`` seconds in all (``python -m app`` sets 0.5). What is not
ready by then shows as :data:`PENDING_NOTE` with a progress bar, and a small fragment reruns the
page as the results come in (:meth:`Later.poll`). Unset (a bare ``streamlit run``, AppTest): a
page waits for everything in its run, as before. Results of a user's own image or drawing are
always computed in the run itself and never leave the session.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from concurrent.futures import Future, ThreadPoolExecutor

WAIT_ENV = "LATENT_ATLAS_PAGE_WAIT_S"
PENDING_NOTE = "still on its way"
POLL_S = 1.0  # how often a page with parts on their way looks for them (and reruns)
MAX_JOBS = 64  # results of background jobs kept for the pages that wait for them
MAX_WAITING = 16  # more background jobs than this: the next is computed in the run itself


def page_wait() -> float | None:
    """Seconds a page waits for its slow public results in all (None: for all of them)."""
    try:
        return float(os.environ[WAIT_ENV])
    except (KeyError, ValueError):
        return None


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
