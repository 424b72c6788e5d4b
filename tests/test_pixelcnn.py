"""The gated PixelCNN: causality of its masked convolutions, an exactly normalised likelihood,
and sampling / completion that draw from that same likelihood."""

from __future__ import annotations

import itertools

import pytest
import torch

from engine.errors import CapabilityError
from engine.models import build_model
from engine.ops.chains import run_chain
from engine.ops.inpaint import inpaint, mask_preset


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    model = build_model(
        "pixelcnn", {"levels": 4, "hidden": 8, "layers": 2, "head": 8, "first_kernel": 3}
    )
    with torch.no_grad():  # larger weights than the init, so every dependency shows
        for p in model.parameters():
            p.mul_(3.0)
    return model.eval()


def _levels(model, h, w, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, model.config.levels, (1, 1, h, w), generator=g)


def test_output_at_a_pixel_depends_only_on_the_pixels_before_it(tiny):
    h = w = 7
    for i in range(h * w):
        x = tiny._input(_levels(tiny, h, w, seed=i)).requires_grad_(True)
        r, c = divmod(i, w)
        tiny.network(x)[0, :, r, c].sum().backward()
        grad = x.grad[0, 0]
        assert (grad.flatten()[i:] == 0).all(), f"pixel {i} sees pixels at or after it"
        # no blind spot: the left neighbour, the one above and the one above right all reach it
        for dr, dc in ((0, -1), (-1, 0), (-1, 1)):
            if 0 <= r + dr and 0 <= c + dc < w:
                assert grad[r + dr, c + dc] != 0, f"pixel {i} is blind to ({r + dr}, {c + dc})"


def test_probabilities_of_all_2x2_images_with_4_levels_sum_to_one(tiny):
    images = torch.tensor(list(itertools.product(range(4), repeat=4))).view(-1, 1, 2, 2)
    with torch.no_grad():
        total = tiny.log_prob_levels(images).double().exp().sum()
    assert len(images) == 256
    assert total.item() == pytest.approx(1.0, abs=1e-5)


def test_cached_row_by_row_logits_equal_the_full_forward_pass(tiny):
    v = _levels(tiny, 28, 28, seed=1)
    with torch.no_grad():
        full = tiny.logits(v)  # (1, levels, 28, 28)
        xin = tiny._input(v)
        for r in (0, 5, 27):
            links = tiny._row_links(xin, r)
            for j in (0, 13, 27):
                cached = tiny._pixel_logits(xin[:, :, r : r + 1], links, j)
                torch.testing.assert_close(cached[0], full[0, :, r, j], rtol=1e-5, atol=1e-5)


ALL_2X2 = torch.tensor(list(itertools.product(range(4), repeat=4))).view(-1, 1, 2, 2)


def _frequencies(v: torch.Tensor) -> torch.Tensor:
    codes = (v.flatten(1) * torch.tensor([64, 16, 4, 1])).sum(1)  # the index into ALL_2X2
    return torch.bincount(codes, minlength=256).double() / len(v)


def test_pixel_by_pixel_draws_follow_the_likelihood(tiny):
    n = 20000
    with torch.no_grad():
        p = tiny.log_prob_levels(ALL_2X2).double().exp()
        v = torch.zeros(n, 1, 2, 2, dtype=torch.long)
        drawn = tiny._draw(v, torch.ones_like(v, dtype=torch.bool), torch.Generator(), 1.0)
    assert 0.5 * (_frequencies(drawn) - p).abs().sum() < 0.04  # total variation


def test_raster_completion_draws_the_exact_conditional_of_a_known_top_row(tiny):
    n, top = 20000, torch.tensor([3, 1])
    with torch.no_grad():
        p = tiny.log_prob_levels(ALL_2X2).double().exp()
        p = torch.where((ALL_2X2[:, 0, 0] == top).all(1), p, torch.zeros_like(p))
        v = torch.zeros(n, 1, 2, 2, dtype=torch.long)
        v[:, 0, 0] = top
        hidden = torch.zeros_like(v, dtype=torch.bool)
        hidden[:, :, 1] = True
        drawn = tiny._draw(v, hidden, torch.Generator().manual_seed(1), 1.0)
    assert (drawn[:, 0, 0] == top).all()
    assert 0.5 * (_frequencies(drawn) - p / p.sum()).abs().sum() < 0.04


def test_same_seed_same_samples_and_the_trajectory_ends_in_the_sample(tiny):
    a = tiny.sample(2, generator=torch.Generator().manual_seed(5))
    assert a.shape == (2, 1, 28, 28) and not torch.equal(a[0], a[1])
    assert torch.equal((a * 3).round(), a * 3)  # on the model's 4 grey levels
    chain = run_chain(tiny.trajectory(2, generator=torch.Generator().manual_seed(5)))
    assert len(chain.frames) == 28 and chain.labels[0] == "row 1/28"
    assert torch.equal(chain.final, a)  # the same seed draws the same images
    assert (chain.frames[0][:, :, 1:] == 0).all()  # rows not yet drawn are black


def test_completion_keeps_known_pixels_bit_identical(tiny):
    x = torch.rand(2, 1, 28, 28)  # not on the model's 4 levels: known pixels still come back as is
    known = mask_preset("bottom half", (1, 28, 28)).logical_not()  # top half hidden: not a prefix
    rows = []
    out = inpaint(
        tiny,
        x,
        known,
        samples=3,
        generator=torch.Generator().manual_seed(0),
        callback=lambda step, frame: rows.append(step),
    )
    assert out.method == "conditional" and out.completions.shape == (2, 3, 1, 28, 28)
    assert torch.equal(
        out.completions[known.expand(2, 3, 1, 28, 28)],
        x.unsqueeze(1).expand(2, 3, 1, 28, 28)[known.expand(2, 3, 1, 28, 28)],
    )
    assert not torch.equal(out.completions[:, 0], out.completions[:, 1])
    assert rows[:3] == [1, 2, 3]  # progress row by row


def test_a_pixelcnn_has_no_latent_code(tiny):
    assert "decode" not in tiny.capabilities and "encode" not in tiny.capabilities
    with pytest.raises(CapabilityError):
        tiny.decode(torch.zeros(1, 1))
    with pytest.raises(CapabilityError):
        tiny.sample_latent(1)


def test_completion_with_candidates_keeps_the_most_likely_draws(tiny):
    x = torch.rand(1, 1, 28, 28)
    known = mask_preset("bottom half", (1, 28, 28))
    with torch.no_grad():
        kept = tiny.complete(x, known, 2, generator=torch.Generator().manual_seed(0), candidates=3)
        drawn = tiny.complete(x, known, 6, generator=torch.Generator().manual_seed(0))
        logp = tiny.log_prob(drawn[0])
    assert kept.shape == (1, 2, 1, 28, 28)
    assert torch.equal(kept[0], drawn[0, logp.topk(2).indices])  # the 2 most likely of the 6
    assert torch.equal(
        kept[0][known.expand(2, 1, 28, 28)], x[0].expand(2, 1, 28, 28)[known.expand(2, 1, 28, 28)]
    )
