"""The xasml data model: spectra as labelled :class:`xarray.DataArray` objects.

Conventions
-----------
* A single spectrum has the one dimension ``energy`` (eV, strictly increasing).
* A set of spectra is ``(sample, energy)``; per-sample labels (``charge``,
  ``tendq``, ``cn``, ``material_id`` ...) are coordinates on ``sample``.
* A spectromicroscopy stack is ``(y, x, energy)``.
* Metadata lives in ``attrs``: ``element``, ``edge``, ``technique``
  (``"XAS"``, ``"EELS"`` ...), ``signal`` (``"mu"``, ``"norm"``, ``"od"``,
  ``"counts"`` ...), ``source`` (file the data came from).

Every function here returns a new object and never modifies its input.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import xarray as xr

from .errors import SpectrumError

__all__ = [
    "ENERGY",
    "SAMPLE",
    "spectrum",
    "stack",
    "concat",
    "validate",
    "as_map",
    "describe",
    "Summary",
]

ENERGY = "energy"
SAMPLE = "sample"
_ENERGY_ATTRS = {"units": "eV", "long_name": "energy"}


def _as_1d_float(values: Any, what: str) -> np.ndarray:
    try:
        arr = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as exc:
        raise SpectrumError(f"{what} must be numeric; could not convert: {exc}") from None
    if arr.ndim != 1:
        raise SpectrumError(f"{what} must be 1-D; found shape {arr.shape}")
    return arr


def spectrum(
    energy: Any,
    intensity: Any,
    *,
    name: str | None = None,
    check: bool = True,
    **attrs: Any,
) -> xr.DataArray:
    """Build a single spectrum.

    Parameters
    ----------
    energy
        Energies in eV, shape ``(n,)``, strictly increasing.
    intensity
        Values, shape ``(n,)``.
    name
        Optional name of the DataArray.
    check
        Validate energies and values (default). Pass ``False`` only for data
        already known to be valid.
    **attrs
        Metadata stored in ``attrs`` (``element``, ``edge``, ``source`` ...).

    Returns
    -------
    xarray.DataArray
        Dimension ``energy``.
    """
    e = _as_1d_float(energy, "energy")
    y = _as_1d_float(intensity, "intensity")
    if e.shape != y.shape:
        raise SpectrumError(
            f"energy and intensity must have the same length; found {e.size} and {y.size}"
        )
    da = xr.DataArray(
        y,
        dims=(ENERGY,),
        coords={ENERGY: (ENERGY, e, dict(_ENERGY_ATTRS))},
        name=name,
        attrs=dict(attrs),
    )
    return validate(da) if check else da


def stack(
    energy: Any,
    intensities: Any,
    *,
    labels: Mapping[str, Any] | None = None,
    name: str | None = None,
    check: bool = True,
    **attrs: Any,
) -> xr.DataArray:
    """Build a set of spectra on one energy grid.

    Parameters
    ----------
    energy
        Energies in eV, shape ``(n_energy,)``.
    intensities
        Values, shape ``(n_sample, n_energy)``.
    labels
        Per-sample labels, each of length ``n_sample``; stored as coordinates
        on ``sample``.
    name, check, **attrs
        As in :func:`spectrum`.

    Returns
    -------
    xarray.DataArray
        Dimensions ``(sample, energy)``.
    """
    e = _as_1d_float(energy, "energy")
    try:
        y = np.asarray(intensities, dtype=float)
    except (TypeError, ValueError) as exc:
        raise SpectrumError(f"intensities must be numeric; could not convert: {exc}") from None
    if y.ndim != 2 or y.shape[1] != e.size:
        raise SpectrumError(
            f"intensities must have shape (n_sample, {e.size}); found {y.shape}"
        )
    coords: dict[str, Any] = {ENERGY: (ENERGY, e, dict(_ENERGY_ATTRS))}
    coords[SAMPLE] = np.arange(y.shape[0])
    for key, values in (labels or {}).items():
        arr = np.asarray(values)
        if arr.shape != (y.shape[0],):
            raise SpectrumError(
                f"label {key!r} must have one value per sample ({y.shape[0]}); "
                f"found shape {arr.shape}"
            )
        coords[key] = (SAMPLE, arr)
    da = xr.DataArray(y, dims=(SAMPLE, ENERGY), coords=coords, name=name, attrs=dict(attrs))
    return validate(da) if check else da


def concat(
    spectra: Sequence[xr.DataArray],
    *,
    labels: Mapping[str, Sequence[Any]] | None = None,
) -> xr.DataArray:
    """Stack single spectra that share one energy grid into ``(sample, energy)``.

    Attributes common to all inputs are kept; scalar attributes that differ
    (``source``, ``compound`` ...) become per-sample coordinates.

    Raises
    ------
    SpectrumError
        If the list is empty or the energy grids differ (resample first).
    """
    if len(spectra) == 0:
        raise SpectrumError("concat needs at least one spectrum; found none")
    first = spectra[0]
    for i, sp in enumerate(spectra):
        if sp.dims != (ENERGY,):
            raise SpectrumError(f"spectrum {i} must have dims ('energy',); found {sp.dims}")
        if sp.sizes[ENERGY] != first.sizes[ENERGY] or not np.allclose(
            sp[ENERGY].values, first[ENERGY].values, rtol=0, atol=1e-9
        ):
            raise SpectrumError(
                f"spectrum {i} is on a different energy grid than spectrum 0; "
                "resample all spectra onto one grid first (xasml.preprocess.resample)"
            )
    common: dict[str, Any] = {}
    varying: dict[str, list[Any]] = {}
    keys = set().union(*(sp.attrs.keys() for sp in spectra))
    for key in sorted(keys):
        vals = [sp.attrs.get(key) for sp in spectra]
        if all(_same(v, vals[0]) for v in vals):
            common[key] = vals[0]
        elif all(v is None or np.isscalar(v) for v in vals):
            varying[key] = ["" if v is None else v for v in vals]
    all_labels: dict[str, Any] = {k: v for k, v in varying.items()}
    all_labels.update(labels or {})
    return stack(
        first[ENERGY].values,
        np.stack([sp.values for sp in spectra]),
        labels=all_labels,
        name=None if first.name is None else str(first.name),
        **common,
    )


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(np.all(a == b))
    except (TypeError, ValueError):
        return False


def validate(da: xr.DataArray, *, what: str = "spectrum", allow_nan: bool = False) -> xr.DataArray:
    """Check that ``da`` follows the data model and return it unchanged.

    Checks: an ``energy`` dimension with a coordinate, energies finite and
    strictly increasing, at least two points, values numeric and (unless
    ``allow_nan``) finite, energy units eV when given.

    Raises
    ------
    SpectrumError
        Naming ``what`` and the first problem found.
    """
    if not isinstance(da, xr.DataArray):
        raise SpectrumError(f"{what} must be an xarray.DataArray; found {type(da).__name__}")
    if ENERGY not in da.dims:
        raise SpectrumError(f"{what} must have an 'energy' dimension; found dims {da.dims}")
    if ENERGY not in da.coords:
        raise SpectrumError(f"{what} has no 'energy' coordinate")
    e = np.asarray(da[ENERGY].values)
    if not np.issubdtype(e.dtype, np.number):
        raise SpectrumError(f"{what} energies must be numeric; found dtype {e.dtype}")
    if e.size < 2:
        raise SpectrumError(f"{what} needs at least 2 energy points; found {e.size}")
    if not np.all(np.isfinite(e)):
        bad = int(np.flatnonzero(~np.isfinite(e))[0])
        raise SpectrumError(f"{what} energy {bad} is not finite ({e[bad]})")
    steps = np.diff(e)
    if np.any(steps <= 0):
        bad = int(np.flatnonzero(steps <= 0)[0])
        raise SpectrumError(
            f"{what} energies must be strictly increasing; energy[{bad}] = {e[bad]:g} eV "
            f"is followed by {e[bad + 1]:g} eV (sort or deduplicate the data first)"
        )
    units = da[ENERGY].attrs.get("units", "eV")
    if units != "eV":
        raise SpectrumError(f"{what} energy units must be 'eV'; found {units!r}")
    if not np.issubdtype(da.dtype, np.number):
        raise SpectrumError(f"{what} values must be numeric; found dtype {da.dtype}")
    if not allow_nan:
        values = np.asarray(da.values)
        finite = np.isfinite(values)
        if not finite.all():
            n_bad = int((~finite).sum())
            idx = np.unravel_index(int(np.flatnonzero(~finite.ravel())[0]), values.shape)
            where = ", ".join(f"{d}={i}" for d, i in zip(da.dims, idx, strict=True))
            raise SpectrumError(
                f"{what} has {n_bad} non-finite value(s) (NaN or inf); first at {where}"
            )
    return da


def as_map(da: xr.DataArray) -> xr.DataArray:
    """Return a spectromicroscopy stack with dims ordered ``(y, x, energy)``.

    Accepts any order of the three dims ``y``, ``x``, ``energy`` (readers of
    NXstxm files see ``(energy, y, x)``).
    """
    if set(da.dims) != {"y", "x", ENERGY}:
        raise SpectrumError(f"a map must have dims (y, x, energy); found {da.dims}")
    return validate(da.transpose("y", "x", ENERGY), what="map", allow_nan=True)


@dataclass(frozen=True)
class Summary:
    """What a spectrum, set or map holds (see :func:`describe`)."""

    kind: str
    shape: dict[str, int]
    energy_min: float
    energy_max: float
    n_energy: int
    step_median: float
    attrs: dict[str, Any] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        lines = [
            f"{self.kind}: " + " x ".join(f"{k}={v}" for k, v in self.shape.items()),
            f"energy: {self.energy_min:.2f} .. {self.energy_max:.2f} eV, "
            f"{self.n_energy} points, median step {self.step_median:.3g} eV",
        ]
        for key in ("element", "edge", "technique", "signal", "source"):
            if key in self.attrs:
                lines.append(f"{key}: {self.attrs[key]}")
        for key, text in self.labels.items():
            lines.append(f"label {key}: {text}")
        return "\n".join(lines)


def describe(da: xr.DataArray) -> Summary:
    """Summarise a spectrum, set of spectra or map for people (``xasml info``)."""
    validate(da, allow_nan=True)
    e = np.asarray(da[ENERGY].values, dtype=float)
    if da.dims == (ENERGY,):
        kind = "spectrum"
    elif set(da.dims) == {"y", "x", ENERGY}:
        kind = "map"
    else:
        kind = "spectra"
    labels: dict[str, str] = {}
    for name, coord in da.coords.items():
        if name == ENERGY or coord.dims == () or ENERGY in coord.dims:
            continue
        vals = np.asarray(coord.values)
        if np.issubdtype(vals.dtype, np.number) and vals.size:
            uniq = np.unique(vals)
            labels[str(name)] = (
                f"{uniq.size} distinct, {vals.min():g} .. {vals.max():g}"
                if uniq.size > 8
                else ", ".join(f"{v:g}" for v in uniq)
            )
        else:
            uniq = np.unique(vals.astype(str))
            labels[str(name)] = f"{uniq.size} distinct" + (
                ": " + ", ".join(uniq) if uniq.size <= 8 else ""
            )
    return Summary(
        kind=kind,
        shape={str(k): int(v) for k, v in da.sizes.items()},
        energy_min=float(e[0]),
        energy_max=float(e[-1]),
        n_energy=int(e.size),
        step_median=float(np.median(np.diff(e))),
        attrs={k: v for k, v in da.attrs.items() if np.isscalar(v)},
        labels=labels,
    )
