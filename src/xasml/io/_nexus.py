"""NeXus HDF5: NXxas spectra and NXstxm image stacks / line spectra.

* NXstxm stacks are stored ``(energy, sample_y, sample_x)``; they are returned
  as maps ``(y, x, energy)`` with ``x``/``y`` in µm. Line spectra
  ``(energy, line_position)`` become ``(sample, energy)`` sets with the
  position along the line (and ``x``, ``y``) as sample coords. A single image
  (one energy) is not a spectrum: reading it raises :class:`FormatError`.
* NXxas: an ``NXdata`` group with an ``energy`` axis and a signal
  (``absorbed_beam``, or the group's ``signal`` attribute); ``mode``
  (transmission/fluorescence) is kept in the attrs.

Real files carry quirks (PolLux NXstxm): strings are 1-element byte arrays,
units may be latin-1 (``b"\\xb5m"``) and some limit fields hold garbage doubles;
only the fields needed are read and each is checked.
Reference: NeXus NXstxm and NXxas application definitions, https://manual.nexusformat.org.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from ..datamodel import ENERGY, as_map, stack
from ..datamodel import spectrum as make_spectrum
from ..errors import FormatError, ParameterError, SpectrumError, XasmlError
from ._hdf5 import H5_ERRORS, as_str, open_h5, peek_h5

__all__ = ["read", "sniff"]

_LENGTH_TO_UM = {"µm": 1.0, "μm": 1.0, "um": 1.0, "micron": 1.0, "nm": 1e-3, "mm": 1e3, "": 1.0}


def _nx_class(obj: Any) -> str:
    attrs = getattr(obj, "attrs", None)  # damaged links come back as None
    return as_str(attrs.get("NX_class")) if attrs is not None else ""


def _is_nexus(fh: Any) -> bool:
    if _nx_class(fh) == "NXroot":
        return True
    return any(_nx_class(g) == "NXentry" for _, g in zip(range(8), fh.values(), strict=False))


def sniff(path: Path, head: bytes) -> bool:
    """HDF5 with an ``NXroot`` root or an ``NXentry`` group."""
    return peek_h5(path, head, _is_nexus, False)


def read(path: Path, *, entry: str | None = None, **kwargs: Any) -> xr.DataArray:
    """Read the spectrum, set or map of one NXentry.

    Parameters
    ----------
    path
        NeXus HDF5 file.
    entry
        Name of the NXentry to read (default: the first one).

    Returns
    -------
    xarray.DataArray
        NXstxm stack → ``(y, x, energy)``; line spectrum → ``(sample, energy)``;
        NXxas → ``(energy,)`` or ``(sample, energy)``. Attrs: ``technique``,
        ``signal``, ``source``, ``format="nexus"``, ``definition``, and
        ``scan_type`` / ``mode`` where present.
    """
    if kwargs:
        raise ParameterError(f"the NeXus reader takes only entry=; found {sorted(kwargs)}")
    with open_h5(path, "NeXus HDF5") as fh:
        try:
            return _read_entry(path, fh, entry)
        except SpectrumError as exc:
            raise FormatError(path, str(exc)) from None
        except XasmlError:
            raise
        except H5_ERRORS as exc:
            raise FormatError(path, f"damaged or unexpected NeXus content: {exc}") from None


def _read_entry(path: Path, fh: Any, name: str | None) -> xr.DataArray:
    entries = [k for k, g in fh.items() if _nx_class(g) == "NXentry"]
    if not entries:
        raise FormatError(
            path, f"expected an NXentry group; found top-level items {sorted(fh.keys())}"
        )
    if name is None:
        name = entries[0]
    elif name not in entries:
        raise ParameterError(f"entry must be one of {entries}; found {name!r}")
    ent = fh[name]
    definition = as_str(ent.get("definition")[()] if "definition" in ent else None)
    nxdata = _pick_nxdata(ent)
    if nxdata is None:
        raise FormatError(
            path,
            f"entry {name!r} has no NXdata group with a signal; found groups "
            f"{sorted(k for k, g in ent.items() if hasattr(g, 'keys'))}",
        )
    attrs: dict[str, Any] = {
        "source": str(path),
        "format": "nexus",
        "definition": definition or "unknown",
        "entry": name,
    }
    if definition.upper() == "NXSTXM" or "stxm_scan_type" in nxdata:
        return _read_stxm(path, nxdata, attrs)
    return _read_xas(path, ent, nxdata, attrs)


def _pick_nxdata(ent: Any) -> Any:
    groups = [g for g in ent.values() if _nx_class(g) == "NXdata"]
    preferred = [g for g in groups if g.name.rsplit("/", 1)[-1] in ("counter0", "data")]
    for g in preferred + groups:
        if _signal_name(g) in g:
            return g
    return None


def _signal_name(g: Any) -> str:
    sig = as_str(g.attrs.get("signal"))
    if sig:
        return sig
    for cand in ("absorbed_beam", "data", "mu"):
        if cand in g:
            return cand
    return "data"


def _axes(g: Any) -> list[str]:
    raw = g.attrs.get("axes")
    if raw is None:
        return []
    if isinstance(raw, bytes | str | np.bytes_ | np.str_):
        return [s for s in as_str(raw).replace(":", " ").split() if s]
    return [as_str(a) for a in np.asarray(raw).reshape(-1)]


def _float_1d(g: Any, key: str, path: Path) -> np.ndarray:
    if key not in g:
        raise FormatError(path, f"{g.name}: expected a dataset {key!r}; found {sorted(g.keys())}")
    arr = np.asarray(g[key][()], dtype=float).reshape(-1)
    return arr


def _length_um(g: Any, key: str, path: Path) -> np.ndarray:
    values = _float_1d(g, key, path)
    units = as_str(g[key].attrs.get("units"))
    factor = _LENGTH_TO_UM.get(units)
    if factor is None:
        raise FormatError(
            path, f"{g.name}/{key}: expected length units (µm, nm, mm); found {units!r}"
        )
    return values * factor


def _read_stxm(path: Path, g: Any, attrs: dict[str, Any]) -> xr.DataArray:
    sig = _signal_name(g)
    data = np.asarray(g[sig][()], dtype=float)
    axes = _axes(g)
    scan = as_str(g["stxm_scan_type"][()]) if "stxm_scan_type" in g else ""
    attrs.update(technique="STXM", signal="counts", scan_type=scan or "unknown")
    energy = _float_1d(g, "energy", path) if "energy" in g else np.array([])
    if ENERGY not in axes or energy.size < 2:
        where = f" at {energy[0]:g} eV" if energy.size == 1 else ""
        raise FormatError(
            path,
            f"holds a single image{where} ({scan or 'no energy axis'}), not a spectrum or "
            f"an image stack; expected an energy axis with at least 2 points, found axes {axes}",
        )
    if axes == [ENERGY, "sample_y", "sample_x"] and data.ndim == 3:
        y = _length_um(g, "sample_y", path)
        x = _length_um(g, "sample_x", path)
        if data.shape != (energy.size, y.size, x.size):
            raise FormatError(
                path,
                f"{g.name}/{sig}: expected shape {(energy.size, y.size, x.size)} from the axes; "
                f"found {data.shape}",
            )
        da = xr.DataArray(
            data,
            dims=(ENERGY, "y", "x"),
            coords={
                ENERGY: (ENERGY, energy, {"units": "eV", "long_name": "energy"}),
                "y": ("y", y, {"units": "µm"}),
                "x": ("x", x, {"units": "µm"}),
            },
            attrs=attrs,
        )
        return as_map(da)
    if len(axes) == 2 and axes[0] == ENERGY and data.ndim == 2:
        pos_name = axes[1]
        pos = _float_1d(g, pos_name, path)
        if data.shape != (energy.size, pos.size):
            raise FormatError(
                path,
                f"{g.name}/{sig}: expected shape {(energy.size, pos.size)}; found {data.shape}",
            )
        labels = {pos_name: pos}
        for key in ("sample_x", "sample_y"):
            if key in g and g[key].shape == (pos.size,):
                labels[key[-1]] = _length_um(g, key, path)
        return stack(energy, data.T, labels=labels, **attrs)
    raise FormatError(
        path, f"{g.name}: unsupported NXstxm layout; axes {axes}, data shape {data.shape}"
    )


def _read_xas(path: Path, ent: Any, g: Any, attrs: dict[str, Any]) -> xr.DataArray:
    sig = _signal_name(g)
    axes = _axes(g)
    e_name = ENERGY if ENERGY in g else (axes[-1] if axes else ENERGY)
    energy = _float_1d(g, e_name, path)
    units = as_str(g[e_name].attrs.get("units")) or "eV"
    scale = {"ev": 1.0, "kev": 1e3}.get(units.lower())
    if scale is None:
        raise FormatError(path, f"{g.name}/{e_name}: expected units eV or keV; found {units!r}")
    energy = energy * scale
    values = np.asarray(g[sig][()], dtype=float)
    attrs.update(technique="XAS", signal=sig)
    for key in ("mode",):
        for holder in (g, ent):
            if key in holder:
                attrs[key] = as_str(holder[key][()])
                break
    for key in ("element", "edge", "absorption_edge"):
        for holder in (ent, ent.get("sample")):
            if holder is not None and key in holder and not hasattr(holder[key], "keys"):
                attrs["edge" if key == "absorption_edge" else key] = as_str(holder[key][()])
                break
    if values.ndim == 1 and values.size == energy.size:
        return make_spectrum(energy, values, **attrs)
    if values.ndim == 2 and values.shape[-1] == energy.size:
        return stack(energy, values, **attrs)
    if values.ndim == 2 and values.shape[0] == energy.size:
        return stack(energy, values.T, **attrs)
    raise FormatError(
        path,
        f"{g.name}/{sig}: expected {energy.size} values per spectrum to match {e_name!r}; "
        f"found shape {values.shape}",
    )
