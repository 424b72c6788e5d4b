"""Sample quality and diversity in a feature space (all functions take features, not images).

- FID (Heusel et al. 2017) and KID (Binkowski et al. 2018), computed by torchmetrics from features
  handed in through :class:`~engine.metrics.features.GivenFeatures`.
- Improved precision / recall (Kynkaanniemi et al. 2019) and density / coverage (Naeem et al. 2020),
  from k-nearest-neighbour balls around each point.
- Classifier score (the Inception Score of Salimans et al. 2016, with the domain classifier) and the
  predicted-label histogram, where mode collapse shows.

Every figure here is biased by sample size: compare a model only with the real-vs-real floor
measured at the same sizes (the report always prints both).
"""

from __future__ import annotations

import torch
from torchmetrics.image.fid import FrechetInceptionDistance
from torchmetrics.image.kid import KernelInceptionDistance

from engine.metrics.features import GivenFeatures


def fid(real: torch.Tensor, fake: torch.Tensor) -> float:
    """Frechet distance between Gaussians fitted to two feature sets (N, F) and (M, F)."""
    metric = FrechetInceptionDistance(feature=GivenFeatures(real.shape[1]))
    metric.update(real.double(), real=True)
    metric.update(fake.double(), real=False)
    return max(float(metric.compute()), 0.0)  # tiny negatives are round-off of sqrtm


def kid(
    real: torch.Tensor,
    fake: torch.Tensor,
    *,
    subsets: int = 20,
    subset_size: int | None = None,
    seed: int = 0,
) -> tuple[float, float]:
    """Kernel (cubic polynomial) MMD^2 between feature sets: (mean, std over random subsets).

    The default subset is half the smaller set (at most 1,000), so the spread over subsets means
    something; KID is unbiased, so its floor is ~0 at any sample size.

    torchmetrics draws its subsets from torch's global generator; the draw happens inside
    ``fork_rng`` with ``seed``, so it is repeatable and leaves the caller's global state alone.
    """
    size = subset_size or min(len(real) // 2, len(fake) // 2, 1000)
    metric = KernelInceptionDistance(
        feature=GivenFeatures(real.shape[1]), subsets=subsets, subset_size=size
    )
    metric.update(real.double(), real=True)
    metric.update(fake.double(), real=False)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        mean, std = metric.compute()
    return float(mean), float(std)


def _knn_radii(x: torch.Tensor, k: int) -> torch.Tensor:
    """Distance of each row of ``x`` to its k-th nearest other row, (N,)."""
    d = torch.cdist(x, x)  # (N, N), the diagonal (self, 0) is the first neighbour
    return d.kthvalue(k + 1, dim=1).values


def precision_recall(real: torch.Tensor, fake: torch.Tensor, *, k: int = 3) -> dict[str, float]:
    """Improved precision and recall: the share of fakes inside the real k-NN manifold, and of
    reals inside the fake one (Kynkaanniemi et al. 2019, k = 3 as in the paper)."""
    real, fake = real.double(), fake.double()
    r_real, r_fake = _knn_radii(real, k), _knn_radii(fake, k)
    d = torch.cdist(real, fake)  # (N, M)
    precision = (d <= r_real[:, None]).any(0).double().mean()
    recall = (d <= r_fake[None, :]).any(1).double().mean()
    return {"precision": float(precision), "recall": float(recall)}


def density_coverage(real: torch.Tensor, fake: torch.Tensor, *, k: int = 5) -> dict[str, float]:
    """Density (how many real k-NN balls hold each fake, / k) and coverage (share of real balls
    holding at least one fake), Naeem et al. 2020. Two independent samples of one distribution
    give density ~ 1 and coverage ~ 1 - 2^-k (equal sizes)."""
    real, fake = real.double(), fake.double()
    inside = torch.cdist(real, fake) <= _knn_radii(real, k)[:, None]  # (N, M)
    density = inside.sum(0).double().mean() / k
    coverage = inside.any(1).double().mean()
    return {"density": float(density), "coverage": float(coverage)}


def classifier_score(probs: torch.Tensor) -> float:
    """exp(E_x KL(p(y|x) || p(y))) over class probabilities (N, K): between 1 and K, higher when
    samples are confidently classified and all classes appear (Inception Score analogue)."""
    p = probs.double().clamp_min(1e-12)
    marginal = p.mean(0, keepdim=True)
    kl = (p * (p.log() - marginal.log())).sum(1)
    return float(kl.mean().exp())


def label_histogram(probs: torch.Tensor) -> list[float]:
    """Share of samples predicted as each class (argmax), (K,) summing to 1."""
    counts = torch.bincount(probs.argmax(1), minlength=probs.shape[1]).double()
    return (counts / counts.sum()).tolist()


def quality(
    real: torch.Tensor,
    fake: torch.Tensor,
    *,
    fake_probs: torch.Tensor | None = None,
    seed: int = 0,
) -> dict:
    """Every feature-space figure of ``fake`` against ``real`` in one dict of plain numbers."""
    out = {"n_real": len(real), "n_fake": len(fake), "fid": fid(real, fake)}
    out["kid"], out["kid_std"] = kid(real, fake, seed=seed)
    out.update(precision_recall(real, fake))
    out.update(density_coverage(real, fake))
    if fake_probs is not None:
        hist = label_histogram(fake_probs)
        out.update(
            classifier_score=classifier_score(fake_probs),
            label_histogram=hist,
            min_class_share=min(hist),
        )
    return out
