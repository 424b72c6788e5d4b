"""scikit-learn's 8x8 handwritten digits with the project's fixed split.

``sklearn.datasets.load_digits()`` ships 1,797 images inside the package (no download), values
0..16 with the ink high. They are scaled to uint8 by ``round(v * 255 / 16)`` (halves up), which
keeps MNIST's convention of a white digit on black, and returned at their native 8x8 size as
``(N, 1, 8, 8)``.
:func:`engine.data.load_dataset` with ``image_size`` upsamples them to a model's size with
antialiased bilinear interpolation (:func:`engine.data.convert`), so they look soft, not blocky.

Split, fixed for the whole project and deterministic: for each digit, in scikit-learn's order, the
last 10% (rounded) of that digit's samples are ``test``, the 10% before those ``val`` and the rest
``train``. ``index`` is each image's position in scikit-learn's order.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch

from engine.data import ImageData
from engine.errors import DataError

N_DIGITS = 1797
HOLDOUT_FRACTION = 0.1  # of each digit's samples, for test and again for val


@lru_cache(maxsize=1)
def _raw() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits as sk_load_digits

    bunch = sk_load_digits()
    images, y = bunch.images, bunch.target
    if images.shape != (N_DIGITS, 8, 8) or images.min() < 0 or images.max() > 16:
        raise RuntimeError("scikit-learn's digits are not the expected 1,797 8x8 images in 0..16")
    x = np.floor(images * (255.0 / 16.0) + 0.5).astype(np.uint8)  # 0..16 -> 0..255
    return x.reshape(-1, 1, 8, 8), y.astype(np.int64)


def split_indices(split: str) -> np.ndarray:
    """Indices (into scikit-learn's order) of one split, ascending.

    Args:
        split: ``train``, ``val`` or ``test``.

    Returns:
        int64 array of positions in ``sklearn.datasets.load_digits()``.
    """
    if split not in ("train", "val", "test"):
        raise DataError(f"unknown split {split!r} (use one of train, val, test)")
    _, y = _raw()
    keep = []
    for digit in np.unique(y):
        idx = np.flatnonzero(y == digit)  # this digit's samples, in sklearn's order
        n_hold = int(np.floor(len(idx) * HOLDOUT_FRACTION + 0.5))
        first_test = len(idx) - n_hold
        first_val = first_test - n_hold
        part = {
            "train": idx[:first_val],
            "val": idx[first_val:first_test],
            "test": idx[first_test:],
        }
        keep.append(part[split])
    return np.sort(np.concatenate(keep)).astype(np.int64)


def load_digits(split: str) -> ImageData:
    """Load one split of scikit-learn's digits as uint8 ``(N, 1, 8, 8)``, white on black.

    Args:
        split: ``train``, ``val`` or ``test`` (fixed per-digit split, see the module docstring).

    Returns:
        :class:`ImageData` with ``labels`` (the digit) and ``index`` (position in sklearn's order).
    """
    x, y = _raw()
    idx = split_indices(split)
    return ImageData(
        name="digits",
        split=split,
        x=torch.from_numpy(x[idx].copy()),
        labels=torch.from_numpy(y[idx].copy()),
        index=torch.from_numpy(idx),
        meta={"classes": [str(d) for d in range(10)], "native_size": 8},
    )
