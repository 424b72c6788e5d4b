"""The README's "Your own checkpoint" section end to end, on a tiny folder of images: train,
map, build the surprise reference from the folder's val split, score an image, and the app
listing the model from ``LATENT_ATLAS_CHECKPOINTS`` on every page its files allow."""

import re

import numpy as np
import pytest
from apptest import fresh_catalog, page  # noqa: F401  (fresh_catalog: autouse fixture)
from PIL import Image

import engine
from app import resources as R
from engine.cli import main

TINY_VAE = ["--config", "latent_dim=4", "--config", "width=4", "--config", "hidden=16"]


@pytest.fixture(scope="module")
def own(tmp_path_factory):
    """A folder of 40 of the user's images (MNIST training digits as PNGs, 36 train / 4 val) and
    a VAE trained on it for two epochs, with its latent map and surprise reference."""
    root = tmp_path_factory.mktemp("own")
    images = root / "my_images"
    images.mkdir()
    x = engine.load_dataset("mnist", "train").float()[::100][:40, 0].numpy()  # (40, 28, 28)
    for i, pixels in enumerate(x):
        Image.fromarray((pixels * 255).round().astype(np.uint8)).save(images / f"{i:03d}.png")
    models = root / "my-models"
    out = models / "my-vae"
    train = ["train", "--kind", "vae", "--dataset", f"folder:{images}", "--out", str(out)]
    assert main([*train, "--epochs", "2", "--batch-size", "16", "--grids", "1", *TINY_VAE]) == 0
    return images, models, out


def test_train_map_and_score_a_folder_dataset(own, capsys):
    images, _, out = own
    card = engine.read_card(out)
    assert card["dataset"] == f"folder:{images}" and (
        card["split"]["train"],
        card["split"]["val"],
    ) == (36, 4)
    assert main(["map", "--checkpoint", str(out)]) == 0
    assert (out / "latent_map.npz").is_file()
    reference = ["score", "--checkpoint", str(out), "--build-reference"]
    assert main([*reference, "--split", "test"]) == 2  # a folder has no test split
    assert "no test split" in capsys.readouterr().err
    assert main(reference) == 0  # the README's command: the val split by default
    assert f"4 folder:{images} val images, median" in capsys.readouterr().out
    assert main(["score", "--checkpoint", str(out), "--image", str(images / "000.png")]) == 0
    line = capsys.readouterr().out
    assert re.search(rf"percentile \d+\.\d of 4 held-out folder:{re.escape(str(images))}", line)
    assert main(["project", "--checkpoint", str(out), "--image", str(images / "009.png")]) == 0
    assert "nearest labels ? ? ? ? ?" in capsys.readouterr().out  # a folder has no labels


def test_the_app_lists_the_model_with_its_map_and_surprise_score(own, monkeypatch):
    _, models, out = own
    if not (out / "anomaly.json").is_file():  # the test above builds both files
        pytest.skip("needs test_train_map_and_score_a_folder_dataset first")
    monkeypatch.setenv(R.EXTRA_ROOTS_ENV, str(models))
    R.catalog.clear()
    assert "my-vae" in R.names(needs=("sample", "map", "surprise", "reconstruct"))
    at = page("home")
    assert not at.exception
    assert "my-vae" in [h.value for h in at.subheader]
