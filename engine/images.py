"""Converting image tensors to PNG/GIF files and back; atomic file writes."""

from __future__ import annotations

import io
import math
import os
import tempfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """(B, C, H, W) floats in [0, 1] -> (B, H, W, C) uint8."""
    x = x.detach().float().clamp(0, 1).mul(255).round().to(torch.uint8).cpu()
    return x.permute(0, 2, 3, 1).numpy()


def to_pil(x: torch.Tensor) -> Image.Image:
    """One image (C, H, W) or (1, C, H, W) in [0, 1] -> PIL image (L or RGB)."""
    arr = to_uint8(x.reshape(1, *x.shape[-3:]))[0]
    return Image.fromarray(arr[..., 0] if arr.shape[-1] == 1 else arr)


def make_grid(x: torch.Tensor, *, nrow: int | None = None, pad: int = 2) -> Image.Image:
    """Tile a batch (B, C, H, W) in [0, 1] into one image, ``nrow`` per row (default: square)."""
    b, c, h, w = x.shape
    nrow = nrow or math.ceil(math.sqrt(b))
    rows = math.ceil(b / nrow)
    arr = to_uint8(x)
    grid = np.zeros((rows * (h + pad) + pad, nrow * (w + pad) + pad, c), dtype=np.uint8)
    for i in range(b):
        r, col = divmod(i, nrow)
        top, left = pad + r * (h + pad), pad + col * (w + pad)
        grid[top : top + h, left : left + w] = arr[i]
    return Image.fromarray(grid[..., 0] if c == 1 else grid)


def png_bytes(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def gif_bytes(x: torch.Tensor, *, duration_ms: int = 100) -> bytes:
    """An animated GIF, looping forever, of frames (T, C, H, W) in [0, 1]."""
    return gif_from_pils([to_pil(frame) for frame in x], duration_ms=duration_ms)


def gif_from_pils(frames: list, *, duration_ms: int = 100) -> bytes:
    """An animated GIF, looping forever, of PIL images (one size)."""
    buf = io.BytesIO()
    frames[0].save(
        buf, format="GIF", save_all=True, append_images=frames[1:], duration=duration_ms, loop=0
    )
    return buf.getvalue()


def write_atomic(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that a crash leaves either the old file or the new one."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o644)  # mkstemp creates 0600; a written file is meant to be shared
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_png(image: Image.Image, path: str | Path) -> None:
    write_atomic(path, png_bytes(image))
