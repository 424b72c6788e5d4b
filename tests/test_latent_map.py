"""Latent maps: built once (UMAP only there), then placing and picking need no UMAP at all."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from engine.errors import CheckpointError, EngineError
from engine.models import build_model
from engine.ops.latent_map import MAP_FILE, build_model_map, load_map, save_map
from tests.conftest import tiny_model

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module", params=["vae", "flow"])
def model_and_map(request):
    model = tiny_model(request.param)
    return model, build_model_map(model, "digits", methods=("pca",), limit=200)


def _train_images(n=200):
    from engine.data import load_dataset

    return load_dataset("digits", "train", image_size=28, channels=1).float()[:n]


def test_a_training_image_lands_on_its_own_point(model_and_map):
    model, lm = model_and_map
    x = _train_images()
    rows = [0, 57, 199]
    placed = lm.place(model.encode(x[rows]), method="pca")
    np.testing.assert_allclose(placed, lm.xy["pca"][rows], atol=1e-4)


def test_a_new_image_lands_among_its_nearest_training_images(model_and_map):
    """Each held-out image is placed within the box of its 10 nearest training codes' points
    (found here by brute force), a box much smaller than the map: the centre would not do."""
    model, lm = model_and_map
    held_out = _train_images(260)[230:]
    codes = model.encode(held_out).detach().flatten(1).numpy()
    placed = lm.place(codes, method="pca")
    search = lm.to_search(codes)  # (B, S): the space the map finds neighbours in
    xy = lm.xy["pca"]
    sizes = []
    for point, q in zip(placed, search, strict=True):
        nearest = np.argsort(np.linalg.norm(lm.search - q, axis=1))[:10]
        lo, hi = xy[nearest].min(0), xy[nearest].max(0)
        assert ((point >= lo - 1e-5) & (point <= hi + 1e-5)).all()
        sizes.append((hi - lo).max())
    assert np.median(sizes) < 0.5 * (xy.max(0) - xy.min(0)).max()


def test_picking_a_point_gives_its_code_and_its_neighbours(model_and_map):
    model, lm = model_and_map
    z, rows = lm.pick(lm.xy["pca"][42], method="pca", k=5)
    assert z.shape == (1, *model.latent_shape) and rows[0] == 42 and len(rows) == 5
    np.testing.assert_allclose(z.flatten().numpy(), lm.codes[42], atol=1e-6)
    between = (lm.xy["pca"][3] + lm.xy["pca"][4]) / 2
    z_mid, _ = lm.pick(between, method="pca", k=2)
    assert model.decode(z_mid).shape == (1, *model.image_shape)


def test_labels_index_and_layout_errors(model_and_map):
    from engine.data import load_dataset

    _, lm = model_and_map
    data = load_dataset("digits", "train", image_size=28, channels=1)
    assert len(set(lm.index)) == 200
    np.testing.assert_array_equal(lm.labels, data.labels.numpy()[lm.index])  # each point's own
    with pytest.raises(EngineError, match="umap"):
        lm.place(lm.codes[:1], method="umap")


def test_wide_flow_codes_are_searched_in_a_pca_space():
    flow = tiny_model("flow")
    lm = build_model_map(flow, "digits", methods=("pca",), limit=120)
    assert lm.codes.shape == (120, 784) and lm.search.shape == (120, 50)


def test_a_gan_map_samples_codes_and_labels_them_with_a_classifier():
    gan = tiny_model("gan")
    with pytest.raises(EngineError, match="classifier"):
        build_model_map(gan, "mnist", methods=("pca",))
    clf = build_model("classifier", {"width": 4, "features": 8}).eval()
    lm = build_model_map(gan, "mnist", classifier=clf, n_samples=300, methods=("pca",))
    assert lm.codes.shape == (300, 8) and (lm.index == -1).all()  # samples, not training images
    with torch.no_grad():  # each sample labelled by what the classifier reads in its image
        read = clf(gan.decode(torch.from_numpy(lm.codes))).argmax(1).numpy()
    np.testing.assert_array_equal(lm.labels, read)


def test_saved_map_round_trips_and_loads_without_umap(tmp_path, model_and_map):
    _, lm = model_and_map
    save_map(tmp_path, lm)
    back = load_map(tmp_path)
    np.testing.assert_allclose(back.xy["pca"], lm.xy["pca"])
    np.testing.assert_allclose(back.search, lm.search, atol=1e-4)
    assert back.latent_shape == lm.latent_shape and back.source == lm.source
    code = (
        "import sys; from engine.ops.latent_map import load_map; "
        f"m = load_map({str(tmp_path)!r}); m.place(m.codes[:2], method='pca'); "
        "assert 'umap' not in sys.modules, 'umap was imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_missing_and_corrupt_maps(tmp_path):
    assert load_map(tmp_path) is None
    (tmp_path / MAP_FILE).write_bytes(b"not an npz")
    with pytest.raises(CheckpointError, match=MAP_FILE):
        load_map(tmp_path)


@pytest.mark.slow
def test_umap_layout_keeps_classes_together():
    """The one test that fits UMAP (slow to import and compile): same-digit codes cluster."""
    model = tiny_model("vae")
    x = _train_images(300)
    from engine.ops.latent_map import build_map, map_codes

    labels = np.repeat(np.arange(3), 100)
    codes = map_codes(model, x) + 10 * np.eye(3, model.latent_shape[0])[labels].astype(np.float32)
    lm = build_map(codes, latent_shape=model.latent_shape, labels=labels, source="test")
    assert lm.xy["umap"].shape == (300, 2)
    centres = np.stack([lm.xy["umap"][labels == c].mean(0) for c in range(3)])
    spread = max(
        np.linalg.norm(lm.xy["umap"][labels == c] - centres[c], axis=1).mean() for c in range(3)
    )
    gaps = [np.linalg.norm(centres[a] - centres[b]) for a in range(3) for b in range(a + 1, 3)]
    assert min(gaps) > 2 * spread
    assert torch.is_tensor(lm.pick(lm.xy["umap"][0], k=3)[0])


def test_map_command_builds_the_file_and_refuses_unknown_methods(tmp_path, capsys):
    from engine.checkpoint import save_checkpoint
    from engine.cli import main

    path = save_checkpoint(tiny_model("vae"), tmp_path / "vae", card={"dataset": "digits"})
    assert main(["map", "--checkpoint", str(path), "--methods", "pca"]) == 0
    lm = load_map(path)
    assert lm is not None and set(lm.xy) == {"pca"} and len(lm.codes) > 1000
    assert main(["map", "--checkpoint", str(path), "--methods", "tsne"]) == 2
    assert "--methods" in capsys.readouterr().err
