"""The walk and interpolate pages send the latent canvas what a browser needs to decode there
(a served, hash-named decoder file and the latents), and take the server's sliders, with one
line saying why, when the browser cannot or the model has no exported decoder."""

from __future__ import annotations

import json
import shutil

import pytest

from app import resources as R
from tests.apptest import fresh_catalog, page  # noqa: F401  (fixture)

pytestmark = pytest.mark.pretrained


def canvas_data(at) -> dict:
    found = at.get("bidi_component")
    assert len(found) == 1
    return json.loads(found[0].proto.json)


def captions(at) -> list[str]:
    return [c.value for c in at.caption]


def test_walk_sends_the_seed_and_the_chosen_directions_to_the_browser():
    at = page("walk", browser=True, model="mnist-vae", amts="1.5")
    assert not at.exception and not at.error
    data = canvas_data(at)
    assert data["mode"] == "walk" and data["amounts"] == [1.5]
    assert data["model"].startswith("/app/static/decoders/") and data["model"].endswith(".onnx.gz")
    assert R.entry("mnist-vae").card["onnx"]["sha256"] in data["model"]
    assert len(data["base"]) == 32 and [d["name"] for d in data["directions"]] == ["PC 1"]
    assert not [s for s in at.slider if s.label == "PC 1"]  # no server slider for it
    assert not [c for c in captions(at) if "ask the server" in c]


def test_interpolate_sends_both_ends_of_the_path():
    at = page("interpolate", browser=True, model="mnist-gan", t="0.25")
    assert not at.exception and not at.error
    data = canvas_data(at)
    assert data["mode"] == "path" and data["path"]["t"] == 0.25
    assert len(data["path"]["a"]) == len(data["path"]["b"]) == 64


def test_without_a_browser_decoder_the_server_sliders_come_with_one_line(tmp_path, monkeypatch):
    root = tmp_path / "mine"
    root.mkdir()
    copy = root / "plain-vae"
    shutil.copytree(R.PRETRAINED / "mnist-vae", copy)
    (copy / "decoder.onnx").unlink()
    card = json.loads((copy / "card.json").read_text())
    del card["onnx"]
    (copy / "card.json").write_text(json.dumps(card, indent=2) + "\n")
    monkeypatch.setenv(R.EXTRA_ROOTS_ENV, str(root))
    R.catalog.clear()
    at = page("walk", browser=True, model="plain-vae")
    assert not at.exception and not at.error
    assert not at.get("bidi_component")
    assert "These sliders ask the server for each image: its checkpoint has no decoder.onnx" in (
        " ".join(captions(at))
    )
    slider = [s for s in at.slider if s.label == "PC 1"][0]
    slider.set_value(1.0).run()
    assert not at.exception and at.query_params["amts"] in ("1", ["1"])
