"""Independent-pixel baselines for the held-out likelihoods of the flow and the VAE.

Any model worth its parameters must beat a model that ignores every dependency between pixels:

- :func:`independent_bpd`: a categorical distribution over the 256 levels of each pixel, fitted
  on the training split with add-one smoothing; bits per dimension on the 8-bit scale, the same
  scale as the flow's uniform-dequantized bits/dim (a discrete likelihood bounds that one).
- :func:`independent_bernoulli_nll`: a Bernoulli per pixel with the training images' mean
  intensity, NLL in nats per image of binarized images, the same quantity as the VAE's IWAE bound.
"""

from __future__ import annotations

import math

import torch


def independent_bpd(train: torch.Tensor, test: torch.Tensor, *, alpha: float = 1.0) -> float:
    """Bits/dim of uint8 ``test`` (N, C, H, W) under per-pixel histograms of uint8 ``train``."""
    tr, te = train.flatten(1).long(), test.flatten(1).long()  # (M, D), (N, D)
    counts = torch.zeros(tr.shape[1], 256, dtype=torch.float64)
    counts.scatter_add_(1, tr.T, torch.ones_like(tr.T, dtype=torch.float64))  # (D, 256)
    log_p = (counts + alpha).log() - math.log(len(tr) + 256 * alpha)
    nll = -log_p.gather(1, te.T)  # (D, N) nats
    return float(nll.mean() / math.log(2))


def independent_bernoulli_nll(
    train: torch.Tensor, test_binary: torch.Tensor, *, eps: float = 1e-3
) -> float:
    """Mean NLL (nats per image) of binary ``test_binary`` under per-pixel Bernoullis whose
    probabilities are the mean intensities of ``train`` (floats in [0, 1], as the VAE is trained
    on dynamically binarized images)."""
    p = train.double().mean(0).clamp(eps, 1 - eps)
    x = test_binary.double()
    ll = x * p.log() + (1 - x) * (1 - p).log()
    return float(-ll.flatten(1).sum(1).mean())
