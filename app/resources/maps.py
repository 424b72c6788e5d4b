"""Latent maps: the precomputed 2-D layout of a model's codes, its points and overlays."""

from __future__ import annotations

import numpy as np
import streamlit as st
import torch
from PIL import Image

import engine
from app.resources.checkpoints import entry, model
from app.resources.images import data_uri
from app.resources.inputs import test_digit_index, train_split
from app.resources.operations import latent_for
from app.resources.results import Timed, gen, run
from engine.errors import EngineError
from engine.images import to_pil


@st.cache_resource(show_spinner=False)
def _map(path: str):
    return engine.load_map(path)


def latent_map(name: str):
    return _map(entry(name).path)


def map_image(name: str, index: int) -> Image.Image:
    """The training image behind one map point (or the decoded code of a sampled point)."""
    lm = latent_map(name)
    position = int(lm.index[index])
    if position >= 0:
        c, h, _ = model(name).image_shape
        images, row_of = train_split(entry(name).dataset, c, h)
        return to_pil(images[row_of[position]])
    code = torch.from_numpy(lm.codes[index]).view(1, *lm.latent_shape)
    with torch.no_grad():
        return to_pil(model(name).decode(code))


def pick(name: str, xy: tuple[float, float], method: str) -> Timed:
    """A map location -> (decoded image, latent, nearest real images)."""

    def compute():
        lm = latent_map(name)
        z, rows = lm.pick(xy, method=method)
        with torch.no_grad():
            image = to_pil(model(name).decode(z))
        return image, z[0].numpy(), [map_image(name, int(r)) for r in rows[:6]]

    params = {"xy": [round(v, 4) for v in xy], "m": method}
    return run(name, "pick", params, compute, private=False)


def place(name: str, codes: torch.Tensor, method: str) -> np.ndarray:
    return latent_map(name).place(codes, method=method)


def map_grid(xy: np.ndarray, n: int = 24) -> tuple[np.ndarray, np.ndarray]:
    """An n x n grid over the map's extent (clickable empty places)."""
    lo, hi = xy.min(0), xy.max(0)
    gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], n), np.linspace(lo[1], hi[1], n))
    return gx.ravel(), gy.ravel()


def thumb_size(xy: np.ndarray) -> float:
    return float((xy.max(0) - xy.min(0)).max() / 30)


def thumbnail_rows(name: str, count: int) -> np.ndarray:
    """A fixed, spread-out subset of map points to draw as thumbnails (farthest-point order)."""
    xy = torch.from_numpy(latent_map(name).xy["umap" if "umap" in latent_map(name).xy else "pca"])
    chosen = [0]
    dist = (xy - xy[0]).norm(dim=1)
    for _ in range(min(count, len(xy)) - 1):
        nxt = int(dist.argmax())
        chosen.append(nxt)
        dist = torch.minimum(dist, (xy - xy[nxt]).norm(dim=1))
    return np.asarray(chosen)


def overlay_points(name: str, what: str, method: str, *, upload: bytes | None = None):
    """(legend label, (N, 2) positions) of new codes placed on the map, or (label, None)."""
    m = model(name)
    if what == "16 samples":
        codes = m.sample_latent(16, generator=gen(0))
        return "16 samples (seed 0)", place(name, codes, method)
    if what == "path between two test digits":
        a = latent_for(name, "test", test_digit_index(name, 3))
        b = latent_for(name, "test", test_digit_index(name, 8))
        t = torch.linspace(0, 1, 12)
        codes = torch.stack([(1 - v) * a + v * b for v in t])
        return "path 3 -> 8", place(name, codes, method)
    if what == "an upload":
        if upload is None:
            return "your image", None
        return "your image", place(name, latent_for(name, "upload", upload).unsqueeze(0), method)
    raise EngineError(f"unknown overlay {what!r}")


def thumbnail_uri(name: str, index: int) -> str:
    return data_uri(map_image(name, index))
