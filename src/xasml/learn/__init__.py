"""xasml.learn: supervised models on spectra, splits, tuning, metrics and bundles."""

from .bundle import (
    FORMAT_VERSION,
    Bundle,
    Manifest,
    Target,
    hash_training_data,
    load_bundle,
    save_bundle,
)
from .cnn import SpectrumCNNClassifier, SpectrumCNNRegressor, build_cnn
from .mlp import SpectrumMLPClassifier, SpectrumMLPRegressor, build_mlp

__all__ = [
    "FORMAT_VERSION",
    "Bundle",
    "Manifest",
    "SpectrumCNNClassifier",
    "SpectrumCNNRegressor",
    "SpectrumMLPClassifier",
    "SpectrumMLPRegressor",
    "Target",
    "build_cnn",
    "build_mlp",
    "hash_training_data",
    "load_bundle",
    "save_bundle",
]
