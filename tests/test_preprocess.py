"""A user's picture becomes what the model expects: a light drawing on black, centred, model-sized."""

import io

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw, ImageOps

from engine.errors import DataError
from engine.ops.preprocess import preprocess_image


def _pencil_on_paper(size=(300, 220), offset=(40, 30)) -> Image.Image:
    """A dark '7' drawn off-centre on light, slightly noisy paper, as a phone photo would be."""
    rng = np.random.default_rng(0)
    paper = np.clip(rng.normal(215, 6, (size[1], size[0], 3)), 0, 255).astype(np.uint8)
    image = Image.fromarray(paper, "RGB")
    draw = ImageDraw.Draw(image)
    x, y = offset
    draw.line([(x, y), (x + 90, y), (x + 40, y + 140)], fill=(40, 40, 60), width=12)
    return image


def test_light_background_photo_becomes_a_centred_white_on_black_digit():
    out = preprocess_image(_pencil_on_paper(), channels=1, image_size=28)
    x = out.x[0, 0]
    assert out.x.shape == (1, 1, 28, 28) and out.inverted
    border = np.concatenate([x[0], x[-1], x[:, 0], x[:, -1]])
    assert border.max() < 0.05  # black background
    assert x.max() > 0.9  # bright strokes
    ys, xs = np.nonzero(x.numpy() > 0.2)
    assert 2 <= ys.min() and ys.max() <= 25 and 2 <= xs.min() and xs.max() <= 25  # margin kept
    assert abs((ys.min() + ys.max()) / 2 - 13.5) <= 1.5  # centred vertically
    assert abs((xs.min() + xs.max()) / 2 - 13.5) <= 1.5
    assert out.image.size == (28, 28) and out.box is not None
    assert any("inverted" in step for step in out.steps)


def test_same_picture_same_tensor_and_dark_pictures_are_not_inverted():
    a = preprocess_image(_pencil_on_paper(), channels=1, image_size=28)
    b = preprocess_image(_pencil_on_paper(), channels=1, image_size=28)
    assert (a.x == b.x).all()
    dark = ImageOps.invert(_pencil_on_paper())
    c = preprocess_image(dark, channels=1, image_size=28)
    assert not c.inverted
    assert (c.x - a.x).abs().mean() < 0.05  # the same digit either way round


def test_light_strokes_on_a_transparent_canvas_go_onto_black():
    canvas = Image.new("RGBA", (200, 200), (0, 0, 0, 0))
    ImageDraw.Draw(canvas).ellipse([50, 40, 150, 170], outline=(255, 255, 255, 255), width=14)
    out = preprocess_image(canvas, channels=1, image_size=28)
    assert not out.inverted and out.x.max() > 0.9 and out.x[0, 0, 0, 0] == 0
    assert any("onto black" in step for step in out.steps)


def test_whole_fit_keeps_position_and_three_channels():
    image = Image.new("RGB", (64, 64))
    ImageDraw.Draw(image).rectangle([4, 4, 15, 15], fill=(255, 0, 0))  # top-left red square
    out = preprocess_image(image, channels=3, image_size=32, fit="whole")
    assert out.x.shape == (1, 3, 32, 32) and out.box is None
    assert out.x[0, 0, 4, 4] > 0.9 and out.x[0, 1, 4, 4] < 0.1  # still red, still top-left
    assert out.x[0, :, 24:, 24:].max() < 0.05


def test_png_bytes_are_accepted():
    buf = io.BytesIO()
    _pencil_on_paper().save(buf, format="PNG")
    out = preprocess_image(buf.getvalue(), channels=1, image_size=28)
    direct = preprocess_image(_pencil_on_paper(), channels=1, image_size=28)
    assert torch.equal(out.x, direct.x)  # the file's bytes give what the picture itself gives


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (b"definitely not a png", "not an image"),
        (Image.new("L", (40, 40), 255), "blank"),
    ],
)
def test_bad_pictures_give_one_clear_error(source, message):
    with pytest.raises(DataError, match=message):
        preprocess_image(source, channels=1, image_size=28)


def test_missing_file_is_named(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        preprocess_image(tmp_path / "nope.png", channels=1, image_size=28)
