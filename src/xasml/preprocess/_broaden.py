"""Gaussian, Lorentzian and Voigt broadening on any (non-uniform) energy grid."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, get_args

import numpy as np
import xarray as xr
from scipy.special import voigt_profile
from scipy.stats import cauchy, norm

from ..errors import ParameterError
from ._common import along_energy, check_spectra

__all__ = ["Profile", "broaden"]

Profile = Literal["gaussian", "lorentzian", "voigt"]
Width = float | np.ndarray | Callable[[np.ndarray], np.ndarray]
_FWHM_PER_SIGMA = 2.0 * np.sqrt(2.0 * np.log(2.0))
_CHUNK = 2048  # output points per kernel block: bounds memory at ~_CHUNK * n floats


def _width(fwhm: Width | None, e: np.ndarray, name: str) -> np.ndarray:
    """FWHM per energy point (eV), validated."""
    if fwhm is None:
        return np.zeros_like(e)
    w = fwhm(e) if callable(fwhm) else fwhm
    try:
        arr = np.broadcast_to(np.asarray(w, dtype=float), e.shape).copy()
    except ValueError:
        raise ParameterError(
            f"{name} must be a scalar, an array of one width per energy ({e.size}) or a "
            f"callable of energy; found shape {np.shape(w)}"
        ) from None
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        bad = arr[~np.isfinite(arr) | (arr < 0)][0]
        raise ParameterError(f"{name} (FWHM, eV) must be finite and >= 0; found {bad:g}")
    return arr


def _inside_fraction(
    lo: np.ndarray, hi: np.ndarray, sig: np.ndarray, gam: np.ndarray
) -> np.ndarray:
    """Fraction of a normalised profile between offsets lo..hi (analytic / pseudo-Voigt)."""
    s, g_ = np.maximum(sig, 1e-300), np.maximum(gam, 1e-300)
    g = norm.cdf(hi, scale=s) - norm.cdf(lo, scale=s)
    lor = cauchy.cdf(hi, scale=g_) - cauchy.cdf(lo, scale=g_)
    # Thompson-Cox-Hastings mixing parameter of the pseudo-Voigt approximation
    fg, fl = _FWHM_PER_SIGMA * sig, 2.0 * gam
    f = (fg**5 + 2.69269 * fg**4 * fl + 2.42843 * fg**3 * fl**2 + 4.47163 * fg**2 * fl**3
         + 0.07842 * fg * fl**4 + fl**5) ** 0.2
    r = np.divide(fl, f, out=np.zeros_like(f), where=f > 0)
    eta = 1.36603 * r - 0.47719 * r**2 + 0.11116 * r**3
    return np.where(gam == 0, g, np.where(sig == 0, lor, eta * lor + (1 - eta) * g))


def broaden_rows(
    e: np.ndarray, y: np.ndarray, sigma: np.ndarray, gamma: np.ndarray
) -> np.ndarray:
    """Convolve rows of ``y(e)`` with Voigt profiles of width ``sigma``/``gamma`` per source point.

    Each source point j spreads its area ``y_j Δ_j`` (trapezoid weights) over
    the grid with a profile of its own width, so an energy-dependent width
    conserves area. Columns are rescaled so that the discrete area inside
    the grid equals the analytic fraction of the profile inside the grid:
    exact area on coarse grids, physical loss at the ends.
    """
    # trapezoid weights
    wts = np.empty_like(e)
    wts[1:-1] = 0.5 * (e[2:] - e[:-2])
    wts[0], wts[-1] = 0.5 * (e[1] - e[0]), 0.5 * (e[-1] - e[-2])
    zero = (sigma == 0) & (gamma == 0)
    frac = _inside_fraction(e[0] - e, e[-1] - e, sigma, gamma)
    # discrete area of each column (over output points), accumulated per block
    col_area = np.zeros(e.size)
    blocks = []
    for start in range(0, e.size, _CHUNK):
        ei = e[start : start + _CHUNK, None]
        k = voigt_profile(ei - e[None, :], sigma[None, :], gamma[None, :])
        k[:, zero] = 0.0
        col_area += wts[start : start + _CHUNK] @ k
        blocks.append(k)
    scale = np.divide(frac, col_area, out=np.zeros_like(col_area), where=col_area > 0)
    out = np.concatenate([(y * (wts * scale)) @ k.T for k in blocks], axis=1)
    if zero.any():  # zero width: the point stays where it is
        out += y * np.where(zero, 1.0, 0.0)
    return out


def broaden(
    da: xr.DataArray,
    fwhm: Width,
    *,
    profile: Profile = "gaussian",
    lorentzian_fwhm: Width | None = None,
) -> xr.DataArray:
    """Broaden spectra by convolution with a Gaussian, Lorentzian or Voigt profile.

    Parameters
    ----------
    da
        Spectrum ``(energy,)``, set or map; any (non-uniform) energy grid.
    fwhm
        Full width at half maximum in eV: a scalar, an array with one width
        per energy point, or a callable ``f(energy) -> widths``. The width of
        each source point's profile is taken at that point's energy. For
        ``profile="voigt"`` this is the Gaussian FWHM.
    profile
        ``"gaussian"``, ``"lorentzian"`` or ``"voigt"``
        (:func:`scipy.special.voigt_profile`).
    lorentzian_fwhm
        Lorentzian FWHM (eV) of a Voigt profile; required for ``"voigt"``.

    Returns
    -------
    xarray.DataArray
        Same grid and dims. Area is conserved, except the part of each
        profile that falls outside the energy range.

    Notes
    -----
    Accuracy needs the grid step to resolve the profile (step ≲ FWHM / 2);
    coarser grids still conserve area.
    """
    da = check_spectra(da)
    if profile not in get_args(Profile):
        raise ParameterError(f"profile must be one of {get_args(Profile)}; found {profile!r}")
    e = np.asarray(da["energy"].values, float)
    w = _width(fwhm, e, "fwhm")
    if profile == "gaussian":
        sigma, gamma = w / _FWHM_PER_SIGMA, np.zeros_like(e)
    elif profile == "lorentzian":
        sigma, gamma = np.zeros_like(e), w / 2.0
    else:
        if lorentzian_fwhm is None:
            raise ParameterError("profile='voigt' needs lorentzian_fwhm (eV); found None")
        sigma, gamma = w / _FWHM_PER_SIGMA, _width(lorentzian_fwhm, e, "lorentzian_fwhm") / 2.0
    return along_energy(da, lambda en, y: broaden_rows(en, y, sigma, gamma))
