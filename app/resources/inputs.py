"""What a user gives a model: test digits, uploads, drawings and masks, at the model's size."""

from __future__ import annotations

import numpy as np
import streamlit as st
import torch
from PIL import Image

import engine
from app.resources.checkpoints import entry, model
from engine.errors import EngineError

# offered by every uploader
UPLOAD_TYPES = ["png", "jpg", "jpeg", "gif", "bmp", "webp", "tif", "tiff"]
MASK_PRESETS = (*engine.MASK_PRESETS, "drawn")  # "drawn": painted on the canvas
mask_preset = engine.mask_preset  # the pages reach the engine through this package


@st.cache_resource(show_spinner=False)
def _test_split(dataset: str, channels: int, size: int):
    data = engine.load_dataset(dataset, "test", image_size=size, channels=channels)
    return data.float(), data.labels


@st.cache_resource(show_spinner=False)
def train_split(dataset: str, channels: int, size: int) -> tuple[torch.Tensor, dict[int, int]]:
    """The training images, and the row of each by its position in the source (what a map's
    ``index`` holds: the split leaves out the validation and test images, so the two differ)."""
    data = engine.load_dataset(dataset, "train", image_size=size, channels=channels)
    positions = range(len(data.x)) if data.index is None else data.index.tolist()
    return data.float(), {int(p): row for row, p in enumerate(positions)}


def test_images(name: str) -> tuple[torch.Tensor, np.ndarray | None]:
    e = entry(name)
    c, h, _ = model(name).image_shape
    x, labels = _test_split(e.dataset, c, h)
    return x, (None if labels is None else np.asarray(labels))


def test_image(name: str, index: int) -> torch.Tensor:
    x, _ = test_images(name)
    if not 0 <= index < len(x):
        raise EngineError(f"test image {index} does not exist (0 to {len(x) - 1})")
    return x[index : index + 1]


def test_digit_index(name: str, digit: int, nth: int = 0) -> int:
    _, labels = test_images(name)
    hits = np.flatnonzero(labels == digit) if labels is not None else np.arange(nth + 1)
    return int(hits[nth % len(hits)])


def preprocess(name: str, data: bytes | Image.Image) -> engine.Preprocessed:
    c, h, _ = model(name).image_shape
    return engine.preprocess_image(data, channels=c, image_size=h)


def known_from_drawing(rgba: np.ndarray | None, shape: tuple[int, int, int]) -> torch.Tensor:
    """A mask drawn on the canvas (painted = missing) at the model's size."""
    _, h, w = shape
    if rgba is None or rgba[..., 3].max() == 0:
        raise EngineError("paint over the part of the image to hide first")
    alpha = Image.fromarray(rgba[..., 3].astype(np.uint8)).resize((w, h), Image.BILINEAR)
    return torch.from_numpy(np.asarray(alpha) < 64).view(1, 1, h, w)
