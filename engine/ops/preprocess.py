"""Bring an arbitrary picture into a model's domain, and say exactly what was done to it.

The steps, in order (each recorded in :attr:`Preprocessed.steps`):

1. Decode (a path, bytes or a PIL image) and apply the EXIF orientation. Only raster formats
   Pillow decodes itself are read (PNG, JPEG, GIF: its first frame, BMP, WebP, TIFF); anything
   else (SVG, EPS, PDF, ...) is refused. Images over 50 megapixels or files over 20 MB are
   refused before they are decoded; JPEGs are decoded at a reduced scale when they are large, and
   any picture with a side over 2048 pixels is shrunk to that first (Lanczos), so a phone photo
   costs milliseconds. 16-bit and floating-point images are scaled to 8 bits by their range.
2. Flatten transparency onto the colour that contrasts with the drawing: a light drawing on a
   transparent canvas goes onto black, a dark one onto white.
3. Convert to the model's channels (``L`` luma for 1 channel, ``RGB`` for 3).
4. Invert when the background is light. The background is the median of the border pixels' luma;
   MNIST (and the sprites) are light strokes on black, so a pencil drawing on paper is inverted.
5. Stretch the contrast so the background is 0 and the brightest stroke 1.
6. ``fit="content"``: crop to the bounding box of the pixels above 20% of the maximum, pad to a
   square centred on it and add a margin so the content spans ``1 - 2 * margin`` of the side
   (MNIST digits fill 20 of 28 pixels: margin 4/28). ``fit="whole"``: pad the whole picture to a
   square (for sprites, whose position and size are what the model encodes).
7. Resize to the model's side with Pillow's Lanczos filter and quantise to 8 bits, like the data.

Everything is deterministic: the same input always gives the same tensor.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from engine.errors import DataError

MNIST_MARGIN = 4 / 28
CONTENT_THRESHOLD = 0.2
FORMATS = ("PNG", "JPEG", "GIF", "BMP", "WEBP", "TIFF")
MAX_PIXELS = 50_000_000  # refused before decoding (decompression bombs declare huge sizes)
MAX_FILE_BYTES = 20 * 2**20
WORKING_SIDE = 2048  # larger pictures are shrunk to this first


@dataclass
class Preprocessed:
    """The model's view of a picture: ``x`` (1, C, H, W) in [0, 1] and ``image`` to show."""

    x: torch.Tensor
    image: Image.Image
    inverted: bool
    box: tuple[int, int, int, int] | None  # content crop (left, top, right, bottom), source pixels
    steps: list[str] = field(default_factory=list)


def _open(source) -> Image.Image:
    name = "the upload" if isinstance(source, bytes | bytearray) else str(source)
    try:
        if isinstance(source, Image.Image):
            image = source
        else:
            if isinstance(source, bytes | bytearray):
                size, stream = len(source), io.BytesIO(source)
            else:
                path = Path(source)
                size, stream = path.stat().st_size, path
            if size == 0:
                raise DataError(f"{name} is empty (0 bytes)")
            if size > MAX_FILE_BYTES:
                raise DataError(
                    f"{name} is {size / 2**20:.0f} MB; images up to {MAX_FILE_BYTES // 2**20} MB "
                    "are read"
                )
            image = Image.open(stream, formats=FORMATS)
        if image.width * image.height > MAX_PIXELS:
            raise DataError(
                f"{name} declares {image.width}x{image.height} pixels; images up to "
                f"{MAX_PIXELS // 1_000_000} megapixels are read"
            )
        if image.format == "JPEG" and max(image.size) > WORKING_SIDE:
            image.draft("RGB" if image.mode != "L" else "L", (WORKING_SIDE, WORKING_SIDE))
        image.load()
    except DataError:
        raise
    except FileNotFoundError as e:
        raise DataError(f"{source}: no such file") from e
    except Image.DecompressionBombError as e:
        raise DataError(f"{name} is too large to decode safely") from e
    except Exception as e:  # any decoder failure on untrusted bytes means "not readable"
        raise DataError(f"{name} is not an image Pillow can read ({_reason(e)})") from e
    if image.width < 1 or image.height < 1:
        raise DataError("the image is empty (0 pixels)")
    try:
        image = ImageOps.exif_transpose(image)
    except Exception:  # a malformed EXIF block: keep the pixels as stored, unrotated
        pass
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        a = np.asarray(image, dtype=np.float64)
        lo, hi = float(a.min()), float(a.max())
        a = (a - lo) / (hi - lo) * 255 if hi > lo else np.zeros_like(a)
        image = Image.fromarray(np.round(a).astype(np.uint8), "L")
    if max(image.size) > WORKING_SIDE:
        image = image.copy()
        image.thumbnail((WORKING_SIDE, WORKING_SIDE), Image.Resampling.LANCZOS)
    return image


def _reason(error: Exception) -> str:
    text = str(error).split("\n")[0].strip()
    if isinstance(error, UnidentifiedImageError) or not text:
        return "unknown or unsupported format"
    return text[:80]


def _flatten_alpha(image: Image.Image) -> tuple[Image.Image, str | None]:
    if image.mode not in ("RGBA", "LA", "PA") and "transparency" not in image.info:
        return image.convert("RGB"), None
    rgba = image.convert("RGBA")
    alpha = np.asarray(rgba)[..., 3]
    luma = np.asarray(rgba.convert("L"), dtype=np.float32)
    drawn = alpha > 127
    light = drawn.any() and luma[drawn].mean() > 127
    background = (0, 0, 0) if light else (255, 255, 255)
    flat = Image.new("RGB", rgba.size, background)
    flat.paste(rgba, mask=rgba.getchannel("A"))
    return flat, f"transparency flattened onto {'black' if light else 'white'}"


def _border_median(a: np.ndarray) -> np.ndarray:
    """Median colour of the outermost pixels, (C,)."""
    border = np.concatenate([a[0], a[-1], a[:, 0], a[:, -1]])  # (P, C)
    return np.median(border, axis=0)


def preprocess_image(
    source,
    *,
    channels: int,
    image_size: int,
    fit: str = "content",
    invert: bool | None = None,
    margin: float = MNIST_MARGIN,
) -> Preprocessed:
    """Convert ``source`` (path, bytes or PIL image) into one model input.

    Args:
        channels: 1 or 3, the model's channels.
        image_size: the model's side in pixels.
        fit: ``"content"`` (crop to the drawing, centre it, add ``margin``) or ``"whole"``.
        invert: force inversion on or off; ``None`` decides from the border (light -> invert).
        margin: with ``fit="content"``, the empty fraction of the side left on each side.

    Returns:
        :class:`Preprocessed` with the tensor, the 8-bit image the model sees and the steps taken.

    Raises:
        DataError: not an image, an empty image, or a blank one (nothing drawn) with ``fit="content"``.
    """
    if fit not in ("content", "whole"):
        raise DataError(f"fit must be 'content' or 'whole', not {fit!r}")
    if not 0 <= margin < 0.5:
        raise DataError(f"margin must be in [0, 0.5), not {margin}")
    image = _open(source)
    steps = [f"read {image.width}x{image.height} {image.mode}"]
    image, note = _flatten_alpha(image)
    if note:
        steps.append(note)
    image = image.convert("L" if channels == 1 else "RGB")
    a = np.asarray(image, dtype=np.float32).reshape(image.height, image.width, -1) / 255  # (H,W,C)

    background = _border_median(a)
    if invert is None:
        invert = float(background.mean()) > 0.5
    if invert:
        a, background = 1 - a, 1 - background
        steps.append("inverted (light background)")
    a = np.clip(a - background, 0, None)  # background to 0
    peak = float(a.max())
    if peak > 0:
        a = a / peak
        steps.append(f"contrast stretched x{1 / peak:.2f}")

    box = None
    if fit == "content":
        ys, xs = np.nonzero(a.max(axis=2) > CONTENT_THRESHOLD)
        if len(ys) == 0:
            raise DataError("the image is blank: nothing stands out from its background")
        box = (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)
        a = a[box[1] : box[3], box[0] : box[2]]
        steps.append(f"cropped to the content box {box}")
    side = max(a.shape[0], a.shape[1])
    if fit == "content":
        side = int(np.ceil(side / (1 - 2 * margin)))
    canvas = np.zeros((side, side, a.shape[2]), dtype=np.float32)
    top, left = (side - a.shape[0]) // 2, (side - a.shape[1]) // 2
    canvas[top : top + a.shape[0], left : left + a.shape[1]] = a
    if side != max(image.height, image.width) or fit == "content":
        steps.append(f"padded to a {side}x{side} square")

    pixels = np.round(canvas * 255).astype(np.uint8)
    out = Image.fromarray(
        pixels[..., 0] if channels == 1 else pixels, "L" if channels == 1 else "RGB"
    )
    out = out.resize((image_size, image_size), Image.Resampling.LANCZOS)
    steps.append(f"resized to {image_size}x{image_size}")
    x = torch.from_numpy(np.asarray(out, dtype=np.float32) / 255)
    x = x.view(image_size, image_size, channels).permute(2, 0, 1).unsqueeze(0)  # (1, C, H, W)
    return Preprocessed(x=x.contiguous(), image=out, inverted=invert, box=box, steps=steps)
