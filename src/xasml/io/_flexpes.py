"""flexpes-nexafs HDF5 spectrum libraries: ``spectra/<NNNNNN>/{x, y}`` plus attributes.

Each group holds one spectrum (``x`` energy in eV, ``y`` intensity) with
string attributes (``element``, ``edge`` as ``"K (1s)"``, ``compound``,
``detector``, ``label``, ``post_normalization`` ...). :func:`read_all` returns
every spectrum; :func:`read` returns one (``index=``), or all stacked when they
share an energy grid.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from ..datamodel import ENERGY, concat
from ..datamodel import spectrum as make_spectrum
from ..errors import FormatError, ParameterError, SpectrumError, XasmlError
from ._hdf5 import H5_ERRORS, as_str, open_h5, peek_h5

__all__ = ["read", "read_all", "sniff"]

# Attributes that differ between spectra of one library become sample labels.
_LABEL_ATTRS = ("label", "compound", "element", "edge", "detector", "comment")


def _is_library(fh: Any) -> bool:
    if "flexpes" in as_str(fh.attrs.get("created_with")).lower():
        return True
    grp = fh.get("spectra")
    if grp is None or not hasattr(grp, "keys"):
        return False
    first = next(iter(grp.values()), None)
    return first is not None and hasattr(first, "keys") and "x" in first and "y" in first


def sniff(path: Path, head: bytes) -> bool:
    """HDF5 with a ``spectra`` group of ``x``/``y`` pairs (or ``created_with=flexpes``)."""
    return peek_h5(path, head, _is_library, False)


def _edge(raw: str) -> str:
    # "K (1s)" -> "K", "L2,3 (2p)" -> "L2,3"
    return raw.split("(", 1)[0].strip()


def _spectrum(path: Path, name: str, g: Any) -> xr.DataArray:
    if not hasattr(g, "keys") or "x" not in g or "y" not in g:
        found = sorted(g.keys()) if hasattr(g, "keys") else type(g).__name__
        raise FormatError(path, f"spectra/{name}: expected datasets 'x' and 'y'; found {found}")
    x = np.asarray(g["x"][()], dtype=float)
    y = np.asarray(g["y"][()], dtype=float)
    if x.ndim == 1 and x.size > 1 and np.all(np.diff(x) < 0):
        x, y = x[::-1], y[::-1]  # scans recorded downwards in energy
    meta = {str(k): as_str(v) for k, v in g.attrs.items() if as_str(v)}
    norm = meta.get("post_normalization", "")
    attrs: dict[str, Any] = {
        "technique": "XAS",
        "signal": "norm" if norm and norm.lower() != "none" else "intensity",
        "library_id": name,
    }
    for key, value in meta.items():
        attrs[key] = _edge(value) if key == "edge" else value
    try:
        return make_spectrum(x, y, **attrs)
    except SpectrumError as exc:
        raise FormatError(path, f"spectra/{name}: {exc}") from None


def read_all(path: str | Path) -> list[xr.DataArray]:
    """Every spectrum of the library, in group order, each with its attributes."""
    p = Path(path)
    with open_h5(p, "flexpes HDF5 library") as fh:
        try:
            grp = fh.get("spectra")
            if grp is None or not hasattr(grp, "keys"):
                raise FormatError(
                    p, f"expected a group 'spectra'; found top-level items {sorted(fh.keys())}"
                )
            names = sorted(grp.keys())
            if not names:
                raise FormatError(p, "the 'spectra' group is empty; expected spectra/000001/...")
            spectra = [_spectrum(p, n, grp[n]) for n in names]
        except XasmlError:
            raise
        except H5_ERRORS as exc:
            raise FormatError(p, f"damaged library: {exc}") from None
    for sp in spectra:
        sp.attrs.update(source=str(p), format="flexpes")
    return spectra


def read(path: Path, *, index: int | None = None, **kwargs: Any) -> xr.DataArray:
    """Read one spectrum (``index``, 0-based) or the whole library.

    Returns
    -------
    xarray.DataArray
        ``(energy,)`` for one spectrum; ``(sample, energy)`` when all spectra
        share one energy grid, with varying attributes (``label``,
        ``compound``, ``detector`` ...) as sample labels.

    Raises
    ------
    FormatError
        If the grids differ and no ``index`` is given (use ``index=`` or
        :func:`xasml.io.read_all`).
    """
    if kwargs:
        raise ParameterError(f"the flexpes reader takes only index=; found {sorted(kwargs)}")
    spectra = read_all(path)
    if index is not None:
        if not 0 <= index < len(spectra):
            raise ParameterError(f"index must be in 0..{len(spectra) - 1}; found {index}")
        return spectra[index]
    if len(spectra) == 1:
        return spectra[0]
    e0 = spectra[0][ENERGY].values
    if any(
        sp.sizes[ENERGY] != e0.size or not np.allclose(sp[ENERGY].values, e0, atol=1e-9, rtol=0)
        for sp in spectra
    ):
        summary = "; ".join(
            f"{i}: {sp.attrs.get('label', sp.attrs['library_id'])} ({sp.sizes[ENERGY]} points)"
            for i, sp in enumerate(spectra)
        )
        raise FormatError(
            path,
            f"the {len(spectra)} spectra are on different energy grids ({summary}); pass "
            "index= to read one, or use xasml.io.read_all(path) for all",
        )
    return concat(spectra)
