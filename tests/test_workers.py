"""Long computations run on the app's low-priority threads: progress reaches the page's thread,
errors reach the caller, and a run that goes away stops its computation."""

import os
import sys
import threading
import time

import pytest

from app import workers


def test_the_work_runs_on_another_thread_below_the_callers_priority():
    seen = {}

    def work(step):
        seen["thread"] = threading.get_ident()
        seen["nice"] = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        return 42

    assert workers.call(work) == 42
    assert seen["thread"] != threading.get_ident()
    if sys.platform == "linux":
        mine = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        assert seen["nice"] == min(19, mine + workers.NICE)


def test_progress_is_replayed_on_the_callers_thread_in_order():
    calls = []

    def work(step):
        for i in range(5):
            step(i, f"frame {i}")
        return "done"

    def progress(i, frame):
        calls.append((i, frame, threading.get_ident()))

    assert workers.call(work, progress) == "done"
    assert [(i, f) for i, f, _ in calls] == [(i, f"frame {i}") for i in range(5)]
    assert {t for *_, t in calls} == {threading.get_ident()}


def test_an_error_of_the_work_reaches_the_caller():
    def work(step):
        step(1)
        raise ValueError("bad image")

    with pytest.raises(ValueError, match="bad image"):
        workers.call(work, lambda *_: None)


class _Stop(BaseException):  # what Streamlit raises in a stopped run
    pass


def test_a_run_that_goes_away_stops_its_work_at_the_next_step():
    steps, finished = [], threading.Event()

    def work(step):
        try:
            for i in range(1000):
                steps.append(i)
                step(i)
                time.sleep(0.001)
        finally:
            finished.set()

    def progress(i):
        if i == 2:
            raise _Stop

    with pytest.raises(_Stop):
        workers.call(work, progress)
    assert finished.wait(5)
    assert len(steps) < 50  # stopped within a few steps, not run to the end
