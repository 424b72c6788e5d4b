"""What latent codes are worth: a linear classifier trained on a few labels per class.

Logistic regression on standardised codes (scikit-learn), trained on ``per_class`` labelled
training images drawn per seed, scored on the held-out split: the usual linear-probe protocol of
representation learning, with the same classifier on raw pixels as the baseline.
"""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler


def few_label_indices(labels: np.ndarray, per_class: int, *, seed: int) -> np.ndarray:
    """``per_class`` random indices of each class (seeded), sorted."""
    rng = np.random.default_rng(seed)
    picks = [
        rng.choice(np.flatnonzero(labels == c), per_class, replace=False) for c in np.unique(labels)
    ]
    return np.sort(np.concatenate(picks))


def linear_probe(
    train_codes: np.ndarray,
    train_labels: np.ndarray,
    test_codes: np.ndarray,
    test_labels: np.ndarray,
    *,
    per_class: int,
    seeds: tuple[int, ...] = (0, 1, 2),
    c: float = 1.0,
) -> dict:
    """Held-out accuracy of a linear classifier fitted on ``per_class`` labels per class.

    Args:
        train_codes, train_labels: (N, D) codes and (N,) labels to draw the labelled set from.
        test_codes, test_labels: the held-out split.
        per_class: labelled examples per class.
        seeds: one draw of the labelled set per seed.
        c: inverse L2 regularisation strength.

    Returns:
        ``mean`` and ``std`` accuracy over seeds, ``accuracies``, ``per_class``, ``seeds``.
    """
    train_codes = np.asarray(train_codes, dtype=np.float64).reshape(len(train_codes), -1)
    test_codes = np.asarray(test_codes, dtype=np.float64).reshape(len(test_codes), -1)
    accs = []
    for seed in seeds:
        idx = few_label_indices(np.asarray(train_labels), per_class, seed=seed)
        clf = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=2000))
        clf.fit(train_codes[idx], np.asarray(train_labels)[idx])
        accs.append(float((clf.predict(test_codes) == np.asarray(test_labels)).mean()))
    return {
        "mean": float(np.mean(accs)),
        "std": float(np.std(accs)),
        "accuracies": accs,
        "per_class": per_class,
        "seeds": list(seeds),
    }
