"""Plain HDF5 image stacks: one 3-D dataset of images plus an energy list.

Beamline and TXM software often writes a stack as a bare HDF5 file — no NeXus
classes — holding one 3-D dataset and a 1-D dataset of energies (names such as
``energy``, ``energies``, ``photon_energy``, ``energy_eV``). The energy axis of
the cube is the one whose length equals the number of energies; the other two
are ``(y, x)`` in storage order. Where the file is ambiguous (several 3-D
datasets, several energy lists, two axes of the energy list's length) the reader
asks for ``data=``/``energy=`` (dataset paths) and names the candidates. Energies
can also come from ``energies=`` (an array) or ``energy_file=`` (a text list, as
for TIFF stacks). This format is tried after the specific HDF5 formats (NeXus,
HyperSpy, flexpes, xasml stores).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from ..errors import FormatError, ParameterError, XasmlError
from ._hdf5 import H5_ERRORS, open_h5, peek_h5
from ._imagestack import given_energies, stack_map

__all__ = ["read", "sniff"]

_ENERGY_NAMES = ("energy", "energies", "photon_energy", "energy_ev", "energies_ev", "ev")
_MAX_CUBE_BYTES = 32 * 2**30  # refuse absurd shapes from damaged headers before reading


def _datasets(fh: Any) -> list[tuple[str, Any]]:
    import h5py

    out: list[tuple[str, Any]] = []

    def visit(name: str, obj: Any) -> None:
        if isinstance(obj, h5py.Dataset):
            out.append((name, obj))

    fh.visititems(visit)
    return out


def _cubes(items: list[tuple[str, Any]]) -> list[str]:
    return [n for n, d in items if d.ndim == 3 and d.dtype.kind in "iuf" and min(d.shape) > 1]


def _energy_lists(items: list[tuple[str, Any]]) -> list[str]:
    return [n for n, d in items if d.ndim == 1 and d.dtype.kind in "iuf" and d.shape[0] > 1
            and n.rsplit("/", 1)[-1].lower() in _ENERGY_NAMES]


def sniff(path: Path, head: bytes) -> bool:
    """HDF5 with exactly one 3-D numeric dataset and an energy list of one axis's length."""

    def test(fh: Any) -> bool:
        items = _datasets(fh)
        cubes, lists = _cubes(items), _energy_lists(items)
        if len(cubes) != 1 or not lists:
            return False
        shape = fh[cubes[0]].shape
        return any(fh[e].shape[0] in shape for e in lists)

    return peek_h5(path, head, test, False)


def _pick(path: Path, what: str, given: str | None, candidates: list[str], option: str) -> str:
    if given is not None:
        return given
    if len(candidates) == 1:
        return candidates[0]
    found = ", ".join(candidates) if candidates else "none"
    raise FormatError(path, f"cannot tell which dataset holds the {what} (found: {found}); "
                            f"pass {option}='<dataset path>'")


def read(path: Path, *, data: str | None = None, energy: str | None = None,
         energies: Any = None, energy_file: str | Path | None = None,
         **kwargs: Any) -> xr.DataArray:
    """Read a plain HDF5 image stack as a map.

    Parameters
    ----------
    path
        The HDF5 file.
    data
        Path of the 3-D image dataset (default: the only 3-D numeric dataset).
    energy
        Path of the 1-D energy dataset, eV (default: the only one with an energy name).
    energies, energy_file
        Energies given directly (array, eV) or as a text list; they replace ``energy``.

    Returns
    -------
    xarray.DataArray
        ``(y, x, energy)`` float64 intensities in increasing energy order; pixel
        indices as ``y``/``x``; attrs ``technique="STXM"``, ``signal="counts"``,
        ``data_path``, ``energy_source``, ``source``, ``format="h5-stack"``.
    """
    if kwargs:
        raise ParameterError("the HDF5 stack reader takes data=, energy=, energies= and "
                             f"energy_file=; found {sorted(kwargs)}")
    with open_h5(path, "an HDF5 image stack") as fh:
        try:
            items = _datasets(fh)
            dpath = _pick(path, "images", data, _cubes(items), "data")
            if dpath not in fh or fh[dpath].ndim != 3:
                raise FormatError(path, f"{dpath!r} is not a 3-D dataset in the file")
            dset = fh[dpath]
            if dset.dtype.kind not in "iuf":
                raise FormatError(path, f"{dpath!r} holds {dset.dtype}, not numbers")
            nbytes = int(np.prod(dset.shape)) * dset.dtype.itemsize
            if nbytes > _MAX_CUBE_BYTES:
                raise FormatError(path, f"{dpath!r} announces {nbytes / 2**30:.0f} GiB; "
                                        "the header is damaged or the stack needs dask")
            given = given_energies(energies, energy_file)
            if given is not None:
                e, source = given
            else:
                epath = _pick(path, "energies", energy, _energy_lists(items), "energy")
                if epath not in fh or fh[epath].ndim != 1:
                    raise FormatError(path, f"{epath!r} is not a 1-D dataset in the file")
                e, source = np.asarray(fh[epath][()], dtype=float), epath
            cube = np.asarray(dset[()], dtype=np.float64)
        except XasmlError:
            raise
        except H5_ERRORS as exc:
            raise FormatError(path, f"cannot read the stack: {type(exc).__name__}: {exc}") \
                from None
    if not np.all(np.isfinite(e)):
        raise FormatError(path, f"the energies ({source}) hold NaN/inf")
    axes = [k for k, n in enumerate(cube.shape) if n == e.size]
    if not axes:
        raise FormatError(path, f"{dpath!r} has shape {cube.shape} but there are {e.size} "
                                f"energies ({source}); one axis must have one image per energy")
    if len(axes) > 1:
        raise FormatError(path, f"{dpath!r} has shape {cube.shape}: axes {axes} both match the "
                                f"{e.size} energies; transpose it so the energy axis is unique")
    return stack_map(np.moveaxis(cube, axes[0], -1), e, path, source,
                     {"data_path": dpath, "format": "h5-stack"})
