"""Long computations run in the app's worker processes (or, to compare, its low-priority
threads): progress reaches the page's thread, errors reach the caller as one line, a run that
goes away stops its computation, a full queue says so at once, and a request runs an engine
operation on a checkpoint that the worker loads once, memory-mapped."""

import os
import signal
import sys
import threading
import time
from functools import partial
from pathlib import Path

import pytest
import torch

import engine
from app import worker_pool, workers
from tests.conftest import tiny_model

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="process priorities are Linux's")


@pytest.fixture(scope="module")
def one_worker():
    """A pool of one worker and one waiting place, in place of the app's, for this module."""
    before = workers._pool
    workers._pool = worker_pool.Pool(1, 1)
    yield workers._pool
    workers._pool.close()
    workers._pool = before


@pytest.fixture(params=workers.MODES)
def either(request, monkeypatch, one_worker):
    monkeypatch.setenv(workers.MODE_ENV, request.param)
    return request.param


# Work as the pool gets it: module-level functions, picklable by name.
def where_and_how_nice(step):
    return os.getpid(), threading.get_native_id(), os.getpriority(os.PRIO_PROCESS, 0)


def five_frames(step):
    for i in range(5):
        step(i, f"frame {i}")
    return "done"


def bad_image(step):
    step(1)
    raise ValueError("bad image")


def count_steps(folder, step):
    """Steps until stopped; the number written to ``folder/steps`` when it ends, however."""
    n = 0
    try:
        for n in range(1, 1000):
            step(n)
            time.sleep(0.002)
    finally:
        (Path(folder) / "steps").write_text(str(n))


def wait_for_file(path, step):
    while not Path(path).exists():
        step()
        time.sleep(0.01)
    return path


def die(step):
    os.kill(os.getpid(), signal.SIGKILL)


def loaded_models(step):
    return sorted(workers._models)


def first_parameter_mapped_from(checkpoint, step):
    """Whether the model's first weight lies in a mapping of its safetensors file."""
    p = next(workers.loaded(checkpoint).parameters())
    address = p.data_ptr()
    for line in Path("/proc/self/maps").read_text().splitlines():
        span, *_, name = line.split(maxsplit=5)
        lo, hi = (int(v, 16) for v in span.split("-"))
        if lo <= address < hi:
            return name.endswith("model.safetensors")
    return False


def test_the_work_runs_in_another_process_below_the_callers_priority(monkeypatch, one_worker):
    monkeypatch.setenv(workers.MODE_ENV, "processes")
    pid, _, nice = workers.call(where_and_how_nice)
    assert pid != os.getpid()
    assert nice == min(19, os.getpriority(os.PRIO_PROCESS, 0) + workers.NICE)


def test_with_threads_the_work_runs_on_a_thread_of_this_process(monkeypatch):
    monkeypatch.setenv(workers.MODE_ENV, "threads")
    pid, thread, nice = workers.call(where_and_how_nice)
    assert pid == os.getpid() and thread != threading.get_native_id()


def test_a_closure_cannot_leave_the_process_and_runs_on_a_thread_of_it(monkeypatch):
    monkeypatch.setenv(workers.MODE_ENV, "processes")
    here = os.getpid()
    assert workers.call(lambda step: os.getpid()) == here


def test_progress_is_replayed_on_the_callers_thread_in_order(either):
    calls = []

    def progress(i, frame):
        calls.append((i, frame, threading.get_ident()))

    assert workers.call(five_frames, progress) == "done"
    assert [(i, f) for i, f, _ in calls] == [(i, f"frame {i}") for i in range(5)]
    assert {t for *_, t in calls} == {threading.get_ident()}


def test_an_error_of_the_work_reaches_the_caller_as_one_line(either):
    with pytest.raises(ValueError) as caught:
        workers.call(bad_image, lambda *_: None)
    assert str(caught.value) == "bad image"


class _Stop(BaseException):  # what Streamlit raises in a stopped run
    pass


def test_a_run_that_goes_away_stops_its_work_within_a_few_steps(either, tmp_path):
    def progress(i):
        if i == 2:
            raise _Stop

    with pytest.raises(_Stop):
        workers.call(partial(count_steps, str(tmp_path)), progress)
    deadline = time.monotonic() + 10
    while not (tmp_path / "steps").exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert int((tmp_path / "steps").read_text()) < 50  # stopped, not run to its 999th step


def test_a_full_queue_answers_busy_at_once_and_the_queued_work_still_runs(
    monkeypatch, one_worker, tmp_path
):

    monkeypatch.setenv(workers.MODE_ENV, "processes")
    go = tmp_path / "go"
    results = []
    running = [
        threading.Thread(target=lambda: results.append(workers.call(partial(wait_for_file, go))))
        for _ in range(2)  # the one worker and the one waiting place
    ]
    for t in running:
        t.start()
        time.sleep(0.3)
    start = time.monotonic()
    with pytest.raises(workers.Busy, match="busy, try again in a moment"):
        workers.call(five_frames)
    assert time.monotonic() - start < 1
    go.write_text("")
    for t in running:
        t.join(20)
    assert results == [go, go]


def test_a_worker_that_dies_fails_its_caller_in_one_line_and_is_replaced(monkeypatch, one_worker):
    monkeypatch.setenv(workers.MODE_ENV, "processes")
    with pytest.raises(workers.WorkerLost, match="try again"):
        workers.call(die)
    assert workers.call(five_frames) == "done"


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    out = tmp_path_factory.mktemp("ckpt") / "tiny-vae"
    engine.save_checkpoint(tiny_model("vae"), out, card={"dataset": "mnist"})
    return str(out)


def test_a_request_inpaints_in_a_worker_as_the_engine_does_here(
    monkeypatch, one_worker, checkpoint
):
    monkeypatch.setenv(workers.MODE_ENV, "processes")
    x = torch.rand(1, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    known = engine.mask_preset("centre square", (1, 28, 28))
    request = workers.Request("inpaint", checkpoint, (x, known), {"samples": 2}, seed=3)
    frames = []
    got = workers.call(request, lambda step, frame: frames.append(step))
    here = engine.inpaint(
        engine.load(checkpoint), x, known, samples=2, generator=torch.Generator().manual_seed(3)
    )
    assert torch.equal(got.completions, here.completions)
    assert frames == sorted(frames) and len(frames) == len(here.frames) > 0
    assert workers.call(loaded_models) == [checkpoint]  # loaded once, kept


def test_a_workers_weights_are_pages_of_the_checkpoint_file(monkeypatch, one_worker, checkpoint):
    monkeypatch.setenv(workers.MODE_ENV, "processes")

    assert workers.call(partial(first_parameter_mapped_from, checkpoint)) is True


def started_at(go, out, step):
    """When the work started (the machine's monotonic clock, into ``out``), once ``go`` exists."""
    Path(out).write_text(str(time.monotonic_ns()))
    return wait_for_file(go, step)


def test_short_work_waiting_starts_before_chains_that_came_first(tmp_path):
    """With the worker busy, an inpainting queued after a chain starts first: a student's
    sub-second fill does not wait behind a diffusion grid that asked a moment earlier."""
    pool = worker_pool.Pool(1, 3)
    go, gate = tmp_path / "go", tmp_path / "gate"
    try:
        work = {
            name: partial(started_at, gate if name == "busy" else go, tmp_path / name)
            for name in ("busy", "chain", "fill")
        }
        jobs = [pool.submit(worker_pool.dumps(work["busy"]), False)]
        jobs.append(pool.submit(worker_pool.dumps(work["chain"]), False, priority=1))
        jobs.append(pool.submit(worker_pool.dumps(work["fill"]), False, priority=0))
        assert pool.queue[0] is jobs[1]  # the chain came first
        go.write_text("")
        gate.write_text("")
        for job in jobs:
            assert job.events.get(timeout=20)[0] == "result"
        started = {name: int((tmp_path / name).read_text()) for name in work}
        assert started["busy"] < started["fill"] < started["chain"]
    finally:
        pool.close()


def test_requests_to_inpaint_or_reconstruct_are_the_short_ones():
    short = workers.Request("inpaint", "pretrained/mnist-vae")
    assert workers.priority(short) < workers.priority(workers.Request("chain", "x"))
    assert workers.priority(workers.Request("reconstruct", "x")) == workers.priority(short)
    assert workers.priority(five_frames) == workers.priority(workers.Request("chain", "x"))
