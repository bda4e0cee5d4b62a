"""Energy alignment: edge at 0 eV, to a reference, or at an excitation energy."""

from __future__ import annotations

from typing import Literal

import numpy as np
import xarray as xr
from scipy.signal import correlate

from ..datamodel import ENERGY
from ..errors import ParameterError, SpectrumError
from ._common import along_energy, check_spectra, energies, per_spectrum_coords
from ._edge import _e0_rows, smoothed_derivative
from ._grid import KIYOHARA_GRID, Outside, check_outside, interp_rows

__all__ = ["align_at_excitation", "align_edge", "align_to_reference", "estimate_shift"]


def _rows(da: xr.DataArray) -> tuple[np.ndarray, np.ndarray, list]:
    other = [d for d in da.dims if d != ENERGY]
    e = energies(da)
    return e, np.asarray(da.transpose(*other, ENERGY).values, float).reshape(-1, e.size), other


def _threshold_rows(e: np.ndarray, y: np.ndarray, level: float) -> np.ndarray:
    """First energy where each row rises through ``level`` (linear interpolation)."""
    out = np.empty(y.shape[0])
    for k, row in enumerate(y):
        above = np.flatnonzero((row[:-1] < level) & (row[1:] >= level))
        if above.size == 0:
            raise SpectrumError(
                f"spectrum {k} never rises through threshold {level:g} "
                f"(values {row.min():g} .. {row.max():g}); normalise first or change threshold"
            )
        i = above[0]
        out[k] = e[i] + (level - row[i]) * (e[i + 1] - e[i]) / (row[i + 1] - row[i])
    return out


def _shift_rows(e: np.ndarray, y: np.ndarray, shifts: np.ndarray, grid: np.ndarray,
                outside: str) -> np.ndarray:
    """Row k sampled at ``grid - shifts[k]`` (its energies moved by ``+shifts[k]``)."""
    out = np.empty((y.shape[0], grid.size))
    for k in range(y.shape[0]):
        x = grid - shifts[k]
        if outside == "raise" and (x[0] < e[0] - 1e-9 or x[-1] > e[-1] + 1e-9):
            raise SpectrumError(
                f"spectrum {k} shifted by {shifts[k]:+g} eV covers {e[0] + shifts[k]:g} .. "
                f"{e[-1] + shifts[k]:g} eV, not the grid {grid[0]:g} .. {grid[-1]:g} eV; "
                "pass outside='edge', 'zero' or 'nan'"
            )
        out[k] = interp_rows(e, y[k : k + 1], np.clip(x, e[0], e[-1]) if outside == "raise"
                             else x, outside, outside)[0]
    return out


def align_edge(
    da: xr.DataArray,
    *,
    e0: float | np.ndarray | None = None,
    method: Literal["derivative", "threshold"] = "derivative",
    threshold: float = 0.5,
    grid: np.ndarray | None = None,
    outside: Outside = "edge",
) -> xr.DataArray:
    """Shift energies so that each spectrum's edge sits at 0 eV.

    Parameters
    ----------
    da
        Spectrum, set or map.
    e0
        Edge energies (scalar or one per spectrum); default found by ``method``.
    method
        ``"derivative"`` (:func:`find_e0`) or ``"threshold"``: the first
        crossing of ``threshold`` (for normalised spectra, e.g. 0.5).
    grid
        Relative output grid (eV). Default: a single spectrum keeps its points
        (energies minus E0, no interpolation); a set/map is interpolated onto
        its energies minus the median E0.
    outside
        Out-of-range handling when interpolating (see :func:`resample`);
        default ``"edge"`` because shifted rows never all cover one grid.

    Returns
    -------
    xarray.DataArray
        Relative energies; ``e0`` in attrs (spectrum) or coords (set/map).
    """
    da = check_spectra(da)
    check_outside(outside)
    e, y, other = _rows(da)
    if e0 is not None:
        e0s = np.broadcast_to(np.asarray(e0, float).reshape(-1), (y.shape[0],)).copy()
    elif method == "derivative":
        e0s = _e0_rows(e, y, None)
    elif method == "threshold":
        e0s = _threshold_rows(e, y, threshold)
    else:
        raise ParameterError(f"method must be 'derivative' or 'threshold'; found {method!r}")
    if not other and grid is None:
        out = da.assign_coords({ENERGY: (ENERGY, e - e0s[0], dict(da[ENERGY].attrs))})
        out.attrs["e0"] = float(e0s[0])
        return out
    g = e - float(np.median(e0s)) if grid is None else np.asarray(grid, float)
    res = along_energy(da, lambda en, yy: _shift_rows(en, yy, -e0s, g, outside), new_energy=g)
    return per_spectrum_coords(res, {"e0": e0s})


def estimate_shift(
    da: xr.DataArray,
    reference: xr.DataArray,
    *,
    emin: float | None = None,
    emax: float | None = None,
    sigma: float = 0.5,
) -> float | np.ndarray:
    """Energy shift (eV) to add to ``da``'s energies to align it with ``reference``.

    Cross-correlates the smoothed derivatives on a common fine uniform grid
    over the overlap ``[emin, emax]`` and refines the peak with a parabola
    (sub-grid precision).

    Returns
    -------
    float or numpy.ndarray
        One shift per spectrum (float for a single spectrum).
    """
    da, reference = check_spectra(da), check_spectra(reference, "reference")
    if reference.dims != (ENERGY,):
        raise SpectrumError(f"reference must be one spectrum (energy,); found {reference.dims}")
    e, y, other = _rows(da)
    er = energies(reference)
    lo = max(e[0], er[0], -np.inf if emin is None else emin)
    hi = min(e[-1], er[-1], np.inf if emax is None else emax)
    if not hi - lo > 4 * sigma:
        raise ParameterError(
            f"overlap of spectrum ({e[0]:g} .. {e[-1]:g}) and reference ({er[0]:g} .. "
            f"{er[-1]:g}) within emin/emax is {lo:g} .. {hi:g} eV; too short to align"
        )
    step = min(np.median(np.diff(e)), np.median(np.diff(er)), sigma) / 4
    u = np.arange(lo, hi, step)
    ud, d = smoothed_derivative(e, y, sigma)
    ur, dr = smoothed_derivative(er, reference.values[None, :].astype(float), sigma)
    ref = interp_rows(ur, dr, u, "edge", "edge")[0]
    ref = ref - ref.mean()
    shifts = np.empty(y.shape[0])
    for k in range(y.shape[0]):
        row = interp_rows(ud, d[k : k + 1], u, "edge", "edge")[0]
        c = correlate(row - row.mean(), ref, mode="full", method="fft")
        i = int(np.clip(np.argmax(c), 1, c.size - 2))
        den = c[i - 1] - 2 * c[i] + c[i + 1]
        frac = 0.5 * (c[i - 1] - c[i + 1]) / den if den < 0 else 0.0
        shifts[k] = -(i - (u.size - 1) + frac) * step
    return float(shifts[0]) if not other else shifts


def align_to_reference(
    da: xr.DataArray, reference: xr.DataArray, *, emin: float | None = None,
    emax: float | None = None, sigma: float = 0.5, outside: Outside = "edge",
) -> xr.DataArray:
    """Shift spectra onto a reference by cross-correlating derivatives.

    The result stays on ``da``'s grid (interpolated; ``outside`` handles the
    end points the shift uncovers); the applied shift is in
    ``attrs['energy_shift']`` (spectrum) or coord ``energy_shift`` (set/map).
    See :func:`estimate_shift`.
    """
    check_outside(outside)
    shifts = np.atleast_1d(estimate_shift(da, reference, emin=emin, emax=emax, sigma=sigma))
    res = along_energy(da, lambda en, yy: _shift_rows(en, yy, shifts, en, outside))
    return per_spectrum_coords(res, {"energy_shift": shifts})


def align_at_excitation(
    da: xr.DataArray,
    excitation_energy: float | np.ndarray,
    *,
    grid: np.ndarray | None = None,
    above: Outside = "raise",
) -> xr.DataArray:
    """Put the excitation (onset) energy at 0 eV and zero-pad below the data.

    As in Kiyohara et al. (2019): spectra are aligned at the excitation
    energy and resampled onto a common relative grid (default
    :data:`KIYOHARA_GRID`), with zeros where the grid lies below the data.

    Parameters
    ----------
    excitation_energy
        Absolute onset energy in eV (scalar or one per spectrum).
    above
        Handling of grid points above the data end (default raise).

    References
    ----------
    S. Kiyohara, M. Tsubaki, K. Liao, T. Mizoguchi, "Quantitative estimation of
    properties from core-loss spectrum via neural network", J. Phys. Mater. 2,
    024003 (2019).
    """
    da = check_spectra(da)
    check_outside(above, "above")
    _e, y, _other = _rows(da)
    exc = np.broadcast_to(np.asarray(excitation_energy, float).reshape(-1), (y.shape[0],))
    g = KIYOHARA_GRID if grid is None else np.asarray(grid, float)

    def kernel(en: np.ndarray, yy: np.ndarray) -> np.ndarray:
        out = np.empty((yy.shape[0], g.size))
        for k in range(yy.shape[0]):
            x = en - exc[k]
            if above == "raise" and g[-1] > x[-1] + 1e-9:
                raise SpectrumError(
                    f"grid end {g[-1]:g} eV lies above the data end {x[-1]:g} eV relative to "
                    f"the excitation energy {exc[k]:g} eV; pass above='zero', 'edge' or 'nan'"
                )
            out[k] = interp_rows(x, yy[k : k + 1], g, "zero",
                                 "edge" if above == "raise" else above)[0]
        return out

    res = along_energy(da, kernel, new_energy=g)
    return per_spectrum_coords(res, {"excitation_energy": exc})
