"""Operations a user performs with a model, written once over the model interface."""

from engine.ops.preprocess import Preprocessed, preprocess_image

__all__ = ["Preprocessed", "preprocess_image"]
