"""Multi-scale normalizing flow in the style of RealNVP (Dinh et al. 2017) and Glow (Kingma &
Dhariwal 2018): squeeze, then steps of actnorm, invertible 1x1 convolution and affine coupling,
factoring out half the channels after each level under a learned conditional prior.

Data path: 8-bit image ``x`` -> uniform dequantization ``y = (255 x + u) / 256`` -> logit transform
``s = logit(a + (1 - 2a) y)`` (its Jacobian counted) -> flow -> ``eps ~ N(0, I)``. The factored-out
parts are standardised by their prior, so the latent is one image-shaped standard normal tensor and
``decode`` is the exact inverse of ``encode``. Bits per dimension are reported the standard way:
``(-log p(y) + D log 256) / (D ln 2)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from engine.base import GenerativeModel


@dataclass
class RealNVPConfig:
    channels: int = 1
    image_size: int = 28
    levels: int = 2
    steps_per_level: int = 8
    hidden: int = 96
    alpha: float = 1e-6  # logit transform margin


INVERSE_LIMIT = 1e6  # bound on activations in the inverse pass, see AffineCoupling.inverse


def squeeze(x: torch.Tensor) -> torch.Tensor:
    b, c, h, w = x.shape  # (B, C, H, W) -> (B, 4C, H/2, W/2)
    x = x.view(b, c, h // 2, 2, w // 2, 2).permute(0, 1, 3, 5, 2, 4)
    return x.reshape(b, c * 4, h // 2, w // 2)


def unsqueeze(x: torch.Tensor) -> torch.Tensor:
    b, c, h, w = x.shape  # (B, 4C, H, W) -> (B, C, 2H, 2W)
    x = x.view(b, c // 4, 2, 2, h, w).permute(0, 1, 4, 2, 5, 3)
    return x.reshape(b, c // 4, h * 2, w * 2)


class ActNorm(nn.Module):
    """Per-channel affine map, initialised from the first batch to zero mean and unit variance."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(1, channels, 1, 1))
        self.log_scale = nn.Parameter(torch.zeros(1, channels, 1, 1))
        self.register_buffer("initialized", torch.tensor(False))

    @torch.no_grad()
    def _init(self, x: torch.Tensor) -> None:
        mean = x.mean(dim=(0, 2, 3), keepdim=True)
        std = x.std(dim=(0, 2, 3), keepdim=True)
        self.bias.copy_(-mean)
        self.log_scale.copy_(-torch.log(std + 1e-6))
        self.initialized.fill_(True)

    def forward(self, x):
        if self.training and not self.initialized:
            self._init(x)
        log_det = self.log_scale.sum() * x.shape[2] * x.shape[3]
        return (x + self.bias) * self.log_scale.exp(), log_det.expand(x.shape[0])

    def inverse(self, y):
        return y * torch.exp(-self.log_scale) - self.bias


class InvConv1x1(nn.Module):
    """Invertible 1x1 convolution, a learned channel permutation (Glow)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        q, _ = torch.linalg.qr(torch.randn(channels, channels))
        self.weight = nn.Parameter(q)

    def forward(self, x):
        log_det = torch.linalg.slogdet(self.weight)[1] * x.shape[2] * x.shape[3]
        return F.conv2d(x, self.weight[:, :, None, None]), log_det.expand(x.shape[0])

    def inverse(self, y):
        return F.conv2d(y, torch.linalg.inv(self.weight)[:, :, None, None])


class AffineCoupling(nn.Module):
    """Half the channels are scaled and shifted by a CNN of the other half."""

    def __init__(self, channels: int, hidden: int) -> None:
        super().__init__()
        half = channels // 2
        self.net = nn.Sequential(
            nn.Conv2d(half, hidden, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(hidden, hidden, 1),
            nn.ReLU(),
            nn.Conv2d(hidden, 2 * (channels - half), 3, padding=1),
        )
        nn.init.zeros_(self.net[-1].weight)  # starts as the identity
        nn.init.zeros_(self.net[-1].bias)

    def _scale_shift(self, xa):
        raw, shift = self.net(xa).chunk(2, dim=1)
        return torch.sigmoid(raw + 2.0), shift

    def forward(self, x):
        xa, xb = x.chunk(2, dim=1)
        scale, shift = self._scale_shift(xa)
        yb = (xb + shift) * scale
        return torch.cat([xa, yb], 1), torch.log(scale).flatten(1).sum(1)

    def inverse(self, y):
        ya, yb = y.chunk(2, dim=1)
        scale, shift = self._scale_shift(ya)
        # Far outside the data (a prior sample in the tails) the division can overflow, and the
        # next 1x1 convolution would turn +-inf into NaN; real images stay many orders below.
        xb = (yb / scale - shift).clamp(-INVERSE_LIMIT, INVERSE_LIMIT)
        return torch.cat([ya, xb], 1)


class FlowStep(nn.Module):
    def __init__(self, channels: int, hidden: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            [ActNorm(channels), InvConv1x1(channels), AffineCoupling(channels, hidden)]
        )

    def forward(self, x):
        log_det = 0.0
        for layer in self.layers:
            x, ld = layer(x)
            log_det = log_det + ld
        return x, log_det

    def inverse(self, y):
        for layer in reversed(self.layers):
            y = layer.inverse(y)
        return y


class Level(nn.Module):
    def __init__(self, channels: int, hidden: int, steps: int, split: bool) -> None:
        super().__init__()
        self.steps = nn.ModuleList([FlowStep(channels, hidden) for _ in range(steps)])
        # Conditional prior of the factored-out half given the kept half, starting at N(0, I).
        self.prior = nn.Conv2d(channels // 2, channels, 3, padding=1) if split else None
        if self.prior is not None:
            nn.init.zeros_(self.prior.weight)
            nn.init.zeros_(self.prior.bias)


class RealNVP(GenerativeModel):
    kind = "flow"
    capabilities = frozenset({"sample", "decode", "encode", "log_prob"})
    config_class = RealNVPConfig

    def __init__(self, config: RealNVPConfig) -> None:
        super().__init__(config)
        side, c = config.image_size, config.channels
        if side % 2**config.levels:
            raise ValueError(f"{side} px cannot be squeezed {config.levels} times")
        self.levels = nn.ModuleList()
        for i in range(config.levels):
            c *= 4
            split = i < config.levels - 1
            self.levels.append(Level(c, config.hidden, config.steps_per_level, split))
            c = c // 2 if split else c

    @property
    def latent_shape(self) -> tuple[int, ...]:
        return self.image_shape

    # -- the bijection between logit space s and the image-shaped latent eps ----------------------
    def flow_forward(self, s: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """s (B, C, H, W) -> (eps of the same shape, log|det ds->eps| per image)."""
        h, log_det, outs = s, torch.zeros(s.shape[0], device=s.device), []
        for level in self.levels:
            h = squeeze(h)
            for step in level.steps:
                h, ld = step(h)
                log_det = log_det + ld
            if level.prior is not None:
                h, z2 = h.chunk(2, dim=1)
                mean, log_std = level.prior(h).chunk(2, dim=1)
                outs.append((z2 - mean) * torch.exp(-log_std))
                log_det = log_det - log_std.flatten(1).sum(1)
        for out in reversed(outs):  # pack into the image's shape
            h = torch.cat([unsqueeze(h), out], dim=1)
        return unsqueeze(h), log_det

    def flow_inverse(self, eps: torch.Tensor) -> torch.Tensor:
        """Exact inverse of :meth:`flow_forward`."""
        h, outs = squeeze(eps), []
        for _ in self.levels[:-1]:  # unpack, outermost level first
            h, out = h.chunk(2, dim=1)
            outs.append(out)
            h = squeeze(h)
        for level in reversed(self.levels):
            if level.prior is not None:
                mean, log_std = level.prior(h).chunk(2, dim=1)
                z2 = (outs.pop() * torch.exp(log_std) + mean).clamp(-INVERSE_LIMIT, INVERSE_LIMIT)
                h = torch.cat([h, z2], dim=1)
            for step in reversed(level.steps):
                h = step.inverse(h)
            h = unsqueeze(h)
        return h

    # -- pre-processing between [0, 1] pixels and logit space -------------------------------------
    def _to_logit(self, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        a = self.config.alpha
        p = a + (1 - 2 * a) * y
        log_det = (math.log(1 - 2 * a) - torch.log(p) - torch.log1p(-p)).flatten(1).sum(1)
        return torch.log(p) - torch.log1p(-p), log_det

    def _from_logit(self, s: torch.Tensor) -> torch.Tensor:
        a = self.config.alpha
        return (torch.sigmoid(s) - a) / (1 - 2 * a)

    # -- the interface ----------------------------------------------------------------------------
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Exact forward map of the image, dequantized at the centre of each 8-bit bin."""
        s, _ = self._to_logit((255 * x + 0.5) / 256)
        return self.flow_forward(s)[0]

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        y = self._from_logit(self.flow_inverse(z))
        return ((256 * y - 0.5) / 255).clamp(0, 1)

    def log_prob(
        self, x: torch.Tensor, *, generator: torch.Generator | None = None, dequantize: bool = True
    ):
        """log P(x) in nats (B,) of 8-bit images ``x``, with one uniform dequantization sample.

        ``dequantize=False`` evaluates the density at the centre of each pixel's bin instead,
        without rounding, so it is differentiable in ``x`` (inpainting optimises pixels with it).
        """
        if dequantize:
            u = torch.rand(x.shape, generator=generator).to(x.device)
            y = (torch.round(255 * x) + u) / 256
        else:
            y = (255 * x + 0.5) / 256
        s, ld_logit = self._to_logit(y)
        eps, ld_flow = self.flow_forward(s)
        log_pz = -0.5 * (eps.pow(2) + math.log(2 * math.pi)).flatten(1).sum(1)
        dims = math.prod(self.image_shape)
        return log_pz + ld_flow + ld_logit - dims * math.log(256)
