"""xasml.learn."""

from .conformal import ConformalClassifier, ConformalRegressor, CoverageReport, empirical_coverage
from .diagnostics import FailureAnalysis, failure_analysis
from .importance import WindowImportance, energy_window_importance, equal_width_windows
from .ood import OODDetector

__all__ = [
    "ConformalClassifier",
    "ConformalRegressor",
    "CoverageReport",
    "FailureAnalysis",
    "OODDetector",
    "WindowImportance",
    "empirical_coverage",
    "energy_window_importance",
    "failure_analysis",
    "equal_width_windows",
]
