"""xasml.learn."""

from .conformal import ConformalClassifier, ConformalRegressor, CoverageReport, empirical_coverage
from .ood import OODDetector

__all__ = [
    "ConformalClassifier",
    "ConformalRegressor",
    "CoverageReport",
    "OODDetector",
    "empirical_coverage",
]
