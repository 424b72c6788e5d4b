"""Perceptual path length (Karras et al. 2019) with a feature-space distance instead of LPIPS.

PPL = E[ d(G(lerp(z1, z2; t)), G(lerp(z1, z2; t + eps))) / eps^2 ], t ~ U(0, 1), with spherical
interpolation for Gaussian latents as in StyleGAN's Z space, and d the squared Euclidean distance
between domain-classifier features. The 1% tails are dropped before averaging, as in the paper.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from engine.ops.interpolate import interpolate_latents


@torch.no_grad()
def perceptual_path_length(
    decode: Callable[[torch.Tensor], torch.Tensor],
    features: Callable[[torch.Tensor], torch.Tensor],
    z0: torch.Tensor,
    z1: torch.Tensor,
    *,
    generator: torch.Generator,
    eps: float = 1e-2,
    mode: str = "slerp",
    trim: float = 0.01,
) -> dict:
    """Mean path length over the pairs (z0[i], z1[i]).

    Args:
        decode: latents (B, ...) -> images.
        features: images -> (B, F).
        z0, z1: (B, ...) endpoints.
        generator: draws t.
        eps: step along the path (1e-4 in the paper; 1e-2 keeps float32 round-off out of it).
        mode: ``slerp`` or ``lerp``.
        trim: share cut from each tail before the mean.

    Returns:
        ``ppl`` (trimmed mean), ``median`` and ``pairs``.
    """
    t = torch.rand(len(z0), generator=generator) * (1 - eps)
    pairs = [
        interpolate_latents(a, b, torch.stack([ti, ti + eps]), method=mode)
        for a, b, ti in zip(z0, z1, t, strict=True)
    ]
    za, zb = torch.stack([p[0] for p in pairs]), torch.stack([p[1] for p in pairs])
    d = (features(decode(za)) - features(decode(zb))).double().pow(2).sum(1) / eps**2
    lo, hi = torch.quantile(d, torch.tensor([trim, 1 - trim], dtype=d.dtype))
    kept = d[(d >= lo) & (d <= hi)] if trim > 0 else d
    return {"ppl": float(kept.mean()), "median": float(d.median()), "pairs": len(d)}
