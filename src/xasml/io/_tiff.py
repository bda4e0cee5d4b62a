"""TIFF image stacks (one page per energy) with an energy list beside them.

Spectromicroscopy software (aXis2000, MANTiS, ImageJ exports of STXM/TXM data)
writes a stack as a multi-page TIFF — pages ``(y, x)`` in acquisition order — and
keeps the energies in a small text file: one value per line (eV), ``#`` comments
allowed, and where a line has several columns the first is the energy. The energy
list is taken, in this order, from the ``energies=`` argument, the
``energy_file=`` argument, or the first existing sidecar beside the stack:
``<stem>.txt``, ``<stem>_energies.txt``, ``<stem>.energies``, ``energies.txt``.

Pages are decoded by ``tifffile`` (Gohlke), imported lazily; any decoding failure
becomes a :class:`~xasml.errors.FormatError` naming the file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from ..errors import FormatError, ParameterError
from ._imagestack import EnergyListMissing, given_energies, read_energy_list, stack_map

__all__ = ["read", "read_energy_list", "sniff"]

_MAGIC = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")  # classic and BigTIFF
_SIDECARS = ("{stem}.txt", "{stem}_energies.txt", "{stem}.energies", "energies.txt")
# Decoded size allowed per byte of file: generous for compressed stacks, but a
# corrupt header cannot make the reader allocate gigabytes for a tiny file.
_MAX_EXPANSION = 256
_MIN_BUDGET = 64 * 2**20


def sniff(path: Path, head: bytes) -> bool:
    """A file that starts with a TIFF byte-order mark and magic number."""
    return head[:4] in _MAGIC


def _energies(path: Path, energies: Any, energy_file: Any) -> tuple[np.ndarray, str]:
    given = given_energies(energies, energy_file)
    if given is not None:
        return given
    tried = [path.parent / pat.format(stem=path.stem) for pat in _SIDECARS]
    for cand in tried:
        if cand.is_file():
            return read_energy_list(cand), str(cand)
    raise EnergyListMissing(
        path,
        "a TIFF stack needs its energies: pass energies=... or energy_file=..., or put a "
        f"list beside it (tried {', '.join(p.name for p in tried)})",
    )


def _pages(path: Path) -> np.ndarray:
    import tifffile

    size = path.stat().st_size
    try:
        with tifffile.TiffFile(path) as tif:
            # Parse every page: a truncated file can otherwise come back zero-filled.
            for i, page in enumerate(tif.pages):
                ends = [int(o) + int(c) for o, c in
                        zip(page.dataoffsets, page.databytecounts, strict=False)]
                if max(ends, default=0) > size:
                    raise FormatError(path, f"page {i} needs bytes up to {max(ends)} but the "
                                            f"file has {size}: it is truncated")
            series = tif.series[0]
            if len(tif.pages) == 1 and getattr(tif.pages[0], "photometric", None) == 2:
                raise FormatError(path, "holds one colour (RGB) image; expected grey-level "
                                        "pages, one per energy")
            shape = tuple(int(s) for s in series.shape)
            nbytes = int(np.prod(shape)) * np.dtype(series.dtype).itemsize
            if nbytes > max(_MIN_BUDGET, _MAX_EXPANSION * size):
                raise FormatError(path, f"the header announces {nbytes / 2**20:.0f} MiB of "
                                        f"pixels in a {size} byte file; the file is corrupt")
            data = series.asarray()
    except FormatError:
        raise
    except Exception as exc:  # tifffile raises many types on corrupt input
        raise FormatError(path, f"not a readable TIFF stack: {type(exc).__name__}: {exc}") \
            from None
    arr = np.asarray(data)
    if arr.ndim == 4 and arr.shape[-1] in (3, 4):
        raise FormatError(path, f"holds colour (RGB) images of shape {arr.shape}; expected "
                                "grey-level pages (energy, y, x)")
    if arr.ndim == 2:
        raise FormatError(path, f"holds a single {arr.shape[0]} x {arr.shape[1]} image, not "
                                "an image stack (one page per energy)")
    if arr.ndim != 3:
        raise FormatError(path, f"expected pages of shape (energy, y, x); found {arr.shape}")
    if not np.issubdtype(arr.dtype, np.number) or np.iscomplexobj(arr):
        raise FormatError(path, f"expected real-valued pixels; found dtype {arr.dtype}")
    return arr


def read(path: Path, *, energies: Any = None, energy_file: str | Path | None = None,
         **kwargs: Any) -> xr.DataArray:
    """Read a multi-page TIFF stack as a map.

    Parameters
    ----------
    path
        The ``.tif``/``.tiff`` file, one page per energy.
    energies
        Energies in eV, one per page (overrides any energy file).
    energy_file
        Text file with the energies (see the module notes for the sidecar search).

    Returns
    -------
    xarray.DataArray
        ``(y, x, energy)`` transmitted intensity in float64 (pixel indices as ``y``/``x``
        coordinates); attrs ``technique="STXM"``, ``signal="counts"``,
        ``energy_source``, ``source``, ``format="tiff-stack"``. A stack recorded with
        decreasing energy is returned in increasing order.

    Raises
    ------
    FormatError
        Unreadable/corrupt TIFF, a single image, no energy list, or a page count that
        differs from the number of energies.
    """
    if kwargs:
        raise ParameterError(f"the TIFF stack reader takes energies= and energy_file=; "
                             f"found {sorted(kwargs)}")
    cube = _pages(path)
    e, source = _energies(path, energies, energy_file)
    if e.size != cube.shape[0]:
        raise FormatError(path, f"the stack has {cube.shape[0]} pages but the energy list "
                                f"({source}) has {e.size} energies; one per page expected")
    return stack_map(np.moveaxis(cube, 0, -1), e, path, source, {"format": "tiff-stack"})
