"""One helper per operation a page runs: each computes through the engine, once, via
:func:`app.resources.results.run`, and returns images, arrays or plain numbers."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

import engine
from app import workers
from app.resources.checkpoints import entry, model
from app.resources.directions import find_direction
from app.resources.images import upscale
from app.resources.inputs import preprocess, test_image
from app.resources.results import Timed, gen, run
from engine.images import make_grid, png_bytes, to_pil
from engine.ops.inpaint import method_defaults, method_for

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
    """``n`` samples in a grid; through ``model.sample``, so a model without a latent (no
    ``decode``) draws its own way. An iterative sampler's (``trajectory``) grid is the last step
    of :func:`chain_strip` for the same seed (the same images: its sample is its chain's end), so
    a page that shows both computes the chain once."""

    def compute():
        m = model(name)
        if m.has("trajectory"):  # an iterative sampler: seconds, in a worker process
            grid = chain_strip(name, seed=seed, n=n, temperature=temperature).value.states[-1]
        else:
            with torch.no_grad():
                grid = make_grid(m.sample(n, generator=gen(seed), temperature=temperature))
        return Grid(grid, png_bytes(grid), png_bytes(upscale(grid, px)) if px else None)

    params = {"seed": seed, "n": n, "t": temperature, "px": px}
    return run(name, "sample", params, compute, private=False)


@dataclass
class ChainStrip:
    """A sampling chain as grids, one per kept step: ``states`` (the chain's state: diffusion's
    x_t, a Gibbs or Langevin state, the rows drawn so far), ``guesses`` (the model's guess of the
    end, diffusion's predicted x_0; None for chains without one) and each step's label."""

    states: list[Image.Image]
    guesses: list[Image.Image] | None
    labels: list[str]


CHAIN_FRAMES = 40  # at most this many steps go to the browser, evenly spread, the last always


def chain_strip(
    name: str,
    *,
    seed: int,
    n: int,
    temperature: float = 1.0,
    callback=None,
    start_index: int | None = None,
) -> Timed:
    """The chain that draws the ``n`` samples of ``sample_grid`` for the same seed (a
    ``trajectory`` kind; in a worker process). ``callback(step)`` sees each ChainStep.
    ``start_index``: ``n`` chains instead start from that test image (a ``trajectory_start``
    model), each with its own noise."""
    options = {"temperature": temperature}
    if start_index is not None:
        options["start"] = test_image(name, start_index).repeat(n, 1, 1, 1)
    request = workers.Request("chain", entry(name).path, (n,), options, seed)

    def compute():
        chain = workers.call(request, callback)
        total = len(chain.labels)
        keep = sorted({round(i * (total - 1) / (CHAIN_FRAMES - 1)) for i in range(CHAIN_FRAMES)})
        keep = keep if total > CHAIN_FRAMES else list(range(total))
        guesses = chain.guesses
        return ChainStrip(
            states=[make_grid(chain.frames[i]) for i in keep],
            guesses=None if guesses is None else [make_grid(guesses[i]) for i in keep],
            labels=[chain.labels[i] for i in keep],
        )

    params = {"seed": seed, "n": n, "t": temperature, "start": start_index}
    return run(name, "chain", params, compute, private=False)


# ---------------------------------------------------------------- walks


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
        z = [latent_for(name, how, value) for how, value in ends]
        with torch.no_grad():
            _, frames = engine.interpolate(
                m, z[0], z[1], steps=steps, method=method, extrapolate=extrapolate
            )
        return frames.cpu()

    params = {"ends": ends, "steps": steps, "method": method, "x": extrapolate}
    private = any(how not in ("seed", "test") for how, _ in ends)
    return run(name, "interpolate", params, compute, private=private)


def latent_for(name: str, how: str, value) -> torch.Tensor:
    """The latent of a seed, a map point, a test image or an upload (encoded or inverted)."""
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


# ---------------------------------------------------------------- reconstruct, inpaint, score


def reconstruct(name: str, x: torch.Tensor, *, seed: int = 0, private: bool = True) -> Timed:
    def compute():  # without an encoder it is an inversion: long work, in a worker process
        return workers.call(workers.Request("reconstruct", entry(name).path, (x,), seed=seed))

    return run(name, "reconstruct", {"x": x, "seed": seed}, compute, private=private)


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
    request = workers.Request("inpaint", entry(name).path, (x, known), {"samples": samples}, seed)

    def compute():  # in a worker process
        res = workers.call(request, callback)
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
    """The method's name, with the model's own description of how it completes, if it has one
    (``complete_description``: a PixelCNN says its raster order is exact only for some masks)."""
    m = model(name)
    method = method_for(m)
    about = getattr(m, "complete_description", "") if method == "conditional" else ""
    return f"{method} ({about})" if about else method


def inpaint_steps(name: str) -> int:
    m = model(name)
    return int(method_defaults(m, method_for(m)).get("steps", 1))


def anomaly_unit(m) -> str:
    """The unit of :func:`engine.anomaly_score`, by the capability it scores with."""
    from engine.ops.anomaly import score_unit

    return score_unit(m) or "inversion MSE"


def anomaly(name: str, x: torch.Tensor, *, private: bool = True) -> Timed:
    """(score, unit, percentile among test images or None)."""

    def compute():
        m = model(name)
        ref = engine.load_reference(entry(name).path)
        score = engine.anomaly_score(m, x, generator=gen(0))
        pct = None if ref is None else float(ref.percentile(score)[0])
        unit = ref.unit if ref is not None else anomaly_unit(m)
        return float(score[0]), unit, pct

    return run(name, "anomaly", {"x": x}, compute, private=private)
