"""What the image-stack readers share: energy lists and the ``(y, x, energy)`` map.

TIFF stacks (:mod:`._tiff`) and plain HDF5 stacks (:mod:`._h5stack`) both pair a
cube of images with energies given as an argument, a text list or (per format) a
dataset or sidecar file; both return the same map with pixel-index coordinates.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from ..datamodel import ENERGY, as_map
from ..errors import FormatError, ParameterError, SpectrumError

__all__ = ["EnergyListMissing", "given_energies", "read_energy_list", "stack_map"]


class EnergyListMissing(FormatError):
    """A stack whose energies were neither given nor found beside it (may arrive later)."""


def read_energy_list(path: str | Path) -> np.ndarray:
    """Energies (eV) from a text file: one per line, first column, ``#`` comments.

    Raises
    ------
    FormatError
        Naming the line that is not a number, or when the file holds none.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise FormatError(p, f"cannot read the energy list: {exc.strerror}") from None
    values: list[float] = []
    for no, line in enumerate(text.splitlines(), start=1):
        body = line.split("#", 1)[0].replace(",", " ").split()
        if not body:
            continue
        try:
            value = float(body[0])
        except ValueError:
            raise FormatError(p, f"expected an energy in eV; found {body[0][:40]!r}",
                              line=no) from None
        if not np.isfinite(value):
            raise FormatError(p, f"energies must be finite; found {body[0]!r}", line=no)
        values.append(value)
    if not values:
        raise FormatError(p, "the energy list holds no numbers")
    return np.asarray(values)


def given_energies(energies: Any, energy_file: Any) -> tuple[np.ndarray, str] | None:
    """Energies from the ``energies=`` argument or ``energy_file=``, with their source;
    ``None`` when neither was given (the format then looks in the file or beside it)."""
    if energies is not None:
        try:
            arr = np.asarray(energies, dtype=float).reshape(-1)
        except (TypeError, ValueError):
            raise ParameterError(f"energies must be numbers in eV; found {energies!r}") from None
        if not np.all(np.isfinite(arr)):
            raise ParameterError("energies must be finite (no NaN/inf)")
        return arr, "argument"
    if energy_file is not None:
        return read_energy_list(energy_file), str(energy_file)
    return None


def stack_map(cube: np.ndarray, energy: np.ndarray, path: Path, source: str,
              attrs: dict[str, Any]) -> xr.DataArray:
    """``(y, x, energy)`` float64 map from a cube whose last axis matches ``energy``.

    Energies are sorted (images with them); duplicates are refused naming ``source``.
    """
    order = np.argsort(energy, kind="stable")
    e = energy[order]
    if np.any(np.diff(e) <= 0):
        dup = e[:-1][np.diff(e) <= 0]
        raise FormatError(path, f"energies must be distinct; {dup[0]:g} eV occurs twice "
                                f"in {source}")
    data = np.asarray(cube, dtype=np.float64)[..., order]
    da = xr.DataArray(
        data,
        dims=("y", "x", ENERGY),
        coords={
            "y": ("y", np.arange(data.shape[0]), {"units": "px"}),
            "x": ("x", np.arange(data.shape[1]), {"units": "px"}),
            ENERGY: (ENERGY, e, {"units": "eV", "long_name": "energy"}),
        },
        attrs={"technique": "STXM", "signal": "counts", "energy_source": source,
               "source": str(path), **attrs},
    )
    try:
        return as_map(da)
    except SpectrumError as exc:
        raise FormatError(path, str(exc)) from None
