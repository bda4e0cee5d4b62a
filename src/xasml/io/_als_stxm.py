"""ALS STXM image stacks: a ``.hdr`` scan definition plus one ``.xim`` text image per energy.

The ``.hdr`` holds ``PAxis`` (sample x), ``QAxis`` (sample y) and
``StackAxis`` (energy) as ``Points = (n, v1, v2, ...)`` lists. Images are
``<stem>_a000.xim``, ``<stem>_a001.xim`` ... (one per energy, rows = y,
tab-separated columns = x). Stacks cut out of a longer series keep their
original numbers (``_a003``, ``_a019``); those are paired with the energies in
numerical order when their count matches.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from ..datamodel import ENERGY, as_map
from ..errors import FormatError, ParameterError, SpectrumError

__all__ = ["read", "sniff"]

_XIM_RE = re.compile(r"_a(\d+)\.xim$", re.IGNORECASE)


def sniff(path: Path, head: bytes) -> bool:
    """A ``.hdr`` whose text starts with an ALS ``ScanDefinition``."""
    return head.lstrip()[:20].startswith(b"ScanDefinition") and b"Points" in head


def _points(text: str, axis: str, path: Path) -> np.ndarray:
    m = re.search(axis + r"\s*=\s*\{[^}]*?Points\s*=\s*\(([^)]*)\)", text, re.DOTALL)
    if m is None:
        raise FormatError(path, f"no {axis} with Points = (n, ...) in the scan definition")
    try:
        values = [float(v) for v in m.group(1).replace("\n", " ").split(",") if v.strip()]
    except ValueError:
        raise FormatError(
            path, f"{axis} Points must be numbers; found {m.group(1)[:60]!r}"
        ) from None
    n = int(values[0]) if values else -1
    if n != len(values) - 1:
        raise FormatError(path, f"{axis} Points announce {n} values; found {len(values) - 1}")
    return np.array(values[1:])


def _unit(text: str, axis: str) -> str:
    m = re.search(axis + r'\s*=\s*\{[^}]*?Unit\s*=\s*"([^"]*)"', text, re.DOTALL)
    return m.group(1) if m else ""


def _images(path: Path, n: int) -> list[Path]:
    stem = path.with_suffix("")
    exact = [Path(f"{stem}_a{i:03d}.xim") for i in range(n)]
    if all(p.is_file() for p in exact):
        return exact
    found = sorted(
        (p for p in path.parent.glob(f"{stem.name}_a*.xim") if _XIM_RE.search(p.name)),
        key=lambda p: int(_XIM_RE.search(p.name).group(1)),  # type: ignore[union-attr]
    )
    if len(found) == n:
        return found
    missing = [p.name for p in exact if not p.is_file()]
    raise FormatError(
        path,
        f"expected {n} .xim images (one per energy, e.g. {missing[0]}); found {len(found)}"
        + (f" ({', '.join(p.name for p in found)})" if found else "")
        + f"; missing e.g. {', '.join(missing[:3])}",
    )


def _load_xim(path: Path, shape: tuple[int, int]) -> np.ndarray:
    try:
        img = np.loadtxt(path, dtype=float, ndmin=2)
    except (OSError, ValueError) as exc:
        raise FormatError(path, f"expected a text image of numbers: {exc}") from None
    if img.shape != shape:
        raise FormatError(
            path, f"expected a {shape[0]} x {shape[1]} image from the .hdr axes; found {img.shape}"
        )
    return img


def read(path: Path, **kwargs: Any) -> xr.DataArray:
    """Read an ALS STXM stack as a map.

    Returns
    -------
    xarray.DataArray
        ``(y, x, energy)`` counts; ``x``/``y`` coords in µm; attrs
        ``technique="STXM"``, ``signal="counts"``, ``xim_files``, ``source``,
        ``format="als-stxm"``.

    Raises
    ------
    FormatError
        If the scan definition lacks axes, an image is missing (named), or an
        image does not match the axes. A single-energy scan is an image, not a
        spectrum, and is refused.
    """
    if kwargs:
        raise ParameterError(f"the ALS STXM reader takes no options; found {sorted(kwargs)}")
    try:
        text = path.read_text(encoding="latin-1")
    except OSError as exc:
        raise FormatError(path, f"cannot read: {exc.strerror}") from None
    x = _points(text, "PAxis", path)
    y = _points(text, "QAxis", path)
    energy = _points(text, "StackAxis", path)
    for axis, unit in (("PAxis", _unit(text, "PAxis")), ("QAxis", _unit(text, "QAxis"))):
        if unit not in ("um", "µm", ""):
            raise FormatError(path, f"{axis} unit must be um; found {unit!r}")
    if energy.size < 2:
        raise FormatError(
            path, f"holds a single image ({energy.size} energy), not an image stack or spectrum"
        )
    files = _images(path, energy.size)
    data = np.stack([_load_xim(f, (y.size, x.size)) for f in files], axis=-1)
    da = xr.DataArray(
        data,
        dims=("y", "x", ENERGY),
        coords={
            "y": ("y", y, {"units": "µm"}),
            "x": ("x", x, {"units": "µm"}),
            ENERGY: (ENERGY, energy, {"units": "eV", "long_name": "energy"}),
        },
        attrs={
            "technique": "STXM",
            "signal": "counts",
            "xim_files": [f.name for f in files],
            "source": str(path),
            "format": "als-stxm",
        },
    )
    try:
        return as_map(da)
    except SpectrumError as exc:
        raise FormatError(path, str(exc)) from None
