"""Offline evaluation metrics: pure functions over tensors / arrays (no downloads, no streamlit).

- :mod:`~engine.metrics.features`: the domain classifiers as feature extractors.
- :mod:`~engine.metrics.fidelity`: FID, KID (torchmetrics), precision / recall, density / coverage,
  classifier score and label histogram.
- :mod:`~engine.metrics.memorisation`: nearest-neighbour distance to train vs. held-out images.
- :mod:`~engine.metrics.ppl`: perceptual path length with a feature-space distance.
- :mod:`~engine.metrics.likelihood`: independent-pixel baselines for bits/dim and NLL.
- :mod:`~engine.metrics.probe`: linear classifiers on a few labels per class.
- :mod:`~engine.metrics.disentangle`: MIG, FactorVAE score, DCI.
- :mod:`~engine.metrics.inpainting`: standard masks, PSNR on missing pixels, baselines.
"""

from engine.metrics.disentangle import dci, factorvae_score, mig, mutual_information
from engine.metrics.features import ClassifierFeatures, GivenFeatures, extract
from engine.metrics.fidelity import (
    classifier_score,
    density_coverage,
    fid,
    kid,
    label_histogram,
    precision_recall,
    quality,
)
from engine.metrics.likelihood import independent_bernoulli_nll, independent_bpd
from engine.metrics.memorisation import memorisation
from engine.metrics.ppl import perceptual_path_length
from engine.metrics.probe import few_label_indices, linear_probe

__all__ = [
    "ClassifierFeatures",
    "GivenFeatures",
    "classifier_score",
    "dci",
    "density_coverage",
    "extract",
    "factorvae_score",
    "few_label_indices",
    "fid",
    "independent_bernoulli_nll",
    "independent_bpd",
    "kid",
    "label_histogram",
    "linear_probe",
    "memorisation",
    "mig",
    "mutual_information",
    "perceptual_path_length",
    "precision_recall",
    "quality",
]
