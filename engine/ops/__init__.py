"""Operations a user performs with a model, written once over the model interface."""

from engine.ops.anomaly import Reference, anomaly_score, load_reference, reference_scores
from engine.ops.cache import ResultCache, model_hash, param_hash
from engine.ops.chains import Chain, ChainStep, run_chain
from engine.ops.direction_files import (
    dump_directions,
    find_direction,
    load_directions,
    parse_directions,
    save_directions,
)
from engine.ops.directions import (
    Direction,
    axis_directions,
    class_directions,
    factor_directions,
    orthogonalize,
    principal_directions,
    walk,
)
from engine.ops.inpaint import (
    MASK_PRESETS,
    Inpainting,
    inpaint,
    known_from_mask_image,
    mask_preset,
)
from engine.ops.interpolate import interpolate, latent_from_image, latent_from_seed
from engine.ops.latent_map import LatentMap, build_model_map, load_map, save_map
from engine.ops.preprocess import Preprocessed, preprocess_image
from engine.ops.reconstruct import Reconstruction, invert, reconstruct

__all__ = [
    "Chain",
    "ChainStep",
    "run_chain",
    "Inpainting",
    "inpaint",
    "known_from_mask_image",
    "MASK_PRESETS",
    "mask_preset",
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
    "interpolate",
    "latent_from_seed",
    "latent_from_image",
    "Direction",
    "axis_directions",
    "principal_directions",
    "class_directions",
    "factor_directions",
    "orthogonalize",
    "walk",
    "save_directions",
    "load_directions",
    "dump_directions",
    "parse_directions",
    "find_direction",
    "ResultCache",
    "model_hash",
    "param_hash",
]
