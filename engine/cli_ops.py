"""``python -m engine reconstruct | inpaint | score | project``: the image operations on the CLI.

Each command takes one image file or a folder of PNG/JPEG images. Every image (and mask) is read
and preprocessed before the model runs, so a bad file fails with one line before anything is
written. :func:`add_commands` registers the commands on the parser built in :mod:`engine.cli`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from engine.cli import _positive_int
from engine.errors import CapabilityError, CheckpointError, DataError, EngineError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
CONTENT_DATASETS = ("mnist", "digits")  # centred, size-normalised digits: crop to the drawing
INVERSION_STEPS = 150  # GAN scores: reference and scored images are inverted with the same steps
GAN_REFERENCE_LIMIT = 100  # inverting a test image costs about as much as a training step
NEAREST = 5
MAP_SIDE, MAP_MARGIN = 400, 12
PALETTE = "#1f77b4 #ff7f0e #2ca02c #d62728 #9467bd #8c564b #e377c2 #7f7f7f #bcbd22 #17becf".split()
UNLABELLED = "#c8c8c8"  # PALETTE is matplotlib's tab10, one colour per label


# -- inputs and outputs ---------------------------------------------------------------------------
def _load(a, *, inpainting: bool = False):
    """The model and card of ``--checkpoint``: a generative model (not the classifier), or for
    inpainting also a model that only completes images (a VAEAC)."""
    from engine.checkpoint import load, read_card

    model = load(a.checkpoint, device=a.device)
    capabilities = getattr(model, "capabilities", frozenset())  # the classifier has none
    if not ("decode" in capabilities or (inpainting and "complete" in capabilities)):
        raise CapabilityError(
            f"{a.checkpoint}: a {model.kind} checkpoint is not a generative model"
        )
    return model, read_card(a.checkpoint)


def _fit(a, card: dict) -> str:
    return a.fit or ("content" if card.get("dataset") in CONTENT_DATASETS else "whole")


def _images(path: str | Path) -> list[Path]:
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


def _png_file(out: str | Path) -> Path:
    out = Path(out)
    if out.suffix.lower() != ".png":
        raise EngineError(f"{out}: give a .png file to write")
    if not out.parent.is_dir():
        raise EngineError(f"{out.parent}: no such folder")
    return out


def _png_outputs(inputs: list[Path], source: str, out: str) -> list[Path]:
    """``out`` (a .png) for one input file; ``out/<name>.png`` per image for an input folder."""
    if not Path(source).is_dir():
        return [_png_file(out)]
    out = Path(out)
    if out.suffix or out.is_file():
        raise EngineError(f"{out}: a folder of images needs a folder to write into (no suffix)")
    names = [p.with_suffix(".png").name for p in inputs]
    if len(set(names)) < len(names):
        raise EngineError(f"{source}: two images share a name but for the suffix")
    return [out / name for name in names]


def _save(image, path: Path) -> None:
    from engine.images import save_png

    path.parent.mkdir(parents=True, exist_ok=True)
    save_png(image, path)


def _open(path: Path):
    """A PIL image, EXIF orientation applied; an unreadable file names itself."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        image = Image.open(path)
        image.load()
    except (UnidentifiedImageError, OSError, ValueError) as e:
        raise DataError(f"{path} is not an image Pillow can read") from e
    return ImageOps.exif_transpose(image)


def _preprocess(source, name: Path, model, fit: str):
    from engine.ops import preprocess_image

    c, size, _ = model.image_shape
    try:
        return preprocess_image(source, channels=c, image_size=size, fit=fit)
    except DataError as e:
        raise DataError(str(e) if str(name) in str(e) else f"{name}: {e}") from e


# -- reconstruct ----------------------------------------------------------------------------------
def _cmd_reconstruct(a) -> None:
    from engine.images import make_grid
    from engine.ops import reconstruct

    model, card = _load(a)
    paths = _images(a.image)
    outs = _png_outputs(paths, a.image, a.out)
    views = [_preprocess(p, p, model, _fit(a, card)) for p in paths]
    for path, view, out in zip(paths, views, outs, strict=True):
        r = reconstruct(model, view.x, generator=torch.Generator().manual_seed(a.seed))
        _save(make_grid(torch.cat([view.x, r.x_hat.cpu()]), nrow=2), out)
        print(f"{path.name}: {r.method}, MSE {r.mse.item():.3g} -> {out}")


# -- inpaint --------------------------------------------------------------------------------------
def _pairs(image: str, mask: str) -> list[tuple[Path, Path]]:
    """(image, mask) files: the two files, or the same-named files of two folders."""
    img, msk = Path(image), Path(mask)
    for p in (img, msk):
        if not p.exists():
            raise DataError(f"{p}: no such file or folder")
    if img.is_dir() != msk.is_dir():
        raise EngineError(f"{msk}: --image and --mask must both be files or both be folders")
    if not img.is_dir():
        return [(img, msk)]
    images = {p.name: p for p in _images(img)}
    masks = {p.name: p for p in _images(msk)}
    for folder, names in ((msk, set(images) - set(masks)), (img, set(masks) - set(images))):
        if names:
            what = "mask" if folder == msk else "image"
            raise DataError(f"{folder}: no {what} named {', '.join(sorted(names))}")
    return [(images[n], masks[n]) for n in sorted(images)]


def _known(path: Path, image_size: tuple[int, int], side: int) -> torch.Tensor:
    """A mask file (white = missing) -> ``known`` (1, 1, side, side): padded to a square like the
    image (padding is known), resized with nearest neighbour."""
    from PIL import Image

    from engine.ops import known_from_mask_image

    mask = _open(path)
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


def _cmd_inpaint(a) -> None:
    from engine.images import make_grid
    from engine.ops import inpaint

    model, _ = _load(a, inpainting=True)
    pairs = _pairs(a.image, a.mask)
    outs = _png_outputs([p for p, _ in pairs], a.image, a.out)
    inputs = []
    for image_path, mask_path in pairs:
        image = _open(image_path)
        view = _preprocess(image, image_path, model, "whole")  # no crop: the mask must still fit
        inputs.append((view.x, _known(mask_path, image.size, model.image_shape[1])))
    for (path, _), (x, known), out in zip(pairs, inputs, outs, strict=True):
        result = inpaint(
            model, x, known, samples=a.samples, generator=torch.Generator().manual_seed(a.seed)
        )
        spread = result.spread.cpu()
        spread = spread / spread.max() if spread.max() > 0 else spread
        shown = torch.where(known, x, torch.full_like(x, 0.5))  # missing pixels mid-gray
        row = torch.cat([shown, result.completions[0].cpu(), spread])  # (K + 2, C, H, W)
        _save(make_grid(row, nrow=len(row)), out)
        missing = int((~known).sum())
        print(f"{path.name}: {result.method}, {a.samples} completions of {missing} pixels -> {out}")


# -- score ----------------------------------------------------------------------------------------
def _inversion(model) -> dict:
    return {"steps": INVERSION_STEPS} if model.kind == "gan" else {}


def _cmd_score(a) -> None:
    from engine.ops import anomaly_score, load_reference
    from engine.ops.anomaly import UNITS

    model, card = _load(a)
    if a.build_reference:
        return _build_reference(a, model, card)
    paths = _images(a.image)
    views = [_preprocess(p, p, model, _fit(a, card)) for p in paths]
    reference = load_reference(a.checkpoint)
    if reference is not None and reference.kind != model.kind:
        raise CheckpointError(
            f"{a.checkpoint}: its anomaly reference is for a {reference.kind} model;"
            " rebuild it with score --build-reference"
        )
    for path, view in zip(paths, views, strict=True):
        gen = torch.Generator().manual_seed(a.seed)
        score = anomaly_score(model, view.x, generator=gen, **_inversion(model))
        if reference is None:
            rank = "no reference: run score --build-reference"
        else:
            pct = reference.percentile(score).item()
            rank = (
                f"percentile {pct:.1f} of {len(reference.scores)} {reference.dataset} test images"
            )
        print(f"{path.name}: {score.item():.4f} {UNITS[model.kind]}, {rank}")


def _build_reference(a, model, card: dict) -> None:
    from tqdm import tqdm

    from engine.data import load_dataset
    from engine.ops.anomaly import REFERENCE_FILE, reference_scores, save_reference

    if "dataset" not in card:
        raise CheckpointError(f"{a.checkpoint}/card.json: no dataset named")
    c, size, _ = model.image_shape
    x = load_dataset(card["dataset"], "test", image_size=size, channels=c).float()
    limit = min(a.limit or (GAN_REFERENCE_LIMIT if model.kind == "gan" else len(x)), len(x))
    x = x[torch.linspace(0, len(x) - 1, limit).long()]  # evenly spread: splits are sorted by label
    kwargs = _inversion(model)
    total = -(-limit // 100) * INVERSION_STEPS  # batches of 100, each inverted for all its steps
    desc = f"inverting {limit} test images"
    with tqdm(total=total, desc=desc, unit="step", disable=model.kind != "gan") as bar:
        last = 0

        def progress(step: int, _) -> None:  # every 10 steps of each batch's inversion
            nonlocal last
            bar.update(step - last if step > last else step)
            last = step

        if model.kind == "gan":
            kwargs["callback"] = progress
        reference = reference_scores(
            model, x, dataset=card["dataset"], seed=a.seed, batch=100, **kwargs
        )
    save_reference(a.checkpoint, reference)
    median = reference.scores.median().item()
    path = Path(a.checkpoint) / REFERENCE_FILE
    print(f"{path}: {limit} {card['dataset']} test images, median {median:.4f} {reference.unit}")


# -- project --------------------------------------------------------------------------------------
def _cmd_project(a) -> None:
    from engine.ops import load_map

    model, card = _load(a)
    out = None if a.out is None else _png_file(a.out)
    if not model.has("encode"):
        raise CapabilityError(
            f"a {model.kind} model has no 'encode' capability: it cannot place images on a map"
        )
    latent_map = load_map(a.checkpoint)
    if latent_map is None:
        raise EngineError(f"no latent map: run python -m engine map --checkpoint {a.checkpoint}")
    if tuple(latent_map.latent_shape) != tuple(model.latent_shape):
        raise CheckpointError(f"{a.checkpoint}: its latent map is for another model; rebuild it")
    method = a.method or ("umap" if "umap" in latent_map.xy else "pca")
    paths = _images(a.image)
    x = torch.cat([_preprocess(p, p, model, _fit(a, card)).x for p in paths])  # (B, C, H, W)
    with torch.no_grad():
        z = torch.cat([model.encode(b.to(model.device)).cpu() for b in x.split(500)])
    xy = latent_map.place(z, method=method)  # (B, 2)
    q, s = torch.from_numpy(latent_map.to_search(z)), torch.from_numpy(latent_map.search)
    d = torch.cdist(q, s, compute_mode="donot_use_mm_for_euclid_dist")  # (B, N)
    rows = d.topk(min(NEAREST, d.shape[1]), largest=False).indices.numpy()  # (B, k)
    for path, (px, py), near in zip(paths, xy, rows, strict=True):
        labels = " ".join("?" if v < 0 else str(v) for v in latent_map.labels[near].tolist())
        print(f"{path.name}: ({px:.3f}, {py:.3f}) on the {method} map; nearest labels {labels}")
    if out is not None:
        _save(_scatter(latent_map.xy[method], latent_map.labels, xy), out)
        print(out)


def _scatter(points: np.ndarray, labels: np.ndarray, marks: np.ndarray):
    """The map (N, 2) as dots coloured by label, ``marks`` (B, 2) as black crosses (PIL image)."""
    from PIL import Image, ImageDraw

    lo, hi = points.min(0), points.max(0)
    scale = (MAP_SIDE - 2 * MAP_MARGIN) / max(float((hi - lo).max()), 1e-12)
    offset = (MAP_SIDE - scale * (hi - lo)) / 2  # centred, one scale for both axes

    def pixel(p):
        x, y = offset + scale * (np.asarray(p) - lo)
        return float(x), float(MAP_SIDE - y)  # y grows upwards on the map

    image = Image.new("RGB", (MAP_SIDE, MAP_SIDE), "white")
    draw = ImageDraw.Draw(image)
    for p, label in zip(points, labels.tolist(), strict=True):
        x, y = pixel(p)
        colour = PALETTE[label % 10] if label >= 0 else UNLABELLED
        draw.ellipse((x - 1.5, y - 1.5, x + 1.5, y + 1.5), fill=colour)
    for p in marks:
        x, y = pixel(p)
        draw.line((x - 6, y - 6, x + 6, y + 6), fill="black", width=2)
        draw.line((x - 6, y + 6, x + 6, y - 6), fill="black", width=2)
    return image


# -- registration ---------------------------------------------------------------------------------
def _common(p: argparse.ArgumentParser, *, fit: bool = True, seed: bool = True) -> None:
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


def add_commands(sub) -> None:
    """Add reconstruct, inpaint, score and project to the ``python -m engine`` subparsers."""
    r = sub.add_parser("reconstruct", help="reconstruct images (GAN: by inversion)")
    _common(r)
    r.add_argument("--image", required=True, help="an image file or a folder of PNG/JPEG images")
    r.add_argument("--out", required=True, help="a .png (input | reconstruction), or a folder")
    r.set_defaults(run=_cmd_reconstruct)

    i = sub.add_parser("inpaint", help="fill in the white part of a mask, K ways")
    _common(i, fit=False)
    i.add_argument("--image", required=True, help="an image file, or a folder of PNGs")
    i.add_argument("--mask", required=True, help="white = missing; a file, or a folder, same names")
    i.add_argument("--samples", type=_positive_int, default=4, help="K completions")
    i.add_argument("--out", required=True, help="a .png row, or a folder (with folder inputs)")
    i.set_defaults(run=_cmd_inpaint)

    s = sub.add_parser("score", help="anomaly scores of images, ranked against held-out images")
    _common(s)
    what = s.add_mutually_exclusive_group(required=True)
    what.add_argument("--image", help="an image file or a folder of PNG/JPEG images")
    what.add_argument(
        "--build-reference", action="store_true", help="score the test split, store anomaly.json"
    )
    s.add_argument(
        "--limit", type=_positive_int, help="test images in the reference (default: GAN 100, all)"
    )
    s.set_defaults(run=_cmd_score)

    p = sub.add_parser("project", help="place images on the checkpoint's stored latent map")
    _common(p, seed=False)
    p.add_argument("--image", required=True, help="an image file or a folder of PNG/JPEG images")
    p.add_argument("--method", choices=["umap", "pca"], help="layout (default: umap if stored)")
    p.add_argument("--out", help="a .png scatter of the map with the image(s) as black crosses")
    p.set_defaults(run=_cmd_project)
