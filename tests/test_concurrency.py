"""The engine called from many threads at once gives each caller exactly its serial result and
leaves the global random state alone (the app serves every session from one process)."""

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import torch

import engine
from engine.checkpoint import save_checkpoint
from engine.ops.inpaint import mask_preset
from tests.conftest import tiny_model

KINDS = ["vae", "gan", "flow", "vaeac"]


FAST = {"gan": {"steps": 3, "restarts": 2}, "vae": {"steps": 3}, "flow": {"steps": 3}, "vaeac": {}}


def _calls(model, x):
    """Each operation a page can run, as calls ``f(seed) -> tensor``."""

    def gen(seed):
        return torch.Generator().manual_seed(seed)

    known = mask_preset("bottom half", model.image_shape)
    fast = FAST[model.kind]
    inversion = fast if model.kind == "gan" else {}  # the others encode
    calls = [lambda s: engine.inpaint(model, x, known, generator=gen(s), **fast).completions]
    if model.has("decode"):
        calls += [
            lambda s: model.sample(4, generator=gen(s)),
            lambda s: engine.reconstruct(model, x, generator=gen(s), **inversion).x_hat,
            lambda s: engine.anomaly_score(model, x, generator=gen(s), **inversion),
        ]
    return calls


@pytest.mark.parametrize("kind", KINDS)
def test_many_threads_get_their_serial_results_and_leave_global_rng_alone(
    kind, digits8bit, tmp_path
):
    """Models as the app has them: loaded from a checkpoint (read-only weights)."""
    path = save_checkpoint(tiny_model(kind), tmp_path / kind, card={"dataset": "mnist"})
    model, x = engine.load(path, device="cpu"), digits8bit[:2]
    jobs = [(i, call, seed) for i, call in enumerate(_calls(model, x)) for seed in range(4)]
    serial = [call(seed) for _, call, seed in jobs]
    rng = torch.get_rng_state()
    with ThreadPoolExecutor(max_workers=8) as pool:
        for _ in range(3):  # several rounds: interleavings differ from run to run
            parallel = list(pool.map(lambda job: job[1](job[2]), jobs))
            for (i, _, seed), a, b in zip(jobs, serial, parallel, strict=True):
                assert torch.equal(a, b), f"call {i} seed {seed} changed under threads"
    assert torch.equal(torch.get_rng_state(), rng), "an operation drew from the global generator"
    assert all(p.grad is None for p in model.parameters())  # nothing written into the model


def test_the_shared_result_cache_computes_once_when_a_class_asks_at_the_same_moment():
    cache = engine.ResultCache(max_entries=8, max_bytes=2**20)
    key = cache.key("ckpt", "sample", {"seed": 1})
    computed = []

    def compute():
        computed.append(1)
        time.sleep(0.2)  # everyone else arrives while this runs
        return torch.ones(10)

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(lambda _: cache.fetch(key, compute), range(64)))
    assert len(computed) == 1
    assert all(torch.equal(v, torch.ones(10)) for v, _ in results)
