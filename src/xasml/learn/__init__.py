"""xasml.learn: supervised models on spectra, splits, tuning, metrics and bundles.

One call from labelled spectra to a calibrated bundle: :func:`train` (returns a
:class:`TrainingReport`; optional :class:`Augmentation`), read back by
:func:`xasml.apply.predict` and :func:`xasml.apply.apply_bundle`.

Networks (PyTorch, imported lazily): :class:`SpectrumMLPRegressor`,
:class:`SpectrumMLPClassifier`, :class:`SpectrumCNNRegressor`,
:class:`SpectrumCNNClassifier`. Baselines: :func:`make_baseline`. Splits and
tuning grouped by material: :func:`train_val_test_split`, :func:`grid_search`.
Scores: :func:`regression_metrics`, :func:`classification_metrics`, figures in
:func:`parity_figure`, :func:`confusion_matrix_figure`. Trained models as
directories: :func:`save_bundle`, :func:`load_bundle`. Trust: :class:`OODDetector`,
:class:`ConformalRegressor`, :class:`ConformalClassifier`, :func:`failure_analysis`,
:func:`energy_window_importance`. Embedding and parameter read-out (Suzuki et al.):
:class:`SpectrumEmbedding`, :class:`ParameterEstimator`, :func:`plot_embedding`;
shift/resolution-matched read-out :class:`MatchedEstimator` and fit after
embedding :func:`fit_spectrum` with :class:`SticksModel`.
Structure → spectrum (Carbone et al. 2020): :class:`Structure`, :func:`build_graph`,
:class:`StructureSpectrumRegressor` (message-passing network ensemble),
:func:`spectral_metrics` (MSE, peaks within 1 eV, peak heights), what the
missed predicted peaks are (:func:`peak_error_breakdown`), members'
disagreement on peak positions :func:`peak_position_spread` and scores on the
most trusted spectra :func:`selective_peak_scores`, with the trust threshold
for a target precision chosen on held-out data (:func:`calibrate_peak_trust`);
per predicted peak, a relative-height threshold chosen the same way
(:func:`find_predicted_peaks`, :func:`calibrate_peak_heights`), both bounded
with the peaks of one molecule counted as correlated
(:func:`precision_lower_bounds`); the sites' spectra averaged into their
molecule's or crystal's (:func:`average_sites`).
"""

from ._plot_embedding import embedding_html_figure, plot_embedding, save_embedding_figure
from .baselines import BASELINES, make_baseline
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
from .conformal import ConformalClassifier, ConformalRegressor, CoverageReport, empirical_coverage
from .diagnostics import FailureAnalysis, failure_analysis
from .embed import SpectrumEmbedding
from .estimate import (
    EstimationResult,
    Neighbour,
    ParameterEstimator,
    SpaceEstimate,
    ValueEstimate,
    estimate,
)
from .features import AppendFeature, append_feature
from .gnn import StructureSpectrumRegressor, build_gnn
from .graph import Structure, build_graph, build_graphs
from .importance import WindowImportance, energy_window_importance, equal_width_windows
from .match import MatchedEstimator, MatchedResult, interpolate_value
from .metrics import (
    ClassificationMetrics,
    RegressionMetrics,
    classification_metrics,
    regression_metrics,
)
from .mlp import SpectrumMLPClassifier, SpectrumMLPRegressor, build_mlp
from .ood import OODDetector
from .peak_errors import PeakErrorBreakdown, peak_error_breakdown
from .peak_heights import (
    PeakHeightThreshold,
    PredictedPeaks,
    calibrate_peak_heights,
    find_predicted_peaks,
    peak_height_threshold,
    peak_hits,
)
from .peak_trust import (
    PeakTrustThreshold,
    SelectiveScores,
    calibrate_peak_trust,
    peak_position_spread,
    peak_trust_threshold,
    relative_std,
    selective_peak_scores,
)
from .plots import confusion_matrix_figure, parity_figure
from .precision_bound import precision_lower_bounds
from .refine import FitResult, SticksModel, fit_spectrum
from .site_average import SiteAverage, average_site_spectra, average_sites
from .spectral_metrics import (
    PeakMetrics,
    peak_parity_figure,
    peak_score_interval,
    recall_at_precision,
    spectra_figure,
    spectral_metrics,
)
from .spectrum_library import NearestSpectra, nearest_spectra
from .split import DataSplit, train_val_test_split
from .tuning import GridSearchResult, grid_search, network_param_grid
from .workflow import Augmentation, TargetReport, TrainingReport, train

__all__ = [
    "FitResult",
    "MatchedEstimator",
    "MatchedResult",
    "SticksModel",
    "fit_spectrum",
    "interpolate_value",
    "PeakMetrics",
    "PeakErrorBreakdown",
    "peak_error_breakdown",
    "peak_parity_figure",
    "spectra_figure",
    "peak_score_interval",
    "peak_position_spread",
    "relative_std",
    "selective_peak_scores",
    "SelectiveScores",
    "PeakTrustThreshold",
    "calibrate_peak_trust",
    "peak_trust_threshold",
    "PredictedPeaks",
    "PeakHeightThreshold",
    "find_predicted_peaks",
    "peak_hits",
    "peak_height_threshold",
    "calibrate_peak_heights",
    "precision_lower_bounds",
    "recall_at_precision",
    "spectral_metrics",
    "Structure",
    "StructureSpectrumRegressor",
    "SiteAverage",
    "average_sites",
    "average_site_spectra",
    "NearestSpectra",
    "nearest_spectra",
    "build_gnn",
    "build_graph",
    "build_graphs",
    "Augmentation",
    "TargetReport",
    "TrainingReport",
    "train",
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
    "AppendFeature",
    "BASELINES",
    "Bundle",
    "ClassificationMetrics",
    "DataSplit",
    "FORMAT_VERSION",
    "GridSearchResult",
    "Manifest",
    "RegressionMetrics",
    "SpectrumCNNClassifier",
    "SpectrumCNNRegressor",
    "SpectrumMLPClassifier",
    "SpectrumMLPRegressor",
    "Target",
    "append_feature",
    "build_cnn",
    "build_mlp",
    "classification_metrics",
    "confusion_matrix_figure",
    "grid_search",
    "hash_training_data",
    "load_bundle",
    "make_baseline",
    "network_param_grid",
    "parity_figure",
    "regression_metrics",
    "save_bundle",
    "train_val_test_split",
]
