"""What the diffusion model's noise space supports: walks, maps, interpolation between digits.

    python benchmarks/diffusion_ops.py [--checkpoint pretrained/mnist-diffusion] [--per-class 50]
        [--seeds 16] [--span 3] [--only directions,map,interpolation]

- ``directions``: noise codes of ``--per-class`` training images per digit by DDIM inversion;
  their principal directions and class directions (mean code of digit a minus digit b), and random
  unit directions for comparison. From ``--seeds`` seeds, each walked to -span and +span (the
  Walk page's default span): the mean absolute pixel change, the share of samples whose class (the
  shipped classifier) changes, and for a class direction a-b the share that becomes a. A direction
  that changes no more than a random one does nothing visible.
- ``map``: which codes give the better latent map, inverted noise codes or the U-Net's bottleneck
  features (the mid block's output at t = 100, averaged over its 8x8 positions): the few-label
  linear probe the report uses (10 labels per digit, test split) on the codes, and the 5-nearest-
  neighbour digit accuracy in their 2-D UMAP and PCA layouts (5-fold).
- ``interpolation``: two test digits inverted and slerped: the ends must decode back to them, and
  the classifier's label along the path.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import engine  # noqa: E402
from engine.metrics import linear_probe  # noqa: E402
from engine.ops import Direction, interpolate  # noqa: E402
from engine.ops.directions import class_directions, principal_directions  # noqa: E402

PAIRS = ((3, 8), (1, 7), (4, 9), (0, 6))


def per_class(data, k: int) -> tuple[torch.Tensor, np.ndarray]:
    labels = data.labels.numpy()
    idx = np.concatenate([np.flatnonzero(labels == c)[:k] for c in range(10)])
    return data.float()[idx], labels[idx]


def encode(model, x: torch.Tensor) -> torch.Tensor:
    return torch.cat([model.encode(b) for b in x.split(250)])


def directions_section(model, clf, args) -> None:
    x, y = per_class(engine.load_dataset("mnist", "train"), args.per_class)
    codes = encode(model, x)
    dirs = principal_directions(model, codes=codes, k=3)
    dirs += [class_directions(codes, y, a, b) for a, b in PAIRS]
    g = torch.Generator().manual_seed(123)
    shape = model.latent_shape
    for i in range(3):
        v = torch.randn(shape, generator=g)
        dirs.append(Direction(f"random {i + 1}", v / v.norm(), "random"))
    z = model.sample_latent(args.seeds, generator=torch.Generator().manual_seed(0))
    base = model.decode(z)
    base_label = clf.predict_proba(base).argmax(1)
    print(f"{len(x)} inverted training images; {args.seeds} seeds; span {args.span}")
    print(f"{'direction':<14} {'pixel change':>12} {'class change':>12} {'becomes a':>10}")
    for d in dirs:
        v = d.vector.to(z.device)
        ends = [model.decode(z + s * args.span * v) for s in (-1, 1)]
        change = (ends[1] - ends[0]).abs().mean().item()
        labels = [clf.predict_proba(e).argmax(1) for e in ends]
        flips = sum((lab != base_label).float().mean().item() for lab in labels) / 2
        becomes = ""
        if " - " in d.name:  # a class direction "a - b"
            a = int(d.name.split(" - ")[0])
            becomes = f"{(labels[1] == a).float().mean().item():.2f}"
        print(f"{d.name:<14} {change:12.4f} {flips:12.2f} {becomes:>10}")


@torch.no_grad()
def bottleneck(model, x: torch.Tensor, t: int = 100) -> torch.Tensor:
    """The U-Net mid block's output for images noised to ``t`` (fixed noise), mean over space."""
    feats = []
    hook = model.unet.mid_block.register_forward_hook(
        lambda _m, _i, out: feats.append(out.mean((2, 3)).cpu())
    )
    try:
        sched = model.scheduler("ddpm")
        g = torch.Generator().manual_seed(0)
        for b in x.split(250):
            x0 = model.to_inner(b)
            tt = torch.full((len(b),), t)
            noise = torch.randn(x0.shape, generator=g)
            model(sched.add_noise(x0, noise, tt), tt)
    finally:
        hook.remove()
    return torch.cat(feats)


def map_section(model, clf, args) -> None:
    import umap
    from sklearn.decomposition import PCA
    from sklearn.model_selection import cross_val_score
    from sklearn.neighbors import KNeighborsClassifier

    x, y = per_class(engine.load_dataset("mnist", "train"), args.per_class)
    xt, yt = per_class(engine.load_dataset("mnist", "test"), 50)
    sets = {
        "inverted noise": (encode(model, x).flatten(1), encode(model, xt).flatten(1)),
        "U-Net bottleneck": (bottleneck(model, x), bottleneck(model, xt)),
    }
    print(f"{len(x)} training images mapped, {len(xt)} test images probed")
    for name, (codes, test_codes) in sets.items():
        probe = linear_probe(codes.numpy(), y, test_codes.numpy(), yt, per_class=10)
        line = f"{name:<18} dims {codes.shape[1]:>5}, probe (10/class) {probe['mean']:.3f}"
        for method in ("pca", "umap"):
            if method == "pca":
                xy = PCA(n_components=2, random_state=0).fit_transform(codes.numpy())
            else:
                xy = umap.UMAP(random_state=0, n_jobs=1).fit_transform(codes.numpy())
            knn = cross_val_score(KNeighborsClassifier(5), xy, y, cv=5).mean()
            line += f", 5-NN in 2-D {method} {knn:.3f}"
        print(line)


def interpolation_section(model, clf, args) -> None:
    test = engine.load_dataset("mnist", "test")
    x, y = per_class(test, 1)
    a, b = x[3:4], x[8:9]
    z0, z1 = encode(model, a)[0], encode(model, b)[0]
    _, frames = interpolate(model, z0, z1, steps=9, method="slerp")
    labels = clf.predict_proba(frames).argmax(1).tolist()
    err = [(frames[0] - a[0]).abs().max().item(), (frames[-1] - b[0]).abs().max().item()]
    print(f"slerp between test digits 3 and 8 through inversion: labels along the path {labels}")
    print(f"ends vs the digits: max pixel error {err[0]:.3f}, {err[1]:.3f}")


SECTIONS = {
    "directions": directions_section,
    "map": map_section,
    "interpolation": interpolation_section,
}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--checkpoint", default=str(ROOT / "pretrained/mnist-diffusion"))
    p.add_argument("--per-class", type=int, default=50)
    p.add_argument("--seeds", type=int, default=16)
    p.add_argument("--span", type=float, default=3.0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--only", default=",".join(SECTIONS))
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    model = engine.load(args.checkpoint, device="cpu")
    clf = engine.load(ROOT / "pretrained/mnist-classifier", device="cpu")
    with torch.no_grad():
        for name in args.only.split(","):
            SECTIONS[name](model, clf, args)
            sys.stdout.flush()


if __name__ == "__main__":
    main()
