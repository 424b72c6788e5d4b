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


def test_vae_encode_is_the_centre_of_its_posterior_draws(digits8bit):
    """``encode`` is deterministic and sits at the mean of many draws from q(z | x)."""
    model = tiny_model("vae")
    z = model.encode(digits8bit)
    assert torch.equal(z, model.encode(digits8bit))
    g = torch.Generator().manual_seed(0)
    n = 2000
    draws = model.posterior_sample(digits8bit.repeat(n, 1, 1, 1), generator=g).view(n, *z.shape)
    assert draws.std(0).min() > 0.01  # the draws do spread
    assert torch.allclose(draws.mean(0), z, atol=4 * draws.std(0).max().item() / n**0.5)


@pytest.mark.parametrize(("channels", "size", "dims"), [(1, 28, 784), (3, 32, 3072)])
def test_flow_bits_per_dim_counts_every_pixel_and_channel(channels, size, dims):
    """-log2 P(x) per dimension, the dimensions counted by hand for each image shape."""
    model = tiny_model("flow", channels=channels, image_size=size)
    x = torch.randint(0, 256, (4, channels, size, size), generator=torch.Generator().manual_seed(0))
    x = x.float() / 255
    log_p = model.log_prob(x, generator=torch.Generator().manual_seed(0))
    bpd = model.bits_per_dim(x, generator=torch.Generator().manual_seed(0))
    assert torch.isfinite(log_p).all() and (log_p < 0).all()  # a discrete image's P(x) < 1
    assert torch.allclose(bpd, -log_p / (dims * math.log(2)))


@pytest.mark.parametrize(("channels", "size"), SHAPES)
def test_gan_discriminator_scores_every_image_shape(channels, size):
    """The training-only discriminator is built for the same shapes as the generator."""
    from engine.models.gan import DCGANDiscriminator

    gan = tiny_model("gan", channels=channels, image_size=size)
    disc = DCGANDiscriminator(gan.config)
    fake = gan.decode(gan.sample_latent(2, generator=torch.Generator().manual_seed(0)))
    scores = disc(fake)
    assert scores.shape == (2,) and torch.isfinite(scores).all()
