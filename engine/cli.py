"""``python -m engine COMMAND``: train, sample, evaluate, map, interpolate, walk, reconstruct,
inpaint, score, project, report.

The image operations (reconstruct, inpaint, score, project) live in :mod:`engine.cli_ops`.

Every problem the user can fix (bad arguments, a broken checkpoint, a bad dataset) exits with code 2
and one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from engine.errors import EngineError


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2, like every other user error
        raise EngineError(f"{self.prog}: {message}")


def _key_value(text: str) -> tuple[str, object]:
    key, sep, value = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _cmd_train(a) -> None:
    from engine.train import TrainSettings, train

    out = train(
        TrainSettings(
            kind=a.kind,
            dataset=a.dataset,
            out=Path(a.out),
            epochs=a.epochs,
            batch_size=a.batch_size,
            lr=a.lr,
            seed=a.seed,
            device=a.device,
            image_size=a.image_size,
            channels=a.channels,
            config=dict(a.config),
            patience=a.patience,
            ema=a.ema,
            grids=a.grids,
            max_minutes=a.max_minutes,
            command="python -m engine " + shlex.join(a.argv),
        )
    )
    print(out)


def _cmd_sample(a) -> None:
    import torch

    from engine.checkpoint import load

    model = load(a.checkpoint, device=a.device)
    if not model.has("sample"):
        raise EngineError(f"{a.checkpoint}: a {model.kind} checkpoint cannot sample")
    x = model.sample(
        a.n, generator=torch.Generator().manual_seed(a.seed), temperature=a.temperature
    )
    _write_images(x, Path(a.out), one_row=False, prefix="sample")


def _cmd_evaluate(a) -> None:
    from engine.checkpoint import load, read_card, update_card
    from engine.evaluate import classifier_path_for, evaluate

    model = load(a.checkpoint, device=a.device)
    card = read_card(a.checkpoint)
    classifier = None
    if model.kind == "gan":
        path = (
            Path(a.classifier)
            if a.classifier
            else classifier_path_for(a.checkpoint, card["dataset"])
        )
        classifier = load(path, device=a.device)
    metrics = evaluate(model, card["dataset"], k=a.k, seed=a.seed, classifier=classifier)
    update_card(a.checkpoint, metrics={**card.get("metrics", {}), "test": metrics})
    if a.json:
        print(json.dumps(metrics))
    else:
        for key, value in metrics.items():
            print(f"{key:>24}: {value}")


def _cmd_map(a) -> None:
    import time

    from engine.ops.latent_map import METHODS, build_checkpoint_map

    methods = tuple(m.strip() for m in a.methods.split(",") if m.strip())
    unknown = sorted(set(methods) - set(METHODS))
    if unknown or not methods:
        raise EngineError(f"--methods takes {', '.join(METHODS)}, not {a.methods!r}")
    start = time.time()
    path = build_checkpoint_map(a.checkpoint, methods=methods)
    print(f"{path} ({time.time() - start:.0f} s)")


def _cmd_report(a) -> None:
    from engine.report import ReportSettings, build_report

    sections = tuple(x.strip() for x in a.sections.split(",") if x.strip())
    known = ReportSettings.sections
    unknown = sorted(set(sections) - set(known))
    if unknown or not sections:
        raise EngineError(f"--sections takes {', '.join(known)}, not {a.sections!r}")
    pretrained = Path(a.pretrained)
    if not (pretrained / "mnist-classifier").is_dir():
        raise EngineError(f"{pretrained}: no mnist-classifier checkpoint (the feature extractor)")
    path = build_report(
        ReportSettings(pretrained=pretrained, out=Path(a.out), seed=a.seed, sections=sections),
        log=lambda msg: print(msg, file=sys.stderr, flush=True),
    )
    print(path)


def _write_images(frames, out: Path, *, one_row: bool = True, prefix: str = "frame") -> None:
    """``.png``: one grid (a single row with ``one_row``); ``.gif``: an animation; no suffix: a
    folder of one PNG per image (``<prefix>-0000.png``, ...)."""
    from engine.images import gif_bytes, make_grid, save_png, to_pil, write_atomic

    suffix = out.suffix.lower()
    if suffix in (".png", ".gif"):
        if not out.parent.is_dir():
            raise EngineError(f"{out.parent}: no such folder")
        if suffix == ".png":
            save_png(make_grid(frames, nrow=len(frames) if one_row else None), out)
        else:
            write_atomic(out, gif_bytes(frames))
    elif suffix:
        raise EngineError(f"{out}: give a .png (one grid), a .gif (animation) or a folder")
    else:
        out.mkdir(parents=True, exist_ok=True)
        for i, frame in enumerate(frames):
            save_png(to_pil(frame), out / f"{prefix}-{i:04d}.png")
    print(out)


def _cmd_interpolate(a) -> None:
    from engine.checkpoint import load
    from engine.errors import CapabilityError
    from engine.ops import interpolate, latent_from_image, latent_from_seed, preprocess_image

    model = load(a.checkpoint, device=a.device)
    if a.seeds is not None:
        z0, z1 = (latent_from_seed(model, s, temperature=a.temperature) for s in a.seeds)
    else:
        if not model.has("encode"):
            raise CapabilityError(
                f"a {model.kind} model has no 'encode' capability: interpolate it with --seeds"
            )
        c, size, _ = model.image_shape
        z0, z1 = (
            latent_from_image(model, preprocess_image(p, channels=c, image_size=size, fit=a.fit).x)
            for p in a.images
        )
    _, frames = interpolate(
        model, z0, z1, steps=a.steps, method=a.method, extrapolate=a.extrapolate
    )
    _write_images(frames, Path(a.out))


def _cmd_walk(a) -> None:
    import torch

    from engine.checkpoint import load
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
    model = load(a.checkpoint, device=a.device)
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
    _write_images(frames, Path(a.out))


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m engine", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    t = sub.add_parser("train", help="train a model and write its checkpoint folder")
    t.add_argument("--kind", required=True, choices=["vae", "gan", "flow", "classifier", "vaeac"])
    t.add_argument(
        "--dataset", required=True, help="mnist, digits, sprites, sprites-color or folder:PATH"
    )
    t.add_argument("--out", required=True, help="checkpoint folder to write")
    t.add_argument("--epochs", type=_positive_int, default=50)
    t.add_argument("--batch-size", type=_positive_int)
    t.add_argument("--lr", type=float)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--device", help="cpu, cuda, mps (default: best available)")
    t.add_argument("--image-size", type=int, choices=[28, 32, 64])
    t.add_argument("--channels", type=int, choices=[1, 3])
    t.add_argument(
        "--config",
        type=_key_value,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="model config field, e.g. latent_dim=16 or beta=4 (repeatable)",
    )
    t.add_argument("--patience", type=int, help="early-stopping patience in epochs (0: off)")
    t.add_argument("--ema", type=float, help="EMA decay of the shipped weights (0: off)")
    t.add_argument("--grids", type=int, default=20, help="sample grids to keep over training")
    t.add_argument("--max-minutes", type=float, help="stop (and save) after this much wall time")
    t.set_defaults(run=_cmd_train)

    s = sub.add_parser("sample", help="sample images from a checkpoint")
    s.add_argument("--checkpoint", required=True)
    s.add_argument("--n", type=_positive_int, default=64)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--temperature", type=float, default=1.0)
    s.add_argument(
        "--out", required=True, help="a .png for one grid, a .gif, or a folder for one PNG each"
    )
    s.add_argument("--device")
    s.set_defaults(run=_cmd_sample)

    e = sub.add_parser("evaluate", help="held-out metrics of a checkpoint, written into its card")
    e.add_argument("--checkpoint", required=True)
    e.add_argument("--k", type=_positive_int, default=1000, help="importance samples (VAE)")
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--classifier", help="classifier checkpoint for GAN figures")
    e.add_argument("--json", action="store_true")
    e.add_argument("--device")
    e.set_defaults(run=_cmd_evaluate)

    m = sub.add_parser("map", help="build the 2-D latent maps of a checkpoint (fits UMAP: minutes)")
    m.add_argument("--checkpoint", required=True)
    m.add_argument("--methods", default="umap,pca", help="comma-separated: umap, pca")
    m.set_defaults(run=_cmd_map)

    i = sub.add_parser("interpolate", help="frames between two seeds or two images")
    i.add_argument("--checkpoint", required=True)
    ends = i.add_mutually_exclusive_group(required=True)
    ends.add_argument("--seeds", type=int, nargs=2, metavar=("A", "B"))
    ends.add_argument("--images", nargs=2, metavar=("IMG_A", "IMG_B"), help="needs encode")
    i.add_argument("--steps", type=_positive_int, default=8)
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
        "--pc", type=_positive_int, help="GANSpace principal component (1: most variance)"
    )
    which.add_argument("--directions", help="a directions JSON file (with --name)")
    w.add_argument("--name", help="the direction's name in --directions")
    w.add_argument("--pca-seed", type=int, default=0, help="seeds the samples PCA is fitted on")
    w.add_argument("--steps", type=_positive_int, default=9)
    w.add_argument("--span", type=float, default=3.0, help="largest step along the direction")
    w.add_argument("--temperature", type=float, default=1.0)
    w.add_argument("--out", required=True, help="a .png row, a .gif, or a folder of PNGs")
    w.add_argument("--device")
    w.set_defaults(run=_cmd_walk)

    r = sub.add_parser(
        "report", help="offline evaluation report (Markdown + PNGs) of the checkpoints"
    )
    r.add_argument("--pretrained", default="pretrained", help="folder of checkpoints to read")
    r.add_argument("--out", default="reports/latest", help="folder to write report.md into")
    r.add_argument("--seed", type=int, default=0)
    r.add_argument(
        "--sections",
        default="quality,likelihood,inpainting,probe,disentangle",
        help="comma-separated subset of the default to measure; the other sections are kept "
        "from OUT/results.json when it has them",
    )
    r.set_defaults(run=_cmd_report)

    from engine.cli_ops import add_commands  # imports this module: registered here, not at the top

    add_commands(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    try:
        argv = sys.argv[1:] if argv is None else list(argv)
        args = build_parser().parse_args(argv)
        args.argv = argv
        args.run(args)
    except EngineError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0
