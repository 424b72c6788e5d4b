"""Results of operations, cached and timed, and the run log the load tests read.

- Results (sample grids, walks, inpaintings, ...) go through :func:`run` into one of two bounded
  :class:`engine.ResultCache`: results of public inputs (seeds, test digits, built-in directions,
  map points) into one all sessions share, results of a user's own image, drawing or saved
  direction into the session's own (``st.session_state``), never shown to another student.
- :func:`timed_run` logs each script run (``$LATENT_ATLAS_RUN_LOG``).
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import threading
import time
from dataclasses import dataclass

import streamlit as st
import torch

import engine
from app.resources.checkpoints import entry

SESSION_CACHE_ENTRIES = 48
SESSION_CACHE_BYTES = 24 * 2**20
SHARED_CACHE_ENTRIES = 512
SHARED_CACHE_BYTES = 256 * 2**20

torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
TRIM_EVERY_S = 30.0
RUN_LOG_ENV = "LATENT_ATLAS_RUN_LOG"  # a file: one JSON line per script run (load tests)
_run_log_lock = threading.Lock()


def log_run(page: str, seconds: float) -> None:
    """Append ``{"t", "page", "s", "shared_mb"}`` for one finished script run to the file named
    by ``$LATENT_ATLAS_RUN_LOG``; nothing when it is unset. The load test reads it to time the
    server's side of each interaction apart from the browsers', and to tell how much of the
    server's memory the shared result cache holds (``shared_mb``)."""
    path = os.environ.get(RUN_LOG_ENV)
    if not path:
        return
    shared_mb = round(_shared_cache().bytes / 2**20, 1)
    row = {"t": round(time.time(), 3), "page": page, "s": round(seconds, 4), "shared_mb": shared_mb}
    line = json.dumps(row)
    with _run_log_lock, open(path, "a") as f:
        f.write(line + "\n")


_page_running = threading.local()  # each session's runs happen on its script thread


@contextlib.contextmanager
def timed_run(label: str, *, whole_page: bool):
    """Log one script run as ``label`` when it ends, also by an exception (a stop, a rerun).
    A fragment's run (``whole_page=False``) is logged only when the fragment reruns on its own;
    inside its page's run it is part of that run's time."""
    if not whole_page and getattr(_page_running, "on", False):
        yield
        return
    _page_running.on = whole_page
    started = time.perf_counter()
    try:
        yield
    finally:
        _page_running.on = False
        log_run(label, time.perf_counter() - started)


@st.cache_resource(show_spinner=False)
def memory_trimmer() -> threading.Thread | None:
    """Hand freed memory back to the system every :data:`TRIM_EVERY_S` seconds.

    Each session's script runs on its own thread and glibc gives threads their own malloc
    arenas, which keep what a finished session freed; ``malloc_trim`` releases the free pages
    of every arena (a few milliseconds). Nothing to do where the C library is not glibc.
    """
    try:
        trim = ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None

    def loop() -> None:
        while True:
            time.sleep(TRIM_EVERY_S)
            trim(0)

    thread = threading.Thread(target=loop, name="malloc-trim", daemon=True)
    thread.start()
    return thread


@st.cache_resource(show_spinner=False)
def _shared_cache() -> engine.ResultCache:
    """Results that depend only on public inputs (seeds, test digits, map points, built-in
    directions) and so are the same for everyone: a class on one link computes them once."""
    return engine.ResultCache(max_entries=SHARED_CACHE_ENTRIES, max_bytes=SHARED_CACHE_BYTES)


def _session_cache() -> engine.ResultCache:
    if "_results" not in st.session_state:
        st.session_state["_results"] = engine.ResultCache(
            max_entries=SESSION_CACHE_ENTRIES, max_bytes=SESSION_CACHE_BYTES
        )
    return st.session_state["_results"]


@dataclass
class Timed:
    value: object
    seconds: float
    cached: bool

    @property
    def caption(self) -> str:
        ms = self.seconds * 1000
        return "cached" if self.cached else (f"{ms:.0f} ms" if ms < 2000 else f"{ms / 1000:.1f} s")


def run(name: str, operation: str, params: dict, compute, *, private: bool) -> Timed:
    """``compute()`` once per (model, operation, params), timed. ``private`` results (anything
    made from a user's upload, drawing or saved direction) are kept in this session only; the
    others in a cache all sessions share."""
    cache = _session_cache() if private else _shared_cache()
    key = cache.key(entry(name).card.get("weights_sha256", name), operation, params)
    start = time.perf_counter()
    value, hit = cache.fetch(key, compute)
    return Timed(value, time.perf_counter() - start, hit)


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(int(seed))
