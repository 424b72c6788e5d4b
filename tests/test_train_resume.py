"""Training that stops and resumes ends where an uninterrupted run ends."""

import json

import pytest
import torch
from safetensors.torch import load_file

from engine.errors import EngineError
from engine.train import TrainSettings, train
from engine.train import loop as train_loop
from engine.train.state import load_state, save_state, state_path

TINY = {
    "vae": {"latent_dim": 4, "width": 4, "hidden": 16},
    "gan": {"latent_dim": 8, "width": 4, "disc_width": 4},
}


def _settings(kind, out, epochs, **kw):
    return TrainSettings(
        kind=kind,
        dataset="digits",
        out=out,
        epochs=epochs,
        batch_size=256,
        config=TINY[kind],
        grids=1,
        patience=0,
        **{"resume": True, **kw},
    )


class _Stop(Exception):
    pass


@pytest.mark.parametrize("kind", ["vae", "gan"])
def test_interrupted_then_resumed_run_equals_an_uninterrupted_one(kind, tmp_path, monkeypatch):
    monkeypatch.setattr(train_loop, "STATE_INTERVAL_S", 0.0)  # a state after every epoch
    train(_settings(kind, tmp_path / "straight", 3))

    base = train_loop.OBJECTIVES[kind]
    calls = {"n": 0}

    class Crashing(base):
        def step(self, *args, **kwargs):
            calls["n"] += 1
            if calls["n"] == 12:  # in the third epoch (5 steps per epoch)
                raise _Stop
            return super().step(*args, **kwargs)

    monkeypatch.setitem(train_loop.OBJECTIVES, kind, Crashing)
    with pytest.raises(_Stop):
        train(_settings(kind, tmp_path / "resumed", 3))
    assert load_state(state_path(tmp_path / "resumed"))["epoch"] == 2
    monkeypatch.setitem(train_loop.OBJECTIVES, kind, base)
    train(_settings(kind, tmp_path / "resumed", 3))

    a = load_file(tmp_path / "straight" / "model.safetensors")
    b = load_file(tmp_path / "resumed" / "model.safetensors")
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    card_a = json.loads((tmp_path / "straight" / "card.json").read_text())
    card_b = json.loads((tmp_path / "resumed" / "card.json").read_text())
    assert card_b["steps"] == card_a["steps"] and card_b["epochs"] == 3
    assert [h["train"] for h in card_b["history"]] == [h["train"] for h in card_a["history"]]
    assert card_b["resumed"] and not card_a["resumed"]


def test_resume_extends_a_finished_run_and_refuses_other_settings(tmp_path):
    out = tmp_path / "vae"
    train(_settings("vae", out, 1))
    train(_settings("vae", out, 2))
    card = json.loads((out / "card.json").read_text())
    assert [h["epoch"] for h in card["history"]] == [1, 2]
    with pytest.raises(EngineError, match="lr"):
        train(_settings("vae", out, 3, lr=0.5))


def test_state_round_trip_keeps_tensors_bytes_and_int_keys(tmp_path):
    state = {
        "w": torch.arange(4.0),
        "png": b"\x89PNG\x00\x01",
        "opt": {"state": {0: {"step": torch.tensor(3.0)}}, "groups": [{"betas": [0.9, 0.99]}]},
        "best": {"loss": float("inf"), "state": None},
    }
    save_state(tmp_path / "s", state)
    back = load_state(tmp_path / "s")
    assert torch.equal(back["w"], state["w"]) and back["png"] == state["png"]
    assert torch.equal(back["opt"]["state"][0]["step"], torch.tensor(3.0))
    assert back["best"] == {"loss": float("inf"), "state": None}
    assert load_state(tmp_path / "absent") is None


def test_init_from_a_shipped_folder_starts_from_its_weights_and_carries_its_card_on(tmp_path):
    """With the training state gone, ``--init-from`` continues from the folder's weights (a run
    whose steps change nothing ships them unchanged), and its steps and history go on."""
    first = train(_settings("vae", tmp_path / "first", 2, resume=False))
    card1 = json.loads((first / "card.json").read_text())
    cont = train(
        _settings("vae", tmp_path / "cont", 3, resume=False, seed=5, lr=1e-12, init_from=first)
    )
    card = json.loads((cont / "card.json").read_text())
    assert card["init_from"]["steps"] == card1["steps"] and card["init_from"]["epochs"] == 2
    assert card["steps"] == card1["steps"] + card1["steps"] // 2  # one more epoch of the same size
    assert [h["epoch"] for h in card["history"]] == [1, 2, 3]
    assert card["wall_time_s"] > card1["wall_time_s"]
    before, after = load_file(first / "model.safetensors"), load_file(cont / "model.safetensors")
    fresh = load_file(train(_settings("vae", tmp_path / "fresh", 1, seed=5)) / "model.safetensors")
    assert all(torch.allclose(before[k], after[k], atol=1e-6) for k in before)
    assert not all(torch.allclose(before[k], fresh[k], atol=1e-6) for k in before)


def test_init_from_refuses_a_folder_of_another_config(tmp_path):
    first = train(_settings("vae", tmp_path / "first", 1, resume=False))
    other = _settings("vae", tmp_path / "other", 2, resume=False, init_from=first)
    other.config = {**TINY["vae"], "latent_dim": 6}
    with pytest.raises(EngineError, match="another config"):
        train(other)
