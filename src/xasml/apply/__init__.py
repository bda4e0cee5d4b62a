"""xasml.apply: run trained models on new data, with a trust signal on every answer.

Spectra: :func:`predict` (or a :class:`Predictor` loaded once with
:func:`load_predictor`) returns predictions with conformal intervals / sets,
out-of-distribution flags and the nearest training spectra.

Stacks (:mod:`~xasml.apply.stack`): :func:`optical_density`, :func:`i0_from_region`,
:func:`align_frames`, :func:`signal_mask`, :func:`prepare_stack`. Pixel maps
(:mod:`~xasml.apply.maps`): :func:`apply_bundle` runs a workflow bundle from
:func:`xasml.learn.train` on every pixel through the same :class:`Predictor`;
:func:`save_map_result`, :func:`load_map_result`. Unsupervised views
(:mod:`~xasml.apply.unsupervised`): :func:`pca_map`, :func:`cluster_map`,
:func:`embed_map`. Test stacks: :func:`phantom_stack`. Figures: :func:`map_figure`.
On-the-fly processing: :func:`watch`, :func:`process_file`.
"""

from .map_figures import map_figure
from .maps import apply_bundle, load_map_result, save_map_result
from .phantom import Phantom, phantom_stack, reference_spectra
from .predict import BatchPrediction, Predictor, TargetModel, load_predictor, predict
from .stack import (
    AlignmentResult,
    MaskReport,
    PreparedStack,
    align_frames,
    i0_from_region,
    optical_density,
    prepare_stack,
    signal_mask,
)
from .unsupervised import ClusterResult, PCAResult, cluster_map, embed_map, pca_map
from .watch import WatchReport, process_file, watch

__all__ = [
    "BatchPrediction",
    "Predictor",
    "TargetModel",
    "load_predictor",
    "predict",
    "ClusterResult",
    "PCAResult",
    "WatchReport",
    "cluster_map",
    "embed_map",
    "map_figure",
    "pca_map",
    "process_file",
    "watch",
    "AlignmentResult",
    "MaskReport",
    "Phantom",
    "PreparedStack",
    "align_frames",
    "apply_bundle",
    "i0_from_region",
    "load_map_result",
    "optical_density",
    "phantom_stack",
    "prepare_stack",
    "reference_spectra",
    "save_map_result",
    "signal_mask",
]
