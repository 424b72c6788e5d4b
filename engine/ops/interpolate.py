"""Interpolation between two latents, decoded in one batch, for every model kind.

Spherical interpolation (slerp) follows White 2016, "Sampling Generative Networks": Gaussian
latents concentrate near a sphere, and the straight line between two of them (lerp) passes through
codes of unusually small norm that the decoder rarely saw. Slerp walks the great circle instead,
so for two latents of equal norm every code on the path has that norm.

Endpoints come from a seed (:func:`latent_from_seed`) or an image (:func:`latent_from_image`,
which needs the ``encode`` capability; GAN inversion is a separate operation).
"""

from __future__ import annotations

import math

import torch

from engine.errors import EngineError

METHODS = ("slerp", "lerp")
PARALLEL_EPS = 1e-6  # |sin(angle)| below this: the great circle is undefined, fall back to lerp


def _one_latent(model, z: torch.Tensor, what: str) -> torch.Tensor:
    """Accept (*latent_shape) or (1, *latent_shape); return (*latent_shape) on the model device."""
    shape = tuple(model.latent_shape)
    z = torch.as_tensor(z)
    if tuple(z.shape) == (1, *shape):
        z = z[0]
    if tuple(z.shape) != shape:
        raise EngineError(
            f"{what} has shape {tuple(z.shape)}; this {model.kind} model's latents are {shape}"
        )
    return z.to(device=model.device, dtype=torch.float32)


def latent_from_seed(model, seed: int, *, temperature: float = 1.0) -> torch.Tensor:
    """The latent ``(*latent_shape)`` that ``model.sample(1, ...)`` draws for ``seed``.

    Args:
        seed: seeds a fresh ``torch.Generator`` (no global state is touched).
        temperature: scales the prior draw (truncation for GANs).
    """
    generator = torch.Generator().manual_seed(int(seed))
    return model.sample_latent(1, generator=generator, temperature=temperature)[0]


@torch.no_grad()
def latent_from_image(model, x: torch.Tensor) -> torch.Tensor:
    """The latent ``(*latent_shape)`` of one image ``x`` (C, H, W) or (1, C, H, W) in [0, 1].

    Raises:
        CapabilityError: the model cannot ``encode`` (GANs); nothing is inverted here.
        EngineError: ``x`` does not have the model's image shape.
    """
    model._require("encode")
    x = torch.as_tensor(x)
    shape = tuple(model.image_shape)
    if tuple(x.shape) == shape:
        x = x.unsqueeze(0)
    if tuple(x.shape) != (1, *shape):
        raise EngineError(f"image has shape {tuple(x.shape)}; this model takes {shape}")
    return model.encode(x.to(device=model.device, dtype=torch.float32))[0]


def interpolation_times(steps: int, *, extrapolate: float = 0.0) -> torch.Tensor:
    """``steps`` evenly spaced times from ``-extrapolate`` to ``1 + extrapolate`` (float64).

    Computed as ``i / (steps - 1)`` so that, without extrapolation, the ends are exactly 0 and 1.
    """
    if steps < 2:
        raise EngineError(f"steps must be at least 2, not {steps}")
    if not (math.isfinite(extrapolate) and extrapolate >= 0):
        raise EngineError(f"extrapolate must be a finite number >= 0, not {extrapolate}")
    fraction = torch.arange(steps, dtype=torch.float64) / (steps - 1)
    if extrapolate == 0:
        return fraction
    return -extrapolate + (1 + 2 * extrapolate) * fraction


def interpolate_latents(
    z0: torch.Tensor, z1: torch.Tensor, t: torch.Tensor, *, method: str = "slerp"
) -> torch.Tensor:
    """Latents (T, *shape) at times ``t`` (T,) between ``z0`` and ``z1`` (both of one shape).

    ``t = 0`` gives ``z0`` and ``t = 1`` gives ``z1`` bit for bit; times outside [0, 1] continue
    the line (lerp) or the great circle (slerp). Slerp works on the flattened latent and falls
    back to lerp when the two are (anti)parallel or one is zero, where no unique circle exists.
    """
    if method not in METHODS:
        raise EngineError(f"method must be one of {', '.join(METHODS)}, not {method!r}")
    a, b = z0.flatten().double(), z1.flatten().double()
    t = t.to(torch.float64).cpu()
    w0, w1 = 1 - t, t  # lerp weights, exact at t = 0 and t = 1
    if method == "slerp":
        norms = a.norm() * b.norm()
        cos = (a @ b / norms).clamp(-1, 1) if norms > 0 else torch.tensor(1.0, dtype=a.dtype)
        omega = torch.arccos(cos)
        sin = torch.sin(omega)
        if sin.abs() > PARALLEL_EPS:
            w0, w1 = torch.sin((1 - t) * omega) / sin, torch.sin(t * omega) / sin
    w0, w1 = w0.to(a.device), w1.to(a.device)
    z = w0[:, None] * a + w1[:, None] * b  # (T, D)
    z = z.to(z0.dtype).view(len(t), *z0.shape)
    # Guarantee the endpoints are the inputs themselves, whatever rounding did.
    z[(t == 0).to(z.device)] = z0
    z[(t == 1).to(z.device)] = z1
    return z


@torch.no_grad()
def interpolate(
    model,
    z0: torch.Tensor,
    z1: torch.Tensor,
    *,
    steps: int,
    method: str = "slerp",
    extrapolate: float = 0.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Decode ``steps`` latents on the path from ``z0`` to ``z1`` in one batch.

    Args:
        model: any model with ``decode``.
        z0, z1: latents (*latent_shape) or (1, *latent_shape).
        steps: number of frames, at least 2 (the first is ``z0``, the last ``z1``).
        method: ``"slerp"`` (great circle, White 2016) or ``"lerp"`` (straight line).
        extrapolate: extend past both ends by this fraction of the segment: times run from
            ``-extrapolate`` to ``1 + extrapolate``, and the ends are then no longer z0 and z1.

    Returns:
        ``(latents, frames)``: (steps, *latent_shape) and images (steps, C, H, W) in [0, 1].
    """
    z0, z1 = _one_latent(model, z0, "z0"), _one_latent(model, z1, "z1")
    t = interpolation_times(steps, extrapolate=extrapolate)
    z = interpolate_latents(z0, z1, t, method=method)
    return z, model.decode(z)
