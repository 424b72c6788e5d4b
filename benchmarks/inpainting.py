"""Inpainting quality on the held-out MNIST split: every shipped model against three baselines.

    python benchmarks/inpainting.py [--n 100] [--samples 4] [--seed 0]

For each mask (bottom half, left half, centre 14x14, 50% random pixels) and method, prints the
PSNR over the missing pixels only (per image, then averaged), of the mean of the K completions
and of the first completion alone, and the seconds per image with the default settings (batches
of 10 images, one torch thread). Baselines: mean training image, k-nearest-neighbour imputation
(k = 5, distance on the known pixels, training split) and scikit-image's biharmonic inpainting.

Targets (ops issue), best model: bottom half >= 15.4 dB, centre >= 11.8 dB, <= 1 s per image.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import engine  # noqa: E402
from engine.ops.inpaint import inpaint  # noqa: E402


def masks(seed: int) -> dict[str, torch.Tensor]:
    """``known`` masks (1, 1, 28, 28), True = kept."""
    out = {}
    for name, rows, cols in [
        ("bottom half", slice(14, 28), slice(0, 28)),
        ("left half", slice(0, 28), slice(0, 14)),
        ("centre 14x14", slice(7, 21), slice(7, 21)),
    ]:
        known = torch.ones(1, 1, 28, 28, dtype=torch.bool)
        known[..., rows, cols] = False
        out[name] = known
    g = torch.Generator().manual_seed(seed)
    out["50% random"] = torch.rand(1, 1, 28, 28, generator=g) >= 0.5
    return out


def psnr_missing(filled: torch.Tensor, x: torch.Tensor, known: torch.Tensor) -> float:
    missing = (~known).expand_as(x).float()
    mse = ((filled - x).pow(2) * missing).flatten(1).sum(1) / missing.flatten(1).sum(1)
    return (10 * torch.log10(1 / mse.clamp_min(1e-10))).mean().item()


def baselines(train: torch.Tensor, x: torch.Tensor, known: torch.Tensor) -> dict:
    from skimage.restoration import inpaint_biharmonic

    kept = known.expand_as(x)
    mean = torch.where(kept, x, train.mean(0, keepdim=True).expand_as(x))
    flat = known.flatten()
    d = torch.cdist(x.flatten(1)[:, flat], train.flatten(1)[:, flat])
    knn = torch.where(kept, x, train[d.topk(5, largest=False).indices].mean(1))
    missing = ~known[0, 0].numpy()
    bh = np.stack([inpaint_biharmonic(img[0].numpy(), missing) for img in x])[:, None]
    bh = torch.where(kept, x, torch.from_numpy(bh).float().clamp(0, 1))
    return {"mean fill": mean, "kNN (k=5)": knn, "biharmonic": bh}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100, help="test images (evenly spaced of 500)")
    parser.add_argument("--samples", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    test = engine.load_dataset("mnist", "test").float()
    x = test[:: max(1, len(test) // args.n)][: args.n]
    train = engine.load_dataset("mnist", "train").float()
    models = {
        p.name: engine.load(p, device="cpu")
        for p in sorted((ROOT / "pretrained").glob("mnist-*"))
        if engine.read_card(p)["kind"] in ("vae", "gan", "flow")
    }
    print(f"{len(x)} held-out images, K = {args.samples} completions, seed {args.seed}")
    print(f"{'mask':<14} {'method':<24} {'PSNR mean':>9} {'PSNR 1st':>9} {'s/image':>8}")
    for mask_name, known in masks(args.seed).items():
        for name, filled in baselines(train, x, known).items():
            print(f"{mask_name:<14} {name:<24} {psnr_missing(filled, x, known):9.2f}")
        for name, model in models.items():
            start, means, firsts = time.perf_counter(), [], []
            for i, batch in enumerate(x.split(10)):
                gen = torch.Generator().manual_seed(args.seed * 1000 + i)
                out = inpaint(model, batch, known, samples=args.samples, generator=gen)
                means.append(out.mean)
                firsts.append(out.completions[:, 0])
            seconds = (time.perf_counter() - start) / len(x)
            label = f"{name} ({out.method})"
            mean_psnr = psnr_missing(torch.cat(means), x, known)
            first_psnr = psnr_missing(torch.cat(firsts), x, known)
            print(f"{mask_name:<14} {label:<24} {mean_psnr:9.2f} {first_psnr:9.2f} {seconds:8.2f}")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
