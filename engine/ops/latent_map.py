"""2-D maps of what a model has learned, built once per checkpoint and used without UMAP after.

Which codes are mapped:

- VAE: the posterior means of the training images.
- flow: the exact latents of the training images, reduced by PCA to 50 dimensions first (784
  near-Gaussian dimensions make neighbours meaningless).
- GAN: codes sampled from the prior (no encoder), labelled by the project's classifier.

:func:`build_map` fits UMAP (McInnes et al. 2018) and PCA on those codes (the only place umap is
imported) and :func:`save_map` stores everything the app needs in ``latent_map.npz`` beside the
checkpoint: the codes, their 2-D positions under both methods, labels and dataset indices. After
that nothing fits or runs UMAP:

- :meth:`LatentMap.place` puts new codes on the map as the inverse-distance-weighted mean position
  of their nearest stored codes (a stored code lands exactly on its own point).
- :meth:`LatentMap.pick` turns a map location into a latent: the inverse-distance-weighted blend of
  the codes of the nearest points on the map, with their indices (to show the nearest real images).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from engine.errors import CheckpointError, EngineError

MAP_FILE = "latent_map.npz"
METHODS = ("umap", "pca")
FLOW_PCA_DIMS = 50


@dataclass
class LatentMap:
    """Codes of a dataset (or of samples) and their positions on 2-D maps."""

    codes: np.ndarray  # (N, D) float32 codes in the model's flattened latent space
    search: np.ndarray  # (N, S) float32 the space neighbours are found in (codes, or their PCA)
    xy: dict[str, np.ndarray]  # method -> (N, 2) float32 positions
    labels: np.ndarray  # (N,) int64, -1 where unknown
    index: np.ndarray  # (N,) int64 dataset positions, -1 for sampled codes
    source: str  # "encoded <dataset> train" or "sampled, labelled by <classifier>"
    latent_shape: tuple[int, ...]
    pca_mean: np.ndarray | None = None  # (D,) when search is a PCA of codes
    pca_components: np.ndarray | None = None  # (S, D)

    @property
    def encoded(self) -> bool:
        """The codes are real training images encoded (not the model's own samples)."""
        return self.source.startswith("encoded")

    def to_search(self, codes: torch.Tensor | np.ndarray) -> np.ndarray:
        """Codes (B, *latent_shape) -> the neighbour-search space (B, S)."""
        c = np.asarray(torch.as_tensor(codes).detach().cpu().float().flatten(1))
        if self.pca_components is None:
            return c
        return (c - self.pca_mean) @ self.pca_components.T

    def place(self, codes, *, method: str = "umap", k: int = 10) -> np.ndarray:
        """2-D positions (B, 2) of new codes: weighted mean position of their k nearest codes."""
        q = torch.from_numpy(self.to_search(codes))
        d = _distances(q, torch.from_numpy(self.search))  # (B, N)
        dist, idx = d.topk(min(k, d.shape[1]), largest=False)
        return _blend(torch.from_numpy(self._xy(method))[idx], dist).numpy()

    def pick(self, xy, *, method: str = "umap", k: int = 8) -> tuple[torch.Tensor, np.ndarray]:
        """A map location (x, y) -> (a latent (1, *latent_shape) blended from the k nearest
        points, the map rows of those points, nearest first)."""
        points = torch.from_numpy(self._xy(method))
        d = _distances(torch.as_tensor(xy, dtype=torch.float32).view(1, 2), points)[0]
        dist, idx = d.topk(min(k, len(d)), largest=False)
        code = _blend(torch.from_numpy(self.codes)[idx].unsqueeze(0), dist.unsqueeze(0))
        return code.view(1, *self.latent_shape), idx.numpy()

    def _xy(self, method: str) -> np.ndarray:
        if method not in self.xy:
            raise EngineError(f"this map has no {method!r} layout (has {', '.join(self.xy)})")
        return self.xy[method]


def _distances(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Euclidean distances (A, B), computed directly: the matrix-product shortcut cdist takes for
    larger batches loses ~1e-4 near zero, and a stored point must find itself at distance 0."""
    return torch.cdist(a, b, compute_mode="donot_use_mm_for_euclid_dist")


def _blend(values: torch.Tensor, dist: torch.Tensor) -> torch.Tensor:
    """Inverse-distance weighting: values (B, k, F), dist (B, k) -> (B, F); exact hits win.

    A hit is exact within 1% of the k-th distance (codes may be stored at float16 precision).
    """
    w = 1.0 / dist.clamp_min(1e-12)
    exact = dist <= 1e-2 * dist[:, -1:].clamp_min(1e-6)
    w = torch.where(exact.any(1, keepdim=True), exact.float(), w)
    return (w.unsqueeze(-1) * values).sum(1) / w.sum(1, keepdim=True)


@torch.no_grad()
def map_codes(model, x: torch.Tensor, *, batch: int = 500) -> np.ndarray:
    """Encode images (N, C, H, W) to flat codes (N, D) for a map."""
    codes = [model.encode(b.to(model.device)).flatten(1).cpu() for b in x.split(batch)]
    return torch.cat(codes).numpy().astype(np.float32)


def build_map(
    codes: np.ndarray,
    *,
    latent_shape: tuple[int, ...],
    labels: np.ndarray | None = None,
    index: np.ndarray | None = None,
    source: str,
    methods: tuple[str, ...] = METHODS,
    reduce_to: int | None = None,
    seed: int = 0,
) -> LatentMap:
    """Fit 2-D layouts of ``codes`` (N, D); ``reduce_to`` first projects them with PCA.

    Wide codes (flows, D > 256) are rounded to float16 first, as :func:`save_map` stores them.
    """
    from sklearn.decomposition import PCA

    n = len(codes)
    codes = codes.astype(np.float16 if codes.shape[1] > 256 else np.float32).astype(np.float32)
    mean = components = None
    search = codes
    if reduce_to is not None and reduce_to < codes.shape[1]:
        pca = PCA(n_components=reduce_to, random_state=seed).fit(codes)
        mean, components = pca.mean_.astype(np.float32), pca.components_.astype(np.float32)
        search = ((codes - mean) @ components.T).astype(np.float32)
    xy = {}
    for method in methods:
        if method == "pca":
            xy["pca"] = PCA(n_components=2, random_state=seed).fit_transform(search)
        elif method == "umap":
            import umap  # slow to import and to fit: only ever here, at build time

            reducer = umap.UMAP(n_neighbors=15, min_dist=0.1, random_state=seed, n_jobs=1)
            xy["umap"] = reducer.fit_transform(search)
        else:
            raise EngineError(f"unknown map method {method!r} (use {', '.join(METHODS)})")
        xy[method] = xy[method].astype(np.float32)
    return LatentMap(
        codes=codes.astype(np.float32),
        search=np.ascontiguousarray(search, dtype=np.float32),
        xy=xy,
        labels=np.full(n, -1, np.int64) if labels is None else np.asarray(labels, np.int64),
        index=np.full(n, -1, np.int64) if index is None else np.asarray(index, np.int64),
        source=source,
        latent_shape=tuple(latent_shape),
        pca_mean=mean,
        pca_components=components,
    )


def save_map(checkpoint: str | Path, latent_map: LatentMap) -> Path:
    """Write ``latent_map.npz`` beside the checkpoint (atomically: a temp file, then a rename)."""
    path = Path(checkpoint) / MAP_FILE
    codes = latent_map.codes
    arrays = {
        "codes": codes.astype(np.float16) if codes.shape[1] > 256 else codes,
        "latent_shape": np.array(latent_map.latent_shape, np.int64),
        "labels": latent_map.labels,
        "index": latent_map.index,
        "source": np.array(latent_map.source),
        **{f"xy_{m}": v for m, v in latent_map.xy.items()},
    }
    if latent_map.pca_components is not None:
        arrays.update(pca_mean=latent_map.pca_mean, pca_components=latent_map.pca_components)
    tmp = path.with_name(f".{MAP_FILE}.tmp")
    with open(tmp, "wb") as f:
        np.savez_compressed(f, **arrays)
    tmp.chmod(0o644)
    tmp.replace(path)
    return path


def load_map(checkpoint: str | Path) -> LatentMap | None:
    """The stored map of a checkpoint (no umap import), or ``None`` if it has none."""
    path = Path(checkpoint) / MAP_FILE
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as f:
            a = {k: f[k] for k in f.files}
        codes = a["codes"].astype(np.float32)
        lm = LatentMap(
            codes=codes,
            search=codes,
            xy={m: a[f"xy_{m}"] for m in METHODS if f"xy_{m}" in a},
            labels=a["labels"],
            index=a["index"],
            source=str(a["source"]),
            latent_shape=tuple(int(v) for v in a["latent_shape"]),
            pca_mean=a.get("pca_mean"),
            pca_components=a.get("pca_components"),
        )
    except (OSError, ValueError, KeyError) as e:
        raise CheckpointError(f"{path}: not a valid latent map ({e})") from e
    if lm.pca_components is not None:
        lm.search = np.ascontiguousarray(lm.to_search(lm.codes), dtype=np.float32)
    if not lm.xy or any(v.shape != (len(lm.codes), 2) for v in lm.xy.values()):
        raise CheckpointError(f"{path}: positions do not match the {len(lm.codes)} codes")
    return lm


@torch.no_grad()
def build_model_map(
    model,
    dataset: str,
    *,
    classifier=None,
    n_samples: int = 4500,
    methods: tuple[str, ...] = METHODS,
    seed: int = 0,
    limit: int | None = None,
) -> LatentMap:
    """The map of a model: its encoded training images, or (no encoder) labelled samples.

    Args:
        dataset: the dataset the model was trained on (its ``train`` split is mapped).
        classifier: labels a GAN's samples (required for models without ``encode``).
        n_samples: how many codes to sample for a model without ``encode``.
        limit: map only the first ``limit`` training images (tests, quick looks).
    """
    c, h, _ = model.image_shape
    if model.has("encode"):
        from engine.data import load_dataset

        data = load_dataset(dataset, "train", image_size=h, channels=c)
        x = data.float()[:limit]
        codes = map_codes(model, x)
        labels = None if data.labels is None else data.labels[:limit].numpy()
        index = np.arange(len(x)) if data.index is None else data.index[:limit].numpy()
        source = f"encoded {dataset} train"
    else:
        if classifier is None:
            raise EngineError("a map of a model without an encoder needs a classifier for labels")
        z = model.sample_latent(n_samples, generator=torch.Generator().manual_seed(seed))
        codes = z.flatten(1).cpu().numpy()
        images = torch.cat([model.decode(b) for b in z.split(500)])
        labels = classifier.predict_proba(images.to(classifier.device)).argmax(1).cpu().numpy()
        index = None
        source = f"{n_samples} prior samples labelled by the classifier"
    wide = codes.shape[1] > 4 * FLOW_PCA_DIMS
    return build_map(
        codes,
        latent_shape=model.latent_shape,
        labels=labels,
        index=index,
        source=source,
        methods=methods,
        reduce_to=FLOW_PCA_DIMS if wide else None,
        seed=seed,
    )


def build_checkpoint_map(checkpoint: str | Path, *, methods: tuple[str, ...] = METHODS) -> Path:
    """Build and store the map of a checkpoint folder (its card names the dataset; a model
    without an encoder is labelled by the ``<dataset>-classifier`` checkpoint beside it)."""
    from engine.checkpoint import load, read_card
    from engine.evaluate import classifier_path_for

    model = load(checkpoint, device="cpu")
    dataset = read_card(checkpoint)["dataset"]
    classifier = None
    if not model.has("encode"):
        classifier = load(classifier_path_for(checkpoint, dataset), device="cpu")
    return save_map(
        checkpoint, build_model_map(model, dataset, classifier=classifier, methods=methods)
    )
