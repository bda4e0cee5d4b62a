"""Athena project files (placeholder until the reader lands)."""

from __future__ import annotations

from pathlib import Path

import xarray as xr

from ..errors import FormatError


def sniff(path: Path, head: bytes) -> bool:
    return False


def read(path: str | Path) -> xr.DataArray:
    raise FormatError(path, "Athena project files are not supported yet")
