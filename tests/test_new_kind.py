"""Adding a kind is a model file, a registry entry and a checkpoint folder: no page is edited.

Two kinds are registered here at test time, as a new model file would: one that decodes a latent
(``sample``, ``decode``) and one that only runs a sampling chain (``sample``, ``trajectory``, no
latent). Their checkpoint folders are the only ones the app sees. Each must appear on every page
its capabilities allow, and be absent, with a one-line reason, from the others.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import pytest
import torch
from apptest import fresh_catalog, page  # noqa: F401  (fixture used by every test)
from PIL import Image
from torch import nn

import engine
from app import resources as R
from app.resources import checkpoints
from engine.base import GenerativeModel
from engine.ops.chains import ChainStep, run_chain
from engine.ops.latent_map import build_map, save_map


@dataclass
class TinyConfig:
    channels: int = 1
    image_size: int = 28
    latent: int = 4


class TinyDecoder(GenerativeModel):
    """A latent model: a linear map from 4 numbers to an image."""

    kind = "test-decoder"
    capabilities = frozenset({"sample", "decode"})
    config_class = TinyConfig

    def __init__(self, config: TinyConfig) -> None:
        super().__init__(config)
        self.net = nn.Linear(config.latent, config.channels * config.image_size**2)

    @property
    def latent_shape(self) -> tuple[int, ...]:
        return (self.config.latent,)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        c = self.config
        return torch.sigmoid(self.net(z)).view(-1, c.channels, c.image_size, c.image_size)


class TinyChain(GenerativeModel):
    """No latent: images come out of a chain of steps, as from a PixelCNN or an RBM."""

    kind = "test-chain"
    capabilities = frozenset({"sample", "trajectory"})
    config_class = TinyConfig

    def __init__(self, config: TinyConfig) -> None:
        super().__init__(config)
        self.level = nn.Parameter(torch.tensor(0.5))

    chains_run = 0  # how many chains were started (the Sample page needs one per grid)

    def trajectory(self, n: int, *, generator=None, steps: int | None = None, **options):
        type(self).chains_run += 1
        steps = steps or 4
        x = torch.rand((n, *self.image_shape), generator=generator)
        for i in range(1, steps + 1):
            x = (x + self.level.detach()) / 2
            yield ChainStep(step=i, total=steps, x=x, label=f"step {i}")

    @torch.no_grad()
    def sample(self, n: int, *, generator=None, temperature: float = 1.0) -> torch.Tensor:
        return run_chain(self.trajectory(n, generator=generator)).final


def png(seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (28, 28), dtype=np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture
def new_kinds(tmp_path, monkeypatch):
    """Register both kinds, save three checkpoint folders, and show the app only those."""
    for cls in (TinyDecoder, TinyChain):
        monkeypatch.setitem(engine.models.KINDS, cls.kind, cls)
    torch.manual_seed(0)
    card = {"dataset": "mnist", "epochs": 1}
    root = tmp_path / "checkpoints"
    mapped = root / "a-decoder"
    engine.save_checkpoint(TinyDecoder(TinyConfig()), mapped, card=card)
    codes = np.random.default_rng(0).normal(size=(200, 4)).astype(np.float32)
    labels = np.arange(200) % 10
    save_map(
        mapped, build_map(codes, latent_shape=(4,), labels=labels, source="test", methods=("pca",))
    )
    grids = {"samples/epoch-0001.png": png(1), "samples/epoch-0002.png": png(2)}
    engine.save_checkpoint(TinyChain(TinyConfig()), root / "b-chain", card=card, extra=grids)
    engine.save_checkpoint(TinyDecoder(TinyConfig()), root / "c-decoder", card=card)
    monkeypatch.setattr(checkpoints, "PRETRAINED", tmp_path / "no-shipped-checkpoints")
    monkeypatch.setenv(R.EXTRA_ROOTS_ENV, str(root))
    # kinds registered here exist in this process only: long work runs on its threads
    monkeypatch.setenv("LATENT_ATLAS_WORKERS", "threads")
    R.catalog.clear()
    return root


def ok(at):
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at


def options(at, label: str) -> list[str]:
    widgets = [w for w in [*at.selectbox, *at.multiselect] if w.label == label]
    assert widgets, f"no widget labelled {label!r}"
    return list(widgets[0].options)


def notes(at) -> str:
    return " | ".join(c.value for c in at.caption)


# page, its model picker, the models it must list in the registry's order (the decoder kind was
# registered first), (absent model, the reason it must give)
PAGES = [
    ("sample", "Model", ["a-decoder", "c-decoder", "b-chain"], []),
    ("walk", "Model", ["a-decoder", "c-decoder"], [("b-chain", "no latent code to walk")]),
    (
        "interpolate",
        "Model",
        ["a-decoder", "c-decoder"],
        [("b-chain", "no latent code to interpolate")],
    ),
    (
        "map",
        "Model",
        ["a-decoder"],
        [("b-chain", "no latent code to lay out"), ("c-decoder", "no latent map file")],
    ),
    (
        "inpaint",
        "Model that prepares the image",
        ["a-decoder", "c-decoder"],
        [("b-chain", "no way to fill in a hidden part")],
    ),
    (
        "compare",
        "Models (2-4 of the same image size)",
        ["a-decoder", "c-decoder", "b-chain"],
        [],
    ),
    (
        "evolution",
        "Model",
        ["b-chain"],
        [("a-decoder", "no sample grids"), ("c-decoder", "no sample grids")],
    ),
]


@pytest.mark.parametrize(("name", "picker", "listed", "left_out"), PAGES, ids=[p[0] for p in PAGES])
def test_a_new_kind_is_on_every_page_its_capabilities_allow(
    new_kinds, name, picker, listed, left_out
):
    at = ok(page(name))
    assert options(at, picker) == listed
    lines = [c.value for c in at.caption if "not listed" in c.value]
    if not left_out:
        assert not lines, lines
        return
    assert len(lines) == 1 and "\n" not in lines[0], lines
    for model, reason in left_out:
        assert model in lines[0]
        clause = next(part for part in lines[0].split(";") if model in part)
        assert reason in clause, (model, clause)


def test_the_models_page_lists_every_new_checkpoint(new_kinds):
    at = ok(page("home"))
    assert {"a-decoder", "b-chain", "c-decoder"} <= {h.value for h in at.subheader}


def test_the_sample_page_runs_a_chain_kinds_chain_once_for_its_grid_and_its_strip(new_kinds):
    """The grid of a ``trajectory`` kind is its chain's last step: the page that shows both (the
    strip is on by default) samples once, and a new seed samples once more."""
    TinyChain.chains_run = 0
    at = ok(page("sample", model="b-chain", n=16, seed=3))
    assert TinyChain.chains_run == 1
    assert "b-chain, seed 3" in at.get("image")[0].proto.imgs[0].caption  # the grid, on top
    at.number_input(key="seed").set_value(4).run()
    assert not at.exception and TinyChain.chains_run == 2


def test_a_model_without_a_latent_samples_and_is_compared_by_what_it_can_do(new_kinds):
    """The chain model draws its grid through its own sampler; in Compare its column shows the
    samples and says in one line what it cannot do, while the decoders reconstruct and fill in."""
    at = ok(page("sample", model="b-chain", n=16))
    assert at.get("image") and "b-chain, seed 0" in at.get("image")[0].proto.imgs[0].caption

    at = ok(page("compare", models="a-decoder,b-chain"))
    table = at.dataframe[0].value
    assert list(table["model"]) == ["a-decoder", "b-chain"]
    assert table["reconstruction MSE"].notna().tolist() == [True, False]
    assert "b-chain cannot reconstruct or inpaint" in notes(at)


def test_the_report_measures_a_new_kind_in_every_section_whose_metric_applies(new_kinds):
    from engine.report import models as chosen

    found = chosen.checkpoints(new_kinds, "mnist")
    assert list(found) == ["a-decoder", "c-decoder", "b-chain"]  # the registry's order
    assert list(chosen.samplers(found)) == ["a-decoder", "c-decoder", "b-chain"]
    assert list(chosen.inpainters(found)) == ["a-decoder", "c-decoder"]
    assert list(chosen.encoders_or_decoders(found)) == ["a-decoder", "c-decoder"]
    assert chosen.likelihoods(found) == {}
