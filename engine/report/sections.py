"""The measurements behind ``python -m engine report``, one function per section.

Each section reads shipped checkpoints only (nothing is trained here) and returns plain numbers;
:mod:`engine.report` turns them into Markdown and figures. Each takes every MNIST checkpoint and
measures those whose capabilities its metric needs (:mod:`engine.report.models`). Sample sizes and seeds come from
:class:`~engine.report.ReportSettings` and are written next to every figure.
"""

from __future__ import annotations

import time

import numpy as np
import torch

from engine.checkpoint import load, read_card
from engine.data import load_dataset
from engine.metrics import (
    ClassifierFeatures,
    extract,
    independent_bernoulli_nll,
    independent_bpd,
    linear_probe,
    memorisation,
    perceptual_path_length,
    precision_recall,
    quality,
)
from engine.report.models import encoders_or_decoders, inpainters, likelihoods, samplers


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def blur(x: torch.Tensor, sigma: float = 1.0) -> torch.Tensor:
    """Gaussian blur (separable, reflect padding) of images (B, C, H, W)."""
    r = int(3 * sigma)
    k = torch.exp(-0.5 * (torch.arange(-r, r + 1, dtype=torch.float32) / sigma) ** 2)
    k = (k / k.sum()).view(1, 1, 1, -1)
    c = x.shape[1]
    x = torch.nn.functional.pad(x, (r, r, r, r), mode="reflect")
    x = torch.nn.functional.conv2d(x, k.expand(c, 1, 1, -1), groups=c)
    return torch.nn.functional.conv2d(x, k.transpose(2, 3).expand(c, 1, -1, 1), groups=c)


def real_variants(val, train, n: int, seed: int) -> dict[str, torch.Tensor]:
    """The sanity rows: held-out images and versions of them that each metric should notice."""
    order = torch.randperm(len(val), generator=_gen(seed))  # the split is sorted by digit
    x = val.float()[order[:n]]
    low = val.float()[order][val.labels[order] < 5]
    noise = torch.randn(x.shape, generator=_gen(seed)) * 0.3
    pick = torch.randperm(len(train), generator=_gen(seed))[:n]
    return {
        "real: held-out (val)": x,
        "real: blurred (sigma 1 px)": blur(x),
        "real: noisy (+N(0, 0.3^2))": (x + noise).clamp(0, 1),
        "real: digits 0-4 only": low.repeat(n // len(low) + 1, 1, 1, 1)[:n],
        "real: training images": train.float()[pick],
    }


@torch.no_grad()
def mnist_quality(s, models: dict, log) -> dict:
    """Feature-space quality of each model and of the sanity rows against the test split."""
    ext = ClassifierFeatures(load(s.pretrained / "mnist-classifier", device="cpu"))
    train, val, test = (load_dataset("mnist", sp) for sp in ("train", "val", "test"))
    ref, _ = extract(ext, test.float())
    n = min(s.n_samples, len(val))
    sets = real_variants(val, train, n, s.seed)
    for i, (name, model) in enumerate(samplers(models).items()):
        sets[name] = model.sample(n, generator=_gen(s.seed + i))
    rows, grids = {}, {}
    for name, x in sets.items():
        feats, probs = extract(ext, x)
        q = quality(ref, feats, fake_probs=probs, seed=s.seed)
        q["memorisation"] = memorisation(x, train.float(), test.float())
        rows[name] = q
        grids[name] = x[:64]
        log(f"  quality {name}: FID {q['fid']:.2f}")
    ppl, sweep = {}, {}
    for i, (name, model) in enumerate(samplers(models).items()):
        if not model.has("decode"):  # both walk or scale a latent: none to walk or scale
            continue
        g = _gen(s.seed + 100 + i)
        z0, z1 = (
            model.sample_latent(s.ppl_pairs, generator=g),
            model.sample_latent(s.ppl_pairs, generator=g),
        )
        ppl[name] = perceptual_path_length(model.decode, ext, z0, z1, generator=g)
        sweep[name] = {}
        for t in s.temperatures:
            x = model.sample(n, generator=_gen(s.seed + i), temperature=t)
            feats, _ = extract(ext, x)
            sweep[name][t] = precision_recall(ref, feats)
        log(f"  ppl / temperature sweep {name}")
    return {
        "n_reference": len(test),
        "n": n,
        "rows": rows,
        "ppl": ppl,
        "sweep": sweep,
        "grids": grids,
    }


@torch.no_grad()
def likelihood(s, models: dict, log) -> dict:
    """Held-out flow bits/dim and VAE IWAE NLL next to independent-pixel baselines."""
    from engine.evaluate import evaluate

    train, test = load_dataset("mnist", "train"), load_dataset("mnist", "test")
    binary = torch.bernoulli(test.float(), generator=_gen(s.seed))  # as evaluate() binarizes
    out = {
        "n_test": len(test),
        "baseline_bpd": independent_bpd(train.x, test.x),
        "baseline_nll_nats": independent_bernoulli_nll(train.float(), binary),
    }
    for name, model in likelihoods(models).items():
        out[name] = evaluate(model, "mnist", k=s.iwae_k, seed=s.seed, progress=False)
        out[name]["card"] = read_card(s.pretrained / name).get("metrics", {}).get("test", {})
        log(f"  likelihood {name}: {out[name]}")
    return out


def inpainting(s, models: dict, log) -> dict:
    """PSNR over the missing pixels, every model and mask with the ops issue's baselines."""
    from engine.metrics.inpainting import baselines, masks, psnr_missing
    from engine.ops.inpaint import inpaint

    test = load_dataset("mnist", "test").float()
    x = test[:: max(1, len(test) // s.inpaint_n)][: s.inpaint_n]
    train = load_dataset("mnist", "train").float()
    table: dict = {}
    for mask_name, known in masks(s.seed).items():
        row = {
            name: {"psnr": psnr_missing(f, x, known)}
            for name, f in baselines(train, x, known).items()
        }
        for name, model in inpainters(models).items():
            start, means = time.perf_counter(), []
            for i, batch in enumerate(x.split(10)):
                out = inpaint(
                    model,
                    batch,
                    known,
                    samples=s.inpaint_samples,
                    generator=_gen(s.seed * 1000 + i),
                )
                means.append(out.mean)
            row[f"{name} ({out.method})"] = {
                "psnr": psnr_missing(torch.cat(means), x, known),
                "s_per_image": (time.perf_counter() - start) / len(x),
            }
        table[mask_name] = row
        log(f"  inpainting {mask_name}")
    return {"n": len(x), "samples": s.inpaint_samples, "table": table}


@torch.no_grad()
def _codes(model, x: torch.Tensor) -> np.ndarray:
    return torch.cat([model.encode(b).flatten(1) for b in x.split(500)]).numpy()


def probe(s, models: dict, log) -> dict:
    """Linear-probe accuracy on each model's codes vs. raw pixels, few labels per class."""
    from engine.metrics.probe import few_label_indices
    from engine.ops.reconstruct import reconstruct

    train, test = load_dataset("mnist", "train"), load_dataset("mnist", "test")
    y_tr, y_te = train.labels.numpy(), test.labels.numpy()
    codes = {"pixels": (train.float().flatten(1).numpy(), test.float().flatten(1).numpy())}
    readable = encoders_or_decoders(samplers(models))
    for name, model in readable.items():
        if model.has("encode"):
            codes[name] = (_codes(model, train.float()), _codes(model, test.float()))
    clf = load(s.pretrained / "mnist-classifier", device="cpu")
    feats = lambda x: extract(ClassifierFeatures(clf), x)[0].numpy()  # noqa: E731
    codes["mnist-classifier features (supervised, all labels)"] = (
        feats(train.float()),
        feats(test.float()),
    )
    out = {"n_test": len(test), "seeds": list(s.probe_seeds), "rows": {}}
    for name, (c_tr, c_te) in codes.items():
        out["rows"][name] = {  # string keys: the same after a JSON round trip
            str(k): linear_probe(c_tr, y_tr, c_te, y_te, per_class=k, seeds=s.probe_seeds)
            for k in s.probe_labels
        }
        log(f"  probe {name}")
    inverted = {n: m for n, m in readable.items() if not m.has("encode")}
    for name, model in inverted.items():  # no encoder: codes by inversion, a smaller protocol
        k = min(s.probe_labels)
        idx = np.unique(
            np.concatenate([few_label_indices(y_tr, k, seed=sd) for sd in s.probe_seeds])
        )
        te = np.arange(0, len(test), max(1, len(test) // s.gan_probe_test))[: s.gan_probe_test]
        x = torch.cat([train.float()[idx], test.float()[te]])
        z = reconstruct(model, x, generator=_gen(s.seed), **s.gan_inversion).z.flatten(1).numpy()
        c_tr = np.zeros((len(train), z.shape[1]))
        c_tr[idx] = z[: len(idx)]
        out["rows"][f"{name} (inverted)"] = {
            str(k): linear_probe(
                c_tr, y_tr, z[len(idx) :], y_te[te], per_class=k, seeds=s.probe_seeds
            )
        }
        out["gan_test"] = len(te)
        log(f"  probe {name} by inversion ({len(x)} images)")
    return out
