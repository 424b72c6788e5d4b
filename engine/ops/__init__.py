"""Operations a user performs with a model, written once over the model interface."""

from engine.ops.anomaly import Reference, anomaly_score, load_reference, reference_scores
from engine.ops.latent_map import LatentMap, build_model_map, load_map, save_map
from engine.ops.preprocess import Preprocessed, preprocess_image
from engine.ops.reconstruct import Reconstruction, invert, reconstruct

__all__ = [
    "Preprocessed",
    "preprocess_image",
    "Reconstruction",
    "invert",
    "reconstruct",
    "Reference",
    "anomaly_score",
    "load_reference",
    "reference_scores",
    "LatentMap",
    "build_model_map",
    "load_map",
    "save_map",
]
