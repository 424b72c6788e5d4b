"""Feature-space quality metrics on synthetic sets whose answer is known."""

import math

import pytest
import torch

from engine.metrics import (
    classifier_score,
    density_coverage,
    fid,
    kid,
    label_histogram,
    precision_recall,
    quality,
)

pytestmark = pytest.mark.filterwarnings("ignore:Metric `Kernel Inception Distance`")


def gaussian(n, d=16, shift=0.0, seed=0):
    return torch.randn(n, d, generator=torch.Generator().manual_seed(seed)) + shift


def test_fid_is_zero_for_identical_sets_and_grows_with_a_shift():
    a = gaussian(400)
    assert fid(a, a.clone()) == pytest.approx(0.0, abs=1e-6)
    same = fid(a, gaussian(400, seed=1))
    shifted = fid(a, gaussian(400, shift=1.0, seed=1))
    far = fid(a, gaussian(400, shift=10.0, seed=1))
    # A mean shift of s in every one of d dimensions adds d * s^2 to the Frechet distance.
    assert same < 2.0
    assert shifted == pytest.approx(16 * 1.0 + same, rel=0.25)
    assert far == pytest.approx(16 * 100.0, rel=0.05)


def test_kid_is_near_zero_for_one_distribution_and_positive_for_two():
    a, b = gaussian(400), gaussian(400, seed=1)
    mean, std = kid(a, b)
    assert abs(mean) < 3 * std + 1e-3
    far_mean, _ = kid(a, gaussian(400, shift=3.0, seed=1))
    assert far_mean > 100 * max(abs(mean), 1e-4)


def test_kid_is_repeatable_and_leaves_the_global_generator_alone():
    a, b = gaussian(200), gaussian(200, shift=0.5, seed=1)
    state = torch.random.get_rng_state()
    assert kid(a, b, seed=3) == kid(a, b, seed=3)
    assert torch.equal(torch.random.get_rng_state(), state)


def test_coverage_of_two_samples_of_one_distribution_is_one_minus_two_to_the_minus_k():
    k = 3
    cov = [
        density_coverage(gaussian(500, d=2, seed=s), gaussian(500, d=2, seed=s + 100), k=k)
        for s in range(4)
    ]
    coverage = sum(c["coverage"] for c in cov) / len(cov)
    density = sum(c["density"] for c in cov) / len(cov)
    assert coverage == pytest.approx(1 - 2**-k, abs=0.03)
    assert density == pytest.approx(1.0, abs=0.1)


def test_identical_sets_are_fully_covered_and_disjoint_sets_not_at_all():
    a = gaussian(300)
    assert density_coverage(a, a)["coverage"] == 1.0
    assert precision_recall(a, a) == {"precision": 1.0, "recall": 1.0}
    far = gaussian(300, shift=50.0, seed=1)
    assert density_coverage(a, far) == {"density": 0.0, "coverage": 0.0}
    assert precision_recall(a, far) == {"precision": 0.0, "recall": 0.0}


def test_precision_and_recall_separate_fidelity_from_diversity():
    real = gaussian(600, d=2)
    collapsed = gaussian(600, d=2, seed=1) * 0.1  # realistic but covers only the centre
    spread = gaussian(600, d=2, seed=2) * 5.0  # covers everything, mostly off-manifold
    pr_collapsed, pr_spread = precision_recall(real, collapsed), precision_recall(real, spread)
    assert pr_collapsed["precision"] > 0.95 and pr_collapsed["recall"] < 0.3
    assert pr_spread["recall"] > 0.95 and pr_spread["precision"] < 0.5


def test_classifier_score_is_the_number_of_classes_when_confident_and_balanced():
    probs = torch.eye(10).repeat(5, 1)  # 50 confident samples, 5 of each class
    assert classifier_score(probs) == pytest.approx(10.0, rel=1e-6)
    assert label_histogram(probs) == pytest.approx([0.1] * 10)
    collapsed = torch.eye(10)[torch.zeros(50, dtype=torch.long)]  # every sample says "0"
    assert classifier_score(collapsed) == pytest.approx(1.0, rel=1e-6)
    assert label_histogram(collapsed)[0] == 1.0
    uniform = torch.full((50, 10), 0.1)  # unsure samples
    assert classifier_score(uniform) == pytest.approx(1.0, rel=1e-6)
    half = torch.eye(10)[torch.arange(50) % 5]  # only classes 0-4: mode dropping
    assert classifier_score(half) == pytest.approx(5.0, rel=1e-6)
    assert math.isclose(sum(label_histogram(half)[5:]), 0.0)


def test_quality_collects_every_figure():
    """Each figure reacts as it should: a set against itself is perfect, a shifted set is not."""
    real = gaussian(100)
    probs = torch.eye(10)[torch.arange(100) % 10]  # confident and balanced: all ten classes
    same = quality(real, real.clone(), fake_probs=probs)
    shifted = quality(real, real + 3.0, fake_probs=probs)
    assert same["fid"] == pytest.approx(0.0, abs=1e-3) and shifted["fid"] > 50
    for key in ("precision", "recall", "coverage"):
        assert same[key] == pytest.approx(1.0) and shifted[key] < 0.2
    assert shifted["kid"] > same["kid"] + 0.1
    assert same["classifier_score"] == pytest.approx(10.0, rel=1e-4)
    assert same["label_histogram"] == pytest.approx([0.1] * 10) and same["n_fake"] == 100
