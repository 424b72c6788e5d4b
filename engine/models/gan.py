"""DCGAN (Radford et al. 2016) with a spectrally normalised discriminator (Miyato et al. 2018).

The shipped generator is the exponential moving average of the trained one (Yazici et al. 2019);
the discriminator only lives during training.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from engine.base import GenerativeModel


@dataclass
class DCGANConfig:
    channels: int = 1
    image_size: int = 28
    latent_dim: int = 64
    width: int = 32  # generator channels at the last upsampling; doubled per level towards z
    disc_width: int = 64


def _levels(image_size: int) -> tuple[int, int]:
    """(starting side, number of x2 upsamplings): 28 = 7*4, 32 = 4*8, 64 = 4*16."""
    return {28: (7, 2), 32: (4, 3), 64: (4, 4)}[image_size]


class DCGANGenerator(nn.Module):
    def __init__(self, config: DCGANConfig) -> None:
        super().__init__()
        self.side, ups = _levels(config.image_size)
        self.top = config.width * 2**ups
        self.project = nn.Sequential(
            nn.Linear(config.latent_dim, self.top * self.side**2, bias=False),
            nn.BatchNorm1d(self.top * self.side**2),
            nn.ReLU(),
        )
        layers, ch = [], self.top
        for _ in range(ups):
            layers += [
                nn.ConvTranspose2d(ch, ch // 2, 4, stride=2, padding=1, bias=False),
                nn.BatchNorm2d(ch // 2),
                nn.ReLU(),
            ]
            ch //= 2
        self.body = nn.Sequential(*layers, nn.Conv2d(ch, config.channels, 3, padding=1), nn.Tanh())

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.project(z).view(-1, self.top, self.side, self.side)
        return self.body(h)  # (B, C, H, W) in [-1, 1]


class DCGANDiscriminator(nn.Module):
    """Strided convolutions down to 7x7 (28 px) or 4x4, a 3x3 conv, a linear score over all cells.

    The score sees where features are (a flattened map, not a pooled one); with global sum pooling
    the discriminator won outright within a few hundred steps and the generator collapsed.
    """

    def __init__(self, config: DCGANConfig) -> None:
        super().__init__()
        side, downs = _levels(config.image_size)
        layers, ch = [], config.channels
        for i in range(downs):
            nxt = config.disc_width * 2**i
            layers += [spectral_norm(nn.Conv2d(ch, nxt, 4, stride=2, padding=1)), nn.LeakyReLU(0.2)]
            ch = nxt
        layers += [spectral_norm(nn.Conv2d(ch, ch, 3, padding=1)), nn.LeakyReLU(0.2)]
        self.body = nn.Sequential(*layers)
        self.head = spectral_norm(nn.Linear(ch * side**2, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x * 2 - 1).flatten(1)).squeeze(1)  # (B,) realness scores


class DCGAN(GenerativeModel):
    """The generator half of a GAN behind the model interface (no encoder: inversion is an op)."""

    kind = "gan"
    capabilities = frozenset({"sample", "decode"})
    config_class = DCGANConfig

    def __init__(self, config: DCGANConfig) -> None:
        super().__init__(config)
        self.generator = DCGANGenerator(config)

    @property
    def latent_shape(self) -> tuple[int, ...]:
        return (self.config.latent_dim,)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return (self.generator(z) + 1) / 2
