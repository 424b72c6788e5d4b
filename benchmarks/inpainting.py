"""Inpainting quality on the held-out MNIST split: every shipped model against three baselines.

    python benchmarks/inpainting.py [--n 100] [--samples 4] [--seed 0]

Every shipped MNIST model that can inpaint is a row (chosen by capability): the VAE, GAN and
flow, the VAEAC trained for inpainting alone, and the PixelCNN (raster-order completion: exact
for the bottom half, an approximation for the other masks), the RBM (clamped Gibbs sampling) and
the deep EBM (Langevin on the hidden pixels). ``--models mnist-rbm,mnist-ebm --masks "bottom
half" --no-baselines`` runs a subset. For each mask (bottom half, left half, centre 14x14, 50% random pixels) and method, prints the
PSNR over the missing pixels only (per image, then averaged), of the mean of the K completions
and of the first completion alone, and the seconds per image with the default settings, one torch
thread: in batches of 10 images, and one image at a time as the app runs it (the first 5 images). Baselines: mean training image, k-nearest-neighbour imputation
(k = 5, distance on the known pixels, training split) and scikit-image's biharmonic inpainting.

``--sweep mnist-vae --steps 10,20,30,60`` also runs that model at each of those step counts, for
``--seeds`` seeds: how its settings were chosen (PSNRs vary by about 0.1-0.3 dB from seed to seed).

Targets (ops issue), best model: bottom half >= 15.4 dB, centre >= 11.8 dB, <= 1 s per image.
PixelCNN (autoregressive issue): bottom half at least the kNN baseline, <= 15 s per image.
Diffusion (RePaint, diffusion issue): at least the kNN baseline (14.1 dB bottom half, 10.5 dB
centre), <= 10 s per image on 2 cores.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import engine  # noqa: E402
from engine.metrics.inpainting import baselines, masks, psnr_missing  # noqa: E402
from engine.ops.inpaint import NEEDS, inpaint  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100, help="test images (evenly spaced of 500)")
    parser.add_argument("--samples", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sweep", default="", help="a model whose steps to sweep")
    parser.add_argument("--steps", default="10,20,30,60", help="comma-separated step counts")
    parser.add_argument("--seeds", type=int, default=2, help="seeds of each sweep point")
    parser.add_argument(
        "--models", default="", help="comma-separated checkpoint names (default: all)"
    )
    parser.add_argument("--masks", default="", help="comma-separated mask labels (default: all)")
    parser.add_argument("--no-baselines", action="store_true", help="skip the three baselines")
    args = parser.parse_args()
    torch.set_num_threads(1)
    test = engine.load_dataset("mnist", "test").float()
    x = test[:: max(1, len(test) // args.n)][: args.n]
    train = engine.load_dataset("mnist", "train").float()
    wanted = {m for m in args.models.split(",") if m}
    loaded = {
        p.name: engine.load(p, device="cpu")
        for p in sorted(ROOT.glob("pretrained/mnist-*"))
        if not wanted or p.name in wanted
    }
    models = {  # every model an inpainting method serves (not the classifier)
        name: m
        for name, m in loaded.items()
        if set(getattr(m, "capabilities", ())) & set(NEEDS.values())
    }
    print(f"{len(x)} held-out images, K = {args.samples} completions, seed {args.seed}")
    print(
        f"{'mask':<14} {'method':<28} {'PSNR mean':>9} {'PSNR 1st':>9} {'s/image':>8} {'s alone':>8}"
    )
    chosen = {m for m in args.masks.split(",") if m}
    for mask_name, known in masks(args.seed).items():
        if chosen and mask_name not in chosen:
            continue
        for name, filled in ({} if args.no_baselines else baselines(train, x, known)).items():
            print(f"{mask_name:<14} {name:<28} {psnr_missing(filled, x, known):9.2f}")
        for name, model in models.items():
            mean_psnr, first_psnr, method, seconds = _score(
                model, x, known, args.samples, args.seed
            )
            start = time.perf_counter()
            for i, image in enumerate(x[:5]):
                gen = torch.Generator().manual_seed(i)
                inpaint(model, image[None], known, samples=args.samples, generator=gen)
            alone = (time.perf_counter() - start) / 5
            label = f"{name} ({method})"
            print(
                f"{mask_name:<14} {label:<28} {mean_psnr:9.2f} {first_psnr:9.2f} {seconds:8.2f}"
                f" {alone:8.2f}"
            )
        if args.sweep:
            for steps in [int(s) for s in args.steps.split(",")]:
                for seed in range(args.seed, args.seed + args.seeds):
                    mean_psnr, first_psnr, _, seconds = _score(
                        models[args.sweep], x, known, args.samples, seed, steps=steps
                    )
                    label = f"{args.sweep}, {steps} steps, seed {seed}"
                    print(
                        f"{mask_name:<14} {label:<28} {mean_psnr:9.2f} {first_psnr:9.2f}"
                        f" {seconds:8.2f}"
                    )
        sys.stdout.flush()


def _score(model, x, known, samples, seed, **settings) -> tuple[float, float, str, float]:
    """(PSNR of the mean, PSNR of the first completion, method, seconds per image), batches of 10."""
    start, means, firsts = time.perf_counter(), [], []
    for i, batch in enumerate(x.split(10)):
        gen = torch.Generator().manual_seed(seed * 1000 + i)
        out = inpaint(model, batch, known, samples=samples, generator=gen, **settings)
        means.append(out.mean)
        firsts.append(out.completions[:, 0])
    seconds = (time.perf_counter() - start) / len(x)
    mean_psnr = psnr_missing(torch.cat(means), x, known)
    return mean_psnr, psnr_missing(torch.cat(firsts), x, known), out.method, seconds


if __name__ == "__main__":
    main()
