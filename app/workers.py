"""Long computations out of the web process: a pool of worker processes below its priority.

A script run that starts an inpainting, an inversion or a slow kind's sampling (a quarter of a
second of CPU or more) hands it to :func:`call`. The work is a picklable callable, usually a
:class:`Request` (a checkpoint folder, an engine operation's name, its arguments): a worker
process loads each model once, memory-mapped (its weights are the pages of the safetensors file,
shared by every worker), runs the operation at ``nice`` +10 and streams its progress back; the
script thread replays the progress calls itself, since only it may update the page. Slider
moves and clicks then run in a web process whose interpreter does not also run the long work.

- Cancelled: if the progress callback raises (Streamlit stops or restarts a run that way, also
  when its session goes away), the worker stops at its next step.
- Bounded: with every worker busy and ``$LATENT_ATLAS_WORK_QUEUE`` requests waiting, a new one
  gets :class:`Busy` ("busy, try again in a moment") at once instead of waiting without end.
- ``$LATENT_ATLAS_WORKERS`` = ``processes`` (default) or ``threads`` (the earlier way: the same
  work on low-priority threads of the web process, kept to compare); ``$LATENT_ATLAS_WORKER_COUNT``
  workers (default: one per core this process may use).
- Work that cannot be pickled (a closure) cannot leave the process: it runs on the threads.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import queue
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TypeVar

import torch

from engine.errors import EngineError

T = TypeVar("T")

NICE_ENV = "LATENT_ATLAS_WORKER_NICE"  # 0-19, added to the server's own; default 10
_nice = os.environ.get(NICE_ENV, "")
# the kernel gives a worker at +10 about a tenth of a core beside a busy one at the server's
NICE = min(19, int(_nice)) if _nice.isdigit() else 10
MODE_ENV, COUNT_ENV, QUEUE_ENV = (
    "LATENT_ATLAS_WORKERS",
    "LATENT_ATLAS_WORKER_COUNT",
    "LATENT_ATLAS_WORK_QUEUE",
)
MODES = ("processes", "threads")
BUSY = "busy, try again in a moment"


def _env_int(name: str, default: int) -> int:
    try:
        return max(1, int(os.environ.get(name, "")))
    except ValueError:
        return default


CORES = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
WORKERS = _env_int(COUNT_ENV, CORES)  # one per core this process may use: more only share them
WAITING = _env_int(QUEUE_ENV, 16)  # about 16 inpaintings: 3 s of two cores' work


class Cancelled(BaseException):
    """The run waiting for a computation has gone (stopped or restarted): stop it."""


class Busy(EngineError):
    """Every worker is busy and the queue is full."""


class WorkerLost(EngineError):
    """The worker process running a computation ended before it (killed, out of memory)."""


def mode() -> str:
    value = os.environ.get(MODE_ENV, "processes")
    if value not in MODES:
        raise EngineError(f"${MODE_ENV} is {value!r}; use {' or '.join(MODES)}")
    return value


def lower_priority() -> None:
    """Lower the calling thread's priority by :data:`NICE` (on Linux; elsewhere nothing).
    In a worker process, its only thread: the whole process."""
    if sys.platform != "linux":  # elsewhere PRIO_PROCESS would take a thread id for a process's
        return
    tid = threading.get_native_id()
    with contextlib.suppress(OSError):
        os.setpriority(os.PRIO_PROCESS, tid, os.getpriority(os.PRIO_PROCESS, tid) + NICE)


# ---------------------------------------------------------------- requests and their operations


CHAIN_KEPT = 200  # steps of a long chain kept to send back (a page shows fewer)


def chain(model, n: int, *, generator, callback=None, **options):
    """A kind's sampling chain run to its end (``model.trajectory``; see engine.ops.chains),
    about :data:`CHAIN_KEPT` of its steps kept, evenly spread, the last always."""
    from engine.ops.chains import run_chain

    steps = model.trajectory(n, generator=generator, **options)
    return run_chain(steps, callback=callback, max_frames=CHAIN_KEPT)


def _operations() -> dict[str, tuple[Callable, str | None]]:
    """Operation name -> (function of the model first, the keyword of its progress callback)."""
    import engine

    return {
        "inpaint": (engine.inpaint, "callback"),
        "reconstruct": (engine.reconstruct, "callback"),
        "chain": (chain, "callback"),
    }


_models: dict[str, torch.nn.Module] = {}
_models_lock = threading.Lock()


def loaded(checkpoint: str):
    """The checkpoint's model, loaded once per process; weights memory-mapped from the file."""
    with _models_lock:
        if checkpoint not in _models:
            from safetensors.torch import load_file

            import engine

            model = engine.load(checkpoint, device="cpu")  # checks hashes, shapes and keys
            if model.device.type == "cpu":  # safetensors maps the file: pages every worker shares
                model.load_state_dict(load_file(f"{checkpoint}/model.safetensors"), assign=True)
            _models[checkpoint] = model.eval()
        return _models[checkpoint]


@dataclass(frozen=True)
class Request:
    """``operation(model, *args, generator=seed's, **options)`` on the model of ``checkpoint``.

    ``operation``: ``inpaint``, ``reconstruct`` or ``chain`` (a ``trajectory``
    kind's chain); its progress calls go to the caller's ``progress``.
    """

    operation: str
    checkpoint: str
    args: tuple = ()
    options: dict = field(default_factory=dict)
    seed: int | None = None

    def __call__(self, step: Callable[..., None]):
        fn, progress_kw = _operations()[self.operation]
        options = dict(self.options)
        if self.seed is not None:
            options["generator"] = torch.Generator().manual_seed(int(self.seed))
        if progress_kw is not None:
            options[progress_kw] = step
        return fn(loaded(str(self.checkpoint)), *self.args, **options)


_pool = None  # app.worker_pool.Pool, started on first use
_threads: ThreadPoolExecutor | None = None
_start_lock = threading.Lock()
_in_threads = threading.BoundedSemaphore(WORKERS + WAITING)


def pool():
    """The process pool (:class:`app.worker_pool.Pool`), started on first use; the app starts
    it when it starts, so that the first student's inpainting does not wait for it."""
    global _pool
    with _start_lock:
        if _pool is None and mode() == "processes":
            from app.worker_pool import Pool

            _pool = Pool(WORKERS, WAITING)
        return _pool


def start() -> None:
    """Start the process pool in the background, so that the first student's inpainting does
    not wait for it (``python -m app`` calls it); nothing with threads."""
    if mode() == "processes":
        threading.Thread(target=pool, daemon=True, name="work-pool-start").start()


def call(
    work: Callable[[Callable[..., None]], T], progress: Callable[..., None] | None = None
) -> T:
    """``work(step)`` in a worker; its result, or its error raised here.

    ``work`` is picklable (a :class:`Request`, a module-level function). Each ``step(*args)``
    it makes is replayed on this thread as ``progress(*args)``, in order. If ``progress``
    raises (Streamlit stops or restarts the run that way), the error goes on from here and
    ``work`` stops at its next step. Raises :class:`Busy` when the queue is full.
    """
    from app.worker_pool import dumps

    if mode() == "threads":
        return _call_on_thread(work, progress)
    try:
        payload = dumps(work)
    except (pickle.PicklingError, AttributeError, TypeError):  # a closure cannot leave here
        return _call_on_thread(work, progress)
    workers = pool()
    job = workers.submit(payload, progress is not None, priority(work))
    try:
        while True:
            event, value = job.events.get()
            if event == "progress":
                progress(*value)
            elif event == "result":
                return value
            elif event == "error":
                raise value
            else:  # "cancelled": only after a cancel from here, which has raised already
                raise Cancelled
    except BaseException:
        workers.cancel(job)
        raise


SHORT = ("inpaint", "reconstruct")  # under a second each: they go before waiting chains


def priority(work) -> int:
    """0 for a short request (:data:`SHORT`), 1 for the rest (chains of iterative
    kinds, anything not a :class:`Request`): a worker that frees up takes short work first."""
    return 0 if isinstance(work, Request) and work.operation in SHORT else 1


def _call_on_thread(work, progress):
    global _threads
    if not _in_threads.acquire(blocking=False):
        raise Busy(BUSY)
    try:
        with _start_lock:
            if _threads is None:
                _threads = ThreadPoolExecutor(
                    WORKERS, thread_name_prefix="long-work", initializer=lower_priority
                )
        events: queue.SimpleQueue = queue.SimpleQueue()
        gone, done = threading.Event(), object()

        def step(*args) -> None:
            if gone.is_set():
                raise Cancelled
            if progress is not None:
                events.put(args)

        def job():
            try:
                return work(step)
            finally:
                events.put(done)

        future = _threads.submit(job)
        try:
            while (args := events.get()) is not done:
                progress(*args)
        except BaseException:
            gone.set()
            raise
        return future.result()
    finally:
        _in_threads.release()
