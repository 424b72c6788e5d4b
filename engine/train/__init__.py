"""Training: ``train(TrainSettings(...))`` or ``python -m engine train``."""

from engine.train.loop import TrainSettings, train

__all__ = ["TrainSettings", "train"]
