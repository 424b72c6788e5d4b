"""VAE with arbitrary conditioning (VAEAC; Ivanov, Figurnov & Vetrov 2019), for inpainting.

A conditional VAE over the *missing* pixels given the known ones, trained on random masks:

- prior network ``p(z | x_known, mask)``: sees the masked image and the mask; its features at
  three scales also feed the decoder (U-Net skips), so the known context reaches it sharply;
- proposal network ``q(z | x, mask)``: sees the whole image and the mask (training only);
- decoder ``p(x_missing | z, x_known, mask)``: Bernoulli means (grey levels) per pixel.

Loss: ``-E_q log p(x_missing | z, ...) + KL(q || p)`` plus the paper's weak Gaussian prior on the
prior network's means. A completion is ``z ~ p(z | x_known, mask)`` decoded: one forward pass,
so K completions cost one batch. Only ``complete`` is offered: the model generates nothing
without context worth showing and its latent has no meaning outside a given mask.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from engine.base import GenerativeModel
from engine.errors import EngineError

PRIOR_MEAN_SCALE = 1e4  # sigma of the Gaussian regulariser on the prior network's means


@dataclass
class VAEACConfig:
    channels: int = 1
    image_size: int = 28
    latent_dim: int = 32
    width: int = 48  # channels at full resolution; doubled at each of the two downsamplings
    hidden: int = 256


def _encoder(inputs: int, w: int) -> nn.ModuleList:
    """Three stages: full, 1/2 and 1/4 resolution."""
    return nn.ModuleList(
        [
            nn.Sequential(
                nn.Conv2d(inputs, w, 3, padding=1),
                nn.SiLU(),
                nn.Conv2d(w, w, 3, padding=1),
                nn.SiLU(),
            ),
            nn.Sequential(
                nn.Conv2d(w, 2 * w, 4, 2, 1),
                nn.SiLU(),
                nn.Conv2d(2 * w, 2 * w, 3, padding=1),
                nn.SiLU(),
            ),
            nn.Sequential(nn.Conv2d(2 * w, 2 * w, 4, 2, 1), nn.SiLU()),
        ]
    )


def _stats_head(flat: int, hidden: int, latent: int) -> nn.Sequential:
    """Features -> (mean, log-variance) of a diagonal Gaussian over the latent."""
    return nn.Sequential(
        nn.Flatten(), nn.Linear(flat, hidden), nn.SiLU(), nn.Linear(hidden, 2 * latent)
    )


class VAEAC(GenerativeModel):
    kind = "vaeac"
    capabilities = frozenset({"complete"})
    config_class = VAEACConfig

    def __init__(self, config: VAEACConfig) -> None:
        super().__init__(config)
        if config.image_size % 4:
            raise EngineError(
                f"a vaeac needs an image size divisible by 4, not {config.image_size}"
            )
        c, w, d = config.channels, config.width, config.latent_dim
        self.side = config.image_size // 4
        flat = 2 * w * self.side**2
        self.prior_net = _encoder(c + 1, w)
        self.proposal_net = _encoder(2 * c + 1, w)
        self.prior_stats = _stats_head(flat, config.hidden, d)
        self.proposal_stats = _stats_head(flat, config.hidden, d)
        self.from_z = nn.Sequential(
            nn.Linear(d, config.hidden), nn.SiLU(), nn.Linear(config.hidden, flat), nn.SiLU()
        )
        self.up2 = nn.Sequential(nn.ConvTranspose2d(4 * w, 2 * w, 4, 2, 1), nn.SiLU())
        self.up1 = nn.Sequential(
            nn.Conv2d(4 * w, 2 * w, 3, padding=1),
            nn.SiLU(),
            nn.ConvTranspose2d(2 * w, w, 4, 2, 1),
            nn.SiLU(),
        )
        self.out = nn.Sequential(
            nn.Conv2d(2 * w, w, 3, padding=1), nn.SiLU(), nn.Conv2d(w, c, 3, padding=1)
        )

    @property
    def latent_shape(self) -> tuple[int, ...]:
        return (self.config.latent_dim,)

    # -- networks ---------------------------------------------------------------------------------
    @staticmethod
    def _stages(stages: nn.ModuleList, h: torch.Tensor) -> list[torch.Tensor]:
        feats = []
        for stage in stages:
            h = stage(h)
            feats.append(h)
        return feats

    @staticmethod
    def _stats(head: nn.Module, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = head(h).chunk(2, dim=1)
        return mu, logvar.clamp(-12.0, 8.0)

    def prior(self, x: torch.Tensor, known: torch.Tensor):
        """p(z | known pixels) as (mean, log-variance) and the decoder's skip features."""
        k = known.float()
        feats = self._stages(self.prior_net, torch.cat([x * k, k[:, :1]], 1))
        return (*self._stats(self.prior_stats, feats[-1]), feats)

    def proposal(self, x: torch.Tensor, known: torch.Tensor):
        """q(z | whole image, mask) as (mean, log-variance)."""
        k = known.float()
        feats = self._stages(self.proposal_net, torch.cat([x, x * k, k[:, :1]], 1))
        return self._stats(self.proposal_stats, feats[-1])

    def logits(self, z: torch.Tensor, feats: list[torch.Tensor]) -> torch.Tensor:
        h = self.from_z(z).view(-1, feats[2].shape[1], self.side, self.side)
        h = self.up2(torch.cat([feats[2], h], 1))
        h = self.up1(torch.cat([feats[1], h], 1))
        return self.out(torch.cat([feats[0], h], 1))  # (B, C, H, W) Bernoulli logits

    # -- training ---------------------------------------------------------------------------------
    def loss_terms(self, x: torch.Tensor, known: torch.Tensor, *, generator=None):
        """Per image: reconstruction log-likelihood of the missing pixels, KL(q || p), and the
        prior regulariser, each (B,) in nats."""
        known = known.expand_as(x)
        mu_p, logvar_p, feats = self.prior(x, known)
        mu_q, logvar_q = self.proposal(x, known)
        eps = torch.randn(mu_q.shape, generator=generator, device="cpu").to(mu_q.device)
        z = mu_q + eps * (0.5 * logvar_q).exp()
        rec = -F.binary_cross_entropy_with_logits(self.logits(z, feats), x, reduction="none")
        rec = (rec * (~known)).flatten(1).sum(1)
        kl = 0.5 * (
            logvar_p - logvar_q + (logvar_q.exp() + (mu_q - mu_p).pow(2)) / logvar_p.exp() - 1
        ).sum(1)
        reg = mu_p.pow(2).sum(1) / (2 * PRIOR_MEAN_SCALE**2)
        return rec, kl, reg

    # -- the interface ----------------------------------------------------------------------------
    complete_defaults = {"temperature": 1.0}

    def complete(
        self,
        x: torch.Tensor,
        known: torch.Tensor,
        k: int,
        *,
        generator=None,
        progress=None,
        temperature=1.0,
    ) -> torch.Tensor:
        """``k`` completions (B, k, C, H, W) of images ``x`` where ``known`` is False: grey levels
        from the decoder at ``z ~ p(z | known pixels)``, in one pass (``progress`` is unused);
        known pixels are copied through."""
        known = known.to(x.device).bool().expand_as(x)
        mu, logvar, feats = self.prior(x, known)
        b = x.shape[0]
        eps = torch.randn((k, *mu.shape), generator=generator).to(mu.device)  # (k, B, D)
        z = (mu + temperature * eps * (0.5 * logvar).exp()).flatten(0, 1)
        feats = [f.repeat(k, *[1] * (f.dim() - 1)) for f in feats]
        fills = torch.sigmoid(self.logits(z, feats)).view(k, b, *x.shape[1:]).transpose(0, 1)
        return torch.where(known.unsqueeze(1), x.unsqueeze(1), fills)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        self._require("decode")
        raise NotImplementedError
