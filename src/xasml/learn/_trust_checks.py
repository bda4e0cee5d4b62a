"""Input checks shared by the trust layer (OOD, conformal, diagnostics, importance).

Models in xasml take spectra as ``(n_samples, n_energy)`` arrays or as
``(sample, energy)`` DataArrays; these helpers turn either into a float matrix,
keep the energy axis when there is one, and raise :class:`ParameterError`
naming the parameter when a value has the wrong form.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from ..errors import ParameterError

__all__ = ["as_features", "as_targets", "check_confidence", "check_fraction", "check_n_features"]


def as_features(X: Any, name: str = "X", *,
                keep_float32: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
    """Spectra as a finite float matrix ``(n_samples, n_features)`` plus energies (eV) if known.

    ``keep_float32`` returns float32 input as is (prediction paths), not as a float64 copy.
    """
    energy: np.ndarray | None = None
    if isinstance(X, xr.DataArray):
        if X.ndim != 2 or "energy" not in X.dims:
            raise ParameterError(
                f"{name} must be a (sample, energy) DataArray; found dims {tuple(X.dims)}"
            )
        X = X.transpose(..., "energy")
        energy = np.asarray(X["energy"].values, dtype=float) if "energy" in X.coords else None
        values = X.values
    else:
        values = X
    try:
        arr = np.asarray(values)
        if not (keep_float32 and arr.dtype == np.float32):
            arr = arr.astype(float, copy=False)
    except (TypeError, ValueError) as exc:
        raise ParameterError(f"{name} must be numeric; could not convert: {exc}") from None
    if arr.ndim != 2:
        raise ParameterError(f"{name} must be 2-D (n_samples, n_features); found shape {arr.shape}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ParameterError(f"{name} must be non-empty; found shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        bad = int(np.count_nonzero(~np.isfinite(arr)))
        raise ParameterError(f"{name} must be finite; found {bad} NaN/inf values")
    return arr, energy


def as_targets(y: Any, n_samples: int, name: str = "y") -> np.ndarray:
    """Targets as an array with ``n_samples`` rows (1-D or 2-D), checked for length."""
    arr = np.asarray(y.values if isinstance(y, xr.DataArray) else y)
    if arr.ndim not in (1, 2):
        raise ParameterError(f"{name} must be 1-D or 2-D; found shape {arr.shape}")
    if arr.shape[0] != n_samples:
        raise ParameterError(
            f"{name} must have one row per sample ({n_samples}); found {arr.shape[0]}"
        )
    return arr


def check_n_features(X: np.ndarray, expected: int, name: str = "X") -> None:
    """Raise when ``X`` has a different number of columns than the fitted state."""
    if X.shape[1] != expected:
        raise ParameterError(
            f"{name} must have {expected} features (energy points) as at fit time; "
            f"found {X.shape[1]}"
        )


def check_fraction(value: float, name: str) -> float:
    """A probability-like parameter strictly between 0 and 1."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ParameterError(f"{name} must be a number in (0, 1); found {value!r}") from None
    if not 0.0 < v < 1.0:
        raise ParameterError(f"{name} must be in (0, 1); found {value!r}")
    return v


def check_confidence(confidence: float, n_calibration: int, name: str = "confidence") -> float:
    """Check ``confidence`` and that ``n_calibration`` scores can support it.

    Split conformal needs the ``ceil((n + 1) * confidence)``-th smallest of ``n``
    calibration scores, which exists only when ``(1 - confidence) * (n + 1) >= 1``
    (Vovk et al. 2005; Angelopoulos & Bates 2021, arXiv:2107.07511).
    """
    c = check_fraction(confidence, name)
    if int((1.0 - c) * (n_calibration + 1)) < 1:
        need = max(int(np.ceil(1.0 / (1.0 - c))) - 1, n_calibration + 1)
        while int((1.0 - c) * (need + 1)) < 1:
            need += 1
        raise ParameterError(
            f"{name}={c} needs at least {need} calibration samples; "
            f"the calibration set has {n_calibration}"
        )
    return c
