"""Everything the pages get from the engine, and every Streamlit cache, in one module.

- Models, latent maps, directions and test images are loaded once per server process with
  ``st.cache_resource`` and shared read-only by every session.
- Results (sample grids, walks, inpaintings, ...) go through :func:`run` into one of two bounded
  :class:`engine.ResultCache`: results of public inputs (seeds, test digits, built-in directions,
  map points) into one all sessions share, results of a user's own image, drawing or saved
  direction into the session's own (``st.session_state``), never shown to another student.
- Pages get numpy arrays, PIL images and plain numbers; they never import torch.
"""

from __future__ import annotations

import base64
import contextlib
import ctypes
import json
import os
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import streamlit as st
import torch
from PIL import Image

import engine
from app import workers
from engine.errors import EngineError
from engine.images import gif_bytes, gif_from_pils, make_grid, png_bytes, to_pil
from engine.ops.anomaly import UNITS as ANOMALY_UNITS
from engine.ops.inpaint import method_defaults, method_for

ROOT = Path(__file__).resolve().parent.parent
PRETRAINED = ROOT / "pretrained"
EXTRA_ROOTS_ENV = "LATENT_ATLAS_CHECKPOINTS"  # more checkpoint folders, os.pathsep-separated
SESSION_CACHE_ENTRIES = 48
SESSION_CACHE_BYTES = 24 * 2**20
SHARED_CACHE_ENTRIES = 512
SHARED_CACHE_BYTES = 256 * 2**20
MAX_SAVED_DIRECTIONS = 32
DISPLAY_PX = 196  # shown size of one 28x28 image (pixelated upscaling)

torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
TRIM_EVERY_S = 30.0
RUN_LOG_ENV = "LATENT_ATLAS_RUN_LOG"  # a file: one JSON line per script run (load tests)
_run_log_lock = threading.Lock()


def log_run(page: str, seconds: float) -> None:
    """Append ``{"t", "page", "s", "shared_mb"}`` for one finished script run to the file named
    by ``$LATENT_ATLAS_RUN_LOG``; nothing when it is unset. The load test reads it to time the
    server's side of each interaction apart from the browsers', and to tell how much of the
    server's memory the shared result cache holds (``shared_mb``)."""
    path = os.environ.get(RUN_LOG_ENV)
    if not path:
        return
    shared_mb = round(_shared_cache().bytes / 2**20, 1)
    row = {"t": round(time.time(), 3), "page": page, "s": round(seconds, 4), "shared_mb": shared_mb}
    line = json.dumps(row)
    with _run_log_lock, open(path, "a") as f:
        f.write(line + "\n")


_page_running = threading.local()  # each session's runs happen on its script thread


@contextlib.contextmanager
def timed_run(label: str, *, whole_page: bool):
    """Log one script run as ``label`` when it ends, also by an exception (a stop, a rerun).
    A fragment's run (``whole_page=False``) is logged only when the fragment reruns on its own;
    inside its page's run it is part of that run's time."""
    if not whole_page and getattr(_page_running, "on", False):
        yield
        return
    _page_running.on = whole_page
    started = time.perf_counter()
    try:
        yield
    finally:
        _page_running.on = False
        log_run(label, time.perf_counter() - started)


@st.cache_resource(show_spinner=False)
def memory_trimmer() -> threading.Thread | None:
    """Hand freed memory back to the system every :data:`TRIM_EVERY_S` seconds.

    Each session's script runs on its own thread and glibc gives threads their own malloc
    arenas, which keep what a finished session freed; ``malloc_trim`` releases the free pages
    of every arena (a few milliseconds). Nothing to do where the C library is not glibc.
    """
    try:
        trim = ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None

    def loop() -> None:
        while True:
            time.sleep(TRIM_EVERY_S)
            trim(0)

    thread = threading.Thread(target=loop, name="malloc-trim", daemon=True)
    thread.start()
    return thread


# ---------------------------------------------------------------- checkpoints and models


@dataclass(frozen=True)
class Entry:
    """One checkpoint folder found on disk: its card, or the error that keeps it from loading."""

    name: str
    path: str
    kind: str | None
    dataset: str | None
    card: dict = field(default_factory=dict, hash=False, compare=False)
    error: str | None = None

    @property
    def generative(self) -> bool:
        return self.error is None and self.kind in engine.GENERATIVE_KINDS

    @property
    def inpaints(self) -> bool:
        return self.error is None and self.kind in (
            *engine.GENERATIVE_KINDS,
            *engine.CONDITIONAL_KINDS,
        )


def checkpoint_roots() -> list[Path]:
    extra = [Path(p) for p in os.environ.get(EXTRA_ROOTS_ENV, "").split(os.pathsep) if p]
    return [PRETRAINED, *extra]


@st.cache_resource(show_spinner=False)
def _load(path: str):
    return engine.load(path, device="cpu").eval()


@st.cache_resource(ttl=60, show_spinner=False)
def catalog() -> tuple[Entry, ...]:
    """Every checkpoint folder under the roots; a broken one is listed with its error. Looked at
    again after a minute; shared as it is, not copied per call: a page asks for it many times a
    run. Entries are frozen and their cards only read."""
    entries, seen = [], set()
    for root in checkpoint_roots():
        if not root.is_dir():
            continue
        for folder in sorted(p for p in root.iterdir() if (p / "config.json").is_file()):
            name = folder.name if folder.name not in seen else f"{folder.name} ({root.name})"
            seen.add(name)
            if not folder.resolve().is_relative_to(root.resolve()):
                error = f"{folder}: points outside the checkpoint folder {root}; not loaded"
                entries.append(Entry(name, str(folder), None, None, error=error))
                continue
            try:
                model = _load(str(folder))
                card = engine.read_card(folder)
                entries.append(Entry(name, str(folder), model.kind, card.get("dataset"), card))
            except EngineError as e:
                entries.append(Entry(name, str(folder), None, None, error=str(e)))
    return tuple(entries)


KIND_ORDER = {"vae": 0, "gan": 1, "flow": 2}  # the first is every page's default model


def _ordered(found: list[Entry]) -> list[Entry]:
    """MNIST first, then VAE, GAN, flow (the fastest first), then the rest."""
    return sorted(found, key=lambda e: (e.dataset != "mnist", KIND_ORDER.get(e.kind, 9), e.name))


def generative_entries(dataset: str | None = None) -> list[Entry]:
    """Loaded generative checkpoints (GAN, VAE, flow)."""
    return _ordered([e for e in catalog() if e.generative and dataset in (None, e.dataset)])


def inpainting_entries() -> list[Entry]:
    """Loaded checkpoints that can fill in a hidden part: the generative ones, then those built
    for inpainting only (VAEAC)."""
    return _ordered([e for e in catalog() if e.inpaints])


def entry(name: str) -> Entry:
    for e in catalog():
        if e.name == name:
            return e
    raise EngineError(f"no checkpoint named {name!r}")


def model(name: str):
    return _load(entry(name).path)


def model_facts(name: str) -> dict:
    m = model(name)
    return {
        "kind": m.kind,
        "image_shape": tuple(m.image_shape),
        "latent_shape": tuple(m.latent_shape),
        "capabilities": sorted(m.capabilities),
    }


# ---------------------------------------------------------------- results: shared or per session


@st.cache_resource(show_spinner=False)
def _shared_cache() -> engine.ResultCache:
    """Results that depend only on public inputs (seeds, test digits, map points, built-in
    directions) and so are the same for everyone: a class on one link computes them once."""
    return engine.ResultCache(max_entries=SHARED_CACHE_ENTRIES, max_bytes=SHARED_CACHE_BYTES)


def _session_cache() -> engine.ResultCache:
    if "_results" not in st.session_state:
        st.session_state["_results"] = engine.ResultCache(
            max_entries=SESSION_CACHE_ENTRIES, max_bytes=SESSION_CACHE_BYTES
        )
    return st.session_state["_results"]


@dataclass
class Timed:
    value: object
    seconds: float
    cached: bool

    @property
    def caption(self) -> str:
        ms = self.seconds * 1000
        return "cached" if self.cached else (f"{ms:.0f} ms" if ms < 2000 else f"{ms / 1000:.1f} s")


def run(name: str, operation: str, params: dict, compute, *, private: bool) -> Timed:
    """``compute()`` once per (model, operation, params), timed. ``private`` results (anything
    made from a user's upload, drawing or saved direction) are kept in this session only; the
    others in a cache all sessions share."""
    cache = _session_cache() if private else _shared_cache()
    key = cache.key(entry(name).card.get("weights_sha256", name), operation, params)
    start = time.perf_counter()
    value, hit = cache.fetch(key, compute)
    return Timed(value, time.perf_counter() - start, hit)


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(int(seed))


# ---------------------------------------------------------------- images for the page


def upscale(image: Image.Image, px: int = DISPLAY_PX) -> Image.Image:
    """Nearest-neighbour upscaling so 28x28 pixels stay crisp on the page."""
    scale = max(1, px // max(image.size))
    return image.resize((image.width * scale, image.height * scale), Image.NEAREST)


def frames_to_pils(frames: torch.Tensor) -> list[Image.Image]:
    return [to_pil(f) for f in frames]


def data_uri(image: Image.Image) -> str:
    return "data:image/png;base64," + base64.b64encode(png_bytes(image)).decode()


# ---------------------------------------------------------------- sampling


@dataclass
class Grid:
    """A sample grid: the image, its PNG bytes, and (with ``px``) PNG bytes upscaled to ``px``."""

    image: Image.Image
    png: bytes
    shown: bytes | None


def sample_grid(
    name: str, *, seed: int, n: int, temperature: float, px: int | None = None
) -> Timed:
    def compute():
        with torch.no_grad():
            x = model(name).sample(n, generator=_gen(seed), temperature=temperature)
        grid = make_grid(x)
        return Grid(grid, png_bytes(grid), png_bytes(upscale(grid, px)) if px else None)

    params = {"seed": seed, "n": n, "t": temperature, "px": px}
    return run(name, "sample", params, compute, private=False)


def png(image: Image.Image) -> bytes:
    return png_bytes(image)


# ---------------------------------------------------------------- directions and walks


@st.cache_resource(show_spinner=False)
def _directions(path: str) -> dict[str, list[engine.Direction]]:
    """Built-in direction families of a model (computed once per server)."""
    m = _load(path)
    out = {"principal": engine.principal_directions(m, n=1024, k=10, generator=_gen(0))}
    out["axis"] = engine.axis_directions(m, limit=64)
    lm = engine.load_map(path)
    if lm is not None and (lm.labels >= 0).any():
        codes = torch.from_numpy(lm.codes).view(-1, *lm.latent_shape)
        classes = sorted(set(int(v) for v in lm.labels if v >= 0))
        pairs = [(a, b) for a, b in zip(classes[1:], classes[:-1], strict=True)]
        pairs += [(3, 8), (1, 7), (4, 9)] if set(classes) >= {1, 3, 4, 7, 8, 9} else []
        out["class"] = [engine.class_directions(codes, lm.labels, a, b) for a, b in pairs]
    return out


def direction_families(name: str) -> dict[str, list[str]]:
    fams = {k: [d.name for d in v] for k, v in _directions(entry(name).path).items()}
    saved = saved_directions(name)
    if saved:
        fams["saved"] = [d.name for d in saved]
    return fams


def saved_directions(name: str) -> list[engine.Direction]:
    return st.session_state.setdefault("_saved_directions", {}).get(name, [])


def find_direction(name: str, family: str, direction: str) -> engine.Direction:
    pool = saved_directions(name) if family == "saved" else _directions(entry(name).path)[family]
    return engine.find_direction(pool, direction)


def save_direction(name: str, new_name: str, vector) -> None:
    """Keep a direction in this session (export it as JSON with :func:`directions_json`)."""
    new_name = new_name.strip()
    if not new_name:
        raise EngineError("give the direction a name")
    saved = [d for d in saved_directions(name) if d.name != new_name]
    if len(saved) >= MAX_SAVED_DIRECTIONS:
        raise EngineError(f"at most {MAX_SAVED_DIRECTIONS} saved directions per model; export them")
    saved.append(engine.Direction(new_name, torch.as_tensor(vector).float().cpu(), "saved here"))
    st.session_state["_saved_directions"][name] = saved


def save_combined(name: str, new_name: str, moves: list[tuple[str, str, float]]) -> None:
    """Save the sum of several moves (family, direction, amount) as one unit direction."""
    vector = sum(a * find_direction(name, f, d).vector for f, d, a in moves)
    if not any(a for _, _, a in moves) or float(vector.norm()) == 0:
        raise EngineError("move at least one slider away from 0 first")
    save_direction(name, new_name, vector / vector.norm())


def directions_json(name: str) -> bytes:
    """The session's saved directions as the engine's direction file (built in memory)."""
    return engine.dump_directions(saved_directions(name), where=f"{name} directions")


def load_direction_file(name: str, data: bytes) -> int:
    """Add the directions of an uploaded JSON file to this session; returns how many."""
    loaded = engine.parse_directions(data, latent_shape=model(name).latent_shape)
    for d in loaded:
        save_direction(name, d.name, d.vector)
    return len(loaded)


def start_latent(name: str, seed: int, temperature: float = 1.0) -> torch.Tensor:
    return engine.latent_from_seed(model(name), seed, temperature=temperature)


def walk_strip(
    name: str, *, seed: int, family: str, direction: str, steps: int, span: float
) -> Timed:
    """Frames along one direction from a seed's latent, decoded in one batch."""

    def compute():
        d = find_direction(name, family, direction)
        with torch.no_grad():
            _, frames = engine.walk(
                model(name), start_latent(name, seed), d, steps=steps, span=span
            )
        return frames.cpu()

    params = {"seed": seed, "f": family, "d": direction, "steps": steps, "span": span}
    if family == "saved":
        params["v"] = find_direction(name, family, direction).vector
    return run(name, "walk", params, compute, private=family == "saved")


def multi_walk(name: str, *, seed: int, moves: list[tuple[str, str, float]]) -> Timed:
    """One image: the seed's latent moved along several directions by the given amounts."""

    def compute():
        z = start_latent(name, seed).clone()
        for family, direction, amount in moves:
            z = z + amount * find_direction(name, family, direction).vector.to(z)
        with torch.no_grad():
            return model(name).decode(z.unsqueeze(0)).cpu(), z

    saved = [find_direction(name, f, d).vector for f, d, _ in moves if f == "saved"]
    params = {"seed": seed, "moves": moves, "saved": saved}
    return run(name, "multi-walk", params, compute, private=bool(saved))


# ---------------------------------------------------------------- interpolation


def interpolation(name: str, *, ends: tuple, steps: int, method: str, extrapolate: float) -> Timed:
    """``ends``: two (how, value) pairs: ("seed", int), ("test", index) or ("upload", bytes)."""

    def compute():
        m = model(name)
        z = [_latent_for(name, how, value) for how, value in ends]
        with torch.no_grad():
            _, frames = engine.interpolate(
                m, z[0], z[1], steps=steps, method=method, extrapolate=extrapolate
            )
        return frames.cpu()

    params = {"ends": ends, "steps": steps, "method": method, "x": extrapolate}
    private = any(how not in ("seed", "test") for how, _ in ends)
    return run(name, "interpolate", params, compute, private=private)


def _latent_for(name: str, how: str, value) -> torch.Tensor:
    m = model(name)
    if how == "seed":
        return engine.latent_from_seed(m, int(value))
    if how == "point":
        return torch.as_tensor(value, dtype=torch.float32).view(*m.latent_shape)
    x = test_image(name, int(value)) if how == "test" else preprocess(name, value).x
    if m.has("encode"):
        return engine.latent_from_image(m, x)
    rec = reconstruct(name, x, seed=0, private=how == "upload").value
    return rec.z[0]


# ---------------------------------------------------------------- user images


@st.cache_resource(show_spinner=False)
def _test_split(dataset: str, channels: int, size: int):
    data = engine.load_dataset(dataset, "test", image_size=size, channels=channels)
    return data.float(), data.labels


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


def image_from_canvas(rgba: np.ndarray | None) -> Image.Image | None:
    """A drawing from the canvas (H, W, 4) as an RGB image on white, or None when blank."""
    if rgba is None or rgba[..., 3].max() == 0:
        return None
    img = Image.fromarray(rgba.astype(np.uint8), "RGBA")
    back = Image.new("RGB", img.size, "white")
    back.paste(img, mask=img.split()[3])
    return back


def pixels(x: torch.Tensor) -> Image.Image:
    return to_pil(x)


def reconstruct(name: str, x: torch.Tensor, *, seed: int = 0, private: bool = True) -> Timed:
    m = model(name)

    def compute():  # a GAN's is an inversion: long work
        return workers.call(lambda _: engine.reconstruct(m, x, generator=_gen(seed)))

    return run(name, "reconstruct", {"x": x, "seed": seed}, compute, private=private)


# offered by every uploader
UPLOAD_TYPES = ["png", "jpg", "jpeg", "gif", "bmp", "webp", "tif", "tiff"]
MASK_PRESETS = (*engine.MASK_PRESETS, "drawn")  # "drawn": painted on the canvas
mask_preset = engine.mask_preset  # the pages reach the engine through this module


def known_from_drawing(rgba: np.ndarray | None, shape: tuple[int, int, int]) -> torch.Tensor:
    """A mask drawn on the canvas (painted = missing) at the model's size."""
    _, h, w = shape
    if rgba is None or rgba[..., 3].max() == 0:
        raise EngineError("paint over the part of the image to hide first")
    alpha = Image.fromarray(rgba[..., 3].astype(np.uint8)).resize((w, h), Image.BILINEAR)
    return torch.from_numpy(np.asarray(alpha) < 64).view(1, 1, h, w)


def masked_view(x: torch.Tensor, known: torch.Tensor) -> Image.Image:
    """The input as the model gets it: hidden pixels shown in mid grey."""
    shown = torch.where(known.expand_as(x), x, torch.full_like(x, 0.5))
    return to_pil(shown)


@dataclass
class InpaintResult:
    completions: list[Image.Image]
    mean: Image.Image
    spread: np.ndarray  # (H, W) float per-pixel std over completions
    method: str
    psnr: float | None  # over the hidden pixels, when the truth is known
    frames: list[Image.Image]


def inpaint(
    name: str,
    x: torch.Tensor,
    known: torch.Tensor,
    *,
    samples: int,
    seed: int,
    truth: bool,
    callback=None,
    private: bool = True,
) -> Timed:
    m = model(name)

    def compute():
        res = workers.call(
            lambda step: engine.inpaint(
                m, x, known, samples=samples, generator=_gen(seed), callback=step
            ),
            callback,
        )
        hidden = ~known.expand_as(x)
        psnr = None
        if truth and hidden.any():
            mse = ((res.mean.cpu() - x)[hidden] ** 2).mean().clamp_min(1e-10)
            psnr = float(10 * torch.log10(1 / mse))
        return InpaintResult(
            completions=[to_pil(c) for c in res.completions[0]],
            mean=to_pil(res.mean[0]),
            spread=res.spread[0].mean(0).cpu().numpy(),
            method=res.method,
            psnr=psnr,
            frames=[to_pil(f[0]) for f in res.frames],
        )

    params = {"x": x, "k": known, "n": samples, "seed": seed, "truth": truth}
    return run(name, "inpaint", params, compute, private=private)


def inpaint_method(name: str) -> str:
    return method_for(model(name))


def inpaint_steps(name: str) -> int:
    m = model(name)
    return int(method_defaults(m, method_for(m)).get("steps", 1))


def anomaly(name: str, x: torch.Tensor, *, private: bool = True) -> Timed:
    """(score, unit, percentile among test images or None)."""

    def compute():
        m = model(name)
        ref = engine.load_reference(entry(name).path)
        score = engine.anomaly_score(m, x, generator=_gen(0))
        pct = None if ref is None else float(ref.percentile(score)[0])
        unit = ref.unit if ref is not None else ANOMALY_UNITS[m.kind]
        return float(score[0]), unit, pct

    return run(name, "anomaly", {"x": x}, compute, private=private)


def spread_image(spread: np.ndarray) -> Image.Image:
    """Per-pixel spread as a heat image (black = certain, yellow = uncertain)."""
    s = spread / max(float(spread.max()), 1e-6)
    rgb = np.stack([s, s**0.5 * 0.9, np.zeros_like(s)], -1)
    return Image.fromarray((rgb * 255).astype(np.uint8))


# ---------------------------------------------------------------- latent maps


@st.cache_resource(show_spinner=False)
def _map(path: str):
    return engine.load_map(path)


def latent_map(name: str):
    return _map(entry(name).path)


@st.cache_resource(show_spinner=False)
def _train_split(dataset: str, channels: int, size: int) -> tuple[torch.Tensor, dict[int, int]]:
    """The training images, and the row of each by its position in the source (what a map's
    ``index`` holds: the split leaves out the validation and test images, so the two differ)."""
    data = engine.load_dataset(dataset, "train", image_size=size, channels=channels)
    positions = range(len(data.x)) if data.index is None else data.index.tolist()
    return data.float(), {int(p): row for row, p in enumerate(positions)}


def map_image(name: str, index: int) -> Image.Image:
    """The training image behind one map point (or the decoded code of a sampled point)."""
    lm = latent_map(name)
    position = int(lm.index[index])
    if position >= 0:
        c, h, _ = model(name).image_shape
        images, row_of = _train_split(entry(name).dataset, c, h)
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
        codes = m.sample_latent(16, generator=_gen(0))
        return "16 samples (seed 0)", place(name, codes, method)
    if what == "path between two test digits":
        a = _latent_for(name, "test", test_digit_index(name, 3))
        b = _latent_for(name, "test", test_digit_index(name, 8))
        t = torch.linspace(0, 1, 12)
        codes = torch.stack([(1 - v) * a + v * b for v in t])
        return "path 3 -> 8", place(name, codes, method)
    if what == "an upload":
        if upload is None:
            return "your image", None
        return "your image", place(name, _latent_for(name, "upload", upload).unsqueeze(0), method)
    raise EngineError(f"unknown overlay {what!r}")


def thumbnail_uri(name: str, index: int) -> str:
    return data_uri(map_image(name, index))


# ---------------------------------------------------------------- training grids


@st.cache_resource(show_spinner=False)
def _grids(path: str) -> list[tuple[int, Image.Image]]:
    out = []
    for f in sorted((Path(path) / "samples").glob("epoch-*.png")):
        try:
            with Image.open(f) as im:
                out.append((int(f.stem.split("-")[1]), im.convert("RGB")))
        except (OSError, ValueError):
            continue  # a damaged grid is left out, the others still show
    return out


def training_grids(name: str) -> list[tuple[int, Image.Image]]:
    return _grids(entry(name).path)


def grids_gif(name: str) -> bytes:
    return gif_from_pils([im for _, im in training_grids(name)], duration_ms=300)


# ---------------------------------------------------------------- evaluation report

REPORT = ROOT / "reports" / "latest" / "report.md"
_IMAGE_LINE = re.compile(r"^!\[([^\]]*)\]\(([^)\s]+)\)\s*$")


@st.cache_data(ttl=300, show_spinner=False)
def report_parts() -> list[tuple[str, object, str]] | None:
    """The shipped report as ("markdown", text, "") and ("image", path, caption) parts, or None.

    Images are only taken from the report's own folder.
    """
    if not REPORT.is_file():
        return None
    parts: list[tuple[str, object, str]] = []
    text: list[str] = []
    for line in REPORT.read_text(encoding="utf-8").splitlines():
        m = _IMAGE_LINE.match(line)
        path = (REPORT.parent / m.group(2)).resolve() if m else None
        if m and path.is_file() and path.parent == REPORT.parent.resolve():
            parts.append(("markdown", "\n".join(text), ""))
            parts.append(("image", str(path), m.group(1)))
            text = []
        else:
            text.append(line)
    parts.append(("markdown", "\n".join(text), ""))
    return [p for p in parts if p[1]]


# ---------------------------------------------------------------- exports


def gif(frames: torch.Tensor, *, duration_ms: int = 80) -> bytes:
    return gif_bytes(frames, duration_ms=duration_ms)


def strip(frames: torch.Tensor) -> Image.Image:
    return make_grid(frames, nrow=len(frames))


def row_pils(images: list[Image.Image], pad: int = 2) -> Image.Image:
    """Images of one size side by side."""
    w, h = images[0].size
    row = Image.new(images[0].mode, (len(images) * (w + pad) + pad, h + 2 * pad))
    for i, im in enumerate(images):
        row.paste(im, (pad + i * (w + pad), pad))
    return row
