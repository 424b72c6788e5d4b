"""Anomaly scores: one per kind, higher = more surprising, ranked against a stored reference."""

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


def test_flow_score_is_bits_per_dim(digits8bit):
    flow = tiny_model("flow")
    score = anomaly_score(flow, digits8bit, generator=torch.Generator().manual_seed(0))
    expected = flow.bits_per_dim(digits8bit, generator=torch.Generator().manual_seed(0))
    assert torch.equal(score, expected)


@pytest.mark.parametrize("kind", ["vae", "gan"])
def test_scores_are_seeded_per_image_numbers(kind, digits8bit):
    model = tiny_model(kind)
    kw = {"steps": 5, "restarts": 2} if kind == "gan" else {}
    a = anomaly_score(model, digits8bit, generator=torch.Generator().manual_seed(1), **kw)
    b = anomaly_score(model, digits8bit, generator=torch.Generator().manual_seed(1), **kw)
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
