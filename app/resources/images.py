"""Images for the page: upscaling, strips, rows, data URIs and exports, from tensors or PIL."""

from __future__ import annotations

import base64

import numpy as np
import torch
from PIL import Image

from engine.images import gif_bytes, make_grid, png_bytes, to_pil

DISPLAY_PX = 196  # shown size of one 28x28 image (pixelated upscaling)


def upscale(image: Image.Image, px: int = DISPLAY_PX) -> Image.Image:
    """Nearest-neighbour upscaling so 28x28 pixels stay crisp on the page."""
    scale = max(1, px // max(image.size))
    return image.resize((image.width * scale, image.height * scale), Image.NEAREST)


def pixels(x: torch.Tensor) -> Image.Image:
    return to_pil(x)


def grid(x: torch.Tensor) -> Image.Image:
    """A batch (B, C, H, W) as one grid, laid out as the sample grids are."""
    return make_grid(x)


def frames_to_pils(frames: torch.Tensor) -> list[Image.Image]:
    return [to_pil(f) for f in frames]


def data_uri(image: Image.Image) -> str:
    return "data:image/png;base64," + base64.b64encode(png_bytes(image)).decode()


def png(image: Image.Image) -> bytes:
    return png_bytes(image)


def gif(frames: torch.Tensor, *, duration_ms: int = 80) -> bytes:
    return gif_bytes(frames, duration_ms=duration_ms)


def strip(frames: torch.Tensor) -> Image.Image:
    return make_grid(frames, nrow=len(frames))


def row_pils(images: list[Image.Image], pad: int = 2) -> Image.Image:
    """Images of one size side by side."""
    w, h = images[0].size
    row = Image.new(images[0].mode, (len(images) * (w + pad) + pad, h + 2 * pad))
    for i, im in enumerate(images):
        row.paste(im, (pad + i * (w + pad), pad))
    return row


def masked_view(x: torch.Tensor, known: torch.Tensor) -> Image.Image:
    """The input as the model gets it: hidden pixels shown in mid grey."""
    shown = torch.where(known.expand_as(x), x, torch.full_like(x, 0.5))
    return to_pil(shown)


def spread_image(spread: np.ndarray) -> Image.Image:
    """Per-pixel spread as a heat image (black = certain, yellow = uncertain)."""
    s = spread / max(float(spread.max()), 1e-6)
    rgb = np.stack([s, s**0.5 * 0.9, np.zeros_like(s)], -1)
    return Image.fromarray((rgb * 255).astype(np.uint8))


def image_from_canvas(rgba: np.ndarray | None) -> Image.Image | None:
    """A drawing from the canvas (H, W, 4) as an RGB image on white, or None when blank."""
    if rgba is None or rgba[..., 3].max() == 0:
        return None
    img = Image.fromarray(rgba.astype(np.uint8), "RGBA")
    back = Image.new("RGB", img.size, "white")
    back.paste(img, mask=img.split()[3])
    return back
