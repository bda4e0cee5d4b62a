"""xasml.apply: run trained models on new data, with a trust signal on every answer.

Spectra: :func:`predict` (or a :class:`Predictor` loaded once with
:func:`load_predictor`) returns predictions with conformal intervals / sets,
out-of-distribution flags and the nearest training spectra.

Stacks (:mod:`~xasml.apply.stack`): :func:`optical_density`, :func:`i0_from_region`,
:func:`align_frames`, :func:`signal_mask`, :func:`prepare_stack`. Pixel models
(:mod:`~xasml.apply.maps`): :func:`apply_to_map`, :func:`apply_bundle`,
:func:`save_map_result`, :func:`load_map_result`. Unsupervised views
(:mod:`~xasml.apply.unsupervised`): :func:`pca_map`, :func:`cluster_map`,
:func:`embed_map`. Test stacks: :func:`phantom_stack`. Figures: :func:`map_figure`.
On-the-fly processing: :func:`watch`, :func:`process_file`.
"""

from .map_figures import map_figure
from .maps import (
    EXTRAS_KEYS,
    Trust,
    apply_bundle,
    apply_to_map,
    load_map_result,
    save_map_result,
    trust_from_bundle,
)
from .phantom import Phantom, phantom_stack, reference_spectra
from .predict import Predictor, TargetModel, load_predictor, predict
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
    "EXTRAS_KEYS",
    "AlignmentResult",
    "MaskReport",
    "Phantom",
    "PreparedStack",
    "Trust",
    "align_frames",
    "apply_bundle",
    "apply_to_map",
    "i0_from_region",
    "load_map_result",
    "optical_density",
    "phantom_stack",
    "prepare_stack",
    "reference_spectra",
    "save_map_result",
    "signal_mask",
    "trust_from_bundle",
]
