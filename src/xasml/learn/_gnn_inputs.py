"""What :class:`~xasml.learn.StructureSpectrumRegressor` accepts as training spectra.

:func:`_targets` checks a ``(sample, energy)`` stack or a plain array and
returns values, energy grid and attrs; :func:`_sample_labels` names each
training spectrum for :meth:`~xasml.learn.StructureSpectrumRegressor.predict_nearest`;
:func:`_check_gnn_params` validates the estimator's constructor parameters.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import InputError, ParameterError
from ._torch_base import _check_rules, _is_pos_int
from .graph import Structure


def _targets(y: Any, n: int) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Target values ``(n, n_energy)``, energy grid and attrs from a stack or array."""
    energy = None
    attrs: dict[str, Any] = {}
    if hasattr(y, "dims") and hasattr(y, "coords"):
        if tuple(y.dims) != ("sample", "energy"):
            raise InputError(
                f"spectra must have dims ('sample', 'energy'); found {tuple(y.dims)}"
            )
        energy = np.asarray(y.coords["energy"].values, dtype=np.float64)
        attrs = dict(y.attrs)
    t = np.asarray(getattr(y, "values", y), dtype=np.float64)
    if t.ndim != 2 or t.shape[0] != n:
        raise InputError(
            f"spectra must have shape (n_structures={n}, n_energy); found {t.shape}"
        )
    if not np.all(np.isfinite(t)):
        raise InputError("spectra contain NaN or infinite values")
    if energy is None:
        energy = np.arange(t.shape[1], dtype=np.float64)
    return t, energy, attrs


def _sample_labels(X: Any, y: Any, n: int) -> list[str]:
    """Structure labels, else the spectra's ``label`` coordinate, else row numbers."""
    if isinstance(X, Sequence) and all(isinstance(s, Structure) for s in X):
        labels = [s.label for s in X]
        if all(labels):
            return labels
    coords = getattr(y, "coords", {})
    if "label" in coords and coords["label"].ndim == 1:
        return [str(v) for v in coords["label"].values]
    return [str(i) for i in range(n)]


def _check_gnn_params(est: Any) -> None:
    """ParameterError naming the first invalid constructor parameter of ``est``."""
    _check_rules(est)
    name = type(est).__name__
    for key in ("n_rbf", "hidden_channels", "n_interactions", "n_models", "n_peaks"):
        if not _is_pos_int(getattr(est, key)):
            raise ParameterError(
                f"{name}: parameter {key!r} must be a positive int; "
                f"found {getattr(est, key)!r}"
            )
    for key in ("positive", "bonds"):
        if not isinstance(getattr(est, key), bool):
            raise ParameterError(f"{name}: parameter {key!r} must be True or False; "
                                 f"found {getattr(est, key)!r}")
    if est.head not in ("grid", "peaks"):
        raise ParameterError(f"{name}: parameter 'head' must be 'grid' or 'peaks'; "
                             f"found {est.head!r}")
    if est.peak_fwhm is not None and not (
            isinstance(est.peak_fwhm, int | float) and est.peak_fwhm > 0):
        raise ParameterError(f"{name}: parameter 'peak_fwhm' must be a positive number "
                             f"(eV) or None; found {est.peak_fwhm!r}")
    if not (isinstance(est.peak_max_factor, int | float) and est.peak_max_factor >= 1):
        raise ParameterError(f"{name}: parameter 'peak_max_factor' must be a number >= 1; "
                             f"found {est.peak_max_factor!r}")
    if est.lr_patience is not None and not _is_pos_int(est.lr_patience):
        raise ParameterError(
            f"{name}: parameter 'lr_patience' must be a positive int or None; "
            f"found {est.lr_patience!r}"
        )
    if not (isinstance(est.lr_factor, int | float) and 0 < est.lr_factor < 1):
        raise ParameterError(
            f"{name}: parameter 'lr_factor' must be a float in (0, 1); "
            f"found {est.lr_factor!r}"
        )
