"""Anomaly scores: one per kind, higher = more surprising, ranked against a stored reference."""

import math

import pytest
import torch

from engine.errors import CheckpointError
from engine.ops.anomaly import (
    REFERENCE_FILE,
    Reference,
    anomaly_score,
    load_reference,
    reference_scores,
    save_reference,
)
from tests.conftest import tiny_model


def _seed(s):
    return torch.Generator().manual_seed(s)


def test_a_flow_finds_its_own_samples_less_surprising_than_noise(digits8bit):
    """Its score is its negative log-likelihood in bits per dimension (from ``log_prob``, in
    nats per image: 784 dimensions, ln 2 nats a bit), and its own low-temperature samples score
    below uniform noise."""
    flow = tiny_model("flow")
    score = anomaly_score(flow, digits8bit, generator=_seed(0))
    log_p = flow.log_prob(digits8bit, generator=_seed(0))
    assert torch.allclose(score, -log_p / (784 * math.log(2)))
    own = torch.round(255 * flow.sample(8, generator=_seed(1), temperature=0.3)) / 255
    assert anomaly_score(flow, own, generator=_seed(0)).max() < score.min()


def test_a_gan_redraws_its_own_samples_better_than_noise(digits8bit):
    gan = tiny_model("gan")
    with torch.no_grad():
        gan.generator.body[-2].weight.mul_(30)  # visible structure instead of flat gray
    kw = {"steps": 30, "restarts": 2}
    own = anomaly_score(gan, gan.sample(4, generator=_seed(3)), generator=_seed(0), **kw)
    noise = anomaly_score(gan, digits8bit[:4], generator=_seed(0), **kw)
    assert own.max() < noise.min() / 4


def test_a_vae_score_is_a_bound_above_its_negative_log_likelihood(digits8bit):
    """The negative ELBO is an upper bound on -log p(x); IWAE with 200 samples is a tighter
    estimate of -log p(x) (Burda et al. 2016), so the score is not below it."""
    vae = tiny_model("vae")
    score = anomaly_score(vae, digits8bit, generator=_seed(0))
    nll = -vae.iwae_log_likelihood(digits8bit, k=200, generator=_seed(1))
    assert (score >= nll - 0.05).all()


@pytest.mark.parametrize("kind", ["vae", "gan"])
def test_scores_repeat_for_a_seed(kind, digits8bit):
    model = tiny_model(kind)
    kw = {"steps": 5, "restarts": 2} if kind == "gan" else {}
    a = anomaly_score(model, digits8bit, generator=_seed(1), **kw)
    b = anomaly_score(model, digits8bit, generator=_seed(1), **kw)
    assert a.shape == (8,) and torch.isfinite(a).all() and torch.equal(a, b)


def test_percentile_counts_the_reference_below():
    ref = Reference("flow", "bits/dim", "mnist", torch.arange(1, 101).double())
    pct = ref.percentile(torch.tensor([0.5, 50.5, 1000.0]))
    assert pct.tolist() == [0.0, 50.0, 100.0]


def test_reference_round_trip_and_corrupt_file(tmp_path, digits8bit):
    flow = tiny_model("flow")
    ref = reference_scores(flow, digits8bit, dataset="mnist", batch=3)
    assert torch.all(ref.scores[1:] >= ref.scores[:-1]) and len(ref.scores) == 8
    assert load_reference(tmp_path) is None
    save_reference(tmp_path, ref)
    back = load_reference(tmp_path)
    assert back.kind == "flow" and torch.allclose(back.scores, ref.scores, atol=1e-6)
    (tmp_path / REFERENCE_FILE).write_text('{"kind": "flow"')
    with pytest.raises(CheckpointError, match=REFERENCE_FILE):
        load_reference(tmp_path)
