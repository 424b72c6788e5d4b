"""The energy-based checkpoints on the pages: the RBM's chain from noise or from a test digit,
its filters on the model cards, both models filling in a hidden half."""

from __future__ import annotations

import pytest

from tests.apptest import fresh_catalog, page  # noqa: F401 (the fixture is used by name)

pytestmark = pytest.mark.pretrained


def ok(at):
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at


def test_rbm_chain_starts_from_noise_or_from_a_test_digit(monkeypatch):
    monkeypatch.setenv("LATENT_ATLAS_WORKERS", "threads")
    at = ok(page("sample", model="mnist-rbm", n=16))
    radio = next(r for r in at.radio if r.label == "The chain starts from")
    assert radio.value == "noise"
    radio.set_value("a test digit").run()
    ok(at)
    assert any("Every chain starts at the same test" in c.value for c in at.caption)


def test_model_cards_show_the_rbm_filters():
    at = ok(page("home"))
    captions = [img.caption for el in at.get("image") for img in el.proto.imgs]
    assert "filters of the first 100 hidden units" in captions
