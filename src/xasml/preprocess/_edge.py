"""Edge energy and Athena-convention edge-step normalisation.

The conventions follow Athena/larch (``larch.xafs.pre_edge``): E0 at the
maximum of the (lightly smoothed) derivative, a line fitted to the pre-edge
region ``[e0 + pre1, e0 + pre2]``, a polynomial of degree ``nnorm`` fitted to
``mu - pre_edge`` over ``[e0 + norm1, e0 + norm2]``, edge step = post − pre at
E0, normalised mu = (mu − pre_edge) / edge_step.

References
----------
B. Ravel, M. Newville, "ATHENA, ARTEMIS, HEPHAESTUS: data analysis for X-ray
absorption spectroscopy using IFEFFIT", J. Synchrotron Rad. 12, 537 (2005).
M. Newville, "Larch: an analysis package for XAFS and related spectroscopies",
J. Phys.: Conf. Ser. 430, 012007 (2013).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr
from scipy.ndimage import gaussian_filter1d

from ..datamodel import ENERGY
from ..errors import ParameterError, SpectrumError
from ._common import along_energy, check_spectra, energies, per_spectrum_coords

__all__ = ["find_e0", "normalize_edge"]


def _smooth_sigma(e: np.ndarray) -> float:
    """Default derivative smoothing (eV): larch's blend of grid step and E/25000."""
    steps = np.diff(e)
    fine = float(np.percentile(steps, 5))
    return 0.5 * (min(1.0, max(0.01, fine)) + min(1.0, max(0.01, float(np.median(e)) / 25000.0)))


def smoothed_derivative(
    e: np.ndarray, y: np.ndarray, sigma: float
) -> tuple[np.ndarray, np.ndarray]:
    """d y / dE of each row, Gaussian-smoothed (``sigma`` eV) on a uniform grid.

    Returns the uniform grid ``(m,)`` and the derivative ``(n_rows, m)``.
    """
    from ._grid import interp_rows

    step = max(sigma / 2.0, (e[-1] - e[0]) / (50 * e.size))
    u = np.arange(e[0], e[-1] + 0.5 * step, step)
    u = u[u <= e[-1]]
    dy = np.gradient(y, e, axis=-1)
    du = interp_rows(e, dy, u, "edge", "edge")
    if sigma > 0:
        du = gaussian_filter1d(du, sigma / step, axis=-1, mode="nearest")
    return u, du


def _e0_rows(e: np.ndarray, y: np.ndarray, sigma: float | None) -> np.ndarray:
    s = _smooth_sigma(e) if sigma is None else sigma
    u, du = smoothed_derivative(e, y, s)
    # ignore the first/last 2 % (at least 3 points): end glitches, as larch does
    nmin = max(3, int(0.02 * u.size))
    inner = du[:, nmin : u.size - nmin]
    i = np.argmax(inner, axis=1) + nmin
    # parabola through the maximum and its neighbours: sub-grid precision
    rows = np.arange(du.shape[0])
    ym, y0, yp = du[rows, i - 1], du[rows, i], du[rows, i + 1]
    den = ym - 2 * y0 + yp
    off = np.where(den < 0, 0.5 * (ym - yp) / np.where(den < 0, den, 1.0), 0.0)
    step = u[1] - u[0]
    return u[i] + np.clip(off, -0.5, 0.5) * step


def find_e0(da: xr.DataArray, *, sigma: float | None = None) -> float | xr.DataArray:
    """Edge energy E0: the maximum of the smoothed derivative dmu/dE.

    Parameters
    ----------
    da
        Spectrum ``(energy,)``, set or map of mu(E) (absolute energies, eV).
    sigma
        Gaussian smoothing of the derivative in eV. Default as larch
        (``find_e0``): the mean of the finest grid step and E/25000, each
        clipped to [0.01, 1] eV. ``0`` disables smoothing.

    Returns
    -------
    float or xarray.DataArray
        E0 in eV; for sets/maps a DataArray over the non-energy dims.
    """
    da = check_spectra(da)
    if sigma is not None and (not np.isfinite(sigma) or sigma < 0):
        raise ParameterError(f"sigma must be >= 0 eV; found {sigma!r}")
    e = energies(da)
    other = [d for d in da.dims if d != ENERGY]
    y = np.asarray(da.transpose(*other, ENERGY).values, float).reshape(-1, e.size)
    if e.size < 8:
        raise SpectrumError(f"find_e0 needs at least 8 energy points; found {e.size}")
    e0 = _e0_rows(e, y, sigma)
    if not other:
        return float(e0[0])
    coords = {k: v for k, v in da.coords.items() if ENERGY not in v.dims}
    return xr.DataArray(
        e0.reshape([da.sizes[d] for d in other]), dims=other, coords=coords, name="e0",
        attrs={"units": "eV"},
    )


@dataclass(frozen=True)
class _Ranges:
    pre1: float
    pre2: float
    norm1: float
    norm2: float
    nnorm: int


def _ranges(
    e: np.ndarray, e0: float, pre1: float | None, pre2: float | None,
    norm1: float | None, norm2: float | None, nnorm: int | None,
) -> _Ranges:
    """Fit ranges relative to E0, with larch's defaults and clipping to the data."""
    ie0 = int(np.abs(e - e0).argmin())
    if pre1 is None:  # skip the first point, often bad; round to 5 (or 2) eV like larch
        r = 5.0 if ie0 > 20 else 2.0
        pre1 = r * round((e[1] - e0) / r)
    pre1 = max(pre1, e[0] - e0)
    if pre2 is None:
        pre2 = 0.5 * pre1
    if pre1 > pre2:
        pre1, pre2 = pre2, pre1
    if norm2 is None:
        norm2 = 5.0 * round((e[-1] - e0) / 5.0)
    norm2 = min(norm2, e[-1] - e0)
    if norm1 is None:
        norm1 = min(25.0, 5.0 * round(norm2 / 15.0))
    if norm1 > norm2:
        norm1, norm2 = norm2, norm1
    if nnorm is None:
        span = norm2 - norm1
        nnorm = 2 if span >= 300 else 1 if span >= 30 else 0
    return _Ranges(float(pre1), float(pre2), float(norm1), float(norm2), int(nnorm))


def _window(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Fit points as larch picks them: from the point at/below ``lo`` up to,
    not including, the point nearest ``hi``."""
    i1 = int(np.flatnonzero(x <= lo)[-1]) if x[0] <= lo else 0
    i2 = int(np.abs(x - hi).argmin())
    mask = np.zeros(x.size, dtype=bool)
    mask[i1:i2] = True
    return mask


def _fit_rows(
    e: np.ndarray, y: np.ndarray, e0s: np.ndarray, kw: dict[str, Any], step: float | None,
) -> tuple[np.ndarray, list[dict[str, Any]]]:
    out = np.empty_like(y)
    info: list[dict[str, Any]] = []
    for k in range(y.shape[0]):
        e0 = float(e0s[k])
        # ranges and windows anchored on the data point nearest E0 (as larch): a
        # sub-step change of E0 must not move a window edge by a point
        anchor = float(e[int(np.abs(e - e0).argmin())])
        r = _ranges(e, anchor, **kw)
        x, xs = e - e0, e - anchor
        pre = _window(xs, r.pre1, r.pre2)
        if pre.sum() < 2:
            raise ParameterError(
                f"pre-edge range [pre1, pre2] = [{r.pre1:g}, {r.pre2:g}] eV from E0 = {e0:g} eV "
                f"holds {int(pre.sum())} data point(s); expected at least 2 "
                f"(data start {x[0]:g} eV from E0)"
            )
        pre_c = np.polynomial.polynomial.polyfit(x[pre], y[k, pre], 1)
        pre_line = pre_c[0] + pre_c[1] * x
        post = _window(xs, r.norm1, r.norm2)
        if post.sum() < r.nnorm + 2:
            raise ParameterError(
                f"post-edge range [norm1, norm2] = [{r.norm1:g}, {r.norm2:g}] eV from E0 holds "
                f"{int(post.sum())} data point(s); expected at least nnorm + 2 = {r.nnorm + 2} "
                f"(data end {x[-1]:g} eV from E0)"
            )
        post_c = np.polynomial.polynomial.polyfit(x[post], y[k, post] - pre_line[post], r.nnorm)
        # evaluated at the data point nearest E0, as larch (matters on coarse grids)
        x0 = float(x[int(np.abs(x).argmin())])
        fitted = float(np.polynomial.polynomial.polyval(x0, post_c))
        edge_step = fitted if step is None else float(step)
        if not edge_step > 0:
            raise SpectrumError(
                f"edge step at E0 = {e0:g} eV is {edge_step:g}; expected > 0 "
                "(no rising absorption edge in the data, or wrong E0/ranges)"
            )
        out[k] = (y[k] - pre_line) / edge_step
        info.append({
            "e0": e0, "edge_step": edge_step, "pre1": r.pre1, "pre2": r.pre2,
            "norm1": r.norm1, "norm2": r.norm2, "nnorm": r.nnorm,
            "pre_coefs": [float(c) for c in pre_c],
            "post_coefs": [float(c) for c in post_c],
        })
    return out, info


def normalize_edge(
    da: xr.DataArray,
    *,
    e0: float | Any | None = None,
    pre1: float | None = None,
    pre2: float | None = None,
    norm1: float | None = None,
    norm2: float | None = None,
    nnorm: int | None = None,
    step: float | None = None,
    sigma: float | None = None,
) -> xr.DataArray:
    """Edge-step normalisation (pre-edge line, post-edge polynomial), Athena/larch style.

    Parameters
    ----------
    da
        mu(E): spectrum ``(energy,)``, set ``(sample, energy)`` or map
        ``(y, x, energy)``, absolute energies in eV.
    e0
        Edge energy in eV (scalar, or one per spectrum); default
        :func:`find_e0`.
    pre1, pre2
        Pre-edge fit range relative to E0 (eV). Defaults as larch: ``pre1``
        = the second data point relative to E0, rounded to 5 eV; ``pre2`` =
        ``pre1 / 2``. ``pre1`` is clipped to the data start.
    norm1, norm2
        Post-edge fit range relative to E0 (eV). Defaults as larch: ``norm2``
        = data end − E0 rounded to 5 eV (clipped to the data end);
        ``norm1`` = min(25, norm2 / 15 rounded to 5 eV).
    nnorm
        Degree of the post-edge polynomial (0–3). Default as larch: 2 if
        ``norm2 − norm1 >= 300`` eV, 1 if ``>= 30`` eV, else 0.
    step
        Fixed edge step instead of the fitted one.
    sigma
        Derivative smoothing for :func:`find_e0` (eV).

    Returns
    -------
    xarray.DataArray
        Normalised mu, same dims, ``attrs['signal'] = 'norm'``. For a single
        spectrum ``attrs`` gets ``e0``, ``edge_step``, ``pre1``, ``pre2``,
        ``norm1``, ``norm2``, ``nnorm``, ``pre_coefs`` (line in E − E0) and
        ``post_coefs`` (polynomial in E − E0 of mu − pre_edge); for sets and
        maps the scalar ones are per-spectrum coordinates.

    Raises
    ------
    ParameterError
        Bad ``nnorm``, ``e0`` outside the data, or a fit range with too few points.
    """
    da = check_spectra(da)
    e = energies(da)
    if nnorm is not None and (not isinstance(nnorm, (int, np.integer)) or not 0 <= nnorm <= 3):
        raise ParameterError(f"nnorm must be an integer 0..3; found {nnorm!r}")
    if step is not None and not (np.isfinite(step) and step > 0):
        raise ParameterError(f"step must be a finite edge step > 0; found {step!r}")
    for name, val in (("pre1", pre1), ("pre2", pre2), ("norm1", norm1), ("norm2", norm2)):
        if val is not None and not np.isfinite(val):
            raise ParameterError(
                f"{name} must be a finite energy in eV relative to E0; found {val!r}"
            )
    other = [d for d in da.dims if d != ENERGY]
    n_rows = int(np.prod([da.sizes[d] for d in other])) if other else 1
    if e0 is None:
        y = np.asarray(da.transpose(*other, ENERGY).values, float).reshape(n_rows, e.size)
        e0s = _e0_rows(e, y, sigma)
    else:
        if np.size(e0) not in (1, n_rows):
            raise ParameterError(f"e0 must be a scalar or one value per spectrum ({n_rows}); "
                                 f"found {np.size(e0)} values")
        e0s = np.broadcast_to(np.asarray(e0, float).reshape(-1), (n_rows,))
        bad = (e0s <= e[0]) | (e0s >= e[-1]) | ~np.isfinite(e0s)
        if bad.any():
            raise ParameterError(
                f"e0 = {float(e0s[bad][0]):g} eV lies outside the data {e[0]:g} .. {e[-1]:g} eV"
            )
    kw = {"pre1": pre1, "pre2": pre2, "norm1": norm1, "norm2": norm2, "nnorm": nnorm}
    info: list[dict[str, Any]] = []

    def kernel(en: np.ndarray, y: np.ndarray) -> np.ndarray:
        out, inf = _fit_rows(en, y, e0s, kw, step)
        info.extend(inf)
        return out

    res = along_energy(da, kernel, attrs={"signal": "norm"})
    if not other:
        res.attrs.update(info[0])
        return res
    keys = ("e0", "edge_step", "pre1", "pre2", "norm1", "norm2", "nnorm")
    return per_spectrum_coords(res, {k: np.array([d[k] for d in info]) for k in keys})
