"""Content-based dispatch of :func:`xasml.io.read` over the format modules.

Each format module exposes ``sniff(path, head) -> bool`` (``head`` is the
first 4 KiB of the file, or ``b""`` for a directory) and
``read(path, **kwargs) -> DataArray``. The order of :data:`FORMATS` matters:
specific signatures come before permissive ones (plain columns last).
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import xarray as xr

from ..errors import FormatError

__all__ = ["FORMATS", "read", "read_all", "sniff"]

# name -> private module implementing sniff/read. Ordered: most specific first.
FORMATS: dict[str, str] = {
    # binary and directory formats
    "xasml-store": ".store",
    "hspy": "._hspy",
    "nexus": "._nexus",
    "flexpes": "._flexpes",
    "h5-stack": "._h5stack",
    "als-stxm": "._als_stxm",
    "tiff-stack": "._tiff",
    "feff": "._feff",
    # text formats
    "xdi": "._xdi",
    "athena": "._athena",
    "emsa": "._emsa",
    "columns": "._columns",
}

_HEAD_BYTES = 4096


def _head(path: Path) -> bytes:
    if path.is_dir():
        return b""
    with open(path, "rb") as fh:
        return fh.read(_HEAD_BYTES)


def sniff(path: str | Path) -> str:
    """Return the name of the format that ``path`` holds.

    Raises
    ------
    FormatError
        If the file does not exist or no reader recognises it.
    """
    p = Path(path)
    if not p.exists():
        raise FormatError(p, "no such file or directory")
    try:
        head = _head(p)
    except OSError as exc:
        raise FormatError(p, f"cannot open: {exc.strerror}") from None
    for name, module in FORMATS.items():
        mod = importlib.import_module(module, __package__)
        if mod.sniff(p, head):
            return name
    raise FormatError(
        p,
        "not a recognised spectrum format; expected one of: " + ", ".join(FORMATS),
    )


def read(path: str | Path, *, format: str | None = None, **kwargs: Any) -> xr.DataArray:
    """Read a spectrum, set of spectra or map from ``path``.

    Parameters
    ----------
    path
        File (or, for FEFF run trees, directory) to read.
    format
        Name from :data:`FORMATS` to skip content detection.
    **kwargs
        Passed to the format's reader (e.g. ``columns=`` for plain files).

    Returns
    -------
    xarray.DataArray
        ``(energy,)``, ``(sample, energy)`` or ``(y, x, energy)``; provenance
        (``source``, ``format``) in ``attrs``.
    """
    p = Path(path)
    if format is None:
        format = sniff(p)
    elif format not in FORMATS:
        raise FormatError(p, f"unknown format {format!r}; expected one of: {', '.join(FORMATS)}")
    mod = importlib.import_module(FORMATS[format], __package__)
    da: xr.DataArray = mod.read(p, **kwargs)
    return da


def read_all(path: str | Path, *, format: str | None = None, **kwargs: Any) -> list[xr.DataArray]:
    """Read every spectrum a file holds, each on its own energy grid.

    Formats that hold several spectra on different grids (Athena projects)
    return one DataArray per spectrum; every other format returns
    ``[read(path)]``.

    Parameters
    ----------
    path, format, **kwargs
        As in :func:`read`.

    Returns
    -------
    list of xarray.DataArray
    """
    p = Path(path)
    if format is None:
        format = sniff(p)
    elif format not in FORMATS:
        raise FormatError(p, f"unknown format {format!r}; expected one of: {', '.join(FORMATS)}")
    mod = importlib.import_module(FORMATS[format], __package__)
    if hasattr(mod, "read_all"):
        out: list[xr.DataArray] = mod.read_all(p, **kwargs)
        return out
    return [mod.read(p, **kwargs)]
