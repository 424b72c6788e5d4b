"""The partition function of a binary RBM by annealed importance sampling (AIS).

Salakhutdinov & Murray 2008, "On the Quantitative Analysis of Deep Belief Networks", sec. 3-4
(after Neal 2001). The chain anneals from a base model with no hidden units, visible biases
``b_A`` only (``Z_A`` in closed form), to the RBM, through

    p*_beta(v) = exp((1 - beta) b_A.v + beta b_v.v) * prod_j (1 + exp(beta (W v + b_h)_j))

for ``0 = beta_0 < ... < beta_K = 1``; each step is one Gibbs sweep that leaves ``p_beta``
invariant. The importance weights' mean is an unbiased estimate of ``Z / Z_A``; its logarithm is
a stochastic *lower* bound on ``log Z`` in expectation, so log-likelihoods reported from it lean
optimistic when the chains anneal badly (more betas, more runs: less so).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass
class AISResult:
    """``log_z`` and the band ``log(mean w -/+ 3 std err)`` around it (nats)."""

    log_z: float
    log_z_low: float
    log_z_high: float
    runs: int
    betas: int


def default_betas(n: int = 15_000) -> torch.Tensor:
    """The schedule of the paper scaled to ``n`` steps: 1/15 of them up to 0.5, 4/15 up to 0.9,
    10/15 up to 1 (the paper: 1,000, 4,000 and 10,000)."""
    a, b = max(1, n // 15), max(1, 4 * n // 15)
    c = max(1, n - a - b)
    return torch.cat(
        [
            torch.linspace(0.0, 0.5, a + 1, dtype=torch.float64)[:-1],
            torch.linspace(0.5, 0.9, b + 1, dtype=torch.float64)[:-1],
            torch.linspace(0.9, 1.0, c + 1, dtype=torch.float64),
        ]
    )


def base_bias(v: torch.Tensor, *, smoothing: float = 1.0) -> torch.Tensor:
    """Visible biases of the base model: the data's log-odds per pixel (flat ``v`` (N, V)
    binary), smoothed by ``smoothing`` pseudo-counts so no pixel is certain."""
    p = (v.double().sum(0) + smoothing) / (len(v) + 2 * smoothing)
    return torch.log(p / (1 - p)).float()


@torch.no_grad()
def ais_log_partition(
    rbm,
    *,
    runs: int = 100,
    betas: torch.Tensor | None = None,
    b_a: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> AISResult:
    """Estimate ``log Z`` of ``rbm`` (an :class:`~engine.models.rbm.BernoulliRBM`).

    Args:
        runs: independent annealing chains, in one batch.
        betas: the schedule, from 0 to 1 inclusive (default :func:`default_betas`).
        b_a: base-model visible biases (V,), e.g. :func:`base_bias` of the training data;
            default zeros (a uniform base: correct, but needs more betas).
        generator: seeds the chains; the same seed gives the same estimate.
        progress: ``progress(step, total)`` every 100 betas.
    """
    # float32 sweeps (twice as fast on a CPU); the log-weights are summed in float64
    W, b_v, b_h = rbm.W.float(), rbm.b_v.float(), rbm.b_h.float()
    betas = default_betas() if betas is None else betas.double()
    b_a = torch.zeros_like(b_v) if b_a is None else b_a.to(b_v.device).float()
    hidden = W.shape[0]

    def draw(p: torch.Tensor) -> torch.Tensor:
        return (torch.rand(p.shape, generator=generator).to(p.device) < p).float()

    v = draw(torch.sigmoid(b_a).expand(runs, -1))  # exact samples of the base model
    log_w = torch.zeros(runs, dtype=torch.float64, device=v.device)  # (runs,)
    b_prev = 0.0
    total = len(betas) - 1
    for i, beta in enumerate(betas[1:].tolist(), 1):
        a = v @ W.T + b_h  # (runs, hidden)
        # log p*_beta(v) - log p*_prev(v): the visible terms and the hidden softplus terms
        step = (beta - b_prev) * (v @ (b_v - b_a)) + (
            F.softplus(beta * a) - F.softplus(b_prev * a)
        ).sum(1)
        log_w += step.double()
        h = draw(torch.sigmoid(beta * a))  # one Gibbs sweep that keeps p_beta invariant
        v = draw(torch.sigmoid((1 - beta) * b_a + beta * (h @ W + b_v)))
        b_prev = beta
        if progress is not None and (i % 100 == 0 or i == total):
            progress(i, total)
    log_z_a = F.softplus(b_a.double()).sum().item() + hidden * math.log(
        2
    )  # p*_0 has 2^H hidden states
    log_mean = torch.logsumexp(log_w, 0).item() - math.log(runs)
    # the band of Salakhutdinov & Murray: log(mean w +/- 3 standard errors), computed stably
    w = torch.exp(log_w - log_w.max())
    mean, err = w.mean().item(), 3 * w.std().item() / math.sqrt(runs)
    shift = log_w.max().item() + log_z_a
    low = shift + math.log(mean - err) if mean > err else float("-inf")
    return AISResult(
        log_z=log_mean + log_z_a,
        log_z_low=low,
        log_z_high=shift + math.log(mean + err),
        runs=runs,
        betas=len(betas),
    )


@torch.no_grad()
def log_likelihood(rbm, v: torch.Tensor, log_z: float) -> torch.Tensor:
    """``log p(v) = -F(v) - log Z`` (B,) in nats of binary images ``v`` (B, C, H, W)."""
    return -rbm.free_energy(v).double() - log_z


def _states(n: int) -> torch.Tensor:
    return ((torch.arange(2**n).unsqueeze(1) >> torch.arange(n)) & 1).double()  # (2^n, n)


@torch.no_grad()
def exact_log_partition(rbm) -> float:
    """``log Z`` by enumeration over the smaller layer (at most 20 units): tiny RBMs only.

    Over visibles: ``Z = sum_v exp(-F(v))``; over hiddens, by symmetry:
    ``Z = sum_h exp(b_h.h) prod_i (1 + exp(b_v + W^T h)_i)``.
    """
    W, b_v, b_h = rbm.W.double().cpu(), rbm.b_v.double().cpu(), rbm.b_h.double().cpu()
    hidden, d = W.shape
    if min(hidden, d) > 20:
        raise ValueError(f"exact enumeration of {min(hidden, d)} units is too large")
    if d <= hidden:
        v = _states(d)
        return torch.logsumexp(v @ b_v + F.softplus(v @ W.T + b_h).sum(1), 0).item()
    h = _states(hidden)
    return torch.logsumexp(h @ b_h + F.softplus(h @ W + b_v).sum(1), 0).item()
