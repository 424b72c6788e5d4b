"""Operations a user performs with a model, written once over the model interface."""

from engine.ops.preprocess import Preprocessed, preprocess_image
from engine.ops.reconstruct import Reconstruction, invert, reconstruct

__all__ = ["Preprocessed", "preprocess_image", "Reconstruction", "invert", "reconstruct"]
