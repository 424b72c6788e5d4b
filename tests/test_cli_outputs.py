"""Every CLI command that writes images takes an existing folder as its output, whatever its
name: ``--out results.v2`` writes into the folder, it is not read as a file with a suffix."""

import numpy as np
import pytest
from PIL import Image

import engine
from engine.cli import main
from tests.conftest import tiny_model


@pytest.fixture(scope="module")
def vae(tmp_path_factory):
    out = tmp_path_factory.mktemp("ckpt") / "tiny-vae"
    engine.save_checkpoint(tiny_model("vae"), out, card={"dataset": "mnist"})
    return str(out)


@pytest.fixture
def digit_and_mask(tmp_path):
    digit, mask = tmp_path / "digit.png", tmp_path / "mask.png"
    Image.fromarray((np.random.default_rng(0).random((28, 28)) * 255).astype(np.uint8)).save(digit)
    square = np.zeros((28, 28), np.uint8)
    square[7:21, 7:21] = 255  # white = missing
    Image.fromarray(square).save(mask)
    return str(digit), str(mask)


COMMANDS = {
    "sample": lambda ck, img, msk: ["sample", "--checkpoint", ck, "--n", "4"],
    "interpolate": lambda ck, img, msk: ["interpolate", "--checkpoint", ck, "--seeds", "1", "2"],
    "walk": lambda ck, img, msk: ["walk", "--checkpoint", ck, "--axis", "0", "--steps", "3"],
    "reconstruct": lambda ck, img, msk: ["reconstruct", "--checkpoint", ck, "--image", img],
    "inpaint": lambda ck, img, msk: [
        *("inpaint", "--checkpoint", ck, "--image", img, "--mask", msk, "--samples", "2"),
    ],
}


@pytest.mark.parametrize("folder", ["results.v2", "grid.png", "plain"])
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_an_existing_folder_is_accepted_as_the_output_whatever_its_name(
    command, folder, vae, digit_and_mask, tmp_path, capsys
):
    out = tmp_path / folder
    out.mkdir()
    argv = [*COMMANDS[command](vae, *digit_and_mask), "--out", str(out)]
    assert main(argv) == 0, capsys.readouterr().err
    written = sorted(p.name for p in out.iterdir())
    assert written and all(name.endswith(".png") for name in written)
    assert out.is_dir()  # written into, not replaced by a file


def test_project_writes_its_map_into_an_existing_folder(vae, digit_and_mask, tmp_path, capsys):
    assert main(["map", "--checkpoint", vae, "--methods", "pca"]) == 0, capsys.readouterr().err
    out = tmp_path / "maps.v2"
    out.mkdir()
    argv = ["project", "--checkpoint", vae, "--image", digit_and_mask[0], "--out", str(out)]
    assert main(argv) == 0, capsys.readouterr().err
    assert [p.name for p in out.iterdir()] == ["map.png"]


def test_a_new_name_with_a_suffix_that_is_no_image_is_still_refused(vae, tmp_path, capsys):
    out = tmp_path / "results.v2"  # does not exist: a file name, and not one of ours
    assert main(["sample", "--checkpoint", vae, "--n", "4", "--out", str(out)]) == 2
    assert "folder" in capsys.readouterr().err
    assert not out.exists()
