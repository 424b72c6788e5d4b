"""The worker processes behind :func:`app.workers.call`: one job each at a time, the rest
waiting in a bounded queue, progress and results sent back over a pipe per worker.

Workers start from a ``forkserver`` that has imported torch and the engine once (the web
process has threads, so it is never forked itself), run at ``nice`` +10 on one torch thread
each, and keep the models they load (:func:`app.workers.loaded`). A worker that dies (killed,
out of memory) fails its job with :class:`app.workers.WorkerLost` and is replaced.
"""

from __future__ import annotations

import atexit
import contextlib
import io
import multiprocessing as mp
import os
import pickle
import queue
import sys
import threading
from collections import deque

import torch

from app.workers import BUSY, Busy, Cancelled, WorkerLost, lower_priority


class _Pickler(pickle.Pickler):
    """Tensors travel as numpy arrays: plain bytes, no shared-memory handles to keep alive."""

    def reducer_override(self, obj):
        if isinstance(obj, torch.Tensor) and obj.dtype != torch.bfloat16:
            return torch.from_numpy, (obj.detach().cpu().numpy(),)
        return NotImplemented


def dumps(obj) -> bytes:
    """``obj`` pickled, tensors as numpy arrays; raises for what cannot leave the process (a
    closure, a lambda)."""
    buf = io.BytesIO()
    _Pickler(buf, protocol=pickle.HIGHEST_PROTOCOL).dump(obj)
    return buf.getvalue()


def _error_bytes(job: int, err: BaseException) -> bytes:
    try:
        return dumps(("error", job, err))
    except Exception:  # an error that does not pickle still reaches the caller, as one line
        return dumps(("error", job, RuntimeError(f"{type(err).__name__}: {err}")))


def serve(conn) -> None:
    """A worker process's loop: run each job it is sent, until its connection closes."""
    lower_priority()
    # the pool's processes are the parallelism; $LATENT_ATLAS_WORKER_THREADS gives each more
    threads = os.environ.get("LATENT_ATLAS_WORKER_THREADS", "")
    torch.set_num_threads(int(threads) if threads.isdigit() and int(threads) > 0 else 1)
    while True:
        try:
            message, job, payload = pickle.loads(conn.recv_bytes())
        except (EOFError, OSError):
            return
        if message != "run":
            continue  # a cancel that came after its job had ended

        def step(*args, job=job, wants=payload[1]) -> None:
            while conn.poll():
                if pickle.loads(conn.recv_bytes())[:2] == ("cancel", job):
                    raise Cancelled
            if wants:
                conn.send_bytes(dumps(("progress", job, args)))

        try:
            out = dumps(("result", job, pickle.loads(payload[0])(step)))
        except Cancelled:
            out = dumps(("cancelled", job, None))
        except Exception as err:
            out = _error_bytes(job, err)
        conn.send_bytes(out)


class Job:
    """One call's work; its caller reads ``events``: (``progress``, args), then one of
    (``result``, value), (``error``, exception), (``cancelled``, None)."""

    def __init__(self, number: int, payload: bytes, wants_progress: bool, priority: int = 0):
        self.number, self.payload, self.wants = number, payload, wants_progress
        self.priority = priority  # lower first: a free worker takes the first waiting job of
        # the lowest priority, so a fraction-of-a-second inpainting does not queue behind chains
        self.events: queue.SimpleQueue = queue.SimpleQueue()
        self.worker: _Worker | None = None


class _Worker:
    def __init__(self, pool: Pool):
        self.pool = pool
        self.conn, child = pool.context.Pipe()
        self.process = pool.context.Process(target=serve, args=(child,), daemon=True)
        self.process.start()
        child.close()
        self.job: Job | None = None
        threading.Thread(target=self._read, daemon=True, name="work-reader").start()

    def send(self, *message) -> None:
        self.conn.send_bytes(pickle.dumps(message))

    def _read(self) -> None:
        while True:
            try:
                event, number, value = pickle.loads(self.conn.recv_bytes())
            except (EOFError, OSError):
                return self.pool.lost(self)
            job = self.job
            if job is None or job.number != number:
                continue
            if event == "progress":
                job.events.put((event, value))
            else:
                self.pool.finished(self, (event, value))


class Pool:
    """``size`` worker processes, each given one job at a time; up to ``waiting`` jobs wait."""

    def __init__(self, size: int, waiting: int):
        method = "forkserver" if sys.platform == "linux" else "spawn"  # the server has threads
        self.context = mp.get_context(method)
        if method == "forkserver":  # each worker forks from a process with torch imported
            self.context.set_forkserver_preload(["app.worker_pool", "engine"])
        self.size, self.waiting = size, waiting
        self.lock = threading.Lock()
        self.queue: deque[Job] = deque()
        self.jobs = 0
        self.closing = False
        self.all = [_Worker(self) for _ in range(size)]
        self.idle = list(self.all)
        atexit.register(setattr, self, "closing", True)  # before multiprocessing ends them

    def pids(self) -> list[int]:
        return [w.process.pid for w in self.all]

    def close(self) -> None:
        """End the workers (their running jobs are lost)."""
        with self.lock:
            self.closing = True
        for w in list(self.all):
            w.process.terminate()
            w.process.join(5)

    def submit(self, payload: bytes, wants_progress: bool, priority: int = 0) -> Job:
        """Start ``payload`` (:func:`dumps` of the work) or queue it; :class:`Busy` if full.
        Waiting jobs start lowest ``priority`` first, in order of arrival within one."""
        with self.lock:
            if not self.idle and len(self.queue) >= self.waiting:
                raise Busy(BUSY)
            self.jobs += 1
            job = Job(self.jobs, payload, wants_progress, priority)
            if self.idle:
                self._start(self.idle.pop(), job)
            else:
                self.queue.append(job)
            return job

    def _next(self) -> Job:
        """The waiting job to start next (the lock held): the first of the lowest priority."""
        job = min(self.queue, key=lambda j: j.priority)  # min keeps the first of equals
        self.queue.remove(job)
        return job

    def _start(self, worker: _Worker, job: Job) -> None:
        worker.job, job.worker = job, worker
        worker.send("run", job.number, (job.payload, job.wants))

    def cancel(self, job: Job) -> None:
        """Drop ``job`` from the queue, or ask its worker to stop it at its next step."""
        with self.lock:
            if job in self.queue:
                self.queue.remove(job)
            elif job.worker is not None and job.worker.job is job:
                with contextlib.suppress(OSError):
                    job.worker.send("cancel", job.number, None)

    def finished(self, worker: _Worker, event: tuple) -> None:
        with self.lock:
            worker.job.events.put(event)
            worker.job = None
            if self.queue:
                self._start(worker, self._next())
            else:
                self.idle.append(worker)

    def lost(self, worker: _Worker) -> None:
        with self.lock:
            job, worker.job = worker.job, None
            with contextlib.suppress(ValueError):
                self.idle.remove(worker)
            if not self.closing:  # a replacement, so the pool keeps its size
                self.all.remove(worker)
                fresh = _Worker(self)
                self.all.append(fresh)
                if self.queue:
                    self._start(fresh, self._next())
                else:
                    self.idle.append(fresh)
        if job is not None:
            job.events.put(("error", WorkerLost("the computation's worker stopped; try again")))
