"""latent-atlas engine: GAN, VAE and normalizing-flow models behind one interface.

    >>> import engine
    >>> model = engine.load("pretrained/mnist-vae")
    >>> x = model.sample(16, generator=torch.Generator().manual_seed(0))  # (16, 1, 28, 28) in [0, 1]

The engine never imports streamlit; the app, the CLI (``python -m engine``), notebooks and tests all
use this same API.
"""

from engine import ops
from engine.base import GenerativeModel
from engine.checkpoint import load, read_card, save_checkpoint
from engine.data import ImageData, load_dataset
from engine.device import pick_device
from engine.errors import CapabilityError, CheckpointError, DataError, EngineError
from engine.models import CONDITIONAL_KINDS, GENERATIVE_KINDS, KINDS, build_model
from engine.ops import *  # noqa: F403  (every operation is public API, listed once there)

__version__ = "0.1.0"

__all__ = [
    "GenerativeModel",
    "ImageData",
    "load",
    "read_card",
    "save_checkpoint",
    "load_dataset",
    "pick_device",
    "build_model",
    "KINDS",
    "GENERATIVE_KINDS",
    "CONDITIONAL_KINDS",
    "CapabilityError",
    "CheckpointError",
    "DataError",
    "EngineError",
    *ops.__all__,
]
