"""The RBM: AIS against exact enumeration, clamped Gibbs, seeded chains, shapes and ranges."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from engine.errors import CapabilityError
from engine.metrics.ais import ais_log_partition, default_betas, exact_log_partition
from engine.models import build_model
from engine.ops.chains import run_chain
from engine.ops.inpaint import inpaint, mask_preset


@pytest.fixture
def rbm():
    torch.manual_seed(0)
    model = build_model("rbm", {"hidden": 10, "steps": 5, "complete_steps": 5}).eval()
    with torch.no_grad():  # strong enough weights that the chain and AIS have work to do
        model.W.normal_(0, 0.3)
        model.b_v.normal_(-1, 1)
        model.b_h.normal_(0, 1)
    return model.requires_grad_(False)


def test_ais_agrees_with_exact_enumeration_on_a_tiny_rbm():
    g = torch.Generator().manual_seed(0)
    tiny = SimpleNamespace(
        W=torch.randn(4, 8, generator=g) * 1.5,
        b_v=torch.randn(8, generator=g),
        b_h=torch.randn(4, generator=g),
    )
    exact = exact_log_partition(tiny)
    est = ais_log_partition(tiny, runs=200, betas=default_betas(1500), generator=g)
    assert abs(est.log_z - exact) < 0.05
    assert est.log_z_low <= est.log_z <= est.log_z_high


def test_ais_agrees_with_enumeration_over_hidden_units_of_a_28x28_rbm(rbm):
    exact = exact_log_partition(rbm)  # 2^10 hidden states
    est = ais_log_partition(
        rbm, runs=100, betas=default_betas(1500), generator=torch.Generator().manual_seed(1)
    )
    assert abs(est.log_z - exact) < 0.1


def test_exact_enumeration_is_the_same_from_either_layer():
    g = torch.Generator().manual_seed(2)
    a = SimpleNamespace(
        W=torch.randn(3, 6, generator=g),
        b_v=torch.randn(6, generator=g),
        b_h=torch.randn(3, generator=g),
    )
    b = SimpleNamespace(W=a.W.T.contiguous(), b_v=a.b_h, b_h=a.b_v)  # the same RBM, layers swapped
    assert exact_log_partition(a) == pytest.approx(exact_log_partition(b), abs=1e-9)


def test_same_seed_same_chain_and_samples_in_range(rbm):
    def chain(seed):
        return run_chain(rbm.trajectory(3, generator=torch.Generator().manual_seed(seed)))

    a, b, c = chain(0), chain(0), chain(1)
    assert a.frames.shape == (5, 3, 1, 28, 28)
    assert torch.equal(a.frames, b.frames) and not torch.equal(a.frames, c.frames)
    x = rbm.sample(4, generator=torch.Generator().manual_seed(0), steps=3)
    assert x.shape == (4, 1, 28, 28) and x.dtype == torch.float32
    assert 0 <= x.min() and x.max() <= 1


def test_chain_from_a_given_image(rbm):
    start = torch.zeros(2, 1, 28, 28)
    start[:, :, 10:18, 12:16] = 1
    steps = list(rbm.trajectory(2, steps=4, start=start, generator=torch.Generator()))
    assert [s.step for s in steps] == [1, 2, 3, 4] and steps[-1].x.shape == start.shape
    assert rbm.has("trajectory_start")


def test_clamped_gibbs_keeps_known_pixels_exactly(rbm):
    x = torch.rand(2, 1, 28, 28)
    known = mask_preset("bottom half", (1, 28, 28))
    out = inpaint(rbm, x, known, samples=3, generator=torch.Generator().manual_seed(0))
    assert out.method == "conditional" and out.completions.shape == (2, 3, 1, 28, 28)
    k = known.expand_as(x)
    for j in range(3):
        assert torch.equal(out.completions[:, j][k], x[k])
    assert out.completions.min() >= 0 and out.completions.max() <= 1
    assert (out.spread[~k] > 0).any()  # the hidden half differs between draws


def test_free_energy_is_the_exact_surprise_of_binary_images(rbm):
    log_z = exact_log_partition(rbm)
    v = torch.bernoulli(torch.full((3, 1, 28, 28), 0.2), generator=torch.Generator())
    f = rbm.free_energy(v)
    h = ((torch.arange(2**10).unsqueeze(1) >> torch.arange(10)) & 1).float()
    # brute force over the hidden states: -log sum_h exp(-E(v, h))
    e = -(v.flatten(1) @ rbm.b_v).unsqueeze(1) - h @ rbm.b_h - (v.flatten(1) @ rbm.W.T) @ h.T
    assert torch.allclose(f, -torch.logsumexp(-e, 1), atol=1e-3)
    assert rbm.has("energy") and (-f - log_z < 0).all()


def test_no_latent_code(rbm):
    for call in (
        lambda: rbm.decode(torch.zeros(1, 10)),
        lambda: rbm.sample_latent(1),
        lambda: rbm.latent_shape,
        lambda: rbm.encode(torch.zeros(1, 1, 28, 28)),
        lambda: rbm.log_prob(torch.zeros(1, 1, 28, 28)),
    ):
        with pytest.raises(CapabilityError):
            call()
    assert "decode" not in rbm.capabilities and "kind=rbm" in repr(rbm)


def test_filters_are_images_in_range(rbm):
    f = rbm.filters(100)
    assert f.shape == (10, 1, 28, 28) and f.min() >= 0 and f.max() <= 1


def test_a_long_chain_keeps_about_max_frames_and_its_end(rbm):
    gen = torch.Generator().manual_seed(0)
    chain = run_chain(rbm.trajectory(2, steps=100, generator=gen), max_frames=10)
    assert (
        len(chain.labels) == 11 and chain.labels[-1] == "Gibbs sweep 100/100"
    )  # 1, 11, .., 91, 100
    again = run_chain(rbm.trajectory(2, steps=100, generator=torch.Generator().manual_seed(0)))
    assert torch.equal(chain.final, again.final)  # keeping fewer frames changes no sample


def test_evaluate_reports_the_test_log_likelihood_that_exact_log_z_gives(rbm):
    from engine.data import load_dataset
    from engine.evaluate import evaluate

    out = evaluate(rbm, "mnist", seed=0, progress=False)
    x = load_dataset("mnist", "test").float()
    v = torch.bernoulli(x, generator=torch.Generator().manual_seed(0))  # as evaluate binarizes
    exact = (-rbm.free_energy(v).double() - exact_log_partition(rbm)).mean().item()
    assert out["test_ll_nats"] == pytest.approx(exact, abs=0.2)
    low, high = out["test_ll_band_nats"]
    assert low <= out["test_ll_nats"] <= high and out["test_images"] == 500
