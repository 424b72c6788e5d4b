"""The result cache: canonical keys, hits, LRU bounds, threads, and model hashes."""

import threading
import time

import numpy as np
import pytest
import torch

import engine
from engine.checkpoint import save_checkpoint
from engine.ops import ResultCache, model_hash, param_hash
from tests.conftest import tiny_model


def _counter():
    calls = []

    def compute(value=None):
        def run():
            calls.append(value)
            return value

        return run

    return calls, compute


def test_parameters_hash_canonically():
    a = {"steps": 8, "z": torch.arange(4.0), "opts": {"x": 1, "y": [1, 2]}}
    b = {"opts": {"y": [1, 2], "x": 1}, "z": torch.arange(4.0), "steps": 8}
    assert param_hash(a) == param_hash(b)
    assert param_hash({**a, "z": torch.arange(4.0) + 1e-6}) != param_hash(a)
    assert param_hash(torch.zeros(4)) != param_hash(torch.zeros(2, 2))  # shape counts
    assert param_hash(torch.zeros(4)) != param_hash(torch.zeros(4, dtype=torch.float64))
    assert param_hash(np.arange(3)) == param_hash(np.arange(3))
    assert len({param_hash(v) for v in (1, 1.0, "1", True, None, (1,), [1])}) == 6  # [1] == (1,)
    with pytest.raises(TypeError, match="Generator"):
        param_hash({"g": torch.Generator()})


def test_a_hit_does_not_recompute():
    cache = ResultCache()
    calls, compute = _counter()
    x = cache.get_or_compute("sha", "interpolate", {"steps": 8, "seeds": (0, 1)}, compute("a"))
    y = cache.get_or_compute("sha", "interpolate", {"seeds": (0, 1), "steps": 8}, compute("b"))
    assert x == y == "a" and calls == ["a"] and cache.hits == 1 and cache.misses == 1
    for other in (("sha2", "interpolate"), ("sha", "walk")):
        assert cache.get_or_compute(*other, {"steps": 8, "seeds": (0, 1)}, compute("c")) == "c"
    assert cache.get_or_compute("sha", "interpolate", {"steps": 9}, compute("d")) == "d"
    assert calls == ["a", "c", "c", "d"] and len(cache) == 4


def test_fetch_says_whether_the_result_was_stored():
    cache = ResultCache()
    calls, compute = _counter()
    key = cache.key("sha", "sample", {"seed": 1})
    assert cache.fetch(key, compute("a")) == ("a", False)
    assert cache.fetch(key, compute("b")) == ("a", True)
    assert cache.get_or_compute("sha", "sample", {"seed": 1}, compute("c")) == "a"
    assert calls == ["a"]


def test_evicts_the_least_recently_used_at_the_entry_bound():
    cache = ResultCache(max_entries=2)
    calls, compute = _counter()
    cache.get_or_compute("m", "op", {"i": 1}, compute(1))
    cache.get_or_compute("m", "op", {"i": 2}, compute(2))
    cache.get_or_compute("m", "op", {"i": 1}, compute(1))  # hit: 1 is now the most recent
    cache.get_or_compute("m", "op", {"i": 3}, compute(3))  # evicts 2
    assert len(cache) == 2
    assert ResultCache.key("m", "op", {"i": 2}) not in cache
    assert ResultCache.key("m", "op", {"i": 1}) in cache
    cache.get_or_compute("m", "op", {"i": 2}, compute(2))
    assert calls == [1, 2, 3, 2]


def test_evicts_at_the_byte_bound_and_skips_oversized_results():
    cache = ResultCache(max_bytes=1000)
    for i in range(3):  # 400 bytes each: the third pushes the first out
        cache.get_or_compute("m", "op", {"i": i}, lambda: torch.zeros(100))
    assert len(cache) == 2 and cache.bytes == 800
    assert ResultCache.key("m", "op", {"i": 0}) not in cache
    big = cache.get_or_compute("m", "op", {"i": "big"}, lambda: torch.zeros(1000))
    assert big.shape == (1000,) and len(cache) == 2 and cache.bytes == 800
    cache.clear()
    assert len(cache) == 0 and cache.bytes == 0


def test_concurrent_callers_of_one_key_compute_once():
    cache = ResultCache()
    calls = []
    start = threading.Barrier(8)

    def slow():
        calls.append(1)
        time.sleep(0.2)  # long enough that every thread asks while it runs
        return torch.ones(3)

    results = []

    def ask():
        start.wait()
        results.append(cache.get_or_compute("m", "slow", {}, slow))

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and len(results) == 8 and all(r is results[0] for r in results)


def test_many_threads_keep_the_cache_bounded_and_consistent():
    cache = ResultCache(max_entries=16)
    errors = []

    def work(worker):
        try:
            for i in range(200):
                key = (worker * 7 + i) % 40
                assert cache.get_or_compute("m", "op", {"k": key}, lambda k=key: k * 2) == key * 2
        except AssertionError as err:  # pragma: no cover - reported below
            errors.append(err)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(cache) == 16 and cache.hits + cache.misses == 1600


def test_a_failed_computation_reaches_the_caller_and_is_not_stored():
    cache = ResultCache()

    def broken():
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        cache.get_or_compute("m", "op", {}, broken)
    assert len(cache) == 0
    assert cache.get_or_compute("m", "op", {}, lambda: 5) == 5


class _RunStopped(BaseException):
    """Like Streamlit's StopException: raised in one session's thread to end its run."""


def test_a_waiter_computes_itself_when_the_first_callers_run_is_stopped():
    """One student's run stopped mid-computation must not end another's waiting on the key."""
    cache = ResultCache()
    started, release = threading.Event(), threading.Event()
    outcome = {}

    def first():
        started.set()
        release.wait(5)
        raise _RunStopped()

    def owner():
        try:
            cache.get_or_compute("m", "op", {}, first)
        except _RunStopped:
            outcome["owner"] = "stopped"

    def waiter():
        try:
            outcome["waiter"] = cache.get_or_compute("m", "op", {}, lambda: 42)
        except BaseException as err:  # pragma: no cover - the failure this test looks for
            outcome["waiter"] = err

    a = threading.Thread(target=owner)
    a.start()
    started.wait(5)
    b = threading.Thread(target=waiter)
    b.start()
    time.sleep(0.1)  # b is waiting on a's computation
    release.set()
    a.join(5)
    b.join(5)
    assert outcome == {"owner": "stopped", "waiter": 42}
    assert cache.get_or_compute("m", "op", {}, lambda: 0) == 42  # the waiter's result was kept


def test_model_hash(tmp_path):
    model = tiny_model("vae")
    assert model_hash(model) == model_hash(tiny_model("vae"))
    assert model_hash(model) != model_hash(tiny_model("vae", seed=1))
    assert model_hash(model) != model_hash(tiny_model("gan"))
    path = save_checkpoint(model, tmp_path / "ckpt", card={"dataset": "mnist"})
    assert model_hash(engine.load(path, device="cpu")) == engine.read_card(path)["weights_sha256"]
