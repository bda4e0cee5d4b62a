"""Plain column files: ``.xmu``, ``.dat``, GSE/APS 13-BM raw scans, ``.csv``, ``.txt``.

The most permissive reader, so it comes last in dispatch. A file is a block of
numeric rows (blank-, tab- or comma-separated) after optional comment lines
(``#``, ``;``, ``%``, ``!``) or a text line of column names. Which columns hold
energy and mu is given with ``columns=`` or found from the names on the last
header line, with the rules of :func:`xasml.io._text.mu_from_columns`; a file
of two unnamed columns is read as ``(x, y)``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import xarray as xr

from ..errors import FormatError
from ._text import (
    decode,
    energy_scale,
    finish_energy,
    is_numeric_line,
    norm_name,
    parse_table,
    read_bytes,
    select_columns,
    to_spectrum,
)

__all__ = ["read", "sniff"]

_COMMENT = ("#", ";", "%", "!")
_XMU_FIELD = re.compile(r"^#%\s*([A-Za-z0-9_]+)\s*:\s*(.*?)\s*$")  # cu_10k.xmu header
_GSE_LABEL = re.compile(r"^;\s*([PD]\d+)\s*=\s*\{([^}]*)\}")  # "; D1 = {I0} --> PV"


def sniff(path: Path, head: bytes) -> bool:
    """Text whose head holds a row of at least two numbers (or is all header so far)."""
    if not head or b"\x00" in head:
        return False
    text = head.decode("utf-8", "replace")
    lines = text.splitlines()
    if len(head) >= 4096 and lines:
        lines = lines[:-1]  # the last line may be cut
    numeric = [ln for ln in lines if is_numeric_line(ln) and len(ln.replace(",", " ").split()) > 1]
    if numeric:
        return True
    return len(head) >= 4096 and text.count("\ufffd") == 0


def read(
    path: str | Path,
    *,
    columns: Sequence[str | int] | None = None,
    energy_units: Literal["eV", "keV"] | None = None,
) -> xr.DataArray:
    """Read a plain column file as a spectrum.

    Parameters
    ----------
    path
        The file.
    columns
        ``(energy, signal)`` as names (from the header line of column names)
        or 0-based indices. By default mu is found from the names: a stored mu
        column (``mu``, ``xmu``, ``mutrans`` ...), ``ln(i0/itrans)`` or
        ``ifluor/i0``; two unnamed columns are ``(x, y)``.
    energy_units
        Units of the energy column; by default eV unless the energy label says
        keV (``energy [keV]``).

    Returns
    -------
    xarray.DataArray
        Dims ``(energy,)`` in eV. ``attrs``: ``source``, ``format``
        ``"columns"``, ``signal`` and ``technique`` ``"XAS"`` when mu was
        identified, ``element``/``edge`` from an ``.xmu`` ``#%`` header.

    Raises
    ------
    FormatError
        Naming the file and line: no data, ragged or non-numeric rows, NaN,
        missing columns, repeated energies.
    """
    p = Path(path)
    lines = decode(p, read_bytes(p)).lstrip("\ufeff").splitlines()
    header: list[str] = []
    rows: list[tuple[int, str]] = []
    gse: dict[str, str] = {}
    fields: dict[str, str] = {}
    for lineno, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith(_COMMENT):
            if rows:
                continue  # trailing comments (e.g. EMSA-like end markers) carry no data
            if m := _XMU_FIELD.match(line):
                fields[m.group(1).lower()] = m.group(2)
            elif m := _GSE_LABEL.match(line):
                gse[m.group(1)] = m.group(2)
            header.append(line.lstrip("#;%! \t"))
        elif is_numeric_line(line):
            rows.append((lineno, line))
        elif rows:
            raise FormatError(p, f"expected a row of numbers; found {line[:60]!r}", line=lineno)
        else:
            header.append(line)
    if not rows:
        raise FormatError(p, "expected rows of numbers; found none")
    table = parse_table(p, rows)
    names = _names(header[-1] if header else "", table.data.shape[1], gse)
    ie, values, signal, _how = select_columns(p, names, table, columns)
    if energy_units is None and names and re.search(r"kev", names[ie], re.IGNORECASE):
        energy_units = "keV"
    with np.errstate(over="ignore"):  # overflow to inf is reported by finish_energy
        energy = table.data[:, ie] * energy_scale(p, energy_units)
    energy, values = finish_energy(p, energy, values, table.lines)
    attrs: dict[str, Any] = {}
    if fields.get("atom"):
        attrs["element"] = fields["atom"]
    if fields.get("edge"):
        attrs["edge"] = fields["edge"]
    if fields.get("name"):
        attrs["title"] = fields["name"]
    if signal is not None:
        attrs["technique"] = "XAS"
        attrs["signal"] = signal
    attrs["source"] = str(p)
    attrs["format"] = "columns"
    return to_spectrum(p, energy, values, attrs)


def _names(label_line: str, ncol: int, gse: dict[str, str]) -> list[str]:
    """Column names from the last header line, if it names exactly ``ncol`` columns."""
    sep = "," if "," in label_line else None
    tokens = [t.strip().strip("\"'") for t in label_line.split(sep)]
    tokens = [t for t in tokens if t]
    if len(tokens) != ncol or all(is_numeric_line(t) for t in tokens):
        return []
    # GSE scans label columns P1, D1 ... and describe them as "; D1 = {I0}".
    tokens = [gse.get(t, t) for t in tokens]
    return [_GSE_ALIAS.get(norm_name(t), t) for t in tokens]


# Names GSE/Epics scans use for the usual columns.
_GSE_ALIAS = {"i1": "itrans", "if": "ifluor"}
