"""Data augmentation: noise, energy shifts and extra broadening (seeded)."""

from __future__ import annotations

import numpy as np
import xarray as xr

from ..datamodel import ENERGY, SAMPLE
from ..errors import ParameterError
from ._broaden import broaden_rows
from ._common import check_spectra, positive
from ._grid import interp_rows

__all__ = ["augment"]

_FWHM_PER_SIGMA = 2.0 * np.sqrt(2.0 * np.log(2.0))


def augment(
    da: xr.DataArray,
    *,
    copies: int = 1,
    noise: float = 0.0,
    shift: float = 0.0,
    fwhm: float = 0.0,
    random_state: int | np.random.Generator | None = None,
) -> xr.DataArray:
    """Randomly perturbed copies of spectra for training.

    Parameters
    ----------
    da
        Spectrum ``(energy,)`` or set ``(sample, energy)``.
    copies
        Perturbed copies per input spectrum.
    noise
        Standard deviation of Gaussian noise, relative to each spectrum's maximum.
    shift
        Energy shifts drawn uniformly from ``[-shift, shift]`` eV (ends extended).
    fwhm
        Extra Gaussian broadening, FWHM drawn uniformly from ``[0, fwhm]`` eV.
    random_state
        Seed or Generator; the same seed gives the same output.

    Returns
    -------
    xarray.DataArray
        ``(sample, energy)`` with ``copies × n_sample`` rows, copies of a
        spectrum adjacent; sample labels repeated; coord ``source_sample``
        gives the input row.
    """
    da = check_spectra(da)
    if da.dims == (ENERGY,):
        da = da.expand_dims(SAMPLE)
    if da.dims != (SAMPLE, ENERGY):
        raise ParameterError(f"augment takes (energy,) or (sample, energy); found {da.dims}")
    if not isinstance(copies, (int, np.integer)) or copies < 1:
        raise ParameterError(f"copies must be an integer >= 1; found {copies!r}")
    noise = positive(noise, "noise", allow_zero=True)
    shift = positive(shift, "shift", allow_zero=True)
    fwhm = positive(fwhm, "fwhm", allow_zero=True)
    rng = np.random.default_rng(random_state)
    idx = np.repeat(np.arange(da.sizes[SAMPLE]), copies)
    out = da.isel({SAMPLE: idx})
    e = np.asarray(da[ENERGY].values, float)
    y = np.asarray(out.values, float).copy()
    for k in range(y.shape[0]):
        if fwhm > 0:
            s = np.full(e.size, rng.uniform(0, fwhm) / _FWHM_PER_SIGMA)
            y[k] = broaden_rows(e, y[k : k + 1], s, np.zeros_like(e))[0]
        if shift > 0:
            y[k] = interp_rows(e, y[k : k + 1], e - rng.uniform(-shift, shift), "edge", "edge")[0]
        if noise > 0:
            y[k] += rng.normal(0.0, noise * np.abs(y[k]).max(), e.size)
    return out.copy(data=y).assign_coords(
        {SAMPLE: np.arange(idx.size), "source_sample": (SAMPLE, idx)}
    )
