"""A restricted Boltzmann machine with binary visible and hidden units (Smolensky 1986; Hinton 2002).

``E(v, h) = -b_v.v - b_h.h - h.W v`` over binary pixels ``v`` and binary hidden units ``h``;
summing ``h`` out gives the free energy ``F(v) = -b_v.v - sum_j softplus(b_h + W v)_j`` and
``p(v) = exp(-F(v)) / Z``. ``Z`` has no closed form: :mod:`engine.metrics.ais` estimates it by
annealed importance sampling, which is how a test log-likelihood in nats is reported.

Both conditionals factorise, so block Gibbs sampling alternates ``h ~ p(h | v)`` and
``v ~ p(v | h)``: one *sweep*. The chain from noise (or from an image) is what ``trajectory``
shows; images shown are the visible means ``p(v = 1 | h)``, the usual way to display an RBM's
samples. The hidden units are binary features, not a latent space to walk: there is no
``decode``/``encode``. ``complete`` clamps the known pixels and runs the same chain on the others.

Grey images (values in [0, 1]) are read as Bernoulli means: ``F`` and ``p(h | v)`` are evaluated at
them directly (exact for binary images).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from engine.base import LatentFreeModel
from engine.errors import EngineError
from engine.ops.chains import ChainStep, last_step

Progress = Callable[[int, int], None] | None  # progress(step, total)


@dataclass
class RBMConfig:
    channels: int = 1
    image_size: int = 28
    hidden: int = 500
    steps: int = 1000  # default Gibbs sweeps of sample and trajectory from noise
    complete_steps: int = 200  # default sweeps of complete (clamped Gibbs)


class BernoulliRBM(LatentFreeModel):
    """Binary RBM: ``W`` (hidden, visible), ``b_v`` (visible,), ``b_h`` (hidden,)."""

    kind = "rbm"
    latent_note = "its hidden units are binary"
    # trajectory_start: the chain can start from a given image (trajectory(start=...));
    # log_partition: log Z can be estimated (annealed importance sampling), so log p(v) too
    capabilities = frozenset(
        {
            "sample",
            "trajectory",
            "trajectory_start",
            "complete",
            "energy",
            "filters",
            "log_partition",
        }
    )
    config_class = RBMConfig
    energy_unit = "nats (free energy)"

    def __init__(self, config: RBMConfig) -> None:
        super().__init__(config)
        if config.hidden < 1 or config.steps < 1 or config.complete_steps < 1:
            raise EngineError("an rbm needs hidden, steps and complete_steps of at least 1")
        d = config.channels * config.image_size**2
        self.W = nn.Parameter(torch.randn(config.hidden, d) * 0.01)
        self.b_v = nn.Parameter(torch.zeros(d))
        self.b_h = nn.Parameter(torch.zeros(config.hidden))

    @property
    def complete_defaults(self) -> dict:
        return {"steps": self.config.complete_steps}

    def extra_repr(self) -> str:
        return f"kind={self.kind}, image_shape={self.image_shape}, hidden={self.config.hidden}"

    # -- the energy and the conditionals ----------------------------------------------------------
    def _flat(self, x: torch.Tensor) -> torch.Tensor:
        return x.to(self.device).flatten(1)  # (B, C, H, W) -> (B, V)

    def _image(self, v: torch.Tensor) -> torch.Tensor:
        return v.view(-1, *self.image_shape)  # (B, V) -> (B, C, H, W)

    def free_energy(self, x: torch.Tensor) -> torch.Tensor:
        """``F(v)`` (B,) in nats of images (B, C, H, W) in [0, 1]; ``-log p(v) = F(v) + log Z``."""
        v = self._flat(x)
        return -(v @ self.b_v) - F.softplus(v @ self.W.T + self.b_h).sum(1)

    def energy(self, x: torch.Tensor) -> torch.Tensor:
        """The surprise score of the shared ``energy`` capability: the free energy."""
        return self.free_energy(x)

    def hidden_probs(self, v: torch.Tensor, beta: float = 1.0) -> torch.Tensor:
        """``p(h = 1 | v)`` (B, hidden) of flat visibles (B, V), at inverse temperature ``beta``."""
        return torch.sigmoid(beta * (v @ self.W.T + self.b_h))

    def visible_probs(self, h: torch.Tensor, beta: float = 1.0) -> torch.Tensor:
        """``p(v = 1 | h)`` (B, V) of hidden states (B, hidden)."""
        return torch.sigmoid(beta * (h @ self.W + self.b_v))

    def _bernoulli(self, p: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        # Drawn on the CPU so a seed gives the same chain on every device.
        return (torch.rand(p.shape, generator=generator).to(p.device) < p).to(p.dtype)

    def gibbs_sweep(
        self, v: torch.Tensor, *, generator: torch.Generator | None = None, beta: float = 1.0
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One sweep from flat visibles ``v`` (B, V): (new binary ``v``, its means ``p(v | h)``)."""
        h = self._bernoulli(self.hidden_probs(v, beta), generator)
        p = self.visible_probs(h, beta)
        return self._bernoulli(p, generator), p

    # -- chains -----------------------------------------------------------------------------------
    @torch.no_grad()
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
        """The Gibbs chain of ``n`` images, one :class:`ChainStep` per sweep (``x``: the visible
        means, (n, C, H, W) in [0, 1]).

        Args:
            start: (n, C, H, W) in [0, 1] to start from (e.g. a test digit, read as Bernoulli
                means) instead of uniform binary noise.
            steps: number of sweeps (default ``config.steps``).
            temperature: energies are divided by it (inverse temperature ``beta = 1 / T``).
            known: bool mask broadcastable to ``start``; those pixels stay clamped to ``start``.
        """
        if n < 1:
            raise EngineError(f"number of samples must be at least 1, not {n}")
        if not temperature > 0:
            raise EngineError(f"temperature must be positive, not {temperature}")
        total = self.config.steps if steps is None else steps
        if total < 1:
            raise EngineError(f"steps must be at least 1, not {total}")
        d = self.W.shape[1]
        if start is None:
            v = self._bernoulli(torch.full((n, d), 0.5, device=self.device), generator)
        else:
            v = self._flat(start).float()
        anchor = v.clone()
        clamp = (
            None
            if known is None
            else known.to(self.device).bool().expand_as(self._image(v)).flatten(1)
        )
        for step in range(1, total + 1):
            v, p = self.gibbs_sweep(v, generator=generator, beta=1.0 / temperature)
            if clamp is not None:
                v, p = torch.where(clamp, anchor, v), torch.where(clamp, anchor, p)
            yield ChainStep(step, total, self._image(p), label=f"Gibbs sweep {step}/{total}")

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
        """``n`` images (n, C, H, W) in [0, 1]: visible means after ``steps`` Gibbs sweeps from
        noise; ``progress(step, total)`` after each sweep."""
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
        """``k`` completions (B, k, C, H, W) by clamped Gibbs sampling: hidden pixels start as
        binary noise, known pixels stay at their values; the fills are the last sweep's visible
        means. ``progress(step, fills)`` every 20 sweeps with the first completion."""
        b = x.shape[0]
        x = x.to(self.device)
        known = known.to(x.device).bool().expand_as(x)
        xk, knownk = x.repeat(k, 1, 1, 1), known.repeat(k, 1, 1, 1)  # sample-major rows
        noise = self._image(self._bernoulli(torch.full_like(xk.flatten(1), 0.5), generator))
        start = torch.where(knownk, xk, noise)
        total = self.config.complete_steps if steps is None else steps
        cur = start
        chain = self.trajectory(
            len(xk), generator=generator, steps=total, start=start, known=knownk
        )
        for s in chain:
            cur = s.x
            if progress is not None and (s.step % 20 == 0 or s.step == s.total):
                progress(s.step, cur[:b])
        fills = cur.view(k, b, *x.shape[1:]).transpose(0, 1)
        return torch.where(known.unsqueeze(1), x.unsqueeze(1), fills)

    def log_partition(self, **ais):
        """``log Z`` estimated by annealed importance sampling: an
        :class:`~engine.metrics.ais.AISResult` (keyword options of
        :func:`~engine.metrics.ais.ais_log_partition`: runs, betas, b_a, generator, progress)."""
        from engine.metrics.ais import ais_log_partition

        return ais_log_partition(self, **ais)

    # -- what the hidden units look for -----------------------------------------------------------
    @torch.no_grad()
    def filters(self, n: int = 100) -> torch.Tensor:
        """The first ``n`` rows of ``W`` as images (n, C, H, W), each scaled to [0, 1] on its own
        (grey = 0 when a filter is symmetric about zero); show with ``engine.images.make_grid``."""
        w = self.W[: max(1, min(n, self.config.hidden))].detach()
        scale = w.abs().amax(1, keepdim=True).clamp_min(1e-8)
        return self._image((w / scale + 1) / 2).cpu()
