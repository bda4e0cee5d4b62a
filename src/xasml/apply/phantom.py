"""Synthetic STXM stacks with known parameter maps, for testing the map pipeline.

:func:`phantom_stack` paints domains of known labels (e.g. Mn charge and 10Dq)
with spectra drawn from any labelled reference set ``(sample, energy)`` — a
multiplet-simulated library or a toy model — on a sample of varying thickness,
adds a sample-free strip for I0, one "foreign" domain whose spectrum the model
never saw, a per-energy sub-pixel drift, and Poisson noise on the transmitted
counts. The ground truth comes back beside the stack.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import xarray as xr

from ..datamodel import ENERGY, SAMPLE, validate
from ..errors import ParameterError, SpectrumError

__all__ = ["Phantom", "phantom_stack", "reference_spectra"]


@dataclass(frozen=True)
class Phantom:
    """A synthetic stack and its ground truth.

    Attributes
    ----------
    counts
        Transmitted counts ``(y, x, energy)`` (attrs ``signal="counts"``).
    i0
        Incident flux ``(energy,)`` used to make the counts.
    truth
        Dataset of ``(y, x)`` maps: one per label (NaN outside the sample domains),
        ``region`` (domain index; -1 blank, ``len(regions)`` foreign), ``thickness``
        and ``od_true`` ``(y, x, energy)``, before drift and noise.
    drift
        ``(n_energy, 2)`` shift ``(dy, dx)`` in pixels imposed on each frame.
    i0_region
        ``{"y": slice, "x": slice}`` inside the sample-free strip.
    foreign
        ``(y, x)`` boolean mask of the foreign domain.
    """

    counts: xr.DataArray
    i0: xr.DataArray
    truth: xr.Dataset
    drift: np.ndarray
    i0_region: dict[str, slice]
    foreign: np.ndarray


def reference_spectra(
    reference: xr.DataArray,
    values: Mapping[str, Sequence[float] | np.ndarray],
    *,
    mode: Literal["nearest", "linear"] = "nearest",
) -> np.ndarray:
    """Spectra at given label values drawn from a labelled reference set.

    Parameters
    ----------
    reference
        ``(sample, energy)`` with numeric label coordinates on ``sample``.
    values
        ``{label: (n,)}`` points in label space; every label must be a coordinate.
    mode
        ``"nearest"``: the reference spectrum nearest in label space (labels scaled
        by their range); ``"linear"``: piecewise-linear interpolation between
        reference spectra (scipy; points outside the reference hull raise).

    Returns
    -------
    ndarray, shape (n, n_energy)
    """
    validate(reference, what="reference")
    if set(reference.dims) != {SAMPLE, ENERGY}:
        raise SpectrumError(f"reference must have dims (sample, energy); found {reference.dims}")
    ref = reference.transpose(SAMPLE, ENERGY)
    names = list(values)
    missing = [n for n in names if n not in ref.coords or ref[n].dims != (SAMPLE,)]
    if missing:
        raise ParameterError(
            f"labels {missing} are not sample coordinates of the reference; it has "
            f"{sorted(str(k) for k, c in ref.coords.items() if c.dims == (SAMPLE,))}"
        )
    pts = np.column_stack([np.asarray(ref[n].values, dtype=float) for n in names])
    q = np.column_stack([np.asarray(values[n], dtype=float) for n in names])
    span = np.ptp(pts, axis=0)
    span = np.where(span > 0, span, 1.0)
    spectra = np.asarray(ref.values, dtype=float)
    if mode == "nearest":
        from scipy.spatial import cKDTree

        _, idx = cKDTree(pts / span).query(q / span)
        return spectra[idx]
    if mode != "linear":
        raise ParameterError(f"mode must be 'nearest' or 'linear'; found {mode!r}")
    if len(names) == 1:
        order = np.argsort(pts[:, 0])
        from scipy.interpolate import interp1d

        f = interp1d(pts[order, 0], spectra[order], axis=0, bounds_error=True)
        return np.asarray(f(q[:, 0]))
    from scipy.interpolate import LinearNDInterpolator

    out = LinearNDInterpolator(pts / span, spectra)(q / span)
    if not np.all(np.isfinite(out)):
        raise ParameterError("some label values lie outside the reference set's label range")
    return np.asarray(out)


def _default_regions(reference: xr.DataArray) -> list[dict[str, float]]:
    """Three domains spread over the first label's range, mid-range for the others."""
    labels = [str(k) for k, c in reference.coords.items()
              if c.dims == (SAMPLE,) and k != SAMPLE
              and np.issubdtype(np.asarray(c.values).dtype, np.number)]
    if not labels:
        raise ParameterError("the reference has no numeric label coordinates to paint")
    out = []
    for i, frac in enumerate((0.0, 0.5, 1.0)):
        reg = {}
        for j, name in enumerate(labels):
            v = np.unique(np.asarray(reference[name].values, dtype=float))
            f = frac if j == 0 else (0.25, 0.75, 0.5)[i]
            reg[name] = float(v[round(f * (v.size - 1))])
        out.append(reg)
    return out


def _foreign_spectrum(energy: np.ndarray) -> np.ndarray:
    """A featureless edge with one broad peak: no L2,3 doublet, no multiplets."""
    e0 = energy[0] + 0.3 * np.ptp(energy)
    width = 0.04 * np.ptp(energy)
    return 0.4 * (1 + np.tanh((energy - e0) / width)) + 0.6 * np.exp(
        -(((energy - e0 - 2 * width) / (1.5 * width)) ** 2))


def phantom_stack(
    reference: xr.DataArray,
    *,
    regions: Sequence[Mapping[str, float]] | None = None,
    shape: tuple[int, int] = (64, 64),
    counts: float = 1e4,
    drift: float = 1.0,
    foreign_region: bool = True,
    foreign: xr.DataArray | np.ndarray | None = None,
    max_od: float = 1.2,
    background_od: float = 0.5,
    blank_rows: int = 8,
    mode: Literal["nearest", "linear"] = "nearest",
    seed: int = 0,
) -> Phantom:
    """Make a synthetic transmission stack with domains of known parameters.

    Parameters
    ----------
    reference
        Labelled spectra ``(sample, energy)`` (absorbance shapes); the stack uses
        their energy grid.
    regions
        One ``{label: value}`` per domain, e.g. ``[{"charge": 2, "tendq": 0.8}, ...]``;
        default: three domains spread over the first label.
    shape
        ``(ny, nx)`` pixels.
    counts
        Mean incident counts per pixel and energy (Poisson noise on ``I``).
    drift
        Largest per-energy sample drift, in pixels (a smooth random walk, sub-pixel
        steps); 0 for none.
    foreign_region
        Add a disc whose spectrum is :func:`_foreign_spectrum` (or ``foreign``).
    foreign
        Spectrum ``(energy,)`` of the foreign domain, on the reference grid.
    max_od
        OD at the strongest absorption for unit thickness.
    background_od
        Non-resonant OD of unit thickness at every energy (other elements, the
        pre-edge); it gives the frames contrast away from the resonances.
    blank_rows
        Sample-free rows at the top (for I0).
    mode
        How spectra are drawn from the reference (:func:`reference_spectra`).
    seed
        Seed of the geometry, thickness, drift and noise.

    Returns
    -------
    Phantom
    """
    from scipy import ndimage

    ny, nx = shape
    if ny < blank_rows + 16 or nx < 16:
        raise ParameterError(f"shape must be at least ({blank_rows + 16}, 16); found {shape}")
    if counts <= 0:
        raise ParameterError(f"counts must be > 0; found {counts}")
    rng = np.random.default_rng(seed)
    ref = reference.transpose(SAMPLE, ENERGY)
    energy = np.asarray(ref[ENERGY].values, dtype=float)
    regs = [dict(r) for r in (regions or _default_regions(ref))]
    names = sorted({k for r in regs for k in r})
    spectra = reference_spectra(
        ref, {n: [r.get(n, np.nan) for r in regs] for n in names}, mode=mode
    )
    spectra = spectra - spectra.min(axis=1, keepdims=True)
    # Domains: Voronoi cells of random seeds (edges in all directions help registration).
    yy, xx = np.mgrid[0:ny, 0:nx]
    n_seeds = 3 * len(regs)
    seeds = np.column_stack([rng.uniform(blank_rows, ny, n_seeds), rng.uniform(0, nx, n_seeds)])
    d2 = (yy[..., None] - seeds[:, 0]) ** 2 + (xx[..., None] - seeds[:, 1]) ** 2
    region = np.argmin(d2, axis=2) % len(regs)
    is_foreign = np.zeros(shape, dtype=bool)
    if foreign_region:
        cy, cx, r = blank_rows + 0.6 * (ny - blank_rows), 0.7 * nx, 0.14 * min(ny, nx)
        is_foreign = (yy - cy) ** 2 + (xx - cx) ** 2 <= r**2
        region[is_foreign] = len(regs)
    region[:blank_rows] = -1
    f_spec = _foreign_spectrum(energy) if foreign is None else np.asarray(
        getattr(foreign, "values", foreign), dtype=float)
    if f_spec.shape != energy.shape:
        raise SpectrumError(f"foreign must have {energy.size} values; found {f_spec.shape}")
    all_spec = np.vstack([spectra, f_spec[None, :]])
    all_spec = background_od + max_od * all_spec / all_spec.max()
    # Smooth thickness variation (std 0.25): the same pattern at every energy.
    g = ndimage.gaussian_filter(rng.normal(size=shape), 3)
    thickness = np.clip(1.0 + 0.25 * g / g.std(), 0.4, 1.6)
    od = np.where((region >= 0)[..., None], thickness[..., None] * all_spec[region], 0.0)
    # Smooth drift: cumulative random steps rescaled so the largest excursion is `drift`.
    steps = rng.normal(size=(energy.size, 2)).cumsum(axis=0)
    steps -= steps[0]
    peak = np.abs(steps).max()
    shifts = steps * (drift / peak) if peak > 0 and drift > 0 else np.zeros_like(steps)
    drifted = np.stack([ndimage.shift(od[:, :, k], shifts[k], order=3, mode="nearest")
                        for k in range(energy.size)], axis=-1)
    i0 = counts * (1.0 + 0.2 * (energy - energy[0]) / max(np.ptp(energy), 1e-12))
    intensity = rng.poisson(i0 * np.exp(-np.clip(drifted, 0.0, None))).astype(float)
    coords = {"y": ("y", np.arange(ny) * 0.05, {"units": "µm"}),
              "x": ("x", np.arange(nx) * 0.05, {"units": "µm"})}
    e_coord = {ENERGY: (ENERGY, energy, {"units": "eV", "long_name": "energy"})}
    stack = xr.DataArray(intensity, dims=("y", "x", ENERGY), coords={**coords, **e_coord},
                         attrs={**{k: v for k, v in reference.attrs.items() if np.isscalar(v)},
                                "technique": "STXM", "signal": "counts", "source": "phantom"})
    truth_vars: dict[str, Any] = {}
    for n in names:
        vals = np.array([r.get(n, np.nan) for r in regs] + [np.nan], dtype=float)
        truth_vars[n] = (("y", "x"), np.where(region >= 0, vals[region], np.nan))
    truth_vars["region"] = (("y", "x"), region)
    truth_vars["thickness"] = (("y", "x"), thickness)
    truth_vars["od_true"] = (("y", "x", ENERGY), od)
    truth = xr.Dataset(truth_vars, coords={**coords, **e_coord})
    return Phantom(
        counts=stack,
        i0=xr.DataArray(i0, dims=(ENERGY,), coords=e_coord, attrs={"signal": "i0"}),
        truth=truth,
        drift=shifts,
        i0_region={"y": slice(2, blank_rows - 2), "x": slice(4, nx - 4)},
        foreign=is_foreign,
    )
