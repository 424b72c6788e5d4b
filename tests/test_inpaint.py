"""Inpainting: known pixels come back bit-identical, completions vary by seed, one mask convention."""

import pytest
import torch

from engine.errors import CapabilityError, EngineError
from engine.ops.inpaint import (
    MASK_PRESETS,
    inpaint,
    known_from_mask_image,
    mask_preset,
    method_for,
)
from tests.conftest import tiny_model

FAST = {
    "gan": {"steps": 5, "restarts": 4},
    "vae": {"steps": 5},
    "flow": {"steps": 5},
    "vaeac": {},
}


def _bottom_missing(size=28):
    known = torch.ones(1, 1, size, size, dtype=torch.bool)
    known[..., size // 2 :, :] = False
    return known


@pytest.mark.parametrize("kind", ["gan", "vae", "flow", "vaeac"])
def test_known_pixels_are_bit_identical_and_seeds_vary_the_rest(kind, digits8bit):
    model, x, known = tiny_model(kind), digits8bit[:3], _bottom_missing()
    if kind == "gan":
        with torch.no_grad():
            model.generator.body[-2].weight.mul_(30)  # visible variation with z
    run = {"samples": 3, **FAST[kind]}
    a = inpaint(model, x, known, generator=torch.Generator().manual_seed(0), **run)
    b = inpaint(model, x, known, generator=torch.Generator().manual_seed(0), **run)
    c = inpaint(model, x, known, generator=torch.Generator().manual_seed(1), **run)
    assert a.completions.shape == (3, 3, 1, 28, 28)
    kept = known.expand(3, 3, 1, 28, 28)
    assert torch.equal(a.completions[kept], x.unsqueeze(1).expand_as(a.completions)[kept])
    assert torch.equal(a.completions, b.completions)
    assert not torch.equal(a.completions, c.completions)
    assert (a.spread[known.expand_as(x)] == 0).all() and a.spread[~known.expand_as(x)].max() > 0
    assert 0 <= a.completions.min() and a.completions.max() <= 1
    assert a.method == method_for(model) and len(a.frames) >= 1


def test_each_kind_gets_its_own_method_and_impossible_ones_are_refused(digits8bit):
    assert method_for(tiny_model("flow")) == "likelihood"
    assert method_for(tiny_model("vae")) == "pseudo-gibbs"
    assert method_for(tiny_model("gan")) == "contextual"
    assert method_for(tiny_model("vaeac")) == "conditional"
    with pytest.raises(CapabilityError, match="complete"):
        inpaint(tiny_model("vae"), digits8bit[:1], _bottom_missing(), method="conditional")
    with pytest.raises(CapabilityError, match="log_prob"):
        inpaint(tiny_model("gan"), digits8bit[:1], _bottom_missing(), method="likelihood")
    with pytest.raises(EngineError, match="no setting restarts"):
        inpaint(tiny_model("vae"), digits8bit[:1], _bottom_missing(), restarts=3)
    with pytest.raises(EngineError, match="do not fit"):
        inpaint(tiny_model("vae"), torch.zeros(1, 1, 32, 32), _bottom_missing(32))


def test_progress_frames_reach_the_callback(digits8bit):
    seen = []
    out = inpaint(
        tiny_model("vae"),
        digits8bit[:2],
        _bottom_missing(),
        steps=20,
        callback=lambda step, frame: seen.append((step, tuple(frame.shape))),
    )
    assert seen == [(10, (2, 1, 28, 28)), (20, (2, 1, 28, 28))] and len(out.frames) == 2


def test_mask_images_are_white_where_missing():
    mask = torch.zeros(1, 1, 4, 4)
    mask[..., 2:, :] = 1.0  # white bottom half
    known = known_from_mask_image(mask)
    assert known.dtype == torch.bool and known[..., :2, :].all() and not known[..., 2:, :].any()


def test_mask_presets_hide_what_their_names_say():
    shape = (1, 28, 28)
    hidden = {p: ~mask_preset(p, shape, seed=3)[0, 0] for p in MASK_PRESETS}
    assert hidden["bottom half"][14:].all() and not hidden["bottom half"][:14].any()
    assert hidden["left half"][:, :14].all() and not hidden["left half"][:, 14:].any()
    assert hidden["centre square"][7:21, 7:21].all() and hidden["centre square"].sum() == 14 * 14
    assert 0.4 < hidden["random pixels"].float().mean() < 0.6
    assert torch.equal(
        mask_preset("random pixels", shape, seed=3), mask_preset("random pixels", shape, seed=3)
    )
    with pytest.raises(EngineError, match="unknown mask preset"):
        mask_preset("top half", shape)


def test_vaeac_training_steps_lower_its_loss_on_the_missing_pixels(digits8bit):
    """A few optimiser steps on one batch bring the conditional loss down; only the hidden
    pixels are scored, so a mask that hides nothing costs nothing to reconstruct."""
    from engine.train.objectives import VAEACObjective, random_known

    model = tiny_model("vaeac").train()
    objective = VAEACObjective(model, lr=3e-3, wrap=lambda m: m)
    x = digits8bit.round()
    g = torch.Generator().manual_seed(0)
    before = objective.validate(model, x, None, torch.Generator().manual_seed(1))["loss"]
    for _ in range(30):
        objective.step(x, None, epoch=0.0, generator=g)
    after = objective.validate(model, x, None, torch.Generator().manual_seed(1))["loss"]
    assert after < before
    rec, _, _ = model.loss_terms(x, torch.ones(8, 1, 28, 28, dtype=torch.bool))
    assert torch.equal(rec, torch.zeros(8))
    known = random_known(500, (1, 28, 28), torch.Generator().manual_seed(0))
    hidden = (~known).flatten(1).float().mean(1)
    assert 0.1 < hidden.mean() < 0.6 and hidden.min() > 0 and hidden.max() < 1
