"""xasml.learn: models that learn from labelled spectra."""

from ._plot_embedding import embedding_html_figure, plot_embedding, save_embedding_figure
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
    "embedding_html_figure",
    "estimate",
    "plot_embedding",
    "save_embedding_figure",
]
