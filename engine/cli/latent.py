"""``python -m engine sample | interpolate | walk | map``: images from a model's latent space."""

from __future__ import annotations

import time
from pathlib import Path

from engine.cli.common import capabilities, load_model, positive_int, require, write_images
from engine.errors import EngineError


def _cmd_sample(a) -> None:
    import torch

    model = load_model(a.checkpoint, "sample", doing="sample", device=a.device)
    gen = torch.Generator().manual_seed(a.seed)
    if "trajectory" in capabilities(model):  # an iterative sampler: its chain, with progress
        from tqdm import tqdm

        from engine.ops.chains import run_chain

        with tqdm(desc="sampling", unit="step") as bar:

            def advance(step) -> None:
                bar.total = step.total
                bar.update()

            steps = model.trajectory(a.n, generator=gen, steps=a.steps, temperature=a.temperature)
            x = run_chain(steps, callback=advance, keep_every=1 << 30).final
    elif a.steps is not None:
        raise EngineError(f"{a.checkpoint}: a {model.kind} model has no chain to set --steps of")
    else:
        x = model.sample(a.n, generator=gen, temperature=a.temperature)
    write_images(x, Path(a.out), one_row=False, prefix="sample")


def _cmd_interpolate(a) -> None:
    from engine.ops import interpolate, latent_from_image, latent_from_seed, preprocess_image

    model = load_model(a.checkpoint, "decode", doing="interpolate", device=a.device)
    if a.seeds is not None:
        z0, z1 = (latent_from_seed(model, s, temperature=a.temperature) for s in a.seeds)
    else:
        require(model, a.checkpoint, "encode", doing="interpolate images (use --seeds)")
        c, size, _ = model.image_shape
        z0, z1 = (
            latent_from_image(model, preprocess_image(p, channels=c, image_size=size, fit=a.fit).x)
            for p in a.images
        )
    _, frames = interpolate(
        model, z0, z1, steps=a.steps, method=a.method, extrapolate=a.extrapolate
    )
    write_images(frames, Path(a.out))


def _cmd_walk(a) -> None:
    import torch

    from engine.ops import (
        axis_directions,
        find_direction,
        latent_from_seed,
        load_directions,
        principal_directions,
        walk,
    )

    if (a.directions is None) != (a.name is None):
        raise EngineError("--directions FILE and --name NAME go together")
    model = load_model(a.checkpoint, "decode", doing="walk a latent space", device=a.device)
    if a.axis is not None:
        direction = axis_directions(model, indices=[a.axis])[0]
    elif a.pc is not None:
        directions = principal_directions(
            model, k=a.pc, generator=torch.Generator().manual_seed(a.pca_seed)
        )
        if a.pc > len(directions):
            raise EngineError(f"--pc {a.pc}: this model has only {len(directions)} components")
        direction = directions[a.pc - 1]
    else:
        directions = load_directions(a.directions, latent_shape=model.latent_shape)
        direction = find_direction(directions, a.name)
    z = latent_from_seed(model, a.seed, temperature=a.temperature)
    _, frames = walk(model, z, direction, steps=a.steps, span=a.span)
    write_images(frames, Path(a.out))


def _cmd_map(a) -> None:
    from engine.ops.latent_map import METHODS, build_checkpoint_map

    methods = tuple(m.strip() for m in a.methods.split(",") if m.strip())
    unknown = sorted(set(methods) - set(METHODS))
    if unknown or not methods:
        raise EngineError(f"--methods takes {', '.join(METHODS)}, not {a.methods!r}")
    load_model(a.checkpoint, "decode", doing="have a latent map", device="cpu")
    start = time.time()
    path = build_checkpoint_map(a.checkpoint, methods=methods)
    print(f"{path} ({time.time() - start:.0f} s)")


def add_commands(sub) -> None:
    """Add sample, interpolate, walk and map to the ``python -m engine`` subparsers."""
    s = sub.add_parser("sample", help="sample images from a checkpoint")
    s.add_argument("--checkpoint", required=True)
    s.add_argument("--n", type=positive_int, default=64)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--temperature", type=float, default=1.0)
    s.add_argument(
        "--steps",
        type=positive_int,
        help="steps of an iterative sampler's chain (Gibbs sweeps, Langevin or DDIM steps;"
        " default: the model's own)",
    )
    s.add_argument(
        "--out", required=True, help="a .png for one grid, a .gif, or a folder for one PNG each"
    )
    s.add_argument("--device")
    s.set_defaults(run=_cmd_sample)

    m = sub.add_parser("map", help="build the 2-D latent maps of a checkpoint (fits UMAP: minutes)")
    m.add_argument("--checkpoint", required=True)
    m.add_argument("--methods", default="umap,pca", help="comma-separated: umap, pca")
    m.set_defaults(run=_cmd_map)

    i = sub.add_parser("interpolate", help="frames between two seeds or two images")
    i.add_argument("--checkpoint", required=True)
    ends = i.add_mutually_exclusive_group(required=True)
    ends.add_argument("--seeds", type=int, nargs=2, metavar=("A", "B"))
    ends.add_argument("--images", nargs=2, metavar=("IMG_A", "IMG_B"), help="needs encode")
    i.add_argument("--steps", type=positive_int, default=8)
    i.add_argument("--method", choices=["slerp", "lerp"], default="slerp")
    i.add_argument("--extrapolate", type=float, default=0.0, help="go past both ends (fraction)")
    i.add_argument("--temperature", type=float, default=1.0, help="for --seeds")
    i.add_argument(
        "--fit", choices=["whole", "content"], default="whole", help="image preprocessing"
    )
    i.add_argument("--out", required=True, help="a .png row, a .gif, or a folder of PNGs")
    i.add_argument("--device")
    i.set_defaults(run=_cmd_interpolate)

    w = sub.add_parser("walk", help="frames along a latent direction from a seed")
    w.add_argument("--checkpoint", required=True)
    w.add_argument("--seed", type=int, default=0)
    which = w.add_mutually_exclusive_group(required=True)
    which.add_argument("--axis", type=int, help="latent coordinate (0-based)")
    which.add_argument(
        "--pc", type=positive_int, help="GANSpace principal component (1: most variance)"
    )
    which.add_argument("--directions", help="a directions JSON file (with --name)")
    w.add_argument("--name", help="the direction's name in --directions")
    w.add_argument("--pca-seed", type=int, default=0, help="seeds the samples PCA is fitted on")
    w.add_argument("--steps", type=positive_int, default=9)
    w.add_argument("--span", type=float, default=3.0, help="largest step along the direction")
    w.add_argument("--temperature", type=float, default=1.0)
    w.add_argument("--out", required=True, help="a .png row, a .gif, or a folder of PNGs")
    w.add_argument("--device")
    w.set_defaults(run=_cmd_walk)
