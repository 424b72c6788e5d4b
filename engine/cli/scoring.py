"""``python -m engine score | project``: how surprising images are to a model, and where they
fall on its stored latent map."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from engine.cli.common import positive_int
from engine.cli.image_io import (
    common_options,
    fit_for,
    images_in,
    load_with_card,
    png_file,
    preprocess,
    save,
)
from engine.errors import CheckpointError, EngineError

INVERSION_STEPS = 150  # GAN scores: reference and scored images are inverted with the same steps
GAN_REFERENCE_LIMIT = 100  # inverting a test image costs about as much as a training step
LIKELIHOODS = ("log_prob", "elbo", "energy")  # what anomaly_score scores with before inverting
NEAREST = 5
MAP_SIDE, MAP_MARGIN = 400, 12
PALETTE = "#1f77b4 #ff7f0e #2ca02c #d62728 #9467bd #8c564b #e377c2 #7f7f7f #bcbd22 #17becf".split()
UNLABELLED = "#c8c8c8"  # PALETTE is matplotlib's tab10, one colour per label


def _inverts(model) -> bool:
    """Whether the score inverts the model (no likelihood or bound to score with)."""
    return not any(model.has(c) for c in LIKELIHOODS) and not hasattr(model, "surprise")


def _inversion(model) -> dict:
    return {"steps": INVERSION_STEPS} if _inverts(model) else {}


def _cmd_score(a) -> None:
    from engine.ops import anomaly_score, load_reference
    from engine.ops.anomaly import score_unit

    model, card = load_with_card(
        a, *LIKELIHOODS, "decode", doing="score how surprising an image is"
    )
    if a.build_reference:
        return _build_reference(a, model, card)
    paths = images_in(a.image)
    views = [preprocess(p, p, model, fit_for(a, card)) for p in paths]
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
            rank = f"percentile {pct:.1f} of {len(reference.scores)} held-out {reference.dataset}"
            rank += " images"
        print(f"{path.name}: {score.item():.4f} {score_unit(model)}, {rank}")


def _build_reference(a, model, card: dict) -> None:
    from tqdm import tqdm

    from engine.data import load_dataset
    from engine.ops.anomaly import REFERENCE_FILE, reference_scores, save_reference

    if "dataset" not in card:
        raise CheckpointError(f"{a.checkpoint}/card.json: no dataset named")
    c, size, _ = model.image_shape
    split = a.split or ("val" if card["dataset"].startswith("folder:") else "test")
    x = load_dataset(card["dataset"], split, image_size=size, channels=c).float()
    limit = min(a.limit or (GAN_REFERENCE_LIMIT if _inverts(model) else len(x)), len(x))
    x = x[torch.linspace(0, len(x) - 1, limit).long()]  # evenly spread: splits are sorted by label
    kwargs = _inversion(model)
    total = -(-limit // 100) * INVERSION_STEPS  # batches of 100, each inverted for all its steps
    desc = f"inverting {limit} {split} images"
    with tqdm(total=total, desc=desc, unit="step", disable=not _inverts(model)) as bar:
        last = 0

        def progress(step: int, _) -> None:  # every 10 steps of each batch's inversion
            nonlocal last
            bar.update(step - last if step > last else step)
            last = step

        if _inverts(model):
            kwargs["callback"] = progress
        reference = reference_scores(
            model, x, dataset=card["dataset"], seed=a.seed, batch=100, **kwargs
        )
    save_reference(a.checkpoint, reference)
    median = reference.scores.median().item()
    path = Path(a.checkpoint) / REFERENCE_FILE
    what = f"{limit} {card['dataset']} {split} images"
    print(f"{path}: {what}, median {median:.4f} {reference.unit}")


def _cmd_project(a) -> None:
    from engine.ops import load_map

    model, card = load_with_card(a, "encode", doing="place images on a map")
    out = None if a.out is None else png_file(a.out, name="map.png")
    latent_map = load_map(a.checkpoint)
    if latent_map is None:
        raise EngineError(f"no latent map: run python -m engine map --checkpoint {a.checkpoint}")
    if tuple(latent_map.latent_shape) != tuple(model.latent_shape):
        raise CheckpointError(f"{a.checkpoint}: its latent map is for another model; rebuild it")
    method = a.method or ("umap" if "umap" in latent_map.xy else "pca")
    paths = images_in(a.image)
    x = torch.cat([preprocess(p, p, model, fit_for(a, card)).x for p in paths])  # (B, C, H, W)
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
        save(_scatter(latent_map.xy[method], latent_map.labels, xy), out)
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


def add_commands(sub) -> None:
    """Add score and project to the ``python -m engine`` subparsers."""
    s = sub.add_parser("score", help="anomaly scores of images, ranked against held-out images")
    common_options(s)
    what = s.add_mutually_exclusive_group(required=True)
    what.add_argument("--image", help="an image file or a folder of PNG/JPEG images")
    what.add_argument(
        "--build-reference", action="store_true", help="score a held-out split, store anomaly.json"
    )
    s.add_argument(
        "--split",
        choices=["test", "val"],
        help="the reference's held-out split (default: test; val for a folder dataset, which has"
        " no test split)",
    )
    s.add_argument(
        "--limit", type=positive_int, help="images in the reference (default: GAN 100, all)"
    )
    s.set_defaults(run=_cmd_score)

    p = sub.add_parser("project", help="place images on the checkpoint's stored latent map")
    common_options(p, seed=False)
    p.add_argument("--image", required=True, help="an image file or a folder of PNG/JPEG images")
    p.add_argument("--method", choices=["umap", "pca"], help="layout (default: umap if stored)")
    p.add_argument("--out", help="a .png scatter of the map with the image(s) as black crosses")
    p.set_defaults(run=_cmd_project)
