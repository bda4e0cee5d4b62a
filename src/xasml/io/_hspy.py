"""HyperSpy ``.hspy`` and Gatan DigitalMicrograph ``.dm3``/``.dm4`` spectra through RosettaSciIO.

The signal axis becomes ``energy`` (eV; keV converted), one navigation axis
becomes ``sample`` and two become the map axes ``(y, x)``. Element and edge
come from the HyperSpy metadata (``Sample.elements``); when one element is
listed and `xraydb` is installed, the edge is the element's absorption
edge(s) inside the energy range (``"L2,3"`` for Cr 560–600 eV).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from ..datamodel import ENERGY, SAMPLE, as_map, stack
from ..datamodel import spectrum as make_spectrum
from ..errors import FormatError, ParameterError, SpectrumError
from ._hdf5 import as_str, peek_h5

__all__ = ["read", "sniff"]

_UNIT_SCALE = {"ev": 1.0, "kev": 1e3, "mev": 1e6}
# DM3/DM4 files start with their version as a big-endian 32-bit integer.
_DM_HEADS = (b"\x00\x00\x00\x03", b"\x00\x00\x00\x04")


def sniff(path: Path, head: bytes) -> bool:
    """HyperSpy HDF5 (root attr ``file_format = HyperSpy``) or a DM3/DM4 file."""
    if path.suffix.lower() in (".dm3", ".dm4"):
        return head[:4] in _DM_HEADS
    return peek_h5(
        path, head, lambda fh: as_str(fh.attrs.get("file_format")).lower() == "hyperspy", False
    )


def _load(path: Path) -> list[dict[str, Any]]:
    if path.suffix.lower() in (".dm3", ".dm4"):
        from rsciio.digitalmicrograph import file_reader
    else:
        from rsciio.hspy import file_reader
    try:
        signals: list[dict[str, Any]] = file_reader(str(path), lazy=False)
    except Exception as exc:  # RosettaSciIO raises many types on damaged files
        raise FormatError(path, f"RosettaSciIO cannot read this file: {exc}") from None
    return signals


def _axis_values(ax: dict[str, Any], path: Path) -> tuple[np.ndarray, str]:
    if "axis" in ax and ax["axis"] is not None:
        values = np.asarray(ax["axis"], dtype=float)
    else:
        size = int(ax.get("size", 0))
        values = float(ax.get("offset", 0.0)) + float(ax.get("scale", 1.0)) * np.arange(size)
    return values, str(ax.get("units") or "")


def _edge(element: str, e: np.ndarray) -> str:
    try:
        import xraydb
    except ImportError:
        return ""
    try:
        edges = xraydb.xray_edges(element)
    except (ValueError, KeyError):
        return ""
    inside = sorted(n for n, v in edges.items() if e[0] <= v.energy <= e[-1])
    if not inside:
        return ""
    shell = inside[0][0]
    if len(inside) > 1 and all(n[0] == shell for n in inside):
        return shell + ",".join(n[1:] for n in sorted(inside, key=lambda n: n[1:]))
    return inside[0]


def read(path: Path, *, index: int | None = None, **kwargs: Any) -> xr.DataArray:
    """Read a core-loss spectrum, line of spectra or spectrum image.

    Parameters
    ----------
    path
        ``.hspy`` / ``.dm3`` / ``.dm4`` file.
    index
        Which signal of a multi-signal file to read (default: the only one).

    Returns
    -------
    xarray.DataArray
        ``(energy,)``, ``(sample, energy)`` or ``(y, x, energy)`` with attrs
        ``technique`` (``"EELS"``), ``signal="counts"``, ``element``/``edge``
        when known, ``beam_energy`` (keV) when recorded, ``source``, ``format``.
    """
    if kwargs:
        raise ParameterError(f"the hspy/DM reader takes only index=; found {sorted(kwargs)}")
    fmt = "dm" if path.suffix.lower() in (".dm3", ".dm4") else "hspy"
    signals = _load(path)
    if not signals:
        raise FormatError(path, "the file holds no signal")
    if index is None:
        if len(signals) > 1:
            raise FormatError(path, f"the file holds {len(signals)} signals; pass index=0..")
        index = 0
    if not 0 <= index < len(signals):
        raise ParameterError(f"index must be in 0..{len(signals) - 1}; found {index}")
    sig = signals[index]
    data = np.asarray(sig.get("data"))
    axes = list(sig.get("axes") or [])
    if data.ndim != len(axes) or not np.issubdtype(data.dtype, np.number):
        raise FormatError(
            path, f"expected numeric data with one axis per dim; found {data.dtype} {data.shape}"
        )
    sig_axes = [i for i, ax in enumerate(axes) if not ax.get("navigate", False)]
    if len(sig_axes) != 1:
        raise FormatError(
            path, f"expected one signal (energy-loss) axis; found {len(sig_axes)} (an image?)"
        )
    s = sig_axes[0]
    energy, units = _axis_values(axes[s], path)
    factor = _UNIT_SCALE.get(units.lower())
    if factor is None:
        raise FormatError(path, f"signal axis units must be eV or keV; found {units!r}")
    energy = energy * factor
    nav = [i for i in range(data.ndim) if i != s]
    values = np.moveaxis(data, s, -1).astype(float)
    if energy.size > 1 and energy[1] < energy[0]:
        energy, values = energy[::-1], values[..., ::-1]
    md = sig.get("metadata") or {}
    attrs = _attrs(md, energy, path, fmt)
    try:
        if not nav:
            return make_spectrum(energy, values, **attrs)
        if len(nav) == 1:
            return stack(energy, values, **attrs).assign_coords(
                {SAMPLE: np.arange(values.shape[0])}
            )
        if len(nav) == 2:
            y, yu = _axis_values(axes[nav[0]], path)
            x, xu = _axis_values(axes[nav[1]], path)
            da = xr.DataArray(
                values,
                dims=("y", "x", ENERGY),
                coords={
                    "y": ("y", y, {"units": yu}),
                    "x": ("x", x, {"units": xu}),
                    ENERGY: (ENERGY, energy, {"units": "eV", "long_name": "energy"}),
                },
                attrs=attrs,
            )
            return as_map(da)
    except SpectrumError as exc:
        raise FormatError(path, str(exc)) from None
    raise FormatError(path, f"expected at most 2 navigation axes; found {len(nav)}")


def _attrs(md: dict[str, Any], energy: np.ndarray, path: Path, fmt: str) -> dict[str, Any]:
    signal_md = md.get("Signal") or {}
    stype = str(signal_md.get("signal_type") or "")
    attrs: dict[str, Any] = {
        "technique": "EELS" if stype.upper() in ("", "EELS") else stype,
        "signal": "counts",
        "source": str(path),
        "format": fmt,
    }
    title = str((md.get("General") or {}).get("title") or "")
    if title:
        attrs["title"] = title
    elements = [str(e) for e in ((md.get("Sample") or {}).get("elements") or [])]
    if len(elements) == 1:
        attrs["element"] = elements[0]
        edge = _edge(elements[0], energy)
        if edge:
            attrs["edge"] = edge
    elif elements:
        attrs["elements"] = elements
    tem = (md.get("Acquisition_instrument") or {}).get("TEM") or {}
    beam = tem.get("beam_energy")
    if isinstance(beam, int | float | np.number):
        attrs["beam_energy"] = float(beam)
    return attrs
