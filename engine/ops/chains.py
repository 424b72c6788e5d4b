"""Chains a user can watch converge: one loop over any iterative sampler.

diffusers keeps the network apart from the scheduler that walks it; here each kind with the
``trajectory`` capability implements ``model.trajectory(n, *, generator, steps=None, **options)``,
a generator of :class:`ChainStep` (one per step of its chain: DDIM's denoising steps, a
PixelCNN's rows, an RBM's Gibbs sweeps, an EBM's Langevin steps). The last step's ``x`` is the
sample. :func:`run_chain` is the one loop that runs any of them, for progress and for the strip a
page scrubs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import torch


@dataclass
class ChainStep:
    """One step of a sampling chain; images (B, C, H, W) in [0, 1]."""

    step: int  # 1 .. total
    total: int
    x: torch.Tensor  # the chain's state: x_t, the Gibbs or Langevin state, the image drawn so far
    x0: torch.Tensor | None = None  # the model's current guess of the end (diffusion's x_0)
    label: str = ""  # what the step is, for the strip's caption ("t = 981", "row 14", ...)


@dataclass
class Chain:
    """A finished chain: ``frames`` (T, B, C, H, W) of states, ``guesses`` the same of x_0 or None."""

    frames: torch.Tensor
    guesses: torch.Tensor | None
    labels: list[str]

    @property
    def final(self) -> torch.Tensor:
        return self.frames[-1]


def last_step(
    steps: Iterable[ChainStep], *, progress: Callable[[int, int], None] | None = None
) -> ChainStep:
    """Run a chain to its end keeping nothing but its last step; ``progress(step, total)`` after
    each step. For a model's ``sample`` / ``decode``, where the frames are not wanted."""
    last = None
    for last in steps:
        if progress is not None:
            progress(last.step, last.total)
    if last is None:
        raise ValueError("the chain made no step")
    return last


def run_chain(
    steps: Iterable[ChainStep],
    *,
    callback: Callable[[ChainStep], None] | None = None,
    keep_every: int = 1,
    max_frames: int | None = None,
) -> Chain:
    """Run a chain to its end, keeping every ``keep_every``-th step (and always the last).

    ``max_frames`` instead spreads about that many kept steps over the chain's length, read
    from its first step (an RBM's thousand Gibbs sweeps need not all be held in memory).
    ``callback(step)`` sees every step as it is made (progress bars, streamed rows).
    """
    frames, guesses, labels = [], [], []
    last = None
    for s in steps:
        if last is None and max_frames is not None:
            keep_every = max(1, -(-s.total // max(1, max_frames)))
        if callback is not None:
            callback(s)
        if (s.step - 1) % keep_every == 0 or s.step == s.total:
            frames.append(s.x.detach().cpu().clamp(0, 1))
            if s.x0 is not None:
                guesses.append(s.x0.detach().cpu().clamp(0, 1))
            labels.append(s.label or f"step {s.step}/{s.total}")
        last = s
    if last is None:
        raise ValueError("the chain made no step")
    return Chain(
        frames=torch.stack(frames),
        guesses=torch.stack(guesses) if len(guesses) == len(frames) else None,
        labels=labels,
    )
