"""Inpainting quality measures shared by ``benchmarks/inpainting.py`` and the report.

- :func:`masks`: the four standard MNIST masks (bottom half, left half, centre 14x14, 50% random).
- :func:`psnr_missing`: PSNR over the missing pixels only, per image, averaged.
- :func:`baselines`: mean training image, k-nearest-neighbour imputation (k = 5, distance on the
  known pixels) and scikit-image's biharmonic inpainting.
"""

from __future__ import annotations

import numpy as np
import torch

from engine.ops.inpaint import mask_preset

# Report labels of the standard masks (engine.ops.inpaint.MASK_PRESETS at 28x28).
MASK_LABELS = {
    "bottom half": "bottom half",
    "left half": "left half",
    "centre 14x14": "centre square",
    "50% random": "random pixels",
}


def masks(seed: int) -> dict[str, torch.Tensor]:
    """``known`` masks (1, 1, 28, 28), True = kept."""
    return {label: mask_preset(p, (1, 28, 28), seed=seed) for label, p in MASK_LABELS.items()}


def psnr_missing(filled: torch.Tensor, x: torch.Tensor, known: torch.Tensor) -> float:
    missing = (~known).expand_as(x).float()
    mse = ((filled - x).pow(2) * missing).flatten(1).sum(1) / missing.flatten(1).sum(1)
    return (10 * torch.log10(1 / mse.clamp_min(1e-10))).mean().item()


def baselines(train: torch.Tensor, x: torch.Tensor, known: torch.Tensor) -> dict:
    from skimage.restoration import inpaint_biharmonic

    kept = known.expand_as(x)
    mean = torch.where(kept, x, train.mean(0, keepdim=True).expand_as(x))
    flat = known.flatten()
    d = torch.cdist(x.flatten(1)[:, flat], train.flatten(1)[:, flat])
    knn = torch.where(kept, x, train[d.topk(5, largest=False).indices].mean(1))
    missing = ~known[0, 0].numpy()
    bh = np.stack([inpaint_biharmonic(img[0].numpy(), missing) for img in x])[:, None]
    bh = torch.where(kept, x, torch.from_numpy(bh).float().clamp(0, 1))
    return {"mean fill": mean, "kNN (k=5)": knn, "biharmonic": bh}
