"""Which torch device the engine runs on."""

import os

import torch

from engine.errors import EngineError

DEVICE_ENV = "LATENT_ATLAS_DEVICE"


def pick_device(requested: str | torch.device | None = None) -> torch.device:
    """Resolve the device: the argument, else ``$LATENT_ATLAS_DEVICE``, else CUDA, MPS, CPU."""
    choice = requested if requested is not None else os.environ.get(DEVICE_ENV) or None
    if choice is None or str(choice) == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(choice)
    except (RuntimeError, TypeError) as err:
        raise EngineError(
            f"unknown device {choice!r} (use cpu, cuda, cuda:N, mps or auto)"
        ) from err
    if device.type == "cuda" and not torch.cuda.is_available():
        raise EngineError(f"device {choice!r} was asked for but CUDA is not available here")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise EngineError(f"device {choice!r} was asked for but MPS is not available here")
    return device
