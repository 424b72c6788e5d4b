"""How surprising is an image to a model? A score per kind, and its rank among held-out images.

Higher is always more surprising:

- a model with an exact likelihood (``log_prob``: the flow, the PixelCNN): bits per dimension
  (the flow with one seeded dequantization sample; the PixelCNN's discrete likelihood needs none).
- VAE: negative ELBO in nats, averaged over ``samples`` posterior draws; images are scored as they
  are (grayscale values as Bernoulli means, not binarized), the same for the reference.
- a model with an ``energy`` (the RBM: its free energy in nats; the deep EBM: E(x)): the energy,
  ``-log p(x)`` up to the model's unknown normaliser, the same constant for every image.
- a kind with its own ``surprise(x, generator=...)`` (diffusion: the training loss, the
  noise-prediction error at 10 fixed noise levels, whose weighted sum is the variational bound).
- GAN: the pixel MSE of the best latent found by :func:`engine.ops.reconstruct.invert`
  (a GAN has no likelihood; what it cannot redraw is what it has not learned).

The reference is the distribution of the same score over the dataset's test split, computed once
(:func:`reference_scores`) and stored beside the checkpoint in ``anomaly.json``; a percentile then
says what fraction of held-out images score lower.

A caution worth teaching: likelihood models give *simple* images high likelihood (Nalisnick et al.
2019, "Do Deep Generative Models Know What They Don't Know?"). On the shipped MNIST models a filled
white square scores below every held-out digit, while noise, stripes or a white page score above
all of them. A low score means "cheap to encode", not "looks like a digit".
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch

from engine.errors import CheckpointError
from engine.images import write_atomic
from engine.ops.reconstruct import invert

REFERENCE_FILE = "anomaly.json"
UNITS = {"flow": "bits/dim", "vae": "nats (negative ELBO)", "gan": "inversion MSE"}


def score_unit(model) -> str:
    """The unit of :func:`anomaly_score` for ``model``, by capability (a kind's own if named)."""
    if model.has("log_prob"):
        return "bits/dim"
    if model.has("energy"):
        return getattr(model, "energy_unit", "energy")
    if hasattr(model, "surprise"):
        return model.surprise_unit
    return UNITS.get(model.kind) or ("nats (negative ELBO)" if model.has("elbo") else "")


@dataclass
class Reference:
    """Sorted scores of held-out images under one model."""

    kind: str
    unit: str
    dataset: str
    scores: torch.Tensor  # (N,) ascending

    def percentile(self, score: torch.Tensor) -> torch.Tensor:
        """Percent of reference images scoring below each of ``score`` (B,), in [0, 100]."""
        below = torch.searchsorted(self.scores, score.detach().cpu().double().contiguous())
        return 100.0 * below.double() / len(self.scores)


@torch.no_grad()
def anomaly_score(
    model,
    x: torch.Tensor,
    *,
    generator: torch.Generator | None = None,
    samples: int = 8,
    **inversion,
) -> torch.Tensor:
    """Per-image surprise (B,) of images ``x`` (B, C, H, W) in [0, 1]; see the module docstring."""
    x = x.to(model.device)
    if model.has("log_prob"):
        return model.bits_per_dim(x, generator=generator)
    if model.has("elbo"):  # the mean of ``samples`` one-sample ELBOs, all in one batch
        elbo = model.elbo(x.repeat(samples, 1, 1, 1), generator=generator)
        return -elbo.view(samples, len(x)).mean(0)
    if model.has("energy"):
        return model.energy(x)
    if hasattr(model, "surprise"):  # a kind's own score (diffusion: its denoising error)
        return model.surprise(x, generator=generator)
    return invert(model, x, generator=generator, **inversion)[1]


def reference_scores(
    model, x: torch.Tensor, *, dataset: str, seed: int = 0, batch: int = 100, **kwargs
) -> Reference:
    """Score held-out images ``x`` in batches (seeded) and keep them sorted as a reference."""
    gen = torch.Generator().manual_seed(seed)
    scores = torch.cat([anomaly_score(model, b, generator=gen, **kwargs) for b in x.split(batch)])
    return Reference(model.kind, score_unit(model), dataset, scores.cpu().double().sort().values)


def save_reference(checkpoint: str | Path, reference: Reference) -> None:
    payload = {
        "kind": reference.kind,
        "unit": reference.unit,
        "dataset": reference.dataset,
        "scores": [round(v, 6) for v in reference.scores.tolist()],
    }
    write_atomic(Path(checkpoint) / REFERENCE_FILE, json.dumps(payload).encode())


def load_reference(checkpoint: str | Path) -> Reference | None:
    """The stored reference of a checkpoint, or ``None`` if it has none yet."""
    path = Path(checkpoint) / REFERENCE_FILE
    if not path.is_file():
        return None
    try:
        payload = json.loads(path.read_text())
        scores = torch.tensor(payload["scores"], dtype=torch.float64).sort().values
        return Reference(payload["kind"], payload["unit"], payload["dataset"], scores)
    except (ValueError, KeyError, TypeError) as e:
        raise CheckpointError(f"{path}: not a valid anomaly reference ({e})") from e
