"""What :class:`~xasml.learn.StructureSpectrumRegressor` accepts as training spectra.

:func:`_targets` checks a ``(sample, energy)`` stack or a plain array and
returns values, energy grid and attrs; :func:`_sample_labels` names each
training spectrum for :meth:`~xasml.learn.StructureSpectrumRegressor.predict_nearest`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import InputError
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
