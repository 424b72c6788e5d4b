"""Reconstruct images through a model: encode where the model can, invert by optimisation where not.

- VAE: ``decode(encode(x))`` (the posterior mean).
- flow: the exact round trip; its error is float rounding, reported so the UI can show it.
- GAN: latent optimisation (Zhu et al. 2016, "Generative Visual Manipulation on the Natural Image
  Manifold"; Creswell & Bharath 2018): several random restarts per image, all optimised as one
  batch with Adam on the pixel error plus a weak Gaussian prior on ``z``; the best restart wins.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from engine.errors import EngineError


@dataclass
class Reconstruction:
    """``x_hat`` (B, C, H, W) in [0, 1], its latents ``z`` and per-image errors."""

    x_hat: torch.Tensor
    z: torch.Tensor
    mse: torch.Tensor  # (B,) mean squared error per pixel
    max_error: torch.Tensor  # (B,) largest absolute pixel error
    method: str  # "encode", "exact" or "inversion"


def invert(
    model,
    x: torch.Tensor,
    *,
    known: torch.Tensor | None = None,
    restarts: int = 8,
    steps: int = 150,
    lr: float = 0.05,
    prior_weight: float = 1e-3,
    generator: torch.Generator | None = None,
    callback: Callable[[int, torch.Tensor], None] | None = None,
    keep_all: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Find latents whose decodings match ``x`` by gradient descent, for any decodable model.

    Args:
        x: (B, C, H, W) target images in [0, 1].
        known: optional (B, 1 or C, H, W) bool mask, True where a pixel counts (inpainting:
            the contextual loss of Yeh et al. 2017); ``None`` counts every pixel.
        restarts: random starting points per image, optimised together in one batch.
        steps: Adam steps.
        lr: Adam learning rate.
        prior_weight: weight of ``mean(z**2)``, which keeps ``z`` where the prior has mass.
        generator: seeds the starting points.
        callback: called as ``callback(step, best_x_hat)`` every 10 steps (progress views).
        keep_all: return every restart, sorted best first per image: (B, R, ...) and (B, R).

    Returns:
        ``(z, loss)``: the best latent per image (B, *latent_shape) and its pixel MSE over the
        counted pixels (B,).
    """
    if restarts < 1 or steps < 1:
        raise EngineError("restarts and steps must be at least 1")
    b = x.shape[0]
    # Restart-major rows (r * B + b): restart 0 is exactly the single-restart run, so adding
    # restarts never makes the result worse.
    target = x.to(model.device).repeat(restarts, 1, 1, 1)  # (R*B, C, H, W)
    counted = torch.ones_like(x[:, :1]) if known is None else known.float()  # (B, 1|C, H, W)
    weight = counted.to(target.device).expand_as(x).repeat(restarts, 1, 1, 1)  # like target
    count = weight.flatten(1).sum(1).clamp_min(1)  # (R*B,) pixels counted

    def error(z):
        return ((model.decode(z) - target).pow(2) * weight).flatten(1).sum(1) / count

    z = model.sample_latent(b * restarts, generator=generator).requires_grad_(True)
    opt = torch.optim.Adam([z], lr=lr)
    for step in range(1, steps + 1):
        with torch.enable_grad():
            mse = error(z)  # (R*B,)
            loss = mse + prior_weight * z.pow(2).flatten(1).mean(1)
            opt.zero_grad(set_to_none=True)
            loss.sum().backward()
        opt.step()
        if callback is not None and (step % 10 == 0 or step == steps):
            with torch.no_grad():
                callback(step, model.decode(_best(z, mse, b, restarts)[0]))
    with torch.no_grad():
        z, mse = z.detach(), error(z.detach())
        if keep_all:
            order = mse.view(restarts, b).argsort(0)  # (R, B): restarts best first per image
            columns = torch.arange(b, device=z.device)
            z_sorted = z.view(restarts, b, *z.shape[1:])[order, columns]  # (R, B, ...)
            return z_sorted.transpose(0, 1), mse.view(restarts, b)[order, columns].T
        return _best(z, mse, b, restarts)


def _best(z: torch.Tensor, mse: torch.Tensor, b: int, restarts: int):
    """Pick each image's restart with the lowest error: (R*B, ...) -> (B, ...)."""
    mse = mse.detach().view(restarts, b)
    pick = mse.argmin(0)
    columns = torch.arange(b, device=z.device)
    return z[pick * b + columns].detach(), mse[pick, columns]


@torch.no_grad()
def reconstruct(
    model,
    x: torch.Tensor,
    *,
    generator: torch.Generator | None = None,
    callback: Callable[[int, torch.Tensor], None] | None = None,
    **inversion,
) -> Reconstruction:
    """Reconstruct images ``x`` (B, C, H, W) in [0, 1] with ``model``.

    Models with an ``encode`` capability use it; others (the GAN) are inverted with :func:`invert`,
    to which ``generator``, ``callback`` and ``inversion`` keyword arguments go.
    """
    x = x.to(model.device)
    if tuple(x.shape[1:]) != tuple(model.image_shape):
        raise EngineError(
            f"images of shape {tuple(x.shape[1:])} do not fit a model of shape {model.image_shape}"
        )
    if model.has("encode"):
        z = model.encode(x)
        method = "exact" if model.kind == "flow" else "encode"
    else:
        z, _ = invert(model, x, generator=generator, callback=callback, **inversion)
        method = "inversion"
    x_hat = model.decode(z)
    error = x_hat - x
    return Reconstruction(
        x_hat=x_hat,
        z=z,
        mse=error.pow(2).flatten(1).mean(1),
        max_error=error.abs().flatten(1).amax(1),
        method=method,
    )
