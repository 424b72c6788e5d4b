"""A user's own images from one folder (``folder:PATH`` in :func:`engine.data.load_dataset`).

What is read: the files directly inside the folder (not sub-folders), sorted by file name, whose
extension is one of :data:`IMAGE_EXTENSIONS` (PNG, JPEG, BMP, GIF, WebP, TIFF, PPM/PGM/PBM). Other
files (``.txt``, ``.json``, ...) are ignored silently. A file with an image extension that Pillow
cannot decode (corrupt, truncated, a different format under an image name, or a decompression bomb
beyond ``PIL.Image.MAX_IMAGE_PIXELS``, which is left set) is skipped as unreadable: the count is
in ``meta["skipped"]`` and the names in ``meta["skipped_files"]``. Only Pillow's decoders for the
listed formats are tried, so e.g. a PostScript file renamed to ``.png`` never reaches Ghostscript.
Animated images contribute their first frame.

Pixels: EXIF orientation is applied (``ImageOps.exif_transpose``). Grayscale images (modes ``1``,
``L``, ``LA``, 16-bit ``I;16``/``I`` scaled by 1/257, and palette / RGB / WebP images whose pixels
all have R = G = B exactly) give 1 channel; if any image has a coloured pixel every image gets 3
channels (gray ones replicated). Transparency is composited on black. All images must have one
size; :func:`engine.data.load_dataset` can then resize them to a model's size.

Split: sorted by name, every 10th readable image (position % 10 == 9) is ``val``, the rest
``train``. Folder datasets have no ``test`` split; asking for it raises :class:`DataError` ("use
val"), as does asking for ``val`` when the folder holds fewer than 10 readable images. ``labels``
are ``None``; ``index`` is the position among the folder's readable images.

Every problem a user can fix (missing folder, no readable images, mixed sizes) is a one-line
:class:`DataError`.
"""

from __future__ import annotations

import struct
from collections import Counter
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps

from engine.data import ImageData
from engine.errors import DataError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")
IMAGE_EXTENSIONS += (".ppm", ".pgm", ".pbm", ".pnm")  # netpbm
PIL_FORMATS = ("PNG", "JPEG", "BMP", "GIF", "WEBP", "TIFF", "PPM")  # decoders tried, nothing else
VAL_EVERY = 10
_DECODE_ERRORS = (
    OSError,
    SyntaxError,
    ValueError,
    EOFError,
    struct.error,
    Image.DecompressionBombError,
)


def _over_black(arr: np.ndarray) -> np.ndarray:
    """(H, W, C+1) uint8 with alpha last -> (H, W, C) composited on black, rounded."""
    color = arr[..., :-1].astype(np.uint16)
    alpha = arr[..., -1:].astype(np.uint16)
    return ((color * alpha + 127) // 255).astype(np.uint8)


def _pixels(img: Image.Image) -> np.ndarray:
    """Decoded image -> (H, W, 1) for grayscale or (H, W, 3) for colour, uint8."""
    mode = img.mode
    if mode in ("1", "L"):
        return np.asarray(img.convert("L"))[..., None]
    if mode == "LA":
        return _over_black(np.asarray(img))
    if mode.startswith("I;16") or mode == "I":  # 16-bit gray -> 8 bit
        arr = np.asarray(img).astype(np.float64) / 257.0
        return np.clip(np.floor(arr + 0.5), 0, 255).astype(np.uint8)[..., None]
    if mode == "F":
        return np.asarray(img.convert("L"))[..., None]
    rgb = _over_black(np.asarray(img.convert("RGBA")))
    if (rgb[..., :1] == rgb).all():  # gray stored as colour (gray palette, WebP, RGB PNG)
        return rgb[..., :1]
    return rgb


def _read(path: Path) -> np.ndarray | None:
    """One image as (H, W, C) uint8, or None if Pillow cannot decode it safely."""
    try:
        with Image.open(path, formats=PIL_FORMATS) as img:
            img.load()
            img = ImageOps.exif_transpose(img)
            return np.ascontiguousarray(_pixels(img))
    except _DECODE_ERRORS:
        return None


def _check_one_size(arrays: list[np.ndarray], names: list[str], root: Path) -> None:
    sizes = [f"{a.shape[1]}x{a.shape[0]}" for a in arrays]  # width x height
    counts = Counter(sizes).most_common()
    if len(counts) == 1:
        return
    (size_a, n_a), (size_b, n_b) = counts[0], counts[1]
    example = {s: names[sizes.index(s)] for s in (size_a, size_b)}
    others = f" and {len(counts) - 2} more sizes" if len(counts) > 2 else ""
    raise DataError(
        f"images in {root} have different sizes: {n_a} are {size_a} (e.g. {example[size_a]}), "
        f"{n_b} are {size_b} (e.g. {example[size_b]}){others}; resize them all to one size"
    )


def load_folder(path: str | Path, split: str) -> ImageData:
    """Load a folder of images as uint8 ``(N, C, H, W)``.

    Args:
        path: the folder; only files directly inside it are read, sorted by name.
        split: ``train`` (all but every 10th image) or ``val`` (every 10th image, position % 10 ==
            9). There is no ``test`` split: asking for it raises :class:`DataError`.

    Returns:
        :class:`ImageData` named ``folder:PATH`` with ``index`` (position among readable images)
        and ``meta``: ``files`` (this split's file names), ``skipped``, ``skipped_files``.

    Raises:
        DataError: missing folder, no readable images, mixed sizes, an empty ``val`` split (fewer
            than 10 images) or the ``test`` split.
    """
    if split == "test":
        raise DataError("folder datasets have no test split; use val")
    if split not in ("train", "val"):
        raise DataError(f"unknown split {split!r} for a folder dataset (use train or val)")
    root = Path(path).expanduser()
    if not root.exists():
        raise DataError(f"image folder {root} does not exist")
    if not root.is_dir():
        raise DataError(f"{root} is not a folder (give the folder that holds the images)")

    candidates = sorted(
        (p for p in root.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file()),
        key=lambda p: p.name,
    )
    arrays, names, skipped = [], [], []
    for p in candidates:
        arr = _read(p)
        if arr is None:
            skipped.append(p.name)
        else:
            arrays.append(arr)
            names.append(p.name)
    if not arrays:
        raise DataError(
            f"no readable images in {root} ({len(skipped)} unreadable image files skipped; "
            f"supported: {', '.join(IMAGE_EXTENSIONS)})"
        )
    _check_one_size(arrays, names, root)

    channels = 3 if any(a.shape[2] == 3 for a in arrays) else 1
    x = np.stack([np.broadcast_to(a, a.shape[:2] + (channels,)) for a in arrays])  # (N, H, W, C)
    pos = np.arange(len(arrays))
    idx = np.flatnonzero((pos % VAL_EVERY == VAL_EVERY - 1) == (split == "val"))
    if len(idx) == 0:
        raise DataError(
            f"{root} has only {len(arrays)} readable images, so its val split (every "
            f"{VAL_EVERY}th image) is empty; add images or use train"
        )
    return ImageData(
        name=f"folder:{path}",
        split=split,
        x=torch.from_numpy(np.ascontiguousarray(x[idx].transpose(0, 3, 1, 2))),
        index=torch.from_numpy(idx.astype(np.int64)),
        meta={
            "root": str(root),
            "files": [names[i] for i in idx],
            "skipped": len(skipped),
            "skipped_files": skipped,
        },
    )
