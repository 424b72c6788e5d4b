"""Reconstruction: encoders where a model has one, batched latent optimisation where it has not."""

import numpy as np
import pytest
import torch

from engine.errors import EngineError
from engine.ops.reconstruct import invert, reconstruct
from tests.conftest import tiny_model


def test_vae_reconstruction_is_deterministic_per_image_with_its_error(digits8bit):
    """The posterior mean, not a draw: no seed changes it, an image's reconstruction does not
    depend on the batch it came in, and the error is each image's mean squared pixel error."""
    vae = tiny_model("vae")
    out = reconstruct(vae, digits8bit, generator=torch.Generator().manual_seed(0))
    again = reconstruct(vae, digits8bit, generator=torch.Generator().manual_seed(1))
    assert out.method == "encode" and torch.equal(out.x_hat, again.x_hat)
    alone = reconstruct(vae, digits8bit[5:6])
    assert torch.allclose(alone.x_hat[0], out.x_hat[5], atol=1e-6)
    drawn = vae.decode(vae.posterior_sample(digits8bit, generator=torch.Generator().manual_seed(0)))
    assert not torch.allclose(drawn, out.x_hat, atol=1e-3)  # a posterior draw would differ
    a, b = out.x_hat.detach().numpy(), digits8bit.numpy()
    expected = [((a[i] - b[i]) ** 2).mean() for i in range(8)]  # by hand, image by image
    assert out.mse.shape == (8,) and np.allclose(out.mse.numpy(), expected, rtol=1e-5)


def test_flow_round_trip_is_exact_to_the_8_bit_grid(digits8bit):
    out = reconstruct(tiny_model("flow"), digits8bit)
    assert out.method == "exact"
    assert out.max_error.max().item() < 0.5 / 255


def _contrasty_gan():
    """A tiny GAN whose images vary visibly with z (random tiny weights give near-flat gray)."""
    gan = tiny_model("gan")
    with torch.no_grad():
        gan.generator.body[-2].weight.mul_(30)  # the last convolution, before tanh
    return gan


def test_gan_inversion_finds_a_latent_that_redraws_the_image():
    gan = _contrasty_gan()
    z_true = gan.sample_latent(3, generator=torch.Generator().manual_seed(1))
    x = gan.decode(z_true).detach()
    start = gan.sample(3, generator=torch.Generator().manual_seed(2))
    before = (start - x).pow(2).flatten(1).mean(1)
    frames = []
    out = reconstruct(
        gan,
        x,
        generator=torch.Generator().manual_seed(2),
        restarts=4,
        steps=60,
        callback=lambda step, x_hat: frames.append((step, x_hat.shape)),
    )
    assert out.method == "inversion" and out.z.shape == z_true.shape
    assert (out.mse < before / 4).all()
    assert frames[0] == (10, x.shape) and frames[-1][0] == 60


def test_the_best_restart_wins_and_a_seed_repeats_it():
    gan = _contrasty_gan()
    x = gan.sample(2, generator=torch.Generator().manual_seed(5))
    z1, loss1 = invert(gan, x, restarts=1, steps=20, generator=torch.Generator().manual_seed(0))
    z6, loss6 = invert(gan, x, restarts=6, steps=20, generator=torch.Generator().manual_seed(0))
    z6b, _ = invert(gan, x, restarts=6, steps=20, generator=torch.Generator().manual_seed(0))
    assert (loss6 <= loss1 + 1e-6).all()  # the first restart is the single-restart run
    assert torch.equal(z6, z6b)


def test_images_of_the_wrong_shape_are_refused():
    with pytest.raises(EngineError, match="do not fit"):
        reconstruct(tiny_model("vae"), torch.zeros(1, 3, 28, 28))
