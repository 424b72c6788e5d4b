"""Registry of model kinds: ``kind`` name -> module class (each with its ``config_class``)."""

from __future__ import annotations

import dataclasses

from engine.base import config_from_dict
from engine.errors import EngineError
from engine.models.classifier import LeNetClassifier, LeNetClassifierConfig
from engine.models.diffusion import DDPM, DiffusionConfig
from engine.models.ebm import ConvEBM, EBMConfig
from engine.models.flow import RealNVP, RealNVPConfig
from engine.models.gan import DCGAN, DCGANConfig
from engine.models.pixelcnn import GatedPixelCNN, PixelCNNConfig
from engine.models.rbm import BernoulliRBM, RBMConfig
from engine.models.vae import ConvVAE, ConvVAEConfig
from engine.models.vaeac import VAEAC, VAEACConfig

KINDS = {
    cls.kind: cls
    for cls in (
        ConvVAE,
        DCGAN,
        RealNVP,
        LeNetClassifier,
        VAEAC,
        DDPM,
        GatedPixelCNN,
        ConvEBM,
        BernoulliRBM,
    )
}
# Derived from capabilities, for scripts and tests that list kinds: those that draw samples, and
# those that only complete a hidden part of an image (inpainting). The app asks capabilities.
GENERATIVE_KINDS = tuple(k for k, cls in KINDS.items() if "sample" in cls.capabilities)
CONDITIONAL_KINDS = tuple(
    k for k, cls in KINDS.items() if "complete" in cls.capabilities and k not in GENERATIVE_KINDS
)

__all__ = [
    "KINDS",
    "GENERATIVE_KINDS",
    "CONDITIONAL_KINDS",
    "build_model",
    "ConvVAE",
    "ConvVAEConfig",
    "DCGAN",
    "DCGANConfig",
    "RealNVP",
    "RealNVPConfig",
    "LeNetClassifier",
    "LeNetClassifierConfig",
    "VAEAC",
    "GatedPixelCNN",
    "PixelCNNConfig",
    "VAEACConfig",
    "DDPM",
    "ConvEBM",
    "EBMConfig",
    "BernoulliRBM",
    "RBMConfig",
    "DiffusionConfig",
]


def build_model(kind: str, config: dict | None = None):
    """A freshly initialised model of ``kind`` from a config dict (missing fields: defaults)."""
    if kind not in KINDS:
        raise EngineError(f"unknown model kind {kind!r} (known: {', '.join(sorted(KINDS))})")
    cls = KINDS[kind]
    return cls(config_from_dict(cls.config_class, dict(config or {})))


def config_dict(model) -> dict:
    return dataclasses.asdict(model.config)
