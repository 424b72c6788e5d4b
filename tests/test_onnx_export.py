"""The decoders exported to ONNX for the browser give torch's images (onnxruntime, 1e-4), the
file is recorded in the card by hash, and a changed file is refused."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from engine.checkpoint import load, read_card, save_checkpoint
from engine.errors import CheckpointError, EngineError
from engine.export_onnx import (
    ONNX_FILE,
    export_checkpoint,
    export_onnx,
    frame_decoder_reason,
    onnx_decoder,
)
from tests.conftest import tiny_model

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ["mnist-gan", "mnist-vae", "mnist-flow"]
TOLERANCE = 1e-4


def onnx_images(path: Path, z: torch.Tensor) -> np.ndarray:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(["x"], {"z": z.numpy()})[0]


def assert_matches_torch(model, path: Path, *, n: int, seed: int) -> None:
    z = model.sample_latent(n, generator=torch.Generator().manual_seed(seed)).cpu()
    with torch.no_grad():
        expected = model.decode(z).numpy()
    got = onnx_images(path, z)
    assert got.shape == expected.shape == (n, *model.image_shape)
    assert np.abs(got - expected).max() <= TOLERANCE


@pytest.mark.parametrize("kind", ["vae", "gan", "flow"])
def test_tiny_decoder_exports_and_matches_torch(kind, tmp_path):
    model = tiny_model(kind, seed=1)
    entry = export_onnx(model, tmp_path / ONNX_FILE)
    # Any batch size: one latent per frame in the browser, a few here.
    for n, seed in ((1, 2), (5, 3)):
        assert_matches_torch(model, tmp_path / ONNX_FILE, n=n, seed=seed)
    assert entry["latent_shape"] == list(model.latent_shape)
    assert entry["image_shape"] == list(model.image_shape)
    assert entry["bytes"] == (tmp_path / ONNX_FILE).stat().st_size
    # Data only: every operator from the standard ONNX domain, nothing custom to run.
    graph = onnx.load(str(tmp_path / ONNX_FILE)).graph
    assert {node.domain for node in graph.node} <= {"", "ai.onnx"}


def test_a_decoder_that_runs_a_chain_is_not_exported(tmp_path):
    # A kind whose decode runs a chain of network passes (diffusion) has `trajectory`.
    model = tiny_model("vae")
    model.__class__ = type(
        "ChainedVAE", (type(model),), {"capabilities": model.capabilities | {"trajectory"}}
    )
    assert "chain" in frame_decoder_reason(model)
    with pytest.raises(EngineError, match="no browser decoder"):
        export_onnx(model, tmp_path / ONNX_FILE)
    assert not (tmp_path / ONNX_FILE).exists()


def test_too_slow_a_decoder_is_refused(tmp_path):
    with pytest.raises(EngineError, match="ms per latent"):
        export_onnx(tiny_model("vae"), tmp_path / ONNX_FILE, max_frame_ms=0.0)
    assert not (tmp_path / ONNX_FILE).exists()


def test_checkpoint_export_records_the_hash_and_a_changed_file_is_refused(tmp_path):
    path = save_checkpoint(tiny_model("gan"), tmp_path / "ckpt", card={"name": "ckpt"})
    assert onnx_decoder(path) is None
    entry = export_checkpoint(path)
    card = read_card(path)
    assert card["onnx"] == entry and card["name"] == "ckpt"
    assert (path / "card.json").read_text() == json.dumps(card, indent=2) + "\n"
    file, found = onnx_decoder(path)
    assert file == path / ONNX_FILE and found["sha256"] == entry["sha256"]
    load(path)  # the checkpoint itself still loads

    data = bytearray(file.read_bytes())
    data[len(data) // 2] ^= 0xFF
    file.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="sha256 does not match"):
        onnx_decoder(path)
    file.unlink()
    with pytest.raises(CheckpointError, match="missing"):
        onnx_decoder(path)


def test_cli_exports_a_users_checkpoint(tmp_path, capsys):
    from engine.cli import main

    path = save_checkpoint(tiny_model("vae"), tmp_path / "mine", card={"name": "mine"})
    assert main(["export-onnx", "--checkpoint", str(path)]) == 0
    assert "decoder.onnx" in capsys.readouterr().out
    file, _ = onnx_decoder(path)
    assert_matches_torch(load(path, device="cpu"), file, n=2, seed=4)
    assert main(["export-onnx", "--checkpoint", str(tmp_path / "none")]) == 2
    assert capsys.readouterr().err.startswith("error: ")


@pytest.mark.pretrained
@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_decoder_matches_torch(name):
    path = ROOT / "pretrained" / name
    file, entry = onnx_decoder(path)  # the hash in the card holds
    model = load(path, device="cpu")
    assert entry["latent_shape"] == list(model.latent_shape)
    assert_matches_torch(model, file, n=16, seed=7)
