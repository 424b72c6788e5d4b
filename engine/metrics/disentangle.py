"""Disentanglement of a code against known generative factors: MIG, FactorVAE score and DCI.

- MIG (Chen et al. 2018): for each factor, the gap between the two code dimensions that share the
  most mutual information with it, over the factor's entropy; codes discretised into 20 bins.
- FactorVAE score (Kim & Mnih 2018): in batches where one factor is held fixed, the normalised code
  dimension with the least variance votes for that factor; the score is the accuracy of the
  majority-vote classifier on held-out votes. Collapsed dimensions (std < 0.05) never vote.
- DCI (Eastwood & Williams 2018): importances of each code dimension for predicting each factor
  (random forests here), read as disentanglement (each dimension matters for one factor),
  completeness (each factor is captured by one dimension) and informativeness (test accuracy).

Conventions follow disentanglement_lib (Locatello et al. 2019). All take numpy arrays: codes
(N, D) float, factors (N, F) integer indices.
"""

from __future__ import annotations

import numpy as np
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import mutual_info_score


def discretize(codes: np.ndarray, *, bins: int = 20) -> np.ndarray:
    """Each code dimension cut into ``bins`` equal-width bins over its range, (N, D) int."""
    out = np.zeros(codes.shape, dtype=np.int64)
    for j in range(codes.shape[1]):
        edges = np.histogram(codes[:, j], bins)[1]
        out[:, j] = np.digitize(codes[:, j], edges[:-1])
    return out


def mutual_information(codes: np.ndarray, factors: np.ndarray, *, bins: int = 20) -> np.ndarray:
    """Plug-in mutual information (nats) between each code dimension and each factor, (D, F)."""
    disc = discretize(np.asarray(codes, dtype=np.float64), bins=bins)
    return np.array(
        [[mutual_info_score(f, c) for f in factors.T] for c in disc.T], dtype=np.float64
    )


def mig(codes: np.ndarray, factors: np.ndarray, *, bins: int = 20) -> dict:
    """Mutual information gap: mean over factors of (top-1 - top-2 MI) / H(factor), in [0, 1].

    Returns ``mig`` and ``per_factor`` (one gap per factor column).
    """
    mi = mutual_information(codes, factors, bins=bins)  # (D, F)
    entropy = np.array([mutual_info_score(f, f) for f in factors.T])
    top = np.sort(mi, axis=0)[::-1]
    second = top[1] if len(top) > 1 else np.zeros_like(top[0])
    gaps = (top[0] - second) / np.maximum(entropy, 1e-12)
    return {"mig": float(gaps.mean()), "per_factor": gaps.tolist()}


def factorvae_score(
    vote_codes: np.ndarray,
    vote_factor: np.ndarray,
    global_codes: np.ndarray,
    *,
    n_factors: int,
    n_train: int,
    threshold: float = 0.05,
) -> dict:
    """FactorVAE score from codes of "one factor fixed" batches.

    Args:
        vote_codes: (V, L, D) codes of V batches of L images, each with one factor held fixed.
        vote_factor: (V,) which factor was fixed in each batch.
        global_codes: (N, D) codes of random images, for the per-dimension scale.
        n_factors: number of factors F.
        n_train: the first ``n_train`` votes fit the majority vote; the rest score it.
        threshold: dimensions whose global std is below this are collapsed and never vote.

    Returns:
        ``score`` (held-out accuracy), ``train_accuracy`` and ``active_dims``.
    """
    std = global_codes.std(0)
    active = std >= threshold
    if not active.any():
        return {"score": 0.0, "train_accuracy": 0.0, "active_dims": 0}
    local_var = (vote_codes / std).var(axis=1)  # (V, D)
    local_var[:, ~active] = np.inf
    dim = local_var.argmin(1)  # (V,)
    votes = np.zeros((vote_codes.shape[2], n_factors), dtype=np.int64)
    np.add.at(votes, (dim[:n_train], vote_factor[:n_train]), 1)
    predict = votes.argmax(1)  # dimension -> factor
    train_acc = votes.max(1).sum() / max(n_train, 1)
    test = slice(n_train, None)
    score = float((predict[dim[test]] == vote_factor[test]).mean())
    return {"score": score, "train_accuracy": float(train_acc), "active_dims": int(active.sum())}


def _entropy(p: np.ndarray, base: int) -> np.ndarray:
    """Entropy along the last axis of rows of probabilities, in units of log(base)."""
    p = np.clip(p, 1e-12, 1.0)
    return -(p * np.log(p)).sum(-1) / np.log(base)


def dci(
    train_codes: np.ndarray,
    train_factors: np.ndarray,
    test_codes: np.ndarray,
    test_factors: np.ndarray,
    *,
    seed: int = 0,
    trees: int = 50,
) -> dict:
    """Disentanglement, completeness and informativeness from random-forest importances.

    Each factor gets a forest (all features tried at each split, so an informative dimension is
    never hidden by feature subsampling); its impurity importances form one column of R (D, F).

    Returns ``disentanglement``, ``completeness``, ``informativeness`` (mean test accuracy over
    factors) and ``importance`` (R as nested lists).
    """
    d, f = train_codes.shape[1], train_factors.shape[1]
    r = np.zeros((d, f))
    accs = []
    for k in range(f):
        forest = RandomForestClassifier(
            n_estimators=trees, max_features=None, min_samples_leaf=2, random_state=seed, n_jobs=1
        )
        forest.fit(train_codes, train_factors[:, k])
        r[:, k] = forest.feature_importances_
        accs.append(float((forest.predict(test_codes) == test_factors[:, k]).mean()))
    r = np.abs(r)
    code_total = r.sum(1)
    p_code = r / np.maximum(code_total[:, None], 1e-12)  # (D, F): which factors a dimension serves
    disent = 1 - _entropy(p_code, f) if f > 1 else np.ones(d)
    rho = code_total / max(code_total.sum(), 1e-12)
    p_factor = (r / np.maximum(r.sum(0, keepdims=True), 1e-12)).T  # (F, D)
    complete = 1 - _entropy(p_factor, d) if d > 1 else np.ones(f)
    return {
        "disentanglement": float((rho * disent).sum()),
        "completeness": float(complete.mean()),
        "informativeness": float(np.mean(accs)),
        "importance": r.tolist(),
    }
