"""Convolutional VAE with a Bernoulli likelihood (Kingma & Welling 2014; beta-VAE, Higgins 2017).

Trained on dynamically binarized images so its likelihood is comparable with the literature; the
importance-weighted estimate (Burda et al. 2016) gives test NLL in nats.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from engine.base import GenerativeModel


@dataclass
class ConvVAEConfig:
    channels: int = 1
    image_size: int = 28
    latent_dim: int = 32
    width: int = 32  # channels of the first conv layer; doubled at each downsampling
    hidden: int = 512
    beta: float = 1.0  # weight of the KL term (beta-VAE when > 1)


def _num_down(image_size: int) -> int:
    return 3 if image_size >= 64 else 2  # 28 -> 7, 32 -> 8, 64 -> 8


class ConvVAE(GenerativeModel):
    kind = "vae"
    capabilities = frozenset({"sample", "decode", "encode", "posterior_sample", "elbo"})
    config_class = ConvVAEConfig

    def __init__(self, config: ConvVAEConfig) -> None:
        super().__init__(config)
        c, w, n = config.channels, config.width, _num_down(config.image_size)
        self.side = config.image_size // 2**n
        chans = [w * 2**i for i in range(n)]  # e.g. [32, 64]
        layers, prev = [], c
        for ch in chans:
            layers += [nn.Conv2d(prev, ch, 3, padding=1), nn.ELU()]
            layers += [nn.Conv2d(ch, ch, 4, stride=2, padding=1), nn.ELU()]
            prev = ch
        self.top = prev
        flat = prev * self.side**2
        self.encoder = nn.Sequential(
            *layers, nn.Flatten(), nn.Linear(flat, config.hidden), nn.ELU()
        )
        self.to_stats = nn.Linear(config.hidden, 2 * config.latent_dim)
        self.from_z = nn.Sequential(
            nn.Linear(config.latent_dim, config.hidden),
            nn.ELU(),
            nn.Linear(config.hidden, flat),
            nn.ELU(),
        )
        layers = []
        for ch in reversed(chans):
            nxt = max(ch // 2, w)
            layers += [nn.ConvTranspose2d(ch, nxt, 4, stride=2, padding=1), nn.ELU()]
            layers += [nn.Conv2d(nxt, nxt, 3, padding=1), nn.ELU()]
        self.decoder = nn.Sequential(*layers, nn.Conv2d(w, c, 3, padding=1))

    @property
    def latent_shape(self) -> tuple[int, ...]:
        return (self.config.latent_dim,)

    # -- networks ---------------------------------------------------------------------------------
    def posterior(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """q(z|x) as (mean, log-variance), each (B, D)."""
        mu, logvar = self.to_stats(self.encoder(x)).chunk(2, dim=1)
        return mu, logvar.clamp(-12.0, 8.0)

    def logits(self, z: torch.Tensor) -> torch.Tensor:
        h = self.from_z(z).view(-1, self.top, self.side, self.side)
        return self.decoder(h)  # (B, C, H, W) Bernoulli logits

    # -- the interface ----------------------------------------------------------------------------
    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.logits(z))

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.posterior(x)[0]

    def posterior_sample(self, x: torch.Tensor, *, generator: torch.Generator | None = None):
        mu, logvar = self.posterior(x)
        eps = torch.randn(mu.shape, generator=generator, device="cpu").to(mu.device)
        return mu + eps * (0.5 * logvar).exp()

    def elbo_terms(self, x: torch.Tensor, *, generator: torch.Generator | None = None):
        """One-sample reconstruction log-likelihood and KL, each (B,) in nats."""
        mu, logvar = self.posterior(x)
        eps = torch.randn(mu.shape, generator=generator, device="cpu").to(mu.device)
        z = mu + eps * (0.5 * logvar).exp()  # as posterior_sample, keeping mu and logvar for KL
        rec = -F.binary_cross_entropy_with_logits(self.logits(z), x, reduction="none")
        kl = 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(1)
        return rec.flatten(1).sum(1), kl

    def elbo(self, x: torch.Tensor, *, generator: torch.Generator | None = None) -> torch.Tensor:
        rec, kl = self.elbo_terms(x, generator=generator)
        return rec - kl

    @torch.no_grad()
    def iwae_log_likelihood(
        self, x: torch.Tensor, *, k: int = 1000, generator=None, chunk: int = 250
    ) -> torch.Tensor:
        """log p(x) estimated with ``k`` importance samples from q(z|x), (B,) nats."""
        mu, logvar = self.posterior(x)
        std = (0.5 * logvar).exp()
        log_w = []
        for start in range(0, k, chunk):
            m = min(chunk, k - start)
            eps = torch.randn((m, *mu.shape), generator=generator).to(mu.device)  # (m, B, D)
            z = mu + eps * std
            logits = self.logits(z.flatten(0, 1))  # (m*B, C, H, W)
            target = x.unsqueeze(0).expand(m, *x.shape).flatten(0, 1)
            log_px = -F.binary_cross_entropy_with_logits(logits, target, reduction="none")
            log_px = log_px.flatten(1).sum(1).view(m, -1)  # (m, B)
            log_pz = -0.5 * (z.pow(2) + math.log(2 * math.pi)).sum(-1)
            log_qz = -0.5 * (eps.pow(2) + math.log(2 * math.pi) + logvar).sum(-1)
            log_w.append(log_px + log_pz - log_qz)
        return torch.logsumexp(torch.cat(log_w), dim=0) - math.log(k)
