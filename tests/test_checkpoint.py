"""Checkpoint folders: exact file set, bit-equal reload, and one clear error per kind of damage."""

import json

import pytest
import torch

import engine
from engine import CheckpointError
from engine.checkpoint import save_checkpoint
from tests.conftest import tiny_model


@pytest.fixture(params=["gan", "vae", "flow", "vaeac"])
def saved(request, tmp_path):
    model = tiny_model(request.param)
    path = save_checkpoint(
        model,
        tmp_path / "ckpt",
        card={"dataset": "mnist"},
        extra={"samples/epoch-0001.png": b"png"},
    )
    return model, path


def test_round_trip_is_bit_equal(saved):
    model, path = saved
    files = sorted(p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file())
    assert files == ["card.json", "config.json", "model.safetensors", "samples/epoch-0001.png"]
    assert all(0o644 & (path / f).stat().st_mode == 0o644 for f in files)  # others can read them
    loaded = engine.load(path, device="cpu")
    assert type(loaded) is type(model) and loaded.config == model.config
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key
    if model.has("decode"):
        z = model.sample_latent(3, generator=torch.Generator().manual_seed(0))
        assert torch.equal(loaded.decode(z), model.decode(z))
    else:  # a VAEAC only completes images
        x, known = torch.rand(2, 1, 28, 28), torch.rand(2, 1, 28, 28) > 0.5
        same = [
            m.complete(x, known, 2, generator=torch.Generator().manual_seed(0))
            for m in (loaded, model)
        ]
        assert torch.equal(*same)
    assert not loaded.training and not any(p.requires_grad for p in loaded.parameters())


def test_tampered_weights_are_refused(saved):
    _, path = saved
    data = bytearray((path / "model.safetensors").read_bytes())
    data[-1] ^= 0xFF
    (path / "model.safetensors").write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match=r"model\.safetensors.*sha256"):
        engine.load(path)


def test_edited_config_is_refused_naming_the_mismatch(saved):
    model, path = saved
    config = json.loads((path / "config.json").read_text())
    config["config"]["latent_dim" if model.kind != "flow" else "hidden"] += 1
    (path / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match=r"model\.safetensors.*shape"):
        engine.load(path)


@pytest.mark.parametrize("name", ["config.json", "model.safetensors", "card.json"])
def test_missing_file_is_named(saved, name):
    _, path = saved
    (path / name).unlink()
    with pytest.raises(CheckpointError, match=name.replace(".", r"\.") + ".*missing"):
        engine.load(path)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ({"kind": "hopfield"}, "unknown model kind"),
        ({"format_version": 99}, "newer"),
        ({"config": {"bogus_field": 1}}, "unknown .*field"),
        ({"config": {"latent_dim": "big"}}, "must be int"),
    ],
)
def test_bad_config_json_is_refused(tmp_path, edit, message):
    path = save_checkpoint(tiny_model("vae"), tmp_path / "ckpt", card={})
    config = json.loads((path / "config.json").read_text())
    config.update({k: ({**config["config"], **v} if k == "config" else v) for k, v in edit.items()})
    (path / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match=rf"config\.json.*{message}"):
        engine.load(path)


def test_absurd_sizes_are_refused_before_allocating(tmp_path):
    path = save_checkpoint(tiny_model("vae"), tmp_path / "ckpt", card={})
    config = json.loads((path / "config.json").read_text())
    config["config"]["hidden"] = 10**7
    (path / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match="parameters"):
        engine.load(path)


def test_not_a_folder_and_not_json(tmp_path):
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        engine.load(tmp_path / "nowhere")
    path = save_checkpoint(tiny_model("gan"), tmp_path / "ckpt", card={})
    (path / "card.json").write_text("{not json")
    with pytest.raises(CheckpointError, match=r"card\.json.*JSON"):
        engine.load(path)


def test_failed_save_leaves_the_previous_checkpoint_intact(tmp_path, monkeypatch):
    import engine.checkpoint as ckpt

    first = tiny_model("vae", seed=0)
    path = save_checkpoint(first, tmp_path / "ckpt", card={"v": 1})

    def broken_save_file(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(ckpt, "save_file", broken_save_file)
    with pytest.raises(OSError):
        save_checkpoint(tiny_model("vae", seed=1), path, card={"v": 2})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt"]  # no temp folders left behind
    assert engine.read_card(path)["v"] == 1
    reloaded = engine.load(path)
    assert all(torch.equal(reloaded.state_dict()[k], v) for k, v in first.state_dict().items())


def test_device_env_var_and_argument(saved, monkeypatch):
    """The variable is read: it wins over a GPU the engine would otherwise pick, a bad value
    fails naming it, and an explicit argument wins over the variable."""
    _, path = saved
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # as on a GPU machine
    monkeypatch.delenv("LATENT_ATLAS_DEVICE", raising=False)
    assert engine.pick_device().type == "cuda"
    monkeypatch.setenv("LATENT_ATLAS_DEVICE", "cpu")
    assert engine.pick_device().type == "cpu" and engine.load(path).device.type == "cpu"
    monkeypatch.setenv("LATENT_ATLAS_DEVICE", "tpu-9000")
    with pytest.raises(engine.EngineError, match="unknown device 'tpu-9000'"):
        engine.load(path)
    assert engine.load(path, device="cpu").device.type == "cpu"
    with pytest.raises(engine.EngineError, match="unknown device"):
        engine.load(path, device="tpu-9001")
