"""Held-out figures of a checkpoint, as ``python -m engine evaluate`` prints them.

- exact likelihood (flow, PixelCNN): test bits/dim (the flow: one uniform-dequantization sample
  per image, seeded; the PixelCNN: its discrete likelihood, which needs no sample).
- VAE: test NLL in nats by importance weighting (Burda et al. 2016) with ``k`` samples, and the
  ELBO, on the test split binarized once with a fixed seed.
- GAN: label histogram and confidence of the project's classifier on 1,000 seeded samples.
- classifier: test accuracy.
- VAEAC: PSNR over the hidden pixels of the mean of 4 completions, for each standard mask.
- RBM: test log-likelihood in nats of the test split binarized once (seeded), with ``log Z`` by
  annealed importance sampling (:mod:`engine.metrics.ais`: 100 runs, 15,000 betas, base model
  from the training split's pixel means), and the band that AIS's +/- 3 standard errors give.
- EBM: the classifier's label histogram and confidence on the 500 samples that
  ``python -m engine sample --n 500 --seed SEED`` writes (the same generator, one batch).
- diffusion: the same classifier figures on the 1,000 samples that ``python -m engine sample
  --n 1000 --seed SEED`` writes (one draw of noise, decoded in chunks), the memorisation check of
  those samples against the training split, and the PSNR of DDIM inversion round trips
  (``decode(encode(x))`` at the default steps) of the test split.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import torch
from tqdm import tqdm

from engine.data import load_dataset
from engine.errors import EngineError


def _test_images(model, dataset: str) -> torch.Tensor:
    c, h, _ = model.image_shape
    return load_dataset(dataset, "test", image_size=h, channels=c).float().to(model.device)


def classifier_path_for(checkpoint: Path, dataset: str) -> Path:
    return Path(checkpoint).parent / f"{dataset}-classifier"


@torch.no_grad()
def evaluate(
    model,
    dataset: str,
    *,
    k: int = 1000,
    seed: int = 0,
    n_samples: int = 1000,
    classifier=None,
    progress: bool = True,
) -> dict:
    """Held-out metrics of ``model`` on ``dataset``'s test split (a dict of plain numbers)."""
    gen = torch.Generator().manual_seed(seed)
    start = time.time()
    out: dict = {"seed": seed}
    if "log_prob" in getattr(model, "capabilities", ()):  # exact likelihood: flow, PixelCNN
        x = _test_images(model, dataset)
        bpd = torch.cat([model.bits_per_dim(b, generator=gen) for b in x.split(250)])
        out.update(test_bpd=round(bpd.mean().item(), 4), test_images=len(x))
    elif model.kind == "vae":
        x = torch.bernoulli(_test_images(model, dataset).cpu(), generator=gen).to(model.device)
        elbo = torch.cat([model.elbo(b, generator=gen) for b in x.split(250)])
        nll = [
            -model.iwae_log_likelihood(b, k=k, generator=gen)
            for b in tqdm(x.split(25), desc=f"IWAE k={k}", disable=not progress, leave=False)
        ]
        out.update(
            test_nll_nats=round(torch.cat(nll).mean().item(), 2),
            test_neg_elbo_nats=round(-elbo.mean().item(), 2),
            iwae_k=k,
            test_images=len(x),
        )
    elif model.has("log_partition"):  # an RBM: log p(v) = -F(v) - log Z, log Z by AIS
        out.update(_rbm_log_likelihood(model, dataset, gen, progress))
    elif model.kind == "diffusion":
        out.update(_diffusion_figures(model, dataset, gen, n_samples, classifier, progress))
    elif model.kind in ("gan", "ebm"):
        if classifier is None:
            raise EngineError(
                f"evaluating a {model.kind} needs a classifier checkpoint (--classifier DIR)"
            )
        if model.kind == "ebm":  # Langevin chains: one batch, as the sample command draws them
            samples = model.sample(500, generator=gen)
        else:
            samples = torch.cat([model.sample(250, generator=gen) for _ in range(n_samples // 250)])
        probs = classifier.predict_proba(samples.to(classifier.device))
        hist = torch.bincount(probs.argmax(1), minlength=probs.shape[1]).float() / len(samples)
        out.update(
            samples=len(samples),
            label_histogram=[round(v, 4) for v in hist.tolist()],
            min_class_fraction=round(hist.min().item(), 4),
            mean_max_probability=round(probs.max(1).values.mean().item(), 4),
            classifier=str(getattr(classifier, "checkpoint_path", "")),
        )
    elif model.kind == "vaeac":
        from engine.metrics.inpainting import masks, psnr_missing

        x = _test_images(model, dataset)
        for label, known in masks(seed).items():
            mean = torch.cat(
                [model.complete(b, known, 4, generator=gen).mean(1) for b in x.split(100)]
            )
            key = "test_psnr_" + label.replace(" ", "_").replace("%", "pc")
            out[key] = round(psnr_missing(mean, x, known), 2)
        out.update(completions=4, test_images=len(x))
    elif model.kind == "classifier":
        data = load_dataset(
            dataset, "test", image_size=model.config.image_size, channels=model.config.channels
        )
        pred = model(data.float().to(model.device)).argmax(1).cpu()
        out.update(
            test_accuracy=round((pred == data.labels).float().mean().item(), 4),
            test_images=len(data),
        )
    out["eval_time_s"] = round(time.time() - start, 1)
    return out


def _rbm_log_likelihood(model, dataset: str, gen: torch.Generator, progress: bool) -> dict:
    """Test log-likelihood (nats) of an RBM with log Z by AIS; see the module docstring."""
    from engine.metrics.ais import base_bias, log_likelihood

    x = torch.bernoulli(_test_images(model, dataset).cpu(), generator=gen).to(model.device)
    c, h, _ = model.image_shape
    train = load_dataset(dataset, "train", image_size=h, channels=c).float().flatten(1)
    with tqdm(total=1, desc="AIS", disable=not progress, leave=False) as bar:

        def advance(step: int, total: int) -> None:
            bar.total, bar.n = total, step
            bar.refresh()

        ais = model.log_partition(runs=100, b_a=base_bias(train), generator=gen, progress=advance)
    ll = log_likelihood(model, x, ais.log_z).mean().item()

    def bound(log_z: float) -> float | None:  # None: 3 standard errors exceed the mean weight
        return round(ll + ais.log_z - log_z, 2) if math.isfinite(log_z) else None

    return {
        "test_ll_nats": round(ll, 2),
        "test_ll_band_nats": [bound(ais.log_z_high), bound(ais.log_z_low)],
        "log_z": round(ais.log_z, 2),
        "ais_runs": ais.runs,
        "ais_betas": ais.betas,
        "test_images": len(x),
    }


def _diffusion_figures(model, dataset, gen, n: int, classifier, progress: bool) -> dict:
    """Sample figures, memorisation and inversion PSNR of a diffusion model; see the docstring."""
    from engine.metrics.memorisation import memorisation

    if classifier is None:
        raise EngineError("evaluating a diffusion model needs a classifier checkpoint")
    z = model.sample_latent(n, generator=gen)  # as the sample command draws it: one batch
    chunks = z.split(250)
    samples = torch.cat(
        [model.decode(c) for c in tqdm(chunks, desc="samples", disable=not progress, leave=False)]
    )
    probs = classifier.predict_proba(samples.to(classifier.device))
    hist = torch.bincount(probs.argmax(1), minlength=probs.shape[1]).float() / len(samples)
    c, h, _ = model.image_shape
    train = load_dataset(dataset, "train", image_size=h, channels=c).float()
    x = _test_images(model, dataset)
    mem = memorisation(samples.cpu(), train, x.cpu())
    back = torch.cat(
        [
            model.decode(model.encode(b))
            for b in tqdm(x.split(250), desc="inversion", disable=not progress, leave=False)
        ]
    )
    mse = (back - x).pow(2).flatten(1).mean(1).clamp_min(1e-10)
    psnr = 10 * torch.log10(1 / mse)
    return {
        "samples": len(samples),
        "ddim_steps": model.config.steps,
        "label_histogram": [round(v, 4) for v in hist.tolist()],
        "min_class_fraction": round(hist.min().item(), 4),
        "mean_max_probability": round(probs.max(1).values.mean().item(), 4),
        "classifier": str(getattr(classifier, "checkpoint_path", "")),
        "memorisation": {k: round(v, 4) if isinstance(v, float) else v for k, v in mem.items()},
        "inversion_psnr_db": round(psnr.mean().item(), 2),
        "inversion_psnr_db_p10": round(psnr.quantile(0.1).item(), 2),
        "test_images": len(x),
    }
