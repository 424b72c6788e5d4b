"""The deep EBM: Langevin steps keep shapes and ranges, clamped Langevin keeps known pixels,
seeded chains repeat, and the training step moves energies the right way."""

from __future__ import annotations

import pytest
import torch

from engine.errors import CapabilityError
from engine.models import build_model
from engine.ops.chains import run_chain
from engine.ops.inpaint import inpaint, mask_preset
from engine.train.ebm import EBMObjective


@pytest.fixture
def ebm():
    torch.manual_seed(0)
    return build_model("ebm", {"width": 4, "steps": 4, "step_size": 5.0}).eval()


def test_langevin_steps_keep_shapes_and_ranges(ebm):
    chain = run_chain(ebm.trajectory(3, generator=torch.Generator().manual_seed(0)))
    assert chain.frames.shape == (4, 3, 1, 28, 28) and chain.labels[-1].endswith("4/4")
    assert not torch.equal(chain.frames[0], chain.frames[-1])  # the chain moves
    x = ebm.sample(5, generator=torch.Generator().manual_seed(0), steps=2)
    assert x.shape == (5, 1, 28, 28) and x.dtype == torch.float32
    assert x.min() >= 0 and x.max() <= 1
    start = torch.ones(2, 1, 28, 28)
    x = ebm.langevin_step(start, generator=torch.Generator(), noise=0.5)
    assert x.shape == start.shape and x.min() >= 0 and x.max() <= 1


def test_same_seed_same_samples(ebm):
    a, b, c = (ebm.sample(3, generator=torch.Generator().manual_seed(s)) for s in (0, 0, 1))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_clamped_langevin_keeps_known_pixels_exactly(ebm):
    x = torch.rand(2, 1, 28, 28)
    known = mask_preset("centre square", (1, 28, 28))
    frames = []
    out = inpaint(
        ebm,
        x,
        known,
        samples=3,
        generator=torch.Generator().manual_seed(0),
        callback=lambda step, frame: frames.append(frame),
    )
    assert out.method == "conditional" and out.completions.shape == (2, 3, 1, 28, 28)
    kept = known.expand_as(x)
    for j in range(3):
        assert torch.equal(out.completions[:, j][kept], x[kept])
    assert (out.spread[~kept] > 0).any() and frames


def test_energy_and_no_latent(ebm):
    e = ebm.energy(torch.rand(4, 1, 28, 28))
    assert e.shape == (4,) and torch.isfinite(e).all()
    for call in (lambda: ebm.decode(torch.zeros(1)), lambda: ebm.sample_latent(1)):
        with pytest.raises(CapabilityError):
            call()
    with pytest.raises(CapabilityError):
        ebm.encode(torch.zeros(1, 1, 28, 28))


def test_training_steps_lower_data_energy_below_chain_energy(ebm):
    torch.manual_seed(0)
    model = build_model("ebm", {"width": 8})
    objective = EBMObjective(model, lr=1e-3, wrap=None, buffer_size=64, steps=5, val_samples=4)
    objective.judge = lambda: None  # the energy-gap fallback; no classifier needed
    g = torch.Generator().manual_seed(0)
    x = torch.zeros(16, 1, 28, 28)
    x[:, :, 8:20, 12:16] = 1  # one bar: the "data"
    for _ in range(15):
        logs = objective.step(x, None, epoch=0.0, generator=g)
    assert logs["e_pos"] < logs["e_neg"]
    state = objective.state_dict()
    assert state["buffer"].shape == (64, 1, 28, 28) and state["steps"] == 15
    again = EBMObjective(model, lr=1e-3, wrap=None, buffer_size=64)
    again.load_state_dict(state)
    assert torch.equal(again.buffer, objective.buffer) and again.steps == 15
    val = objective.validate(model.eval(), x, None, torch.Generator().manual_seed(1))
    assert val["loss"] == pytest.approx(val["e_val"] - val["e_samples"], abs=1e-3)
