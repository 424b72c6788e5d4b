"""Does a model copy its training images? Nearest-neighbour distances to train vs. held-out.

For each sample: d_train, the distance to its nearest training image, and d_held, the distance to
its nearest held-out image. The same two distances of real held-out images (their own
nearest neighbour among the other held-out images, leave-one-out) say what "new data" looks like,
so nothing depends on the sizes of the two sets:

- ``median_ratio``: median of d_train / d_held of the samples over that of held-out images.
  ~1 for a model whose samples sit as close to the training set as unseen real data does; -> 0
  for a model that reproduces training images.
- ``share_copies``: share of samples closer to a training image than 99% of held-out images are
  (~0.01 expected for new data, -> 1 for copies).

In the spirit of the data-copying test of Meehan et al. 2020, made simple enough to read off.
"""

from __future__ import annotations

import torch

COPY_QUANTILE = 0.01


def _knn_distance(x: torch.Tensor, ref: torch.Tensor, k: int = 1, batch: int = 512):
    ref = ref.flatten(1).double()
    return torch.cat(
        [torch.cdist(b.flatten(1).double(), ref).kthvalue(k, dim=1).values for b in x.split(batch)]
    )


def memorisation(
    samples: torch.Tensor,
    train: torch.Tensor,
    held_out: torch.Tensor,
    *,
    flag_ratio: float = 0.8,
    flag_share: float = 0.10,
) -> dict:
    """Nearest-neighbour distances of ``samples`` to ``train`` and to ``held_out``.

    Args:
        samples: (N, ...) generated images (pixels in the report: a copy is a copy of pixels).
        train: (M, ...) the training images.
        held_out: (K, ...) real images the model never saw (K >= 2).
        flag_ratio: flagged when ``median_ratio`` is below this ...
        flag_share: ... or ``share_copies`` above this (10x the 1% that new data gives by
            construction; compact classes such as MNIST ones reach 3-5%).

    Returns:
        ``median_ratio``, ``share_copies``, ``share_closer_to_train`` (d_train < d_held), the
        median distances of the samples and ``flagged``.
    """
    d_train, d_held = _knn_distance(samples, train), _knn_distance(samples, held_out)
    ref_train = _knn_distance(held_out, train)
    ref_held = _knn_distance(held_out, held_out, k=2)  # k = 1 is the image itself
    ref_ratio = (ref_train / ref_held.clamp_min(1e-12)).median()
    ratio = float((d_train / d_held.clamp_min(1e-12)).median() / ref_ratio.clamp_min(1e-12))
    share = float((d_train < torch.quantile(ref_train, COPY_QUANTILE)).double().mean())
    return {
        "median_ratio": ratio,
        "share_copies": share,
        "share_closer_to_train": float((d_train < d_held).double().mean()),
        "median_d_train": float(d_train.median()),
        "median_d_held_out": float(d_held.median()),
        "flagged": ratio < flag_ratio or share > flag_share,
    }
