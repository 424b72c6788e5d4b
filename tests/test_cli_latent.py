"""``python -m engine interpolate`` and ``walk``: the three output forms and the error paths."""

import pytest
import torch
from PIL import Image

from engine.checkpoint import save_checkpoint
from engine.cli import main
from engine.images import save_png, to_pil
from engine.ops import Direction, save_directions
from tests.conftest import tiny_model


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    root = tmp_path_factory.mktemp("ckpts")
    return {
        kind: save_checkpoint(tiny_model(kind), root / kind, card={"dataset": "digits"})
        for kind in ("vae", "gan", "flow")
    }


@pytest.fixture(scope="module")
def digit_files(tmp_path_factory):
    """Two 28x28 grayscale PNGs drawn by a tiny VAE."""
    root = tmp_path_factory.mktemp("images")
    x = tiny_model("vae").sample(2, generator=torch.Generator().manual_seed(0))
    paths = [root / "a.png", root / "b.png"]
    for img, path in zip(x, paths, strict=True):
        save_png(to_pil(img), path)
    return [str(p) for p in paths]


def _run(capsys, *args) -> tuple[int, str]:
    code = main([str(a) for a in args])
    return code, capsys.readouterr().err.strip()


def test_interpolate_seeds_writes_a_png_row(ckpt, tmp_path, capsys):
    out = tmp_path / "row.png"
    args = ["interpolate", "--checkpoint", ckpt["gan"], "--seeds", 0, 1, "--steps", 6]
    assert _run(capsys, *args, "--out", out)[0] == 0
    assert Image.open(out).size == (6 * 30 + 2, 30 + 2)


def test_interpolate_images_writes_a_looping_gif(ckpt, digit_files, tmp_path, capsys):
    out = tmp_path / "anim.gif"
    args = ["interpolate", "--checkpoint", ckpt["flow"], "--images", *digit_files]
    assert _run(capsys, *args, "--steps", 5, "--method", "lerp", "--out", out)[0] == 0
    gif = Image.open(out)
    assert gif.n_frames == 5 and gif.info["loop"] == 0 and gif.size == (28, 28)


def test_interpolate_extrapolated_frames_into_a_folder(ckpt, digit_files, tmp_path, capsys):
    out = tmp_path / "frames"
    args = ["interpolate", "--checkpoint", ckpt["vae"], "--images", *digit_files, "--steps", 4]
    assert _run(capsys, *args, "--extrapolate", 0.25, "--out", out)[0] == 0
    files = sorted(p.name for p in out.iterdir())
    assert files == [f"frame-{i:04d}.png" for i in range(4)]
    assert Image.open(out / files[0]).mode == "L"


@pytest.mark.parametrize(
    "which", [["--axis", "3"], ["--pc", "2"], ["--directions", "DIRS", "--name", "up"]]
)
def test_walk_writes_frames(ckpt, tmp_path, capsys, which):
    dirs = save_directions(tmp_path / "d.json", [Direction("up", torch.tensor([0, 1.0, 0, 0]), "")])
    which = [str(dirs) if w == "DIRS" else w for w in which]
    out = tmp_path / "walk.png"
    args = ["walk", "--checkpoint", ckpt["vae"], "--seed", 2, *which, "--steps", 5, "--span", 2]
    assert _run(capsys, *args, "--out", out)[0] == 0
    assert Image.open(out).size == (5 * 30 + 2, 30 + 2)


def test_walk_gif_of_a_flow_axis(ckpt, tmp_path, capsys):
    out = tmp_path / "walk.gif"
    args = ["walk", "--checkpoint", ckpt["flow"], "--axis", 400, "--steps", 3, "--span", 1]
    assert _run(capsys, *args, "--out", out)[0] == 0
    assert Image.open(out).n_frames == 3


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["interpolate", "--checkpoint", "NOPE", "--seeds", "0", "1", "--out", "x.png"], "no such"),
        (["interpolate", "--checkpoint", "GAN", "--images", "IMG", "IMG", "--out", "x.png"], "encode"),
        (["interpolate", "--checkpoint", "VAE", "--images", "BAD", "IMG", "--out", "x.png"], "not an image"),
        (["interpolate", "--checkpoint", "VAE", "--images", "IMG", "x.gif", "--out", "x.png"], "no such file"),
        (["interpolate", "--checkpoint", "VAE", "--seeds", "0", "--out", "x.png"], "--seeds"),
        (["interpolate", "--checkpoint", "VAE", "--seeds", "0", "1", "--steps", "1", "--out", "x.png"], "at least 2"),
        (["interpolate", "--checkpoint", "VAE", "--seeds", "0", "1", "--out", "x.jpg"], ".gif"),
        (["walk", "--checkpoint", "VAE", "--axis", "4", "--out", "x.png"], "axes 0 to 3"),
        (["walk", "--checkpoint", "VAE", "--axis", "1", "--span", "-1", "--out", "x.png"], "span"),
        (["walk", "--checkpoint", "VAE", "--pc", "9", "--out", "x.png"], "only 4 components"),
        (["walk", "--checkpoint", "VAE", "--directions", "DIRS", "--out", "x.png"], "--name"),
        (["walk", "--checkpoint", "VAE", "--directions", "DIRS", "--name", "down", "--out", "x.png"], "'up'"),
        (["walk", "--checkpoint", "FLOW", "--directions", "DIRS", "--name", "up", "--out", "x.png"], "shape"),
        (["walk", "--checkpoint", "VAE", "--directions", "BAD", "--name", "up", "--out", "x.png"], "not JSON"),
        (["walk", "--checkpoint", "VAE", "--out", "x.png"], "required"),
    ],
)  # fmt: skip
def test_bad_input_exits_2_with_one_line(ckpt, digit_files, tmp_path, capsys, args, message):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"this is not a picture")
    dirs = save_directions(tmp_path / "d.json", [Direction("up", torch.tensor([0, 1.0, 0, 0]), "")])
    names = {
        "NOPE": tmp_path / "nope",
        "GAN": ckpt["gan"],
        "VAE": ckpt["vae"],
        "FLOW": ckpt["flow"],
        "IMG": digit_files[0],
        "BAD": bad,
        "DIRS": dirs,
        "x.png": tmp_path / "x.png",
        "x.jpg": tmp_path / "x.jpg",
        "x.gif": tmp_path / "x.gif",
    }
    code, err = _run(capsys, *[names.get(a, a) for a in args])
    assert code == 2 and message in err and "\n" not in err and "Traceback" not in err
    assert not (tmp_path / "x.png").exists()
