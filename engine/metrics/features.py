"""Domain feature extractors: the project's own classifiers stand in for Inception.

No Inception or LPIPS weights can be downloaded here, so every feature-space metric reads the
penultimate activations of a small LeNet-style classifier trained on the dataset's training split
(``pretrained/mnist-classifier``, ``pretrained/sprites-classifier``).
"""

from __future__ import annotations

import torch
from torch import nn


class ClassifierFeatures(nn.Module):
    """Wrap a classifier as a torchmetrics-style feature extractor: images in [0, 1] -> (B, F).

    ``num_features`` is what torchmetrics' FID / KID read to size their state.
    """

    def __init__(self, classifier: nn.Module) -> None:
        super().__init__()
        self.classifier = classifier.eval()
        self.num_features = int(classifier.config.features)

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier.features(x.to(self.classifier.device)).float().cpu()


class GivenFeatures(nn.Module):
    """The identity with ``num_features``: lets torchmetrics consume features computed once."""

    def __init__(self, num_features: int) -> None:
        super().__init__()
        self.num_features = int(num_features)

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        return f


@torch.no_grad()
def extract(
    extractor: nn.Module, x: torch.Tensor, *, batch: int = 500
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Features and, when the extractor wraps a classifier, class probabilities of images.

    Args:
        extractor: a :class:`ClassifierFeatures` (or any module images -> (B, F)).
        x: images (N, C, H, W) in [0, 1].
        batch: images per forward pass.

    Returns:
        features (N, F) float32 on the CPU, and probabilities (N, K) or ``None``.
    """
    feats, probs = [], []
    clf = getattr(extractor, "classifier", None)
    for b in x.split(batch):
        f = extractor(b)
        feats.append(f)
        if clf is not None:
            probs.append(torch.softmax(clf.head(f.to(clf.device)), dim=1).cpu())
    return torch.cat(feats), (torch.cat(probs) if probs else None)
