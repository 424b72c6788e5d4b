"""A small LeNet-style classifier trained on the training split: the project's own feature
extractor (no Inception weights can be downloaded here) for checking GAN samples and, later, FID.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from engine.base import check_image_config


@dataclass
class LeNetClassifierConfig:
    channels: int = 1
    image_size: int = 28
    num_classes: int = 10
    width: int = 32
    features: int = 128


class LeNetClassifier(nn.Module):
    kind = "classifier"
    capabilities = frozenset({"classify", "features"})
    config_class = LeNetClassifierConfig

    def __init__(self, config: LeNetClassifierConfig) -> None:
        super().__init__()
        check_image_config(config)
        self.config = config
        w = config.width
        self.body = nn.Sequential(
            nn.Conv2d(config.channels, w, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(w, w, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(w, 2 * w, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(2 * w, 2 * w, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.AdaptiveAvgPool2d(4),
            nn.Flatten(),
            nn.Dropout(0.3),
            nn.Linear(2 * w * 16, config.features),
            nn.ReLU(),
        )
        self.head = nn.Sequential(nn.Dropout(0.3), nn.Linear(config.features, config.num_classes))

    def has(self, capability: str) -> bool:
        """Whether this model can do ``capability``: only ``classify`` and ``features``, none of a
        generative model's, so every command and page that asks refuses it in one line."""
        return capability in self.capabilities

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return (self.config.channels, self.config.image_size, self.config.image_size)

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate activations (B, features) of images in [0, 1]."""
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))  # (B, classes) logits

    @torch.no_grad()
    def predict_proba(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self(x), dim=1)
