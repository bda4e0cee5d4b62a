"""xasml.apply: use trained models on new spectra.

:func:`predict` (or a :class:`Predictor` loaded once with :func:`load_predictor`)
returns predictions with conformal intervals / sets, out-of-distribution flags
and the nearest training spectra.
"""

from .predict import Predictor, TargetModel, load_predictor, predict

__all__ = ["Predictor", "TargetModel", "load_predictor", "predict"]
