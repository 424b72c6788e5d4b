"""Which checkpoints the report measures: every folder of ``pretrained/`` trained on the dataset,
chosen per section by capability, never by kind or name, so a new kind joins each section
whose metric applies to it without an edit here."""

from __future__ import annotations

from pathlib import Path

from engine.checkpoint import load, read_card
from engine.ops.inpaint import NEEDS as INPAINT_NEEDS


def _rank(model) -> int:
    from engine.models import KINDS

    kinds = list(KINDS)
    return kinds.index(model.kind) if model.kind in kinds else len(kinds)


def checkpoints(pretrained: Path, dataset: str) -> dict:
    """name -> model (CPU) of each checkpoint folder directly in ``pretrained`` whose card names
    ``dataset`` (a run still training is left out), in the model registry's order (the VAE first), then by name."""
    found = []
    for folder in sorted(p for p in Path(pretrained).iterdir() if (p / "config.json").is_file()):
        card = read_card(folder)
        if card.get("dataset") == dataset and card.get("status") != "training":  # finished only
            found.append((folder.name, load(folder, device="cpu")))
    return dict(sorted(found, key=lambda nm: (_rank(nm[1]), nm[0])))


def samplers(models: dict) -> dict:
    """The models that draw samples: quality, diversity, memorisation."""
    return {n: m for n, m in models.items() if m.has("sample")}


def likelihoods(models: dict) -> dict:
    """The models with an exact likelihood, a bound on it, or an estimate of their normaliser
    (an RBM's log Z by annealed importance sampling)."""
    return {
        n: m
        for n, m in models.items()
        if {"log_prob", "elbo", "log_partition"} & set(m.capabilities)
    }


def inpainters(models: dict) -> dict:
    """The models some inpainting method fits (``engine.ops.inpaint.method_for``)."""
    needs = set(INPAINT_NEEDS.values())
    return {n: m for n, m in models.items() if needs & set(m.capabilities)}


def encoders_or_decoders(models: dict) -> dict:
    """The models whose codes a linear probe can read: encoded, or found by inversion."""
    return {n: m for n, m in models.items() if m.has("encode") or m.has("decode")}
