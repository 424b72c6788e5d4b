"""Disentanglement metrics on codes whose answer is known: the factors themselves and noise."""

import numpy as np
import pytest
import torch

from engine.data.sprites import factor_grid
from engine.metrics import dci, factorvae_score, mig

SIZES = (3, 6, 10, 8, 8)


def grid_sample(n, seed):
    rng = np.random.default_rng(seed)
    return np.stack([rng.integers(0, s, n) for s in SIZES], 1)


def test_mig_is_one_for_a_perfectly_factorised_code_and_near_zero_for_noise():
    factors = factor_grid().numpy()  # the full grid: factors exactly independent
    perfect = np.concatenate([factors * 1.0, np.zeros((len(factors), 3))], 1)  # + dead dims
    assert mig(perfect, factors)["mig"] == pytest.approx(1.0, abs=1e-9)
    noise = np.random.default_rng(0).normal(size=(len(factors), 8))
    assert mig(noise, factors)["mig"] < 0.05
    # a factor held by two dimensions leaves no gap for it: one of five factors scores 0
    twice = perfect.copy()
    twice[:, 5] = factors[:, 4]
    assert mig(twice, factors)["mig"] == pytest.approx(0.8, abs=1e-9)


def vote_batches(encode, n_votes, batch, seed):
    rng = np.random.default_rng(seed)
    fixed = rng.integers(0, len(SIZES), n_votes)
    codes = []
    for k in fixed:
        f = grid_sample(batch, rng.integers(1 << 30))
        f[:, k] = rng.integers(0, SIZES[k])
        codes.append(encode(f))
    return np.stack(codes), fixed


def test_factorvae_score_is_one_for_the_factors_and_chance_for_noise():
    rng = np.random.default_rng(1)
    perfect = lambda f: f + 0.01 * rng.normal(size=f.shape)  # noqa: E731
    codes, fixed = vote_batches(perfect, 300, 32, 0)
    glob = perfect(grid_sample(2000, 9))
    assert factorvae_score(codes, fixed, glob, n_factors=5, n_train=200)["score"] == 1.0
    noise = lambda f: rng.normal(size=(len(f), 6))  # noqa: E731
    codes, fixed = vote_batches(noise, 300, 32, 0)
    result = factorvae_score(codes, fixed, noise(grid_sample(2000, 9)), n_factors=5, n_train=200)
    assert result["score"] < 0.45


def test_collapsed_dimensions_never_vote():
    codes = np.zeros((10, 8, 3))
    glob = np.zeros((50, 3))
    assert factorvae_score(codes, np.zeros(10, int), glob, n_factors=5, n_train=5)["score"] == 0


def test_dci_of_the_factors_is_near_one_and_of_noise_near_zero():
    train, test = grid_sample(1500, 0), grid_sample(500, 1)
    perfect = dci(train * 1.0, train, test * 1.0, test)
    assert perfect["disentanglement"] > 0.95 and perfect["completeness"] > 0.95
    assert perfect["informativeness"] > 0.99
    rng = np.random.default_rng(0)
    noise = dci(rng.normal(size=(1500, 5)), train, rng.normal(size=(500, 5)), test)
    assert noise["disentanglement"] < 0.2 and noise["informativeness"] < 0.35
    rotated = dci(train @ np.ones((5, 5)) + train, train, test @ np.ones((5, 5)) + test, test)
    assert rotated["disentanglement"] < perfect["disentanglement"]


def test_factor_grid_is_the_order_the_tests_assume():
    assert tuple(int(v) for v in factor_grid().max(0).values + 1) == SIZES
    assert torch.equal(factor_grid()[0], torch.zeros(5, dtype=torch.long))
