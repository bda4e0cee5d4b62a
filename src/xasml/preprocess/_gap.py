"""Bridging the simulation → measurement gap: energy shift and instrument broadening.

Simulated K-edge spectra (FEFF) are already step-normalised, sit on the
code's own energy scale (a few eV off the experimental one) and carry only
the core-hole lifetime width, not the monochromator resolution. Before a
model trained on simulations sees a measured spectrum, both are put on one
footing: the measurement is step-normalised, both are aligned (each to its
own edge, or the simulations by one global shift), the simulations are
broadened by an extra Gaussian, and both are resampled onto one grid
(:func:`harmonize`).

The width is chosen without labels by :func:`edge_slope_fwhm`: the extra
Gaussian that gives the simulated edges the median steepness of the
measured ones (the edge slope is set by the core-hole width and the
resolution, much less by the structure). The shift and width can also be
fitted directly: :func:`fit_shift_broadening`
for one simulated/measured pair (least squares on a grid of widths and
shifts, refined by a parabola), :func:`fit_domain_gap` for whole sets
(the width and shift that bring the measured spectra closest to their
nearest simulated spectra — a label-free criterion in the spirit of the
similarity-based alignment of Suzuki et al., *npj Comput. Mater.* 5, 39
(2019)).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import xarray as xr

from ..datamodel import ENERGY, SAMPLE
from ..errors import ParameterError, SpectrumError
from ._align import align_edge
from ._broaden import broaden
from ._common import check_spectra, energies
from ._edge import normalize_edge
from ._grid import interp_rows, resample

__all__ = [
    "DomainGap",
    "ShiftBroadening",
    "edge_slope_fwhm",
    "fit_domain_gap",
    "fit_shift_broadening",
    "harmonize",
]

Alignment = Literal["edge", "none"]


@dataclass(frozen=True)
class ShiftBroadening:
    """Best shift and extra Gaussian width mapping a simulation onto a target.

    Attributes
    ----------
    shift
        eV added to the simulation's energies.
    fwhm
        Extra Gaussian FWHM (eV) applied to the simulation.
    rmse
        Root-mean-square residual over the compared window.
    """

    shift: float
    fwhm: float
    rmse: float


@dataclass(frozen=True)
class DomainGap:
    """Set-level gap fit (:func:`fit_domain_gap`).

    Attributes
    ----------
    fwhm, shift
        Chosen extra Gaussian FWHM of the simulations and global shift (eV).
    fwhms, shifts
        Candidate values searched.
    score
        Median over measured spectra of the distance to the nearest
        simulated spectrum, shape ``(len(fwhms), len(shifts))``.
    """

    fwhm: float
    shift: float
    fwhms: np.ndarray
    shifts: np.ndarray
    score: np.ndarray


def _rows(da: xr.DataArray) -> np.ndarray:
    if da.dims == (ENERGY,):
        return np.asarray(da.values, float)[None, :]
    if da.dims != (SAMPLE, ENERGY):
        raise ParameterError(f"expected (energy,) or (sample, energy); found {da.dims}")
    return np.asarray(da.values, float)


def harmonize(
    da: xr.DataArray,
    grid: np.ndarray,
    *,
    normalize: bool = False,
    fwhm: float = 0.0,
    align: Alignment = "edge",
    threshold: float = 0.5,
    shift: float = 0.0,
) -> xr.DataArray:
    """Put simulated or measured spectra on a common footing.

    Steps, in order: edge-step normalisation (``normalize``; FEFF mu is
    already normalised), extra Gaussian broadening (``fwhm``), a rigid
    ``shift``, alignment, resampling onto ``grid``.

    Parameters
    ----------
    da
        Spectrum ``(energy,)`` or set ``(sample, energy)``, absolute energies (eV).
    grid
        Output energies (eV), shape ``(n,)``: relative to each spectrum's edge
        with ``align="edge"``, absolute with ``align="none"``.
    normalize
        Apply :func:`normalize_edge` (larch-style defaults) first.
    fwhm
        Extra Gaussian FWHM in eV (0: none).
    align
        ``"edge"``: each spectrum to its own edge, the first crossing of
        ``threshold`` of the normalised step (half-step E0; more robust than
        the derivative maximum for edges with shoulders, e.g. Cu(II));
        ``"none"``: keep the absolute scale (after ``shift``).
    threshold
        Step fraction that defines the edge for ``align="edge"``.
    shift
        eV added to the energies before alignment (a global calibration).

    Returns
    -------
    xarray.DataArray
        ``(sample, energy)`` on ``grid``; values beyond a spectrum's range take
        its end values. With ``align="edge"`` the E0 of each spectrum is in
        coord ``e0``.
    """
    da = check_spectra(da)
    if da.dims == (ENERGY,):
        da = da.expand_dims(SAMPLE)
    if align not in ("edge", "none"):
        raise ParameterError(f"align must be 'edge' or 'none'; found {align!r}")
    g = np.asarray(grid, float)
    if normalize:
        da = normalize_edge(da)
    if fwhm < 0:
        raise ParameterError(f"fwhm must be >= 0 eV; found {fwhm}")
    if fwhm > 0:
        da = broaden(da, fwhm)
    if shift:
        da = da.assign_coords({ENERGY: (ENERGY, energies(da) + shift, dict(da[ENERGY].attrs))})
    if align == "edge":
        return align_edge(da, method="threshold", threshold=threshold, grid=g, outside="edge")
    return resample(da, g, outside="edge")


def _shifted(e: np.ndarray, y: np.ndarray, x: np.ndarray, shifts: np.ndarray) -> np.ndarray:
    """``y(x - s)`` for every shift ``s``: shape ``(len(shifts), len(x))``."""
    pts = (x[None, :] - shifts[:, None]).ravel()
    return np.asarray(interp_rows(e, y[None, :], pts, "edge", "edge")[0]).reshape(shifts.size, -1)


def _parabola(x: np.ndarray, f: np.ndarray, i: int) -> float:
    if 0 < i < x.size - 1:
        den = f[i - 1] - 2 * f[i] + f[i + 1]
        if den > 0:
            return float(x[i] + 0.5 * (f[i - 1] - f[i + 1]) / den * (x[1] - x[0]))
    return float(x[i])


def fit_shift_broadening(
    sim: xr.DataArray,
    target: xr.DataArray,
    *,
    fwhms: Sequence[float] | np.ndarray = tuple(np.arange(0.0, 8.01, 0.25)),
    max_shift: float = 10.0,
    shift_step: float = 0.1,
    emin: float | None = None,
    emax: float | None = None,
) -> ShiftBroadening:
    """Shift and extra Gaussian broadening that best map ``sim`` onto ``target``.

    Least squares over a grid of FWHMs and shifts, compared on ``target``'s
    energies within ``[emin, emax]``; the shift is refined by a parabola
    through the best grid point and its neighbours, the FWHM likewise.

    Parameters
    ----------
    sim, target
        One spectrum each ``(energy,)``, same normalisation, absolute or
        common relative energies (eV).
    fwhms
        Candidate extra Gaussian FWHMs (eV), increasing and evenly spaced.
    max_shift, shift_step
        Shifts searched: ``-max_shift .. +max_shift`` in steps of ``shift_step`` eV.
    emin, emax
        Window compared (eV, ``target``'s energies; default its whole range).

    Returns
    -------
    ShiftBroadening
    """
    sim, target = check_spectra(sim, "sim"), check_spectra(target, "target")
    if sim.dims != (ENERGY,) or target.dims != (ENERGY,):
        raise ParameterError(f"sim and target must be single spectra; found {sim.dims}, "
                             f"{target.dims}")
    w = np.asarray(fwhms, float)
    if w.ndim != 1 or w.size < 1 or np.any(w < 0) or np.any(np.diff(w) <= 0):
        raise ParameterError(f"fwhms must be increasing values >= 0; found {w}")
    if not (max_shift > 0 and shift_step > 0):
        raise ParameterError(f"max_shift and shift_step must be > 0; found {max_shift}, "
                             f"{shift_step}")
    et, yt = energies(target), np.asarray(target.values, float)
    keep = (et >= (et[0] if emin is None else emin)) & (et <= (et[-1] if emax is None else emax))
    if keep.sum() < 5:
        raise SpectrumError(f"fewer than 5 target points within emin={emin}, emax={emax} eV")
    x, yt = et[keep], yt[keep]
    shifts = np.arange(-max_shift, max_shift + shift_step / 2, shift_step)
    es = energies(sim)
    rmse = np.empty((w.size, shifts.size))
    for i, fw in enumerate(w):
        ys = np.asarray((broaden(sim, fw) if fw > 0 else sim).values, float)
        rmse[i] = np.sqrt(np.mean((_shifted(es, ys, x, shifts) - yt) ** 2, axis=1))
    bi, bj = (int(v) for v in np.unravel_index(int(np.argmin(rmse)), rmse.shape))
    fw = _parabola(w, rmse[:, bj], bi) if w.size > 2 else float(w[bi])
    return ShiftBroadening(shift=_parabola(shifts, rmse[bi], bj),
                           fwhm=float(np.clip(fw, w[0], w[-1])), rmse=float(rmse[bi, bj]))


def fit_domain_gap(
    sim: xr.DataArray,
    measured: xr.DataArray,
    grid: np.ndarray,
    *,
    fwhms: Sequence[float] = (0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0),
    shifts: Sequence[float] = (0.0,),
    align: Alignment = "edge",
    normalize_measured: bool = True,
) -> DomainGap:
    """Label-free choice of the simulations' extra broadening and global shift.

    For each candidate (FWHM, shift) the simulations are harmonised
    (:func:`harmonize`) and every measured spectrum's RMS distance to its
    nearest simulated spectrum is taken; the candidate with the smallest
    median distance wins. No labels are used, so the measured set may be
    the one later classified.

    Parameters
    ----------
    sim
        Simulated set ``(sample, energy)``, step-normalised, absolute energies.
    measured
        Measured set ``(sample, energy)`` (or one spectrum), absolute energies.
    grid
        Common grid (eV): relative with ``align="edge"``, absolute otherwise.
    fwhms, shifts
        Candidates (eV); shifts are added to the simulations' energies.
    align
        As in :func:`harmonize`.
    normalize_measured
        Step-normalise the measured spectra first.

    Returns
    -------
    DomainGap
    """
    w, s = np.asarray(fwhms, float), np.asarray(shifts, float)
    if w.size < 1 or s.size < 1:
        raise ParameterError("fwhms and shifts need at least one candidate each")
    meas = _rows(harmonize(measured, grid, normalize=normalize_measured, align=align))
    score = np.empty((w.size, s.size))
    for i, fw in enumerate(w):
        base = broaden(sim, fw) if fw > 0 else sim
        for j, sh in enumerate(s):
            x = _rows(harmonize(base, grid, align=align, shift=float(sh)))
            d2 = (meas**2).sum(1)[:, None] - 2 * meas @ x.T + (x**2).sum(1)[None, :]
            score[i, j] = float(np.median(np.sqrt(np.maximum(d2.min(1), 0) / x.shape[1])))
    bi, bj = (int(v) for v in np.unravel_index(int(np.argmin(score)), score.shape))
    return DomainGap(fwhm=float(w[bi]), shift=float(s[bj]), fwhms=w, shifts=s, score=score)


def _max_slopes(da: xr.DataArray, grid: np.ndarray, window: tuple[float, float]) -> np.ndarray:
    x = harmonize(da, grid)  # each on its own half-step E0
    keep = (grid >= window[0]) & (grid <= window[1])
    return np.asarray(np.gradient(x.values, grid, axis=1)[:, keep].max(axis=1))


def edge_slope_fwhm(
    sim: xr.DataArray,
    measured: xr.DataArray,
    *,
    fwhms: Sequence[float] | np.ndarray = tuple(np.arange(0.0, 6.01, 0.25)),
    window: tuple[float, float] = (-5.0, 10.0),
    step: float = 0.25,
    normalize_measured: bool = True,
) -> float:
    """Extra Gaussian FWHM that matches the simulations' edge steepness to measurement.

    The steepest slope of the normalised edge (within ``window`` eV of each
    spectrum's half-step E0, on a ``step`` eV grid) falls monotonically with
    broadening. The FWHM where the median simulated slope meets the median
    measured slope is returned (linear interpolation between candidates;
    clipped to the candidate range). No labels are used.

    Parameters
    ----------
    sim
        Simulated set ``(sample, energy)``, step-normalised.
    measured
        Measured spectrum or set (normalised here unless ``normalize_measured``
        is false).
    fwhms
        Increasing candidate FWHMs (eV).
    window, step
        Edge window (eV, relative to E0) and grid step (eV) of the slopes.

    Returns
    -------
    float
        FWHM in eV.
    """
    w = np.asarray(fwhms, float)
    if w.ndim != 1 or w.size < 2 or np.any(w < 0) or np.any(np.diff(w) <= 0):
        raise ParameterError(f"fwhms must be at least two increasing values >= 0; found {w}")
    grid = np.arange(window[0] - 10.0, window[1] + 10.0 + step / 2, step)
    meas = normalize_edge(measured) if normalize_measured else measured
    target = float(np.median(_max_slopes(meas, grid, window)))
    sim_slope = np.array([np.median(_max_slopes(broaden(sim, fw) if fw > 0 else sim, grid,
                                                window)) for fw in w])
    # slope decreases with width: interpolate on the reversed (increasing) arrays
    return float(np.interp(target, sim_slope[::-1], w[::-1]))
