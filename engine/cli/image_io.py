"""Reading the image and mask files the image commands take, and writing their PNGs.

Every image (and mask) is read and preprocessed before the model runs, so a bad file fails with one
line before anything is written.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from engine.cli.common import load_model
from engine.errors import DataError, EngineError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
CONTENT_DATASETS = ("mnist", "digits")  # centred, size-normalised digits: crop to the drawing


def load_with_card(a, *needs: str, doing: str):
    """(model, card) of ``a.checkpoint``, refused in one line unless it has one of ``needs``."""
    from engine.checkpoint import read_card

    model = load_model(a.checkpoint, *needs, doing=doing, device=a.device)
    return model, read_card(a.checkpoint)


def fit_for(a, card: dict) -> str:
    """``--fit``, or its default for the checkpoint's dataset."""
    return a.fit or ("content" if card.get("dataset") in CONTENT_DATASETS else "whole")


def images_in(path: str | Path) -> list[Path]:
    """The image file ``path``, or the PNG/JPEG files in the folder ``path`` sorted by name."""
    p = Path(path)
    if p.is_dir():
        files = sorted(f for f in p.iterdir() if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise DataError(f"{p}: no PNG or JPEG images in this folder")
        return files
    if not p.is_file():
        raise DataError(f"{p}: no such file or folder")
    return [p]


def png_file(out: str | Path, *, name: str) -> Path:
    """``out`` (a .png), or ``out/name`` when ``out`` is an existing folder, whatever its name."""
    out = Path(out)
    if out.is_dir():
        return out / name
    if out.suffix.lower() != ".png":
        raise EngineError(f"{out}: give a .png file to write")
    if not out.parent.is_dir():
        raise EngineError(f"{out.parent}: no such folder")
    return out


def png_outputs(inputs: list[Path], source: str, out: str) -> list[Path]:
    """``out`` (a .png) for one input file; ``out/<name>.png`` per image for an input folder or
    an existing folder ``out``."""
    if not Path(source).is_dir():
        return [png_file(out, name=inputs[0].with_suffix(".png").name)]
    out = Path(out)
    if out.is_file() or (out.suffix and not out.is_dir()):
        raise EngineError(f"{out}: a folder of images needs a folder to write into (no suffix)")
    names = [p.with_suffix(".png").name for p in inputs]
    if len(set(names)) < len(names):
        raise EngineError(f"{source}: two images share a name but for the suffix")
    return [out / name for name in names]


def save(image, path: Path) -> None:
    from engine.images import save_png

    path.parent.mkdir(parents=True, exist_ok=True)
    save_png(image, path)


def open_image(path: Path):
    """A PIL image, EXIF orientation applied; an unreadable file names itself."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        image = Image.open(path)
        image.load()
    except (UnidentifiedImageError, OSError, ValueError) as e:
        raise DataError(f"{path} is not an image Pillow can read") from e
    return ImageOps.exif_transpose(image)


def preprocess(source, name: Path, model, fit: str):
    from engine.ops import preprocess_image

    c, size, _ = model.image_shape
    try:
        return preprocess_image(source, channels=c, image_size=size, fit=fit)
    except DataError as e:
        raise DataError(str(e) if str(name) in str(e) else f"{name}: {e}") from e


def pairs(image: str, mask: str) -> list[tuple[Path, Path]]:
    """(image, mask) files: the two files, or the same-named files of two folders."""
    img, msk = Path(image), Path(mask)
    for p in (img, msk):
        if not p.exists():
            raise DataError(f"{p}: no such file or folder")
    if img.is_dir() != msk.is_dir():
        raise EngineError(f"{msk}: --image and --mask must both be files or both be folders")
    if not img.is_dir():
        return [(img, msk)]
    images = {p.name: p for p in images_in(img)}
    masks = {p.name: p for p in images_in(msk)}
    for folder, names in ((msk, set(images) - set(masks)), (img, set(masks) - set(images))):
        if names:
            what = "mask" if folder == msk else "image"
            raise DataError(f"{folder}: no {what} named {', '.join(sorted(names))}")
    return [(images[n], masks[n]) for n in sorted(images)]


def known_from_file(path: Path, image_size: tuple[int, int], side: int) -> torch.Tensor:
    """A mask file (white = missing) -> ``known`` (1, 1, side, side): padded to a square like the
    image (padding is known), resized with nearest neighbour."""
    from PIL import Image

    from engine.ops import known_from_mask_image

    mask = open_image(path)
    if mask.mode in ("RGBA", "LA", "PA") or "transparency" in mask.info:
        rgba = mask.convert("RGBA")  # transparent = known
        mask = Image.alpha_composite(Image.new("RGBA", rgba.size, (0, 0, 0, 255)), rgba)
    mask = mask.convert("L")
    (mw, mh), (iw, ih) = mask.size, image_size
    if abs(mw * ih - mh * iw) > 0.02 * mh * iw:
        raise DataError(f"{path}: a {mw}x{mh} mask does not fit a {iw}x{ih} image (aspect ratio)")
    square = Image.new("L", (max(mw, mh),) * 2, 0)
    square.paste(mask, ((square.width - mw) // 2, (square.height - mh) // 2))
    square = square.resize((side, side), Image.Resampling.NEAREST)
    m = torch.from_numpy(np.asarray(square, dtype=np.float32) / 255)[None, None]  # (1, 1, S, S)
    return known_from_mask_image(m)


def common_options(p, *, fit: bool = True, seed: bool = True) -> None:
    """``--checkpoint``, ``--fit``, ``--seed`` and ``--device`` of an image command."""
    p.add_argument("--checkpoint", required=True)
    if fit:
        p.add_argument(
            "--fit",
            choices=["content", "whole"],
            help="image preprocessing (default: content for mnist/digits models, else whole)",
        )
    if seed:
        p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device")
