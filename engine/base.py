"""The one interface every generative model in the engine offers.

A model is an ``nn.Module`` built from a ``<Class>Config`` dataclass. Its surface is the same for
every kind (see ``shared/STYLE.md``); what a kind cannot do is absent from ``capabilities`` and
raises :class:`~engine.errors.CapabilityError`:

============  ==================  ========================  ======================
member        GAN                 VAE                       flow
============  ==================  ========================  ======================
sample        N(0, I) latents     N(0, I) latents           base N(0, I), image-shaped
decode(z)     G(z)                decoder mean              exact inverse
encode(x)     -- (inversion op)   posterior mean            exact forward
log_prob(x)   --                  --                        exact (nats / image)
elbo(x)       --                  ELBO, IWAE bound          --
============  ==================  ========================  ======================

A fourth kind, the VAEAC (``engine.models.vaeac``), is built for inpainting alone: its only
capability is ``complete(x, known, k)``, k draws of the hidden pixels given the known ones.

Images at every boundary are float32 ``(B, C, H, W)`` in [0, 1]. Randomness enters only through a
``torch.Generator``.
"""

from __future__ import annotations

import dataclasses
import math

import torch
from torch import nn

from engine.errors import CapabilityError, EngineError

IMAGE_SIZES = (28, 32, 64)
CHANNELS = (1, 3)


class GenerativeModel(nn.Module):
    """Base class: subclasses set ``kind``, ``capabilities`` and ``config_class``."""

    kind: str = ""
    capabilities: frozenset[str] = frozenset()
    config_class: type = object

    def __init__(self, config) -> None:
        super().__init__()
        check_image_config(config)
        self.config = config

    # -- shapes ---------------------------------------------------------------------------------
    @property
    def image_shape(self) -> tuple[int, int, int]:
        c = self.config
        return (c.channels, c.image_size, c.image_size)

    @property
    def latent_shape(self) -> tuple[int, ...]:
        raise NotImplementedError

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def has(self, capability: str) -> bool:
        return capability in self.capabilities

    def _require(self, capability: str) -> None:
        if capability not in self.capabilities:
            raise CapabilityError(f"a {self.kind} model has no {capability!r} capability")

    # -- the interface ----------------------------------------------------------------------------
    def sample_latent(
        self, n: int, *, generator: torch.Generator | None = None, temperature: float = 1.0
    ) -> torch.Tensor:
        """``n`` latents from the prior N(0, I), scaled by ``temperature`` (truncation for GANs)."""
        if n < 1:
            raise EngineError(f"number of samples must be at least 1, not {n}")
        if not temperature > 0:
            raise EngineError(f"temperature must be positive, not {temperature}")
        # Drawn on the CPU so a seed gives the same latents on every device.
        z = torch.randn((n, *self.latent_shape), generator=generator)
        return (z * temperature).to(self.device)

    @torch.no_grad()
    def sample(
        self, n: int, *, generator: torch.Generator | None = None, temperature: float = 1.0
    ) -> torch.Tensor:
        """``n`` images ``(n, C, H, W)`` in [0, 1]."""
        return self.decode(self.sample_latent(n, generator=generator, temperature=temperature))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Latents -> images ``(B, C, H, W)`` in [0, 1]."""
        raise NotImplementedError

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Images in [0, 1] -> latents (VAE: posterior mean; flow: exact forward)."""
        self._require("encode")
        raise NotImplementedError

    def posterior_sample(self, x: torch.Tensor, *, generator: torch.Generator | None = None):
        """One latent drawn from q(z | x) per image (VAEs)."""
        self._require("posterior_sample")
        raise NotImplementedError

    def log_prob(
        self, x: torch.Tensor, *, generator: torch.Generator | None = None, dequantize: bool = True
    ):
        """Exact log-likelihood in nats per image of 8-bit images ``x`` (flows)."""
        self._require("log_prob")
        raise NotImplementedError

    def elbo(self, x: torch.Tensor, *, generator: torch.Generator | None = None):
        """Evidence lower bound in nats per image (VAEs)."""
        self._require("elbo")
        raise NotImplementedError

    def iwae_log_likelihood(self, x: torch.Tensor, *, k: int, generator=None):
        """Importance-weighted log-likelihood estimate with ``k`` samples (VAEs)."""
        self._require("elbo")
        raise NotImplementedError

    def bits_per_dim(self, x: torch.Tensor, *, generator: torch.Generator | None = None):
        """``-log p(x) / (D ln 2)`` per image for 8-bit data (flows)."""
        self._require("log_prob")
        return -self.log_prob(x, generator=generator) / (math.prod(self.image_shape) * math.log(2))

    def extra_repr(self) -> str:
        return f"kind={self.kind}, image_shape={self.image_shape}, latent_shape={self.latent_shape}"


class LatentFreeModel(GenerativeModel):
    """Base of the kinds that have no latent code (PixelCNN, RBM, EBM): they sample through their
    own chain (``sample`` / ``trajectory``), and every latent member raises CapabilityError."""

    latent_note = ""  # why, when there is more to say than "no latent code"

    def _no_latent(self, use: str = "") -> CapabilityError:
        note = f" ({self.latent_note})" if self.latent_note else ""
        return CapabilityError(f"the {self.kind} model has no latent code{note}{use}")

    @property
    def latent_shape(self) -> tuple[int, ...]:
        raise self._no_latent()

    def sample_latent(self, n, *, generator=None, temperature=1.0):
        raise self._no_latent(": use sample or trajectory")

    def decode(self, z):
        raise CapabilityError(f"the {self.kind} model has no 'decode' capability (no latent code)")


def check_image_config(config) -> None:
    """Reject image shapes the model families are not built for."""
    if config.channels not in CHANNELS:
        raise EngineError(f"channels must be one of {CHANNELS}, not {config.channels}")
    if config.image_size not in IMAGE_SIZES:
        raise EngineError(f"image_size must be one of {IMAGE_SIZES}, not {config.image_size}")


def config_from_dict(config_class: type, values: dict):
    """Build a config dataclass, naming unknown or badly typed fields."""
    fields = {f.name: f for f in dataclasses.fields(config_class)}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise EngineError(f"unknown {config_class.__name__} field(s): {', '.join(unknown)}")
    for name, value in values.items():
        expected = type(getattr(config_class(), name))
        ok = isinstance(value, expected) or (expected is float and isinstance(value, int))
        if not ok or (expected is int and isinstance(value, bool)):
            raise EngineError(f"{config_class.__name__}.{name} must be {expected.__name__}")
    return config_class(**values)
