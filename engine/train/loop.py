"""The training loop shared by every model kind.

Data lives in memory; each epoch is a seeded permutation, cut into global batches that are split
across ranks when run under ``torchrun`` (DistributedDataParallel, gloo on CPU, NCCL on CUDA).
An EMA copy of the weights is validated and shipped; the best one by validation loss is kept and
training stops early once it has not improved for ``patience`` epochs. Checkpoints are written
atomically (complete folder or nothing) whenever there is something better to save, so an
interrupted run leaves its last complete checkpoint and never a half-written one.

Every few minutes, at the end of an epoch, the whole training state (weights, EMA, optimisers,
generators, history, best-so-far; :mod:`engine.train.state`) is saved beside the output folder;
``resume=True`` continues from it exactly (on one process) when it is there, and starts fresh when
it is not. ``max_minutes`` limits each invocation; the card's wall time adds them up.

``init_from`` continues from a shipped checkpoint folder instead, for when the training state is
gone (it is never committed): the weights (and so the EMA) start from the folder's, and its card's
steps, epochs, wall time, history and sample grids carry on; the optimiser starts fresh, which the
objectives' learning-rate warm-up absorbs. The card records where it started.
"""

from __future__ import annotations

import copy
import os
import platform
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import torch
import torch.distributed as dist
from tqdm import tqdm

from engine.base import IMAGE_SIZES
from engine.checkpoint import save_checkpoint
from engine.data import convert, load_dataset
from engine.device import pick_device
from engine.errors import EngineError
from engine.images import make_grid, png_bytes
from engine.models import build_model
from engine.train.objectives import OBJECTIVES
from engine.train.state import (
    load_objective_state,
    load_state,
    objective_state,
    save_state,
    state_path,
)

DEFAULTS = {  # kind -> (learning rate, batch size, patience in epochs, EMA decay)
    "vae": (1e-3, 128, 30, 0.999),
    "flow": (1e-3, 64, 20, 0.999),
    "gan": (1e-4, 64, None, 0.999),
    "classifier": (1e-3, 128, 10, None),
    "vaeac": (1e-3, 64, 15, 0.999),
    "diffusion": (1e-3, 64, None, 0.995),  # a short CPU run: an EMA of the last ~200 steps
    "ebm": (1e-4, 64, 30, None),  # no EMA: samples are drawn from the weights being trained
    "rbm": (0.01, 100, 20, None),  # no EMA: the persistent chains follow the weights trained
    "pixelcnn": (2e-3, 32, 6, 0.998),
}
SAVE_INTERVAL_S = 120.0
STATE_INTERVAL_S = 180.0  # training state for --resume, saved at the end of an epoch


@dataclass
class TrainSettings:
    kind: str
    dataset: str
    out: Path
    epochs: int = 50
    batch_size: int | None = None
    lr: float | None = None
    seed: int = 0
    device: str | None = None
    image_size: int | None = None
    channels: int | None = None
    config: dict = field(default_factory=dict)
    patience: int | None = None
    ema: float | None = None
    grids: int = 20
    max_minutes: float | None = None
    command: str = ""
    resume: bool = False
    init_from: Path | None = None


def _setup_distributed(device: torch.device) -> tuple[int, int, torch.device]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return 0, 1, device
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    return dist.get_rank(), dist.get_world_size(), device


def _versions() -> dict:
    import numpy
    import safetensors

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "safetensors": safetensors.__version__,
    }


class EMA:
    """Exponential moving average of a model's weights (buffers are copied)."""

    def __init__(self, model: torch.nn.Module, decay: float) -> None:
        self.model, self.decay, self.updates = copy.deepcopy(model), decay, 0

    @torch.no_grad()
    def update(self, model: torch.nn.Module) -> None:
        self.updates += 1
        d = min(self.decay, (1 + self.updates) / (10 + self.updates))
        for p_ema, p in zip(self.model.parameters(), model.parameters(), strict=True):
            p_ema.lerp_(p, 1 - d)
        for b_ema, b in zip(self.model.buffers(), model.buffers(), strict=True):
            b_ema.copy_(b)


def _init_weights(model: torch.nn.Module, folder: Path, kind: str) -> dict:
    """Load the weights of checkpoint ``folder`` into ``model``; return what its card says of the
    training so far (steps, epochs, wall time, history, sample grids) so the run carries on."""
    from engine.checkpoint import load, read_card

    shipped = load(folder, device="cpu")
    if shipped.kind != kind or shipped.config != model.config:
        raise EngineError(
            f"{folder}: a {shipped.kind} with another config; --init-from needs the same kind and"
            " --config as this run"
        )
    model.load_state_dict(shipped.state_dict())
    card = read_card(folder)
    grids = {
        f"samples/{p.name}": p.read_bytes() for p in sorted(Path(folder, "samples").glob("*.png"))
    }
    return {
        "checkpoint": Path(folder).name,
        "sha256": shipped.weights_sha256,
        "steps": int(card.get("steps", 0)),
        "epochs": int(card.get("epochs", 0)),
        "wall_time_s": float(card.get("wall_time_s", 0.0)),
        "history": list(card.get("history", [])),
        "grids": grids,
    }


def train(s: TrainSettings) -> Path:
    """Train a model as ``s`` describes and write its checkpoint folder to ``s.out``."""
    if s.kind not in OBJECTIVES:
        raise EngineError(f"unknown kind {s.kind!r} (use {', '.join(OBJECTIVES)})")
    lr, batch, patience, ema_decay = DEFAULTS[s.kind]
    lr, batch = s.lr or lr, s.batch_size or batch
    patience = s.patience if s.patience is not None else patience
    ema_decay = s.ema if s.ema is not None else ema_decay
    if s.epochs < 1 or batch < 1:
        raise EngineError("epochs and batch size must be at least 1")
    rank, world, device = _setup_distributed(pick_device(s.device))
    if batch % world:
        raise EngineError(f"batch size {batch} is not divisible by {world} processes")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(s.seed)  # weight init and dropout; everything else uses generators
        try:
            return _run(s, lr, batch, patience, ema_decay, rank, world, device)
        finally:
            if world > 1:
                dist.destroy_process_group()


def _run(s, lr, batch, patience, ema_decay, rank, world, device) -> Path:
    size = s.image_size
    train_data = load_dataset(s.dataset, "train", image_size=size, channels=s.channels)
    if size is None and train_data.image_shape[-1] not in IMAGE_SIZES:
        size = 28  # e.g. the 8x8 digits: upsampled to the smallest size the models are built for
        train_data = convert(train_data, image_size=size, channels=None)
    val_data = load_dataset(s.dataset, "val", image_size=size, channels=s.channels)
    val_data = convert(val_data, image_size=train_data.image_shape[-1], channels=None)
    n = len(train_data)
    if n < batch:
        raise EngineError(f"{s.dataset} has {n} training images, fewer than one batch of {batch}")
    c, h, _ = train_data.image_shape
    x, x_val = train_data.float().to(device), val_data.float().to(device)
    zeros = torch.zeros(n, dtype=torch.long)
    y = (train_data.labels if train_data.labels is not None else zeros).to(device)
    y_val = val_data.labels if val_data.labels is not None else torch.zeros(len(val_data)).long()
    y_val = y_val.to(device)

    model = build_model(s.kind, {"channels": c, "image_size": h, **s.config}).to(device)
    prior = _init_weights(model, s.init_from, s.kind) if s.init_from else None
    wrap = (lambda m: torch.nn.parallel.DistributedDataParallel(m)) if world > 1 else (lambda m: m)
    objective = OBJECTIVES[s.kind](model, lr=lr, wrap=wrap)
    steps_per_epoch, per_rank = n // batch, batch // world
    first = torch.randperm(n, generator=torch.Generator().manual_seed(s.seed))[:per_rank]
    if hasattr(objective, "initialize"):
        objective.initialize(x[first])
    ema = EMA(model, ema_decay) if ema_decay else None
    generative = "decode" in getattr(model, "capabilities", ())  # not the classifier, a VAEAC
    fixed_z = (
        model.sample_latent(64, generator=torch.Generator().manual_seed(s.seed + 1))
        if generative
        else None
    )
    grid_epochs = {max(1, round(i * s.epochs / s.grids)) for i in range(1, s.grids + 1)}
    step_gen = torch.Generator().manual_seed(s.seed * 7919 + rank + 1)

    grids, history = {}, []
    best = {"loss": float("inf"), "epoch": 0, "state": None, "val": None}
    start = last_save = last_state = time.time()
    status, step, done, before_s = "finished", 0, 0, 0.0
    where = state_path(s.out)
    settings = {
        "kind": s.kind,
        "dataset": s.dataset,
        "batch_size": batch,
        "lr": lr,
        "seed": s.seed,
        "image_shape": [c, h, h],
        "config": s.config,
        "ema_decay": ema_decay,
        "world_size": world,
    }
    saved = load_state(where) if s.resume else None
    if saved is not None:
        changed = sorted(k for k, v in settings.items() if saved["settings"].get(k) != v)
        if changed:
            raise EngineError(
                f"{where}: saved with different {', '.join(changed)}; resume with the same"
                " settings or delete it to start over"
            )
        model.load_state_dict(saved["model"])
        if ema:
            ema.model.load_state_dict(saved["ema"])
            ema.updates = saved["ema_updates"]
        load_objective_state(objective, saved["objective"])
        if rank == 0:
            step_gen.set_state(saved["step_gen"])
        else:  # each rank's stream is not saved: a fresh one per resumed epoch
            step_gen.manual_seed(s.seed * 7919 + rank + 1 + 1_000_003 * saved["epoch"])
        torch.set_rng_state(saved["torch_rng"])
        grids, history, best = saved["grids"], saved["history"], saved["best"]
        step, done, before_s = saved["step"], saved["epoch"], saved["wall_time_s"]
    elif prior is not None:
        grids, history = prior["grids"], prior["history"]
        step, done, before_s = prior["steps"], prior["epochs"], prior["wall_time_s"]

    def save_training_state(epoch: int) -> None:
        save_state(
            where,
            {
                "settings": settings,
                "epoch": epoch,
                "step": step,
                "wall_time_s": before_s + time.time() - start,
                "model": model.state_dict(),
                "ema": ema.model.state_dict() if ema else None,
                "ema_updates": ema.updates if ema else 0,
                "objective": objective_state(objective, model),
                "step_gen": step_gen.get_state(),
                "torch_rng": torch.get_rng_state(),
                "grids": grids,
                "history": history,
                "best": best,
            },
        )

    bar = tqdm(
        total=s.epochs * steps_per_epoch,
        initial=min(step, s.epochs * steps_per_epoch),
        disable=rank != 0,
        mininterval=2.0,
        dynamic_ncols=True,
    )

    def snapshot(state) -> torch.nn.Module:
        shipped = copy.deepcopy(ema.model if ema else model)
        shipped.load_state_dict(state)
        if hasattr(objective, "finalize"):
            objective.finalize(shipped, torch.Generator().manual_seed(s.seed + 2))
        return shipped.eval()

    def write(epoch: int, final: bool) -> None:
        shipped = snapshot(best["state"])
        extra = dict(grids)
        if generative:
            with torch.no_grad():
                extra["samples.png"] = png_bytes(make_grid(shipped.decode(fixed_z)))
        card = {
            "name": Path(s.out).name,
            "kind": s.kind,
            "dataset": s.dataset,
            "split": {"train": n, "val": len(val_data), "test": "held out, never trained on"},
            "image_shape": [c, h, h],
            "status": status if final else "training",
            "epochs": epoch,
            "epochs_planned": s.epochs,
            "best_epoch": best["epoch"],
            "steps": step,
            "batch_size": batch,
            "lr": lr,
            "ema_decay": ema_decay,
            "patience": patience,
            "wall_time_s": round(before_s + time.time() - start, 1),
            "device": str(device),
            "world_size": world,
            "threads": torch.get_num_threads(),
            "seed": s.seed,
            "command": s.command,
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "versions": _versions(),
            "metrics": {"val": best["val"]} if best["val"] else {},
            "sample_grids": sorted(k for k in grids),
            "history": history,
            "resumed": bool(before_s),
        }
        if prior is not None:
            card["init_from"] = {k: prior[k] for k in ("checkpoint", "steps", "epochs", "sha256")}
        save_checkpoint(shipped, s.out, card=card, extra=extra)

    epoch = done
    try:
        for epoch in range(done + 1, s.epochs + 1):
            model.train()
            perm = torch.randperm(n, generator=torch.Generator().manual_seed(s.seed * 1000 + epoch))
            sums: dict[str, float] = {}
            for i in range(steps_per_epoch):
                idx = perm[i * batch : (i + 1) * batch][rank::world].to(device)
                logs = objective.step(
                    x[idx], y[idx], epoch=epoch - 1 + i / steps_per_epoch, generator=step_gen
                )
                if ema:
                    ema.update(model)
                step += 1
                for k, v in logs.items():
                    sums[k] = sums.get(k, 0.0) + v
                bar.update()
                bar.set_postfix({k: f"{v / (i + 1):.4g}" for k, v in sums.items()}, refresh=False)
            evaluated = (ema.model if ema else model).eval()
            val = None
            if objective.validate is not None:
                val = objective.validate(
                    evaluated, x_val, y_val, torch.Generator().manual_seed(s.seed + 3)
                )
            train_logs = {k: round(v / steps_per_epoch, 5) for k, v in sums.items()}
            history.append(
                {
                    "epoch": epoch,
                    "step": step,
                    "time_s": round(before_s + time.time() - start, 1),
                    "train": train_logs,
                    "val": val,
                }
            )
            improved = val is None or val["loss"] < best["loss"]
            if improved:
                best.update(
                    loss=val["loss"] if val else 0.0,
                    epoch=epoch,
                    val=val,
                    state=copy.deepcopy(evaluated.state_dict()),
                )
            if generative and epoch in grid_epochs:
                with torch.no_grad():
                    frames = snapshot(evaluated.state_dict()).decode(fixed_z)
                grids[f"samples/epoch-{epoch:04d}.png"] = png_bytes(make_grid(frames))
            if rank == 0:
                bar.write(
                    f"epoch {epoch}/{s.epochs} train {train_logs} val {val}"
                    f"{' *' if improved and val else ''} ({time.time() - start:.0f}s)"
                )
            stop = None
            if patience and epoch - best["epoch"] >= patience:
                stop = "early-stopped"
            elif s.max_minutes and time.time() - start > 60 * s.max_minutes:
                stop = "time-limit"
            if stop or epoch == s.epochs:
                status = stop or "finished"
                if rank == 0:
                    save_training_state(epoch)
                break
            if rank == 0 and time.time() - last_state > STATE_INTERVAL_S:
                save_training_state(epoch)
                last_state = time.time()
            if rank == 0 and improved and time.time() - last_save > SAVE_INTERVAL_S:
                write(epoch, final=False)
                last_save = time.time()
    finally:
        bar.close()
    if rank == 0 and best["state"] is not None:
        write(epoch, final=True)
    if world > 1:
        dist.barrier()
    return Path(s.out)
