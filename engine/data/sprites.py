"""Procedurally rendered sprites with ground-truth factors (in the spirit of dSprites).

Every image is one white shape on black, a pure function of its factor indices (the same indices
always give bit-identical pixels). Factors, in column order of every ``factors`` tensor:

- ``shape``: square, ellipse (axes 2:1), heart. Every outline fits in a circle of radius 1 around
  its centre, so rotating it never moves it outside that circle.
- ``scale``: 0.5 ... 1.0 (6 values) times the largest radius, 0.2 of the image side.
- ``rotation``: 0, 9, ..., 81 degrees (10 values), counter-clockwise on screen. The range is a
  quarter turn so that no two rotations of a square give the same image (dSprites' 0..360 range
  makes squares and ellipses at different rotations identical, which blurs disentanglement metrics).
- ``pos_x``, ``pos_y``: the shape's centre, 8 values each from 0.25 to 0.75 of the image side;
  ``pos_x`` grows to the right, ``pos_y`` grows downwards. With the largest radius (0.2) the shape
  stays at least 0.05 of the side (1.6 pixels at 32x32) inside every edge.

The colour variant (``sprites-color``, ``color=True``) adds a first factor ``color`` (white, red,
green, blue; see :data:`COLORS`) and has 3 channels; its pixels are the grayscale coverage times the
colour. The grayscale variant (``sprites``) has 1 channel.

Rendering: each shape is drawn as a polygon with Pillow at 4x the output size and reduced with a
4x4 box filter (exact area averaging), which anti-aliases the edges. Native size is 32x32.

:func:`load_sprites` renders the full Cartesian grid of factors (:func:`factor_grid`: 11,520
grayscale images, 46,080 in colour), cached in-process, and splits it by a fixed permutation
(``torch.Generator`` seeded with 0): the first 10% of the permutation are ``test``, the next 10%
``val`` and the remaining 80% ``train``; each split is sorted by grid row, and ``index`` is the row
in :func:`factor_grid`. :func:`sample_factors` draws random factor indices with some factors held
fixed, for "fix one factor, vary the rest" batches.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import torch
from PIL import Image, ImageDraw

from engine.data import ImageData
from engine.errors import DataError

FACTORS: dict[str, tuple] = {
    "shape": ("square", "ellipse", "heart"),
    "scale": (0.5, 0.6, 0.7, 0.8, 0.9, 1.0),
    "rotation": tuple(range(0, 90, 9)),  # degrees
    "pos_x": tuple(0.25 + i * 0.5 / 7 for i in range(8)),  # fraction of the image side
    "pos_y": tuple(0.25 + i * 0.5 / 7 for i in range(8)),
}
COLORS: dict[str, tuple[int, int, int]] = {
    "white": (255, 255, 255),
    "red": (235, 60, 50),
    "green": (60, 200, 80),
    "blue": (60, 110, 255),
}
COLOR_FACTORS: dict[str, tuple] = {"color": tuple(COLORS), **FACTORS}
MAX_RADIUS = 0.2  # fraction of the image side, at scale 1.0
SUPERSAMPLE = 4
NATIVE_SIZE = 32


def factors_of(*, color: bool = False) -> dict[str, tuple]:
    """The factor names and value lists of the grayscale (or colour) variant, in column order."""
    return COLOR_FACTORS if color else FACTORS


def _unit_outline(shape: str) -> np.ndarray:
    """Polygon vertices (K, 2) of a shape centred at 0 with max distance from the centre 1."""
    t = np.linspace(0.0, 2.0 * math.pi, 96, endpoint=False)
    if shape == "square":
        s = 1.0 / math.sqrt(2.0)
        return np.array([[-s, -s], [s, -s], [s, s], [-s, s]])
    if shape == "ellipse":
        return np.stack([np.cos(t), 0.5 * np.sin(t)], axis=1)
    # The classic heart curve; y is flipped because image rows grow downwards.
    x = 16 * np.sin(t) ** 3
    y = -(13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t))
    pts = np.stack([x, y], axis=1)
    pts -= (pts.max(0) + pts.min(0)) / 2  # centre the bounding box
    return pts / np.linalg.norm(pts, axis=1).max()


_OUTLINES = {name: _unit_outline(name) for name in FACTORS["shape"]}


def _check_factors(factors: np.ndarray | torch.Tensor, *, color: bool) -> np.ndarray:
    table = factors_of(color=color)
    f = np.asarray(factors.cpu() if isinstance(factors, torch.Tensor) else factors)
    if f.ndim != 2 or f.shape[1] != len(table):
        raise DataError(
            f"factors must have shape (N, {len(table)}) for {list(table)}, not {f.shape}"
        )
    if f.size and not np.issubdtype(f.dtype, np.integer):
        raise DataError(f"factors must be integer indices, not {f.dtype}")
    for col, (name, values) in enumerate(table.items()):
        if f.size and (f[:, col].min() < 0 or f[:, col].max() >= len(values)):
            raise DataError(f"factor {name!r} indices must be in 0..{len(values) - 1}")
    return f.astype(np.int64)


def _render_mask(shape: int, scale: int, rotation: int, pos_x: int, pos_y: int, size: int):
    """One anti-aliased coverage mask (size, size) uint8 from factor indices."""
    hi = size * SUPERSAMPLE
    theta = math.radians(FACTORS["rotation"][rotation])
    c, s = math.cos(theta), math.sin(theta)
    rot = np.array([[c, -s], [s, c]])  # counter-clockwise on screen (y grows downwards)
    radius = FACTORS["scale"][scale] * MAX_RADIUS * hi
    centre = np.array([FACTORS["pos_x"][pos_x], FACTORS["pos_y"][pos_y]]) * hi
    pts = _OUTLINES[FACTORS["shape"][shape]] * np.array([1.0, -1.0])  # to y-up, rotate, back
    pts = (pts @ rot.T) * np.array([1.0, -1.0]) * radius + centre - 0.5  # -0.5: pixel centres
    img = Image.new("L", (hi, hi), 0)
    ImageDraw.Draw(img).polygon([tuple(p) for p in pts.tolist()], fill=255)
    return np.asarray(img.reduce(SUPERSAMPLE))  # 4x4 box average = anti-aliasing


def _colorize(mask: np.ndarray, color_idx: np.ndarray) -> np.ndarray:
    """(N, H, W) coverage and (N,) colour indices -> (N, 3, H, W) uint8, rounded half up."""
    rgb = np.array(list(COLORS.values()), dtype=np.uint16)[color_idx]  # (N, 3)
    out = mask[:, None].astype(np.uint16) * rgb[:, :, None, None]  # <= 255 * 255 + 127 fits
    return ((out + 127) // 255).astype(np.uint8)


def render(
    factors: np.ndarray | torch.Tensor, *, color: bool = False, size: int = NATIVE_SIZE
) -> torch.Tensor:
    """Render sprites from factor indices.

    Args:
        factors: (N, F) integer indices into each factor's values, columns in the order of
            :data:`FACTORS` (or :data:`COLOR_FACTORS` when ``color``).
        color: render the colour variant (first column is the colour).
        size: output side length in pixels (the geometry scales with it).

    Returns:
        uint8 tensor (N, C, size, size), C = 3 if ``color`` else 1; bit-identical for equal inputs.
    """
    if size < 4:
        raise DataError(f"sprite size must be at least 4 pixels, not {size}")
    f = _check_factors(factors, color=color)
    geom = f[:, 1:] if color else f
    masks = np.zeros((len(f), size, size), dtype=np.uint8)
    for i, row in enumerate(geom.tolist()):
        masks[i] = _render_mask(*row, size=size)
    x = _colorize(masks, f[:, 0]) if color else masks[:, None]
    return torch.from_numpy(np.ascontiguousarray(x))


def factor_grid(*, color: bool = False) -> torch.Tensor:
    """Every combination of factor indices once, (M, F) int64; the last factor varies fastest."""
    sizes = [len(v) for v in factors_of(color=color).values()]
    grids = torch.meshgrid(*[torch.arange(n) for n in sizes], indexing="ij")
    return torch.stack([g.reshape(-1) for g in grids], dim=1)


def sample_factors(
    n: int,
    *,
    generator: torch.Generator,
    fixed: dict[str, int] | None = None,
    color: bool = False,
) -> torch.Tensor:
    """Draw ``n`` random factor combinations, uniformly per factor, with some factors held fixed.

    Args:
        n: number of rows.
        generator: the only source of randomness (same seed -> same rows).
        fixed: factor name -> index to use in every row (e.g. ``{"shape": 2}``).
        color: sample the colour variant's factors.

    Returns:
        (n, F) int64 indices, ready for :func:`render`.
    """
    table = factors_of(color=color)
    fixed = dict(fixed or {})
    for name, value in fixed.items():
        if name not in table:
            raise DataError(f"unknown factor {name!r} (use one of {', '.join(table)})")
        if not 0 <= int(value) < len(table[name]):
            raise DataError(f"factor {name!r} index must be in 0..{len(table[name]) - 1}")
    cols = []
    for name, values in table.items():  # always draw every column, so fixing one keeps the others
        col = torch.randint(len(values), (n,), generator=generator, dtype=torch.int64)
        cols.append(torch.full_like(col, int(fixed[name])) if name in fixed else col)
    return torch.stack(cols, dim=1)


@lru_cache(maxsize=2)
def _grid_images(color: bool) -> torch.Tensor:
    """The whole grid rendered once per process (the colour grid reuses the grayscale masks)."""
    if not color:
        return render(factor_grid(), size=NATIVE_SIZE)
    grid = factor_grid(color=True)
    gray = _grid_images(False)[:, 0].numpy()  # (M, H, W); colour rows cycle over the gray grid
    masks = gray[np.arange(len(grid)) % len(gray)]
    return torch.from_numpy(_colorize(masks, grid[:, 0].numpy()))


def split_rows(split: str, *, color: bool = False) -> torch.Tensor:
    """Rows of :func:`factor_grid` in one split (fixed permutation, seed 0), ascending."""
    m = len(factor_grid(color=color))
    perm = torch.randperm(m, generator=torch.Generator().manual_seed(0))
    n_hold = m // 10
    parts = {"test": perm[:n_hold], "val": perm[n_hold : 2 * n_hold], "train": perm[2 * n_hold :]}
    if split not in parts:
        raise DataError(f"unknown split {split!r} (use one of train, val, test)")
    return parts[split].sort().values


def load_sprites(split: str, *, color: bool = False) -> ImageData:
    """Load one split of the sprites grid as uint8 (N, C, 32, 32) with ground-truth factors.

    Args:
        split: ``train`` (80%), ``val`` (10%) or ``test`` (10%).
        color: the 3-channel variant with a ``color`` factor (dataset name ``sprites-color``).

    Returns:
        :class:`ImageData` with ``factors`` (N, F), ``factor_names``, ``labels`` (the shape index),
        ``index`` (row in :func:`factor_grid`) and ``meta["factors"]`` (each factor's values).
    """
    rows = split_rows(split, color=color)
    table = factors_of(color=color)
    return ImageData(
        name="sprites-color" if color else "sprites",
        split=split,
        x=_grid_images(color)[rows],
        labels=factor_grid(color=color)[rows, list(table).index("shape")],
        factors=factor_grid(color=color)[rows],
        factor_names=tuple(table),
        index=rows,
        meta={
            "factors": {k: list(v) for k, v in table.items()},
            "classes": list(FACTORS["shape"]),
            "colors": dict(COLORS) if color else {},
        },
    )
