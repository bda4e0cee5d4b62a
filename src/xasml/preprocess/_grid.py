"""Resampling onto an energy grid with explicit out-of-range handling."""

from __future__ import annotations

from typing import Literal, get_args

import numpy as np
import xarray as xr

from ..errors import ParameterError, SpectrumError
from ._common import along_energy, check_spectra

__all__ = ["KIYOHARA_GRID", "Outside", "kiyohara_grid", "resample"]

Outside = Literal["raise", "zero", "edge", "nan"]
_OUTSIDE = get_args(Outside)


def kiyohara_grid(start: float = -1.0, stop: float = 15.0, step: float = 0.1) -> np.ndarray:
    """Relative energy grid of Kiyohara et al. (default −1 … 14.9 eV, 160 points).

    ``stop`` is exclusive as in :func:`numpy.arange`; values are rounded to
    remove floating-point drift (``-1.0, -0.9, ..., 14.9``).

    References
    ----------
    S. Kiyohara, T. Miyata, K. Tsuda, T. Mizoguchi, "Data-driven approach for
    the prediction and interpretation of core-electron loss spectroscopy",
    Sci. Rep. 8, 13548 (2018); Kiyohara et al., J. Phys. Mater. 2, 024003 (2019).
    """
    n = int(np.ceil((stop - start) / step - 1e-9))  # arange semantics, no float drift
    return np.round(start + step * np.arange(n), 10)


KIYOHARA_GRID = kiyohara_grid()
KIYOHARA_GRID.setflags(write=False)


def check_outside(outside: str, name: str = "outside") -> str:
    if outside not in _OUTSIDE:
        raise ParameterError(f"{name} must be one of {_OUTSIDE}; found {outside!r}")
    return outside


def interp_rows(
    e: np.ndarray, y: np.ndarray, x: np.ndarray, low: str = "raise", high: str = "raise"
) -> np.ndarray:
    """Linear interpolation of each row of ``y(e)`` at ``x`` (vectorised).

    ``low``/``high`` say what to put at ``x`` below ``e[0]`` / above ``e[-1]``:
    ``"zero"``, ``"edge"`` (nearest end value), ``"nan"``; ``"raise"`` is
    checked by the caller.
    """
    idx = np.clip(np.searchsorted(e, x, side="right") - 1, 0, e.size - 2)
    t = (x - e[idx]) / (e[idx + 1] - e[idx])
    below, above = x < e[0], x > e[-1]
    t = np.where(below, 0.0, np.where(above, 1.0, t))
    out = y[:, idx] * (1.0 - t) + y[:, idx + 1] * t
    for mask, mode in ((below, low), (above, high)):
        if mask.any():
            if mode == "zero":
                out[:, mask] = 0.0
            elif mode == "nan":
                out[:, mask] = np.nan
    return out


def resample(
    da: xr.DataArray,
    grid: np.ndarray | None = None,
    *,
    outside: Outside = "raise",
    tol: float = 1e-9,
) -> xr.DataArray:
    """Linearly interpolate spectra onto a new energy grid.

    Parameters
    ----------
    da
        Spectrum ``(energy,)``, set ``(sample, energy)`` or map ``(y, x, energy)``.
    grid
        Target energies in eV, shape ``(n,)``, strictly increasing. Default
        :data:`KIYOHARA_GRID` (relative energies; align first, e.g. with
        :func:`align_edge`).
    outside
        What to do at grid points outside the data range: ``"raise"``
        (default) raises :class:`SpectrumError` giving both ranges, ``"zero"``
        pads with 0, ``"edge"`` repeats the first/last value, ``"nan"`` fills
        NaN (explicitly requested missing values).
    tol
        Grid points this close (eV) beyond the data ends count as inside.

    Returns
    -------
    xarray.DataArray
        Same dims with ``energy`` replaced by ``grid``; coordinates defined
        along the old energy axis are dropped.
    """
    da = check_spectra(da)
    check_outside(outside)
    g = KIYOHARA_GRID if grid is None else np.asarray(grid, dtype=float)
    if g.ndim != 1 or g.size < 2 or not np.all(np.isfinite(g)) or np.any(np.diff(g) <= 0):
        raise ParameterError(
            f"grid must be a finite, strictly increasing 1-D array of >= 2 energies; "
            f"found shape {g.shape}"
        )
    e = np.asarray(da["energy"].values, dtype=float)
    lo, hi = e[0] - tol, e[-1] + tol
    if outside == "raise" and (g[0] < lo or g[-1] > hi):
        n_out = int(np.sum((g < lo) | (g > hi)))
        raise SpectrumError(
            f"grid {g[0]:g} .. {g[-1]:g} eV extends beyond the data {e[0]:g} .. {e[-1]:g} eV "
            f"({n_out} of {g.size} grid points outside); pass outside='zero', 'edge' or "
            "'nan', or choose a grid inside the data (align to the edge first for "
            "relative grids)"
        )
    g_in = np.clip(g, e[0], e[-1]) if outside == "raise" else g
    return along_energy(
        da, lambda en, y: interp_rows(en, y, g_in, outside, outside), new_energy=g
    )
