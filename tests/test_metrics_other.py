"""Memorisation, path length, likelihood baselines and linear probes on known cases."""

import math

import numpy as np
import pytest
import torch

from engine.metrics import (
    ClassifierFeatures,
    extract,
    independent_bernoulli_nll,
    independent_bpd,
    linear_probe,
    memorisation,
    perceptual_path_length,
)
from engine.models import build_model


def images(n, seed):
    return torch.rand(n, 1, 8, 8, generator=torch.Generator().manual_seed(seed))


def test_a_model_that_copies_the_training_set_is_flagged():
    train, held_out = images(400, 0), images(100, 1)
    copies = memorisation(train[:100], train, held_out)
    assert copies["flagged"] and copies["share_copies"] == 1.0
    assert copies["median_ratio"] == 0.0
    fresh = memorisation(images(200, 2), train, held_out)
    assert not fresh["flagged"]
    assert fresh["median_ratio"] == pytest.approx(1.0, abs=0.1)
    assert fresh["share_copies"] < 0.05
    half = memorisation(torch.cat([train[:50], images(50, 2)]), train, held_out)
    assert half["flagged"] and half["share_copies"] == pytest.approx(0.5, abs=0.05)


def test_copies_are_caught_even_with_noise_on_them():
    train, held_out = images(400, 0), images(100, 1)
    noisy = (train[:100] + 0.02 * images(100, 3)).clamp(0, 1)
    result = memorisation(noisy, train, held_out)
    assert result["share_copies"] > 0.9 and result["flagged"]


def test_ppl_of_a_linear_decoder_is_the_squared_length_of_the_mapped_difference():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(6, 4, generator=g, dtype=torch.float64)
    z0, z1 = torch.randn(200, 4, generator=g), torch.randn(200, 4, generator=g)
    out = perceptual_path_length(
        lambda z: z.double() @ a.T, lambda x: x, z0, z1, generator=g, mode="lerp", trim=0.0
    )
    expected = ((z1 - z0).double() @ a.T).pow(2).sum(1).mean()
    assert out["ppl"] == pytest.approx(float(expected), rel=1e-4)
    const = perceptual_path_length(
        lambda z: torch.zeros(len(z), 3), lambda x: x, z0, z1, generator=g
    )
    assert const["ppl"] == 0.0


def test_ppl_is_larger_for_a_decoder_that_changes_faster():
    g = torch.Generator().manual_seed(0)
    z0, z1 = torch.randn(100, 4, generator=g), torch.randn(100, 4, generator=g)
    slow = perceptual_path_length(lambda z: z, lambda x: x, z0, z1, generator=g)
    fast = perceptual_path_length(lambda z: 3 * z, lambda x: x, z0, z1, generator=g)
    assert fast["ppl"] > 8 * slow["ppl"]


def test_independent_bpd_is_eight_bits_for_uniform_noise_and_zero_for_a_constant():
    g = torch.Generator().manual_seed(0)
    noise = torch.randint(0, 256, (40000, 1, 2, 2), generator=g, dtype=torch.uint8)
    assert independent_bpd(noise[:30000], noise[30000:]) == pytest.approx(8.0, abs=0.02)
    const = torch.full((3000, 1, 2, 2), 7, dtype=torch.uint8)
    assert independent_bpd(const, const[:10], alpha=1e-9) == pytest.approx(0.0, abs=1e-6)


def test_independent_bernoulli_nll_matches_the_entropy_of_fair_coins():
    g = torch.Generator().manual_seed(0)
    coins = torch.bernoulli(torch.full((20000, 1, 2, 2), 0.5), generator=g)
    nll = independent_bernoulli_nll(coins[:10000], coins[10000:])
    assert nll == pytest.approx(4 * math.log(2), rel=0.01)


def test_linear_probe_reads_a_linearly_separable_code_and_not_noise():
    rng = np.random.default_rng(0)
    labels = rng.permutation(np.repeat(np.arange(5), 60))
    signal = np.eye(5)[labels] * 4 + rng.normal(size=(300, 5))
    noise = rng.normal(size=(300, 5))
    good = linear_probe(signal[:200], labels[:200], signal[200:], labels[200:], per_class=10)
    bad = linear_probe(noise[:200], labels[:200], noise[200:], labels[200:], per_class=10)
    assert good["mean"] > 0.9 and bad["mean"] < 0.45
    assert len(good["accuracies"]) == 3


def test_classifier_features_feed_fid_and_give_probabilities():
    """The probabilities are the classifier's own reading of the images (its forward pass), so
    the features are the layer its head reads; batching changes nothing."""
    torch.manual_seed(0)
    clf = build_model("classifier", {"width": 4, "features": 8}).eval()
    with torch.no_grad():
        clf.head[-1].weight.mul_(20)  # confident enough that wrong features would show
    extractor = ClassifierFeatures(clf)
    x = torch.rand(5, 1, 28, 28)
    feats, probs = extract(extractor, x, batch=2)
    with torch.no_grad():
        own = torch.softmax(clf(x), dim=1)
    assert feats.shape == (5, 8) and extractor.num_features == 8
    assert torch.allclose(probs, own, atol=1e-5)
    assert torch.allclose(probs.sum(1), torch.ones(5))
    all_at_once, _ = extract(extractor, x, batch=5)
    assert torch.allclose(feats, all_at_once, atol=1e-6)
