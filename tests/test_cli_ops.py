"""``python -m engine reconstruct | inpaint | score | project``: outputs and the error paths."""

import re

import numpy as np
import pytest
import torch
from PIL import Image

from engine.checkpoint import save_checkpoint
from engine.cli import main
from engine.data import load_dataset
from engine.models import build_model
from engine.ops import load_map
from tests.conftest import tiny_model

TILE = 30  # a 28x28 image plus make_grid's 2-pixel padding


def _train_image():
    """Row, pixels (28, 28) uint8 and label of a digits training image that preprocessing with
    ``--fit whole`` leaves unchanged: black border (median), brightest pixel 255."""
    data = load_dataset("digits", "train", image_size=28, channels=1)
    x = data.x[:, 0]  # (N, 28, 28)
    border = torch.cat([x[:, 0], x[:, -1], x[:, :, 0], x[:, :, -1]], 1).median(1).values
    i = int(torch.nonzero((x.flatten(1).amax(1) == 255) & (border == 0))[0])
    return i, x[i].numpy(), int(data.labels[i])


def _checkpoint(kind, path):
    return save_checkpoint(tiny_model(kind), path, card={"dataset": "digits"})


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    root = tmp_path_factory.mktemp("ckpts")
    paths = {kind: _checkpoint(kind, root / kind) for kind in ("vae", "gan", "flow", "vaeac")}
    classifier = build_model("classifier", {"width": 4, "features": 16})
    paths["classifier"] = save_checkpoint(classifier, root / "clf", card={"dataset": "digits"})
    return paths


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    """A folder with two digit PNGs (``a.png`` is :func:`_train_image`) and a text file."""
    root = tmp_path_factory.mktemp("images")
    _, pixels, _ = _train_image()
    Image.fromarray(pixels).save(root / "a.png")
    Image.fromarray(np.ascontiguousarray(pixels[:, ::-1])).save(root / "b.png")
    (root / "notes.txt").write_text("not an image, not in a folder listing")
    return root


@pytest.fixture(scope="module")
def masks(tmp_path_factory):
    """Masks for ``a.png`` and ``b.png``: white (missing) bottom half."""
    root = tmp_path_factory.mktemp("masks")
    mask = np.zeros((28, 28), np.uint8)
    mask[14:] = 255
    for name in ("a.png", "b.png"):
        Image.fromarray(mask).save(root / name)
    return root


def _run(capsys, *args) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out.strip(), captured.err.strip()


def _tiles(path, n) -> np.ndarray:
    """The n 28x28 tiles of a one-row PNG, (n, 28, 28)."""
    row = np.asarray(Image.open(path))
    assert row.shape == (TILE + 2, n * TILE + 2)
    return np.stack([row[2:30, 2 + TILE * i : TILE * (i + 1)] for i in range(n)])


@pytest.mark.parametrize(("kind", "method"), [("vae", "encode"), ("gan", "inversion"), ("flow", "exact")])  # fmt: skip
def test_reconstruct_writes_input_beside_reconstruction(ckpt, images, tmp_path, capsys, kind, method):  # fmt: skip
    out = tmp_path / "pair.png"
    args = [
        "reconstruct",
        "--checkpoint",
        ckpt[kind],
        "--image",
        images / "a.png",
        "--fit",
        "whole",
    ]
    code, stdout, _ = _run(capsys, *args, "--out", out)
    assert code == 0 and stdout.startswith(f"a.png: {method}, MSE ")
    seen, rebuilt = _tiles(out, 2)
    assert np.array_equal(seen, _train_image()[1])  # --fit whole leaves this image as it is
    if kind == "flow":
        assert np.abs(seen.astype(int) - rebuilt).max() <= 1


def test_reconstruct_folder_writes_one_png_per_image(ckpt, images, tmp_path, capsys):
    out = tmp_path / "recs"
    code, stdout, _ = _run(capsys, "reconstruct", "--checkpoint", ckpt["vae"], "--image", images, "--out", out)  # fmt: skip
    assert code == 0 and sorted(p.name for p in out.iterdir()) == ["a.png", "b.png"]
    assert [line.split(":")[0] for line in stdout.splitlines()] == ["a.png", "b.png"]
    assert Image.open(out / "b.png").size == (2 * TILE + 2, TILE + 2)


@pytest.mark.parametrize("kind", ["vae", "gan", "flow", "vaeac"])
def test_inpaint_keeps_known_pixels_and_shows_missing_ones_gray(ckpt, images, masks, tmp_path, capsys, kind):  # fmt: skip
    out = tmp_path / "row.png"
    args = ["inpaint", "--checkpoint", ckpt[kind], "--image", images / "a.png"]
    code, stdout, _ = _run(capsys, *args, "--mask", masks / "a.png", "--samples", 3, "--out", out)
    assert code == 0 and "3 completions of 392 pixels" in stdout
    shown, *completions, spread = _tiles(out, 5)
    original = _train_image()[1]
    assert np.array_equal(shown[:14], original[:14]) and (shown[14:] == 128).all()
    for completion in completions:
        assert np.array_equal(completion[:14], original[:14])
    assert (spread[:14] == 0).all() and spread.max() in (0, 255)


def test_inpaint_folders_pair_images_and_masks_by_name(ckpt, images, masks, tmp_path, capsys):
    out = tmp_path / "filled"
    args = ["inpaint", "--checkpoint", ckpt["vae"], "--image", images, "--mask", masks]
    code, stdout, _ = _run(capsys, *args, "--samples", 2, "--out", out)
    assert code == 0 and len(stdout.splitlines()) == 2
    assert sorted(p.name for p in out.iterdir()) == ["a.png", "b.png"]
    assert Image.open(out / "a.png").size == (4 * TILE + 2, TILE + 2)


@pytest.mark.parametrize(("kind", "unit"), [("vae", "nats"), ("gan", "inversion MSE")])
def test_score_ranks_against_a_built_reference(images, tmp_path, capsys, kind, unit):
    checkpoint = _checkpoint(kind, tmp_path / kind)
    score = ["score", "--checkpoint", checkpoint, "--image", images / "a.png"]
    code, stdout, _ = _run(capsys, *score)
    assert code == 0 and unit in stdout and "no reference: run score --build-reference" in stdout
    build = ["score", "--checkpoint", checkpoint, "--build-reference", "--limit", 3]
    code, stdout, stderr = _run(capsys, *build)
    assert code == 0 and stdout.startswith(str(checkpoint / "anomaly.json"))
    assert "3 digits test images, median" in stdout
    assert ("inverting 3 test images" in stderr) == (kind == "gan")  # tqdm's bar
    code, stdout, _ = _run(capsys, *score)
    assert code == 0 and re.search(r"percentile \d+\.\d of 3 held-out digits images", stdout)


def test_project_lands_a_training_image_on_its_own_map_point(images, tmp_path, capsys):
    checkpoint = _checkpoint("vae", tmp_path / "vae")
    assert main(["map", "--checkpoint", str(checkpoint), "--methods", "pca"]) == 0
    row, _, label = _train_image()
    out = tmp_path / "map.png"
    args = ["project", "--checkpoint", checkpoint, "--image", images / "a.png", "--fit", "whole"]
    code, stdout, _ = _run(capsys, *args, "--out", out)
    assert code == 0
    found = re.search(r"a\.png: \((\S+), (\S+)\) on the pca map; nearest labels (\d) ", stdout)
    latent_map = load_map(checkpoint)
    assert latent_map.index[row] == row  # map rows are the training images in order
    np.testing.assert_allclose([float(found[1]), float(found[2])], latent_map.xy["pca"][row], atol=2e-3)  # fmt: skip
    assert int(found[3]) == label
    scatter = Image.open(out)
    assert scatter.size == (400, 400) and (np.asarray(scatter) == 0).all(2).any()  # black cross


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["reconstruct", "--checkpoint", "NOPE", "--image", "IMG", "--out", "x.png"], "no such checkpoint"),
        (["reconstruct", "--checkpoint", "CLF", "--image", "IMG", "--out", "x.png"], "has no 'decode' capability"),
        (["reconstruct", "--checkpoint", "VAEAC", "--image", "IMG", "--out", "x.png"], "vaeac checkpoint has no 'decode' capability"),
        (["reconstruct", "--checkpoint", "VAE", "--image", "BAD", "--out", "x.png"], "not an image"),
        (["reconstruct", "--checkpoint", "VAE", "--image", "MISSING", "--out", "x.png"], "no such file"),
        (["reconstruct", "--checkpoint", "VAE", "--image", "IMAGES", "--out", "x.png"], "folder"),
        (["reconstruct", "--checkpoint", "VAE", "--image", "IMG", "--out", "x.jpg"], ".png"),
        (["inpaint", "--checkpoint", "VAE", "--image", "IMG", "--mask", "MISSING", "--out", "x.png"], "no such file"),
        (["inpaint", "--checkpoint", "VAE", "--image", "IMG", "--mask", "BAD", "--out", "x.png"], "not an image"),
        (["inpaint", "--checkpoint", "VAE", "--image", "BAD", "--mask", "MASK", "--out", "x.png"], "not an image"),
        (["inpaint", "--checkpoint", "VAE", "--image", "IMG", "--mask", "WIDE", "--out", "x.png"], "aspect ratio"),
        (["inpaint", "--checkpoint", "VAE", "--image", "IMG", "--mask", "MASKS", "--out", "x.png"], "both"),
        (["inpaint", "--checkpoint", "VAE", "--image", "IMAGES", "--mask", "ODD", "--out", "x"], "no mask named b.png"),
        (["score", "--checkpoint", "VAE"], "required"),
        (["score", "--checkpoint", "NOPE", "--image", "IMG"], "no such checkpoint"),
        (["score", "--checkpoint", "VAE", "--image", "BAD"], "not an image"),
        (["project", "--checkpoint", "VAE", "--image", "IMG"], "no latent map: run python -m engine map --checkpoint"),
        (["project", "--checkpoint", "GAN", "--image", "IMG"], "no 'encode' capability"),
        (["project", "--checkpoint", "VAE", "--image", "IMG", "--out", "x.jpg"], ".png"),
    ],
)  # fmt: skip
def test_bad_input_exits_2_with_one_line(ckpt, images, masks, tmp_path, capsys, args, message):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"this is not a picture")
    Image.new("L", (28, 14)).save(tmp_path / "wide.png")
    odd = tmp_path / "odd"
    odd.mkdir()
    Image.new("L", (28, 28)).save(odd / "a.png")
    names = {
        "NOPE": tmp_path / "nope",
        "VAE": ckpt["vae"],
        "GAN": ckpt["gan"],
        "CLF": ckpt["classifier"],
        "VAEAC": ckpt["vaeac"],
        "IMG": images / "a.png",
        "IMAGES": images,
        "MASK": masks / "a.png",
        "MASKS": masks,
        "ODD": odd,
        "WIDE": tmp_path / "wide.png",
        "BAD": bad,
        "MISSING": tmp_path / "missing.png",
        "x": tmp_path / "x",
        "x.png": tmp_path / "x.png",
        "x.jpg": tmp_path / "x.jpg",
    }
    code, _, err = _run(capsys, *[names.get(a, a) for a in args])
    assert code == 2 and message in err and "\n" not in err and "Traceback" not in err
    assert err.startswith("error: ")
    assert not any((tmp_path / name).exists() for name in ("x", "x.png", "x.jpg"))
