"""The diffusion kind on a tiny random U-Net: DDIM decode, inversion, trajectory, RePaint."""

import os

import pytest
import torch

from engine.checkpoint import load, save_checkpoint
from engine.models import build_model
from engine.ops.chains import run_chain
from engine.ops.inpaint import inpaint, mask_preset
from engine.train.diffusion import DiffusionObjective

TINY = {"widths": [8, 16], "attention": [False, True], "norm_groups": 4, "steps": 5}


@pytest.fixture(scope="module")
def model():
    with torch.random.fork_rng():
        torch.manual_seed(0)
        m = build_model("diffusion", TINY)
        with torch.no_grad():  # diffusers zero-initialises nothing we rely on, but make it lively
            for p in m.parameters():
                p.add_(0.02 * torch.randn_like(p))
    return m.eval()


def _images(n=3, seed=0):
    return torch.rand(n, 1, 28, 28, generator=torch.Generator().manual_seed(seed))


def test_offline_and_shapes(model):
    assert os.environ["HF_HUB_OFFLINE"] == "1"
    assert model.latent_shape == (1, 32, 32)
    x = model.sample(4, generator=torch.Generator().manual_seed(1))
    assert x.shape == (4, 1, 28, 28) and x.dtype == torch.float32
    assert 0 <= x.min() and x.max() <= 1
    again = model.sample(4, generator=torch.Generator().manual_seed(1))
    other = model.sample(4, generator=torch.Generator().manual_seed(2))
    assert torch.equal(x, again) and not torch.equal(x, other)


def test_decode_steps_are_adjustable_and_reported(model):
    z = model.sample_latent(2, generator=torch.Generator().manual_seed(0))
    seen = []
    model.decode(z, steps=3, progress=lambda i, n: seen.append((i, n)))
    assert seen == [(1, 3), (2, 3), (3, 3)]
    labels = [s.label for s in model.trajectory(1, z=z[:1], steps=4)]
    assert labels == ["t = 750", "t = 500", "t = 250", "t = 0"]


def test_trajectory_ends_at_the_sample_of_the_same_seed(model):
    chain = run_chain(model.trajectory(2, generator=torch.Generator().manual_seed(3)))
    assert chain.frames.shape == (5, 2, 1, 28, 28) and chain.guesses.shape == chain.frames.shape
    assert chain.labels[0] == "t = 800" and chain.labels[-1] == "t = 0"
    sample = model.sample(2, generator=torch.Generator().manual_seed(3))
    assert torch.equal(chain.final, sample)
    assert torch.equal(chain.guesses[-1], chain.frames[-1])  # the last step lands on its x_0


def test_inversion_schedule_mirrors_ddim(model):
    ddim, inverse = model.scheduler("ddim"), model.scheduler("ddim_inverse")
    ddim.set_timesteps(10)
    inverse.set_timesteps(10)
    assert torch.equal(inverse.timesteps.flip(0), ddim.timesteps)


def test_encode_and_decode_are_exact_inverses_when_the_noise_guess_is_smooth():
    """With a constant noise prediction every DDIM step is exact, so inversion must return the
    very image: what is left is only the schedules' bookkeeping, which must mirror."""
    m = build_model("diffusion", TINY).eval()
    with torch.no_grad():
        m.unet.conv_out.weight.zero_()
        m.unet.conv_out.bias.fill_(0.3)
    x = _images(2) * 0.8 + 0.1
    for steps in (1, 7, 20):
        z = m.encode(x, steps=steps)
        assert z.shape == (2, *m.latent_shape)
        assert (m.decode(z, steps=steps) - x).abs().max() < 1e-5
    assert (m.decode(m.encode(x, steps=7), steps=20) - x).abs().max() > 1e-3


def test_repaint_keeps_known_pixels_bit_identical(model):
    x = _images(2)
    known = mask_preset("bottom half", (1, 28, 28))
    g = torch.Generator().manual_seed(0)
    result = inpaint(model, x, known, samples=3, generator=g, steps=10, jump_length=2, resamples=2)
    assert result.method == "conditional" and result.completions.shape == (2, 3, 1, 28, 28)
    kept = known.expand(2, 3, 1, 28, 28)
    assert torch.equal(result.completions[kept], x.unsqueeze(1).expand_as(kept)[kept])
    assert result.spread[:, :, 14:].sum() > 0  # the K completions differ where hidden
    again = inpaint(
        model,
        x,
        known,
        samples=3,
        generator=torch.Generator().manual_seed(0),
        steps=10,
        jump_length=2,
        resamples=2,
    )
    assert torch.equal(result.completions, again.completions)


def test_checkpoint_round_trip(model, tmp_path):
    save_checkpoint(model, tmp_path / "ddpm", card={"dataset": "mnist"})
    back = load(tmp_path / "ddpm", device="cpu")
    z = model.sample_latent(2, generator=torch.Generator().manual_seed(0))
    assert back.kind == "diffusion" and torch.equal(back.decode(z), model.decode(z))


def test_objective_validation_compares_epochs(model):
    m = build_model("diffusion", TINY)
    objective = DiffusionObjective(m, lr=1e-3, wrap=lambda net: net)
    x = _images(8)
    v1 = objective.validate(m, x, None, torch.Generator().manual_seed(5))
    v2 = objective.validate(m, x, None, torch.Generator().manual_seed(5))
    assert v1 == v2
    logs = objective.step(x, None, epoch=0.0, generator=torch.Generator().manual_seed(1))
    assert logs["loss"] > 0
    assert objective.validate(m, x, None, torch.Generator().manual_seed(5)) != v1


def test_surprise_is_seeded_and_ranks_through_the_reference(model):
    from engine.ops.anomaly import anomaly_score, reference_scores, score_unit

    x = _images(4)
    a = anomaly_score(model, x, generator=torch.Generator().manual_seed(0))
    b = anomaly_score(model, x, generator=torch.Generator().manual_seed(0))
    assert a.shape == (4,) and torch.equal(a, b) and (a > 0).all()
    assert score_unit(model).startswith("denoising error")
    ref = reference_scores(model, x, dataset="mnist")
    assert ref.percentile(ref.scores.float()).tolist() == [0.0, 25.0, 50.0, 75.0]
