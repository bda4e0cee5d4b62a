"""Smoothing, derivatives and intensity scaling along energy."""

from __future__ import annotations

from typing import Literal

import numpy as np
import xarray as xr
from scipy.signal import savgol_filter

from ..errors import ParameterError, SpectrumError
from ._common import along_energy, check_spectra, energies, positive

__all__ = ["derivative", "scale", "smooth"]


def smooth(da: xr.DataArray, width: float, *, order: int = 2) -> xr.DataArray:
    """Savitzky–Golay smoothing with a window of ``width`` eV.

    Needs a uniform grid (steps within 1 %; resample first otherwise). The
    window is rounded to an odd number of points > ``order``.

    References
    ----------
    A. Savitzky, M. J. E. Golay, Anal. Chem. 36, 1627 (1964).
    """
    da = check_spectra(da)
    w = positive(width, "width")
    e = energies(da)
    steps = np.diff(e)
    if np.ptp(steps) > 0.01 * steps.mean():
        raise SpectrumError(
            f"smooth needs a uniform energy grid; steps range {steps.min():g} .. "
            f"{steps.max():g} eV (resample onto a uniform grid first)"
        )
    n = round(w / steps.mean()) | 1
    if not isinstance(order, (int, np.integer)) or order < 0 or n <= order or n > e.size:
        raise ParameterError(
            f"width {w:g} eV is {n} points; expected an odd count > order ({order}) and "
            f"<= the {e.size} energy points"
        )
    return along_energy(da, lambda _e, y: savgol_filter(y, n, order, axis=-1))


def derivative(da: xr.DataArray, *, order: int = 1) -> xr.DataArray:
    """d^order y / dE^order (second-order accurate, non-uniform grids allowed)."""
    da = check_spectra(da)
    if order not in (1, 2):
        raise ParameterError(f"order must be 1 or 2; found {order!r}")

    def kernel(e: np.ndarray, y: np.ndarray) -> np.ndarray:
        for _ in range(order):
            y = np.gradient(y, e, axis=-1)
        return y

    out = along_energy(da, kernel)
    out.attrs["signal"] = f"d{order}({da.attrs.get('signal', 'y')})/dE{order}"
    return out


def scale(da: xr.DataArray, method: Literal["max", "area"] = "max") -> xr.DataArray:
    """Divide each spectrum by its maximum or its area (trapezoid, eV)."""
    da = check_spectra(da)
    if method not in ("max", "area"):
        raise ParameterError(f"method must be 'max' or 'area'; found {method!r}")

    def kernel(e: np.ndarray, y: np.ndarray) -> np.ndarray:
        s = y.max(axis=-1) if method == "max" else np.trapezoid(y, e, axis=-1)
        if np.any(s <= 0):
            k = int(np.flatnonzero(s <= 0)[0])
            raise SpectrumError(f"spectrum {k} has {method} {s[k]:g}; expected > 0 to scale")
        return y / s[:, None]

    return along_energy(da, kernel)
