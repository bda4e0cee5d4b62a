"""Shared plumbing: validation and lifting a per-spectrum kernel over any dims.

Every kernel in this package works on a 2-D array ``(n_spectra, n_energy)``
with the energy axis last; :func:`along_energy` moves ``energy`` last,
flattens the other dims, calls the kernel and restores the original layout,
so one implementation serves a spectrum ``(energy,)``, a set
``(sample, energy)`` and a map ``(y, x, energy)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import xarray as xr

from ..datamodel import ENERGY, validate
from ..errors import ParameterError

__all__ = ["along_energy", "check_spectra", "energies", "per_spectrum_coords", "positive"]


def check_spectra(da: Any, what: str = "spectrum") -> xr.DataArray:
    """Validate ``da`` as a spectrum/set/map (finite values, increasing energy)."""
    return validate(da, what=what)


def energies(da: xr.DataArray) -> np.ndarray:
    """The energy coordinate as a float array (eV)."""
    return np.asarray(da[ENERGY].values, dtype=float)


def positive(value: float, name: str, *, allow_zero: bool = False) -> float:
    """Return ``value`` as float, or raise ParameterError naming ``name``."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ParameterError(f"{name} must be a number; found {value!r}") from None
    if not np.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ParameterError(f"{name} must be finite and {bound}; found {value!r}")
    return v


def along_energy(
    da: xr.DataArray,
    kernel: Callable[[np.ndarray, np.ndarray], np.ndarray],
    *,
    new_energy: np.ndarray | None = None,
    attrs: dict[str, Any] | None = None,
) -> xr.DataArray:
    """Apply ``kernel(energy, values_2d) -> values_2d`` along ``energy``.

    Parameters
    ----------
    da
        Spectrum, set or map; ``energy`` may be any of its dims.
    kernel
        Called once with the energies ``(n,)`` and all spectra as
        ``(m, n)``; returns ``(m, n_new)``.
    new_energy
        The output grid when it differs from the input grid (resampling);
        coordinates along ``energy`` other than ``energy`` itself are dropped.
    attrs
        Attributes to update on the result (inputs' attrs are kept).

    Returns
    -------
    xarray.DataArray
        New object with the same dims in the same order.
    """
    e = energies(da)
    other = [d for d in da.dims if d != ENERGY]
    moved = da.transpose(*other, ENERGY)
    lead = tuple(moved.shape[:-1])
    out = np.asarray(kernel(e, np.asarray(moved.values, dtype=float).reshape(-1, e.size)))
    n_out = out.shape[-1]
    out = out.reshape((*lead, n_out))
    coords: dict[Any, Any] = {}
    for name, coord in moved.coords.items():
        if new_energy is not None and ENERGY in coord.dims:
            continue  # defined on the old grid
        coords[name] = coord
    if new_energy is not None:
        coords[ENERGY] = (ENERGY, np.asarray(new_energy, dtype=float), dict(da[ENERGY].attrs))
    res = xr.DataArray(
        out, dims=(*other, ENERGY), coords=coords, name=da.name, attrs=dict(da.attrs)
    )
    if attrs:
        res.attrs.update(attrs)
    return res.transpose(*da.dims)


def per_spectrum_coords(
    da: xr.DataArray, values: dict[str, np.ndarray]
) -> xr.DataArray:
    """Attach per-spectrum results: attrs for one spectrum, coords otherwise.

    ``values[k]`` has one entry per spectrum in the flattened order of
    :func:`along_energy` (other dims in their original order).
    """
    other = [d for d in da.dims if d != ENERGY]
    if not other:
        out = da.copy()
        for k, v in values.items():
            out.attrs[k] = float(np.asarray(v).reshape(-1)[0])
        return out
    shape = tuple(da.sizes[d] for d in other)
    return da.assign_coords({k: (tuple(other), np.asarray(v, float).reshape(shape))
                             for k, v in values.items()})
