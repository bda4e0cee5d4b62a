"""Append scalar per-sample features (e.g. the excitation energy) to spectra.

Kiyohara et al. (2019) feed the network the spectrum *and* the excitation
(edge) energy, so one model serves sites with different edge positions. The
route here: keep the scalar as a coordinate on ``sample`` of the
``(sample, energy)`` DataArray and put :class:`AppendFeature` first in a
Pipeline; it turns the DataArray into a plain array with the extra columns
appended after the energy points. For plain arrays use :func:`append_feature`.

References
----------
H. Kiyohara, T. Mizoguchi et al., J. Phys. Mater. 2, 024003 (2019).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from ..errors import InputError, ParameterError

__all__ = ["AppendFeature", "append_feature"]


def append_feature(X: Any, values: Any) -> np.ndarray:
    """Append columns to a spectra matrix.

    Parameters
    ----------
    X
        Spectra, shape ``(n_samples, n_energy)``.
    values
        Extra features, shape ``(n_samples,)`` or ``(n_samples, k)``.

    Returns
    -------
    numpy.ndarray
        Shape ``(n_samples, n_energy + k)``.
    """
    X = np.asarray(X, dtype=float)
    v = np.asarray(values, dtype=float).reshape(len(values), -1) if np.ndim(values) else None
    if X.ndim != 2:
        raise InputError(f"X must be 2-D (n_samples, n_energy); found shape {X.shape}")
    if v is None or v.shape[0] != X.shape[0]:
        raise InputError(
            f"values must have one entry per sample ({X.shape[0]}); "
            f"found shape {np.shape(values)}"
        )
    if not np.all(np.isfinite(v)):
        raise InputError("appended feature values contain NaN or inf")
    return np.hstack([X, v])


class AppendFeature(TransformerMixin, BaseEstimator):
    """Append per-sample coordinates of a DataArray as extra input columns.

    Parameters
    ----------
    coords
        Names of coordinates on ``sample`` to append, in order (default
        ``("excitation_energy",)``, in eV).

    Notes
    -----
    Input must be an ``xarray.DataArray`` with dims ``(sample, energy)``;
    output is a numpy array of shape ``(n_samples, n_energy + len(coords))``.
    Put a scaler (or use the networks' ``scale_inputs=True``) after it: an
    excitation energy of thousands of eV would otherwise dominate.
    """

    def __init__(self, coords: Sequence[str] = ("excitation_energy",)) -> None:
        self.coords = coords

    def _values(self, X: Any) -> np.ndarray:
        if not hasattr(X, "coords") or not hasattr(X, "dims"):
            raise InputError(
                "AppendFeature needs an xarray.DataArray (sample, energy) with the coordinate(s) "
                f"{list(self.coords)}; found {type(X).__name__} (for arrays use append_feature)"
            )
        cols = []
        for name in self.coords:
            if name not in X.coords:
                raise InputError(
                    f"AppendFeature: coordinate {name!r} not found; "
                    f"available: {sorted(map(str, X.coords))}"
                )
            cols.append(np.asarray(X.coords[name].values, dtype=float))
        return np.column_stack(cols)

    def fit(self, X: Any, y: Any = None) -> AppendFeature:
        """Check the coordinates exist; record the input width."""
        if isinstance(self.coords, str) or len(self.coords) == 0:
            raise ParameterError(
                f"AppendFeature: coords must be a non-empty sequence of names; "
                f"found {self.coords!r}"
            )
        self._values(X)
        self.n_features_in_ = int(X.sizes["energy"])
        return self

    def transform(self, X: Any) -> np.ndarray:
        """Return ``(n_samples, n_energy + n_coords)``."""
        check_is_fitted(self, "n_features_in_")
        return append_feature(np.asarray(X.transpose("sample", "energy").values)
                              if hasattr(X, "transpose") else X, self._values(X))
