"""Long computations on low-priority threads, so that a class's slider moves and map clicks are
not held up behind them.

A script run that starts an inpainting or an inversion (a quarter of a second of CPU or more)
hands it to a small pool of threads that run below the server's normal priority (``nice`` +10;
Linux gives each thread its own). The script thread waits, and replays the computation's
progress calls itself, since only it may update the page. Short runs of other sessions (a slider
move, a click) then take the cores first, and the long ones share what is left in the order they
came.

Measured with 8 VAE inpaintings at once on 2 cores (``benchmarks/long_work.py``, two runs of
two rounds): the p95 of a short piece of work (a decode and 5 ms of Python) was 2.9-3.7x its time
alone beside plain threads, 0.9-1.4x beside these; the inpaintings took 1.5-1.8 s in all
instead of 1.3-1.5 s.
"""

from __future__ import annotations

import contextlib
import os
import queue
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")

NICE = 10  # added to the server's own; the kernel gives such a thread about a tenth of a core
WORKERS = max(2, os.cpu_count() or 1)  # more would only share the same cores
_DONE = object()


class Cancelled(BaseException):
    """The run waiting for a computation has gone (stopped or restarted): stop it."""


def lower_priority() -> None:
    """Lower the calling thread's priority by :data:`NICE` (on Linux; elsewhere nothing)."""
    if sys.platform != "linux":  # elsewhere PRIO_PROCESS would take a thread id for a process's
        return
    tid = threading.get_native_id()
    with contextlib.suppress(OSError):
        os.setpriority(os.PRIO_PROCESS, tid, os.getpriority(os.PRIO_PROCESS, tid) + NICE)


_pool = ThreadPoolExecutor(WORKERS, thread_name_prefix="long-work", initializer=lower_priority)


def call(
    work: Callable[[Callable[..., None]], T], progress: Callable[..., None] | None = None
) -> T:
    """``work(step)`` on a low-priority thread; its result, or its error raised here.

    Each ``step(*args)`` that ``work`` makes is replayed on this thread as ``progress(*args)``,
    in order. If ``progress`` raises (Streamlit stops or restarts the run that way), the error
    goes on from here and ``work`` stops at its next step.
    """
    events: queue.SimpleQueue = queue.SimpleQueue()
    gone = threading.Event()

    def step(*args) -> None:
        if gone.is_set():
            raise Cancelled
        if progress is not None:
            events.put(args)

    def job() -> T:
        try:
            return work(step)
        finally:
            events.put(_DONE)

    future = _pool.submit(job)
    try:
        while (args := events.get()) is not _DONE:
            progress(*args)
    except BaseException:
        gone.set()
        raise
    return future.result()
