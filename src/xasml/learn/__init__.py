"""xasml.learn: models that learn from labelled spectra."""

from .embed import SpectrumEmbedding
from .estimate import (
    EstimationResult,
    Neighbour,
    ParameterEstimator,
    SpaceEstimate,
    ValueEstimate,
    estimate,
)

__all__ = [
    "EstimationResult",
    "Neighbour",
    "ParameterEstimator",
    "SpaceEstimate",
    "SpectrumEmbedding",
    "ValueEstimate",
    "estimate",
]
