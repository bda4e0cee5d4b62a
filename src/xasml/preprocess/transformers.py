"""scikit-learn transformers over the preprocessing functions.

Each accepts a DataArray ``(sample, energy)`` (or one spectrum) and returns
a DataArray ``(sample, energy)`` with the sample label coords kept. A plain
array ``(n_samples, n_energy)`` is accepted when the grid is known: from the
``energy`` hyperparameter, else from the DataArray seen in ``fit``; with
neither, the columns are taken as a unit-step grid ``0, 1, 2 ... eV``.

:class:`Resample` learns its output grid ``energy_`` in ``fit`` (the given
``grid`` or the training grid), so a fitted ``Pipeline`` carries that grid to
measured spectra on any other grid.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from ..datamodel import ENERGY, SAMPLE, stack, validate
from ..errors import SpectrumError
from ._broaden import broaden
from ._edge import normalize_edge
from ._grid import resample
from ._smooth import scale, smooth

__all__ = ["AlignEdge", "Broaden", "Normalize", "Resample", "Smooth"]


class _Spectral(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """Shared input handling: DataArray or ndarray in, DataArray out."""

    energy: Any

    def _as_set(self, X: Any, *, reset: bool) -> xr.DataArray:
        if isinstance(X, xr.DataArray):
            da = validate(X, what="X")
            if da.dims == (ENERGY,):
                da = da.expand_dims(SAMPLE)
            if da.ndim != 2:
                raise SpectrumError(f"X must be (sample, energy) or (energy,); found {da.dims}")
            da = da.transpose(..., ENERGY)
            if reset:
                self.n_features_in_ = da.sizes[ENERGY]
                self.energy_in_ = np.asarray(da[ENERGY].values, float)
            return da
        arr = validate_data(
            self, X, reset=reset, dtype=float, ensure_min_features=2 if reset else 1
        )
        if reset:
            grid = self.energy if self.energy is not None else np.arange(arr.shape[1], dtype=float)
            self.energy_in_ = np.asarray(grid, float)
        if self.energy_in_.size != arr.shape[1]:
            raise SpectrumError(
                f"X has {arr.shape[1]} columns; the energy grid has {self.energy_in_.size} points"
            )
        return stack(self.energy_in_, arr)

    def fit(self, X: Any, y: Any = None) -> _Spectral:
        """Record the input grid; returns self."""
        self._as_set(X, reset=True)
        return self

    def transform(self, X: Any) -> xr.DataArray:
        """Apply the step; DataArray ``(sample, energy)`` out."""
        check_is_fitted(self, "energy_in_")
        return self._apply(self._as_set(X, reset=False))

    def _apply(self, da: xr.DataArray) -> xr.DataArray:  # pragma: no cover - abstract
        raise NotImplementedError


class Resample(_Spectral):
    """Resample onto a grid learnt in ``fit`` (``grid`` or the training grid).

    Parameters
    ----------
    grid
        Output energies (eV); default the grid of the training data.
    outside
        See :func:`xasml.preprocess.resample`.
    energy
        Grid of plain-array input (optional).

    Attributes
    ----------
    energy_ : ndarray (n_energy,)
        The output grid.
    """

    def __init__(self, *, grid: Any = None, outside: str = "raise", energy: Any = None):
        self.grid = grid
        self.outside = outside
        self.energy = energy

    def fit(self, X: Any, y: Any = None) -> Resample:
        da = self._as_set(X, reset=True)
        self.energy_ = np.asarray(
            da[ENERGY].values if self.grid is None else self.grid, dtype=float
        )
        return self

    def _apply(self, da: xr.DataArray) -> xr.DataArray:
        return resample(da, self.energy_, outside=self.outside)  # type: ignore[arg-type]


class Normalize(_Spectral):
    """Normalise: ``"edge"`` (:func:`normalize_edge`), ``"max"`` or ``"area"``.

    ``kwargs`` are passed to :func:`normalize_edge` (``pre1``, ``norm2``, ...).
    """

    def __init__(self, *, method: str = "edge", kwargs: dict | None = None, energy: Any = None):
        self.method = method
        self.kwargs = kwargs
        self.energy = energy

    def _apply(self, da: xr.DataArray) -> xr.DataArray:
        if self.method == "edge":
            return normalize_edge(da, **(self.kwargs or {}))
        return scale(da, self.method)  # type: ignore[arg-type]


class AlignEdge(_Spectral):
    """Shift each spectrum so E0 sits at 0 eV, onto a fixed relative ``grid``."""

    def __init__(self, *, grid: Any = None, outside: str = "edge", energy: Any = None):
        self.grid = grid
        self.outside = outside
        self.energy = energy

    def _apply(self, da: xr.DataArray) -> xr.DataArray:
        from ._align import align_edge

        return align_edge(da, grid=self.grid, outside=self.outside)  # type: ignore[arg-type]


class Broaden(_Spectral):
    """Broaden by ``fwhm`` eV (see :func:`xasml.preprocess.broaden`)."""

    def __init__(self, *, fwhm: Any = 1.0, profile: str = "gaussian",
                 lorentzian_fwhm: Any = None, energy: Any = None):
        self.fwhm = fwhm
        self.profile = profile
        self.lorentzian_fwhm = lorentzian_fwhm
        self.energy = energy

    def _apply(self, da: xr.DataArray) -> xr.DataArray:
        return broaden(da, self.fwhm, profile=self.profile,  # type: ignore[arg-type]
                       lorentzian_fwhm=self.lorentzian_fwhm)


class Smooth(_Spectral):
    """Savitzky–Golay smoothing over ``width`` eV (see :func:`xasml.preprocess.smooth`)."""

    def __init__(self, *, width: float = 1.0, order: int = 2, energy: Any = None):
        self.width = width
        self.order = order
        self.energy = energy

    def _apply(self, da: xr.DataArray) -> xr.DataArray:
        return smooth(da, self.width, order=self.order)
