"""The diffusion model against its targets (issue 16), on the held-out judge.

    python benchmarks/diffusion.py [--checkpoint pretrained/mnist-diffusion] [--n 1000] [--seed 0]
        [--samples DIR] [--threads 2] [--only timing,samples,inversion,sizes]

- ``samples``: 1,000 samples as ``python -m engine sample --n 1000 --seed 0`` draws them (or the
  PNGs it wrote, ``--samples DIR``): the shipped classifier's label histogram (every digit >= 5 %)
  and mean confidence (>= 0.9); FID / KID / precision / recall on the classifier's features
  against the test split, beside the shipped GAN's 1,000 samples (seed 0) on the same features
  (the diffusion model's FID must be lower); the memorisation check (must not be flagged).
- ``inversion``: DDIM inversion round trips ``decode(encode(x))`` of the 500 test digits (or
  ``--inversion-n`` evenly spaced) at the default steps: PSNR (>= 25 dB); ``--inversion-steps
  10,20,50`` for other step counts.
- ``timing``: seconds for 36 samples at the default steps with ``--threads`` torch threads
  (<= 3 s on 2 cores), the median of 3 runs.
- ``sizes``: one 64-image training step and 36 samples at 20 DDIM steps for a few U-Net sizes
  (how the shipped size was chosen).

The machine is shared: every time is an upper bound of what the same code takes on an idle one.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import engine  # noqa: E402
from engine.metrics import ClassifierFeatures, extract, memorisation, quality  # noqa: E402

SIZES = {  # name -> DiffusionConfig fields
    "16-32-64, attention at 8x8 (shipped)": {"widths": [16, 32, 64]},
    "32-64-64, no attention": {"widths": [32, 64, 64], "attention": [False, False, False]},
    "32-64-64, attention at 8x8": {"widths": [32, 64, 64]},
    "32-64-128, no attention": {"widths": [32, 64, 128], "attention": [False, False, False]},
}


def psnr(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    mse = (a - b).pow(2).flatten(1).mean(1).clamp_min(1e-10)
    return 10 * torch.log10(1 / mse)


def load_pngs(folder: Path) -> torch.Tensor:
    from engine.ops import preprocess_image

    files = sorted(folder.glob("sample-*.png"))
    return torch.cat([preprocess_image(f, channels=1, image_size=28, fit="whole").x for f in files])


def samples_section(model, args) -> None:
    ext = ClassifierFeatures(engine.load(ROOT / "pretrained/mnist-classifier", device="cpu"))
    train, test = (engine.load_dataset("mnist", s).float() for s in ("train", "test"))
    ref, _ = extract(ext, test)
    if args.samples:
        x = load_pngs(Path(args.samples))
    else:
        z = model.sample_latent(args.n, generator=torch.Generator().manual_seed(args.seed))
        x = torch.cat([model.decode(c) for c in z.split(250)])
    gan = engine.load(ROOT / "pretrained/mnist-gan", device="cpu")
    x_gan = gan.sample(args.n, generator=torch.Generator().manual_seed(args.seed))
    for name, imgs in (("diffusion", x), ("gan", x_gan)):
        feats, probs = extract(ext, imgs)
        q = quality(ref, feats, fake_probs=probs, seed=args.seed)
        hist = ", ".join(f"{v:.3f}" for v in q["label_histogram"])
        conf = probs.max(1).values.mean().item()
        print(f"{name:>9}: {len(imgs)} samples, FID {q['fid']:.2f}, KID {q['kid']:.4f},")
        print(f"           precision {q['precision']:.3f}, recall {q['recall']:.3f},")
        print(f"           digits [{hist}] (min {min(q['label_histogram']):.3f}),")
        print(f"           mean classifier confidence {conf:.4f}")
        if name == "diffusion":
            mem = memorisation(imgs, train, test)
            print(
                f"           memorisation: median ratio {mem['median_ratio']:.3f}, share of"
                f" copies {mem['share_copies']:.3f}, flagged {mem['flagged']}"
            )


def inversion_section(model, args) -> None:
    x = engine.load_dataset("mnist", "test").float()
    x = x[:: max(1, len(x) // args.inversion_n)][: args.inversion_n]
    steps_list = [int(s) for s in args.inversion_steps.split(",") if s] or [model.config.steps]
    for steps in steps_list:
        start = time.perf_counter()
        back = torch.cat(
            [model.decode(model.encode(b, steps=steps), steps=steps) for b in x.split(250)]
        )
        p = psnr(back, x)
        seconds = (time.perf_counter() - start) / len(x)
        tag = " (default)" if steps == model.config.steps else ""
        print(
            f"inversion, {steps} steps{tag}: PSNR mean {p.mean():.2f} dB, median {p.median():.2f},"
            f" 10th percentile {p.quantile(0.1):.2f} ({seconds * 1000:.0f} ms per image)"
        )


def timing_section(model, args) -> None:
    times = []
    for i in range(3):
        start = time.perf_counter()
        model.sample(36, generator=torch.Generator().manual_seed(i))
        times.append(time.perf_counter() - start)
    print(
        f"36 samples at {model.config.steps} steps, {args.threads} threads:"
        f" median {statistics.median(times):.2f} s (runs {', '.join(f'{t:.2f}' for t in times)})"
    )


def sizes_section(model, args) -> None:
    for name, fields in SIZES.items():
        m = engine.build_model("diffusion", fields)
        params = sum(p.numel() for p in m.parameters())
        opt = torch.optim.Adam(m.parameters(), 1e-3)
        x, t = torch.randn(64, 1, 32, 32), torch.randint(0, 1000, (64,))
        steps = []
        for _ in range(3):
            start = time.perf_counter()
            loss = (m(x, t) - x).pow(2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            steps.append(time.perf_counter() - start)
        m.eval()
        start = time.perf_counter()
        m.sample(36, generator=torch.Generator().manual_seed(0), steps=20)
        print(
            f"{name}: {params / 1e6:.2f} M params, training step {min(steps):.2f} s,"
            f" 36 samples at 20 steps {time.perf_counter() - start:.2f} s"
        )


SECTIONS = {
    "timing": timing_section,
    "samples": samples_section,
    "inversion": inversion_section,
    "sizes": sizes_section,
}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--checkpoint", default=str(ROOT / "pretrained/mnist-diffusion"))
    p.add_argument("--n", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--samples", help="a folder of sample-*.png written by python -m engine sample")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--inversion-n", type=int, default=500, help="test images (evenly spaced)")
    p.add_argument("--inversion-steps", default="", help="comma-separated (default: the model's)")
    p.add_argument("--only", default=",".join(SECTIONS))
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    model = engine.load(args.checkpoint, device="cpu")
    card = engine.read_card(args.checkpoint)
    print(
        f"{args.checkpoint}: epoch {card['epochs']} (best {card['best_epoch']}), {card['steps']} steps"
    )
    with torch.no_grad():
        for name in args.only.split(","):
            SECTIONS[name](model, args)
            sys.stdout.flush()


if __name__ == "__main__":
    main()
