"""Directions in a latent space, and walks along them, for every model kind.

Where directions come from:

- :func:`axis_directions`: the coordinate axes of the latent.
- :func:`principal_directions`: PCA. Given codes (e.g. a VAE's posterior means of real images),
  the principal axes of those codes. Without codes, GANSpace (Härkönen et al. 2020): sample codes
  from the prior, PCA the decoded images, and regress the codes on the PCA coordinates to carry
  each image-space component back to a latent direction (PCA of the isotropic prior codes
  themselves would give arbitrary axes).
- :func:`class_directions`: mean code of one class minus the mean code of another.
- :func:`factor_directions`: for data with ground-truth factors (sprites), the change of code per
  unit of each factor, from a linear regression of the codes on all the factors together.

Built directions are unit vectors (as float32 tensors of ``latent_shape``), so a walk's ``span``
means the same latent distance whatever the direction. :func:`save_directions` and
:func:`load_directions` (in ``direction_files.py``) keep a list of them in a small JSON file.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from engine.errors import EngineError
from engine.ops.interpolate import _one_latent

MAX_AXES = 256  # image-shaped flow latents have 784-12,288 axes; nobody browses them all


@dataclass
class Direction:
    """A named direction in a model's latent space."""

    name: str
    vector: torch.Tensor  # (*latent_shape) float32, on the CPU
    source: str  # how it was made, e.g. "PCA of 500 codes: 21.3% of the variance"


def _flat(values, what: str) -> np.ndarray:
    """Codes (N, *latent_shape) as float64 (N, D)."""
    a = np.asarray(torch.as_tensor(values).detach().cpu().double().numpy())
    if a.ndim < 2 or len(a) == 0:
        raise EngineError(f"{what} must be a non-empty batch (N, ...), not shape {a.shape}")
    a = a.reshape(len(a), -1)
    if not np.isfinite(a).all():
        raise EngineError(f"{what} contain NaN or infinite values")
    return a


def _direction(name: str, vector, shape: Sequence[int], source: str, normalize: bool) -> Direction:
    v = torch.as_tensor(np.asarray(vector, dtype=np.float64))
    norm = float(v.norm())
    if not norm > 1e-12:
        raise EngineError(f"direction {name!r} is zero: the data do not vary along it")
    if normalize:
        v = v / norm
    return Direction(name, v.float().reshape(tuple(shape)).contiguous(), source)


def _axis_name(i: int, shape: tuple[int, ...]) -> str:
    if len(shape) == 1:
        return f"axis {i}"
    c, y, x = np.unravel_index(i, shape)
    return f"axis {i} (channel {c}, row {y}, column {x})"


def axis_directions(
    model, *, indices: Sequence[int] | None = None, limit: int = MAX_AXES
) -> list[Direction]:
    """Unit vectors along latent coordinates, named ``axis I`` (I indexes the flattened latent).

    Args:
        indices: which coordinates; default the first ``limit`` (all of a VAE's or GAN's).
        limit: cap on the default list, because image-shaped flow latents have one axis per pixel.
    """
    shape = tuple(model.latent_shape)
    size = math.prod(shape)
    if indices is None:
        indices = range(min(size, limit))
    out = []
    for i in indices:
        if not 0 <= i < size:
            raise EngineError(f"axis {i} does not exist: the latent has axes 0 to {size - 1}")
        v = torch.zeros(size)
        v[i] = 1.0
        out.append(Direction(_axis_name(i, shape), v.view(shape), "latent coordinate axis"))
    return out


@torch.no_grad()
def principal_directions(
    model,
    *,
    n: int = 1024,
    k: int = 10,
    generator: torch.Generator | None = None,
    codes: torch.Tensor | None = None,
    batch: int = 256,
) -> list[Direction]:
    """The ``k`` principal directions, named ``PC 1`` (most variance) to ``PC k``.

    Args:
        n: prior samples for GANSpace (ignored with ``codes``); any that decode to non-finite
            images are left out.
        k: number of directions, capped at the latent dimension and the number of codes.
        generator: seeds the prior samples.
        codes: (N, *latent_shape) codes to run PCA on (e.g. encoded images); without them the
            GANSpace construction above is used.
        batch: decoding batch size.

    Returns:
        Unit directions; each ``source`` gives its explained-variance ratio. With ``codes`` they
        are orthogonal; GANSpace's regressed directions are not in general (see
        :func:`orthogonalize`).
    """
    from sklearn.decomposition import PCA

    shape = tuple(model.latent_shape)
    if k < 1:
        raise EngineError(f"k must be at least 1, not {k}")
    if codes is not None:
        z = _flat(codes, "codes")
        if z.shape[1] != math.prod(shape):
            raise EngineError(f"codes have {z.shape[1]} values each; the latents are {shape}")
        if len(z) < 2:
            raise EngineError("PCA needs at least 2 codes")
        pca = PCA(n_components=min(k, *z.shape), svd_solver="full").fit(z)
        vectors, what = pca.components_, f"PCA of {len(z)} given codes"
    else:
        if n < 2:
            raise EngineError(f"n must be at least 2, not {n}")
        z_t = model.sample_latent(n, generator=generator)
        images = torch.cat([model.decode(b).flatten(1).cpu() for b in z_t.split(batch)])
        # A prior tail sample can decode to NaN (a flow's inverse overflowing): leave it out.
        finite = torch.isfinite(images).all(1)
        if int(finite.sum()) < 2:
            raise EngineError(
                f"only {int(finite.sum())} of {n} prior samples decode to finite images"
            )
        z, y = _flat(z_t[finite.to(z_t.device)], "codes"), images[finite].double().numpy()
        pca = PCA(n_components=min(k, *z.shape), svd_solver="full").fit(y)  # y: (n, C*H*W)
        scores = pca.transform(y)  # (n, k) image-space PCA coordinates
        vectors = np.linalg.lstsq(scores, z - z.mean(0), rcond=None)[0]  # (k, D)
        what = f"GANSpace: PCA of {len(z)} decoded prior samples, regressed onto the latent"
    return [
        _direction(
            f"PC {i + 1}", v, shape, f"{what}; explains {r:.1%} of the variance", normalize=True
        )
        for i, (v, r) in enumerate(zip(vectors, pca.explained_variance_ratio_, strict=True))
    ]


def class_directions(codes, labels, a, b, *, normalize: bool = True) -> Direction:
    """Mean code of class ``a`` minus mean code of class ``b``: walking it turns b into a.

    Args:
        codes: (N, *latent_shape) codes, e.g. encoded labelled images.
        labels: (N,) class of each code.
        normalize: unit length (default); ``False`` keeps the difference of means, which moves the
            mean of ``b`` exactly onto the mean of ``a``.
    """
    codes_t = torch.as_tensor(codes)
    z, y = _flat(codes_t, "codes"), np.asarray(torch.as_tensor(labels).cpu()).reshape(-1)
    if len(y) != len(z):
        raise EngineError(f"{len(z)} codes but {len(y)} labels")
    means = {}
    for c in (a, b):
        rows = y == c
        if not rows.any():
            raise EngineError(f"no codes with label {c!r}")
        means[c] = z[rows].mean(0)
    if a == b:
        raise EngineError(f"a class direction needs two different classes, not {a!r} twice")
    diff = means[a] - means[b]
    source = f"mean code of class {a} minus class {b} (length {np.linalg.norm(diff):.3g})"
    return _direction(f"{a} - {b}", diff, codes_t.shape[1:], source, normalize)


def factor_directions(
    codes, factors, factor_names: Sequence[str], *, normalize: bool = True
) -> list[Direction]:
    """For each ground-truth factor, the code change per unit of it (one direction per factor).

    Fits ``codes ~ factors @ W + b`` by least squares, all factors together, so each row of ``W``
    is the move of a code when its factor grows by one and the others stay put.

    Args:
        codes: (N, *latent_shape) codes of images with known factors.
        factors: (N, F) factor values, in the order of ``factor_names``.
        normalize: unit length (default); ``False`` keeps the change per unit of the factor.
    """
    codes_t = torch.as_tensor(codes)
    z, f = _flat(codes_t, "codes"), _flat(factors, "factors")
    if len(f) != len(z):
        raise EngineError(f"{len(z)} codes but {len(f)} rows of factors")
    if f.shape[1] != len(factor_names):
        raise EngineError(f"{f.shape[1]} factor columns but {len(factor_names)} factor names")
    if len(z) <= f.shape[1] + 1:
        raise EngineError(f"{len(z)} codes are too few to fit {f.shape[1]} factors")
    constant = [name for name, s in zip(factor_names, f.std(0), strict=True) if not s > 0]
    if constant:
        raise EngineError(f"factor(s) {', '.join(constant)} do not vary in these codes")
    design = np.concatenate([f, np.ones((len(f), 1))], axis=1)  # (N, F + 1)
    w = np.linalg.lstsq(design, z, rcond=None)[0][:-1]  # (F, D), intercept dropped
    out = []
    for name, v in zip(factor_names, w, strict=True):
        source = (
            f"regression of {len(z)} codes on the factors: +1 {name} moves the code by"
            f" {np.linalg.norm(v):.3g}"
        )
        out.append(_direction(str(name), v, codes_t.shape[1:], source, normalize))
    return out


def orthogonalize(directions: Sequence[Direction]) -> list[Direction]:
    """Gram-Schmidt in the given order: each direction loses its components along the earlier
    ones and is scaled to unit length.

    Raises:
        EngineError: a direction lies (numerically) in the span of the earlier ones.
    """
    basis: list[torch.Tensor] = []
    out = []
    for d in directions:
        v = d.vector.flatten().double()
        norm = float(v.norm())
        for u in basis:
            v = v - (u @ v) * u
        if not float(v.norm()) > 1e-6 * max(norm, 1e-30):
            raise EngineError(f"direction {d.name!r} lies in the span of the ones before it")
        v = v / v.norm()
        basis.append(v)
        source = d.source + ("; orthogonalised against the earlier directions" if out else "")
        out.append(Direction(d.name, v.float().view(d.vector.shape), source))
    return out


def walk_offsets(steps: int, span: float) -> torch.Tensor:
    """``steps`` offsets from ``-span`` to ``span`` (float64); 0 is exact in the middle."""
    if steps < 2:
        raise EngineError(f"steps must be at least 2, not {steps}")
    if not (math.isfinite(span) and span > 0):
        raise EngineError(f"span must be a positive number, not {span}")
    return span * (2 * torch.arange(steps, dtype=torch.float64) / (steps - 1) - 1)


@torch.no_grad()
def walk(
    model, z: torch.Tensor, direction: Direction | torch.Tensor, *, steps: int, span: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Decode ``z + s * direction`` for ``steps`` offsets ``s`` from ``-span`` to ``span``.

    Args:
        z: the starting latent (*latent_shape) or (1, *latent_shape).
        direction: a :class:`Direction` or a tensor of ``latent_shape``.
        steps: number of frames (an odd number puts ``z`` itself in the middle).
        span: the largest offset, in lengths of ``direction`` (unit for built directions).

    Returns:
        ``(latents, frames)``: (steps, *latent_shape) and images (steps, C, H, W) in [0, 1],
        decoded in one batch.
    """
    z = _one_latent(model, z, "z")
    v = _one_latent(model, getattr(direction, "vector", direction), "direction")
    s = walk_offsets(steps, span).float().to(z.device)
    latents = z + s.view(-1, *([1] * z.dim())) * v  # (steps, *latent_shape)
    return latents, model.decode(latents)
