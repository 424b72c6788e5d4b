"""A deep energy-based model: a small convolutional energy E(x), sampled by Langevin dynamics.

``p(x) ∝ exp(-E(x))``: low energy is likely. There is no latent code and no normaliser; what the
model offers is its energy (a surprise score, up to an unknown constant) and the chain that
walks downhill on it. Training (:mod:`engine.train.ebm`) follows Du & Mordatch 2019 ("Implicit
Generation and Generalization in Energy-Based Models") and the JEM recipe (Grathwohl et al.
2020): contrastive divergence against short-run Langevin chains kept in a replay buffer.

Pixels: images at the boundary are in [0, 1] and the chain runs there (each step is clamped to
[0, 1]); the network sees ``2x - 1``. One Langevin step, in the papers' practical form (step on
the gradient and noise scale chosen apart, not tied as ``noise = sqrt(2 * step)``)::

    x <- clamp(x - step_size * dE/dx / temperature + noise * N(0, I), 0, 1)

``sample`` and ``trajectory`` start from uniform noise; ``complete`` runs the same chain on the
hidden pixels only, the known ones clamped to their values after every step.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch
from torch import nn

from engine.base import LatentFreeModel
from engine.errors import EngineError
from engine.ops.chains import ChainStep, last_step

Progress = Callable[[int, int], None] | None  # progress(step, total)


@dataclass
class EBMConfig:
    channels: int = 1
    image_size: int = 28
    width: int = 32  # channels of the first convolution; 2x after each of the next two
    step_size: float = 1.0  # Langevin step on the energy gradient, in [0, 1] pixel units
    noise: float = 0.005  # standard deviation of the Langevin noise per step
    steps: int = 100  # default chain length of sample, trajectory and complete (from noise)


class ConvEnergy(nn.Module):
    """Images in [-1, 1] (B, C, H, W) -> energies (B,): three strided convolutions, Swish."""

    def __init__(self, config: EBMConfig) -> None:
        super().__init__()
        c, w = config.channels, config.width
        side = config.image_size // 8 + (config.image_size % 8 > 0)  # 28 -> 14 -> 7 -> 4
        self.net = nn.Sequential(
            nn.Conv2d(c, w, 4, 2, 1),  # (B, C, 28, 28) -> (B, w, 14, 14)
            nn.SiLU(),
            nn.Conv2d(w, 2 * w, 4, 2, 1),  # -> (B, 2w, 7, 7)
            nn.SiLU(),
            nn.Conv2d(2 * w, 2 * w, 3, 2, 1),  # -> (B, 2w, 4, 4)
            nn.SiLU(),
            nn.Flatten(),
            nn.Linear(2 * w * side * side, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(1)


class ConvEBM(LatentFreeModel):
    """Energy ``E(x)``; ``sample``/``trajectory``: Langevin from noise; ``complete``: Langevin on
    the hidden pixels; ``energy``: the surprise score."""

    kind = "ebm"
    # trajectory_start: the chain can start from a given image (trajectory(start=...))
    capabilities = frozenset({"sample", "trajectory", "trajectory_start", "complete", "energy"})
    config_class = EBMConfig
    energy_unit = "energy (unnormalised)"

    def __init__(self, config: EBMConfig) -> None:
        super().__init__(config)
        if config.width < 1 or config.steps < 1 or config.noise < 0 or config.step_size < 0:
            raise EngineError("an ebm needs width and steps >= 1, step_size and noise >= 0")
        self.energy_net = ConvEnergy(config)

    @property
    def complete_defaults(self) -> dict:
        return {"steps": self.config.steps}

    def extra_repr(self) -> str:
        return f"kind={self.kind}, image_shape={self.image_shape}, steps={self.config.steps}"

    # -- the energy and one step ------------------------------------------------------------------
    def energy(self, x: torch.Tensor) -> torch.Tensor:
        """Energies (B,) of images ``x`` (B, C, H, W) in [0, 1]; -log p(x) up to a constant."""
        return self.energy_net(x.to(self.device) * 2 - 1)

    def langevin_step(
        self,
        x: torch.Tensor,
        *,
        generator: torch.Generator | None = None,
        step_size: float | None = None,
        noise: float | None = None,
        temperature: float = 1.0,
    ) -> torch.Tensor:
        """One Langevin step from ``x`` (B, C, H, W) in [0, 1] (module docstring); noise is
        drawn on the CPU so a seed gives the same chain on every device."""
        step_size = self.config.step_size if step_size is None else step_size
        noise = self.config.noise if noise is None else noise
        with torch.enable_grad():
            x = x.detach().requires_grad_(True)
            (grad,) = torch.autograd.grad(self.energy(x).sum(), x)
        eps = torch.randn(x.shape, generator=generator).to(x.device)
        return (x.detach() - step_size * grad / temperature + noise * eps).clamp(0, 1)

    def noise_image(self, n: int, *, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` chain starts: uniform noise (n, C, H, W) in [0, 1]."""
        return torch.rand((n, *self.image_shape), generator=generator).to(self.device)

    # -- chains -----------------------------------------------------------------------------------
    def trajectory(
        self,
        n: int,
        *,
        generator: torch.Generator | None = None,
        steps: int | None = None,
        start: torch.Tensor | None = None,
        temperature: float = 1.0,
        known: torch.Tensor | None = None,
    ) -> Iterator[ChainStep]:
        """The Langevin chain of ``n`` images, one :class:`ChainStep` per step.

        Args:
            start: (n, C, H, W) in [0, 1] to start from instead of uniform noise.
            steps: chain length (default ``config.steps``).
            known: bool mask broadcastable to ``start``; those pixels stay as in ``start``.
        """
        if n < 1:
            raise EngineError(f"number of samples must be at least 1, not {n}")
        if not temperature > 0:
            raise EngineError(f"temperature must be positive, not {temperature}")
        total = self.config.steps if steps is None else steps
        if total < 1:
            raise EngineError(f"steps must be at least 1, not {total}")
        x = self.noise_image(n, generator=generator) if start is None else start.to(self.device)
        anchor = x.clone()
        for step in range(1, total + 1):
            x = self.langevin_step(x, generator=generator, temperature=temperature)
            if known is not None:
                x = torch.where(known, anchor, x)
            yield ChainStep(step, total, x, label=f"Langevin step {step}/{total}")

    @torch.no_grad()
    def sample(
        self,
        n: int,
        *,
        generator: torch.Generator | None = None,
        temperature: float = 1.0,
        steps: int | None = None,
        progress: Progress = None,
    ) -> torch.Tensor:
        """``n`` images (n, C, H, W) in [0, 1]: the end of Langevin chains from noise.

        ``temperature`` divides the energy (below 1: sharper, less varied);
        ``progress(step, total)`` after each step.
        """
        chain = self.trajectory(n, generator=generator, steps=steps, temperature=temperature)
        return last_step(chain, progress=progress).x

    @torch.no_grad()
    def complete(
        self,
        x: torch.Tensor,
        known: torch.Tensor,
        k: int,
        *,
        generator: torch.Generator | None = None,
        progress: Callable[[int, torch.Tensor], None] | None = None,
        steps: int | None = None,
    ) -> torch.Tensor:
        """``k`` completions (B, k, C, H, W): Langevin on the hidden pixels from uniform noise,
        the known pixels clamped after every step (so they come back bit-identical).
        ``progress(step, fills)`` every 10 steps with the first completion (B, C, H, W)."""
        b = x.shape[0]
        x = x.to(self.device)
        known = known.to(x.device).bool().expand_as(x)
        xk, knownk = x.repeat(k, 1, 1, 1), known.repeat(k, 1, 1, 1)  # sample-major rows
        start = torch.where(knownk, xk, self.noise_image(len(xk), generator=generator))
        cur = start
        for s in self.trajectory(
            len(xk), generator=generator, steps=steps, start=start, known=knownk
        ):
            cur = s.x
            if progress is not None and (s.step % 10 == 0 or s.step == s.total):
                progress(s.step, cur[:b])
        fills = cur.view(k, b, *x.shape[1:]).transpose(0, 1)
        return torch.where(known.unsqueeze(1), x.unsqueeze(1), fills)
