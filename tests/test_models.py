"""The contract every generative model kind keeps (one test, parametrised over the kinds)."""

import math

import pytest
import torch

from engine import CapabilityError, EngineError, GenerativeModel
from tests.conftest import tiny_model

KINDS = ["gan", "vae", "flow"]
SHAPES = [(1, 28), (3, 32), (1, 64)]
MISSING = {
    "gan": ["encode", "posterior_sample", "log_prob", "elbo", "bits_per_dim"],
    "vae": ["log_prob", "bits_per_dim"],
    "flow": ["elbo", "iwae_log_likelihood", "posterior_sample"],
}


def _call(model, name, x):
    if name == "iwae_log_likelihood":
        return model.iwae_log_likelihood(x, k=2)
    return getattr(model, name)(x)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(("channels", "size"), SHAPES)
def test_shapes_range_and_latents(kind, channels, size):
    model = tiny_model(kind, channels=channels, image_size=size)
    assert isinstance(model, GenerativeModel) and model.kind == kind
    assert model.image_shape == (channels, size, size)
    z = model.sample_latent(3, generator=torch.Generator().manual_seed(0))
    assert z.shape == (3, *model.latent_shape)
    x = model.decode(z)
    assert x.shape == (3, channels, size, size) and x.dtype == torch.float32
    assert x.min() >= 0 and x.max() <= 1
    if model.has("encode"):
        assert model.encode(x).shape == z.shape


@pytest.mark.parametrize("kind", KINDS)
def test_same_seed_same_images_other_seed_other_images(kind):
    model = tiny_model(kind)

    def draw(seed):
        return model.sample(4, generator=torch.Generator().manual_seed(seed))

    assert torch.equal(draw(1), draw(1))
    assert not torch.allclose(draw(1), draw(2))


@pytest.mark.parametrize("kind", KINDS)
def test_temperature_scales_latents_and_bad_values_are_refused(kind):
    model = tiny_model(kind)
    z1 = model.sample_latent(16, generator=torch.Generator().manual_seed(0))
    z_half = model.sample_latent(16, generator=torch.Generator().manual_seed(0), temperature=0.5)
    assert torch.allclose(z_half, z1 * 0.5)
    with pytest.raises(EngineError, match="temperature"):
        model.sample_latent(2, temperature=0)
    with pytest.raises(EngineError, match="at least 1"):
        model.sample_latent(0)


@pytest.mark.parametrize("kind", KINDS)
def test_missing_capability_raises_the_named_error(kind, digits8bit):
    model = tiny_model(kind)
    for name in MISSING[kind]:
        with pytest.raises(CapabilityError, match=kind):
            _call(model, name, digits8bit)


def test_capabilities_say_what_each_kind_offers():
    caps = {kind: tiny_model(kind).capabilities for kind in KINDS}
    assert "encode" not in caps["gan"] and "encode" in caps["vae"] and "encode" in caps["flow"]
    assert "log_prob" in caps["flow"] and "log_prob" not in caps["vae"]
    assert "elbo" in caps["vae"] and "elbo" not in caps["flow"]


def test_vae_iwae_bound_is_at_least_the_elbo(digits8bit):
    model = tiny_model("vae")
    x = torch.bernoulli(digits8bit, generator=torch.Generator().manual_seed(0))
    g = torch.Generator().manual_seed(1)
    elbo = torch.stack([model.elbo(x, generator=g) for _ in range(20)]).mean(0)
    iwae = model.iwae_log_likelihood(x, k=200, generator=g)
    assert (iwae >= elbo - 0.5).all()
    assert model.iwae_log_likelihood(x, k=7, generator=g, chunk=3).shape == (8,)


def test_vae_encode_is_the_posterior_mean(digits8bit):
    model = tiny_model("vae")
    mu, _ = model.posterior(digits8bit)
    assert torch.equal(model.encode(digits8bit), mu)


def test_flow_bits_per_dim_matches_log_prob(digits8bit):
    model = tiny_model("flow")
    g = torch.Generator().manual_seed(0)
    log_p = model.log_prob(digits8bit, generator=torch.Generator().manual_seed(0))
    bpd = model.bits_per_dim(digits8bit, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(bpd, -log_p / (784 * math.log(2)))
    assert torch.isfinite(model.log_prob(digits8bit, generator=g)).all()


@pytest.mark.parametrize(("channels", "size"), SHAPES)
def test_gan_discriminator_scores_every_image_shape(channels, size):
    """The training-only discriminator is built for the same shapes as the generator."""
    from engine.models.gan import DCGANDiscriminator

    gan = tiny_model("gan", channels=channels, image_size=size)
    disc = DCGANDiscriminator(gan.config)
    fake = gan.decode(gan.sample_latent(2, generator=torch.Generator().manual_seed(0)))
    scores = disc(fake)
    assert scores.shape == (2,) and torch.isfinite(scores).all()
