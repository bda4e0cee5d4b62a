"""XDI (XAS Data Interchange) files: read and write.

The format (Ravel & Newville, XDI specification 1.0,
https://github.com/XraySpectroscopy/XAS-Data-Interchange)
is a text table preceded by ``#`` header lines: a ``# XDI/1.x`` version line,
``# Family.key: value`` fields (``Element.symbol``, ``Element.edge``,
``Mono.d_spacing``, ``Column.N: name [units]`` ...), an optional ``# ///``
line starting free comments, a ``#----`` line ending the header and a line
of column labels. mu(E) is often not stored; it is computed from the column
names (see :func:`xasml.io._text.mu_from_columns`).
"""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from ..datamodel import ENERGY, validate
from ..errors import FormatError, ParameterError, XasmlWarning
from ._text import (
    decode,
    energy_scale,
    finish_energy,
    parse_table,
    read_bytes,
    select_columns,
    to_spectrum,
)

__all__ = ["read", "sniff", "write_xdi"]

_VERSION = re.compile(rb"^\s*#\s*XDI/\d+\.\d+")
_FIELD = re.compile(r"^#\s*([A-Za-z0-9_]+)\.([A-Za-z0-9_]+)\s*:\s*(.*?)\s*$")
_XASML = "Xasml"  # header family holding xasml attrs without a family of their own
_SKIP_ATTRS = ("source", "format", "element", "edge", "comments")


def sniff(path: Path, head: bytes) -> bool:
    """An XDI file starts with the ``# XDI/1.x`` version line."""
    return bool(_VERSION.match(head.lstrip(b"\xef\xbb\xbf")))


def read(path: str | Path, *, columns: Sequence[str | int] | None = None) -> xr.DataArray:
    """Read one XDI file as a spectrum.

    Parameters
    ----------
    path
        The ``.xdi`` file.
    columns
        Optional ``(energy, signal)`` as column names or 0-based indices;
        by default mu is taken or computed from the column names.

    Returns
    -------
    xarray.DataArray
        Dims ``(energy,)`` in eV, values mu(E) (``signal`` ``"mu"``, or
        ``"norm"`` for a stored normalised column). ``attrs``: ``element``,
        ``edge`` (from ``Element.symbol``/``Element.edge``), ``technique``
        ``"XAS"``, ``source``, ``format`` ``"xdi"``, every other header
        field as ``"Family.key"`` (text), free comments as ``comments``.

    Raises
    ------
    FormatError
        Missing version line, malformed header, no data, bad numbers,
        missing columns or repeated energies (naming the line).
    """
    p = Path(path)
    text = decode(p, read_bytes(p))
    lines = text.lstrip("\ufeff").splitlines()
    if not _VERSION.match(lines[0].encode("utf-8", "replace")):
        raise FormatError(p, f"expected '# XDI/1.x' on the first line; found {lines[0][:60]!r}",
                          line=1)
    fields: dict[str, str] = {}
    col_defs: dict[int, str] = {}
    comments: list[str] = []
    label_line = ""
    rows: list[tuple[int, str]] = []
    in_comments = header_done = False
    for lineno, raw in enumerate(lines[1:], start=2):
        line = raw.strip()
        if not line:
            continue
        if not line.startswith("#"):
            rows.append((lineno, line))
            continue
        if rows:
            raise FormatError(p, "expected only data rows after the first one; found a "
                              "header line", line=lineno)
        body = line[1:].strip()
        if body.startswith("///"):
            in_comments = True
            continue
        if body.startswith("---"):
            header_done = True
            continue
        m = _FIELD.match(line)
        if m and not in_comments and not header_done:
            family, key, value = m.groups()
            if family.lower() == "column":
                if not key.isdigit() or int(key) < 1:
                    raise FormatError(p, f"expected 'Column.N' with N >= 1; found "
                                      f"'Column.{key}'", line=lineno)
                col_defs[int(key)] = value
            else:
                fields[f"{family}.{key}"] = value
        elif header_done:
            label_line = body
        else:
            comments.append(body)
    if not rows:
        raise FormatError(p, "expected data rows after the header; found none")
    table = parse_table(p, rows)
    ncol = table.data.shape[1]
    labels = label_line.split()
    names: list[str] = []
    units: list[str | None] = []
    for i in range(1, ncol + 1):
        spec = col_defs.get(i) or (labels[i - 1] if len(labels) == ncol else f"col{i}")
        parts = spec.split("||")[0].split()
        names.append(parts[0] if parts else f"col{i}")
        units.append(parts[1] if len(parts) > 1 else None)
    ie, values, signal, _how = select_columns(p, names, table, columns)
    with np.errstate(over="ignore"):  # overflow to inf is reported by finish_energy
        energy = table.data[:, ie] * energy_scale(p, units[ie])
    energy, values = finish_energy(p, energy, values, table.lines)

    attrs: dict[str, Any] = {}
    for key, value in fields.items():
        family, name = key.split(".", 1)
        if family == _XASML:
            try:
                attrs[name] = json.loads(value)
            except ValueError:
                attrs[name] = value
        elif key.lower() == "element.symbol":
            attrs["element"] = value
        elif key.lower() == "element.edge":
            attrs["edge"] = value
        else:
            attrs[key] = value
    attrs.setdefault("technique", "XAS")
    if signal is not None:
        attrs.setdefault("signal", signal)
    if comments:
        attrs["comments"] = "\n".join(comments)
    attrs["source"] = str(p)
    attrs["format"] = "xdi"
    return to_spectrum(p, energy, values, attrs)


def write_xdi(da: xr.DataArray, path: str | Path) -> Path:
    """Write a single spectrum as an XDI 1.1 file that :func:`xasml.io.read` reads back.

    Parameters
    ----------
    da
        Spectrum with dims ``(energy,)`` in eV.
    path
        Output file (overwritten).

    Notes
    -----
    ``element``/``edge`` become ``Element.symbol``/``Element.edge``; attrs
    named ``Family.key`` are written as they are (XDI header values are
    text, so they read back as strings); other attrs go to the ``Xasml``
    family as JSON so their types survive; ``comments`` follow ``# ///``.
    ``source`` and ``format`` are not written (the reader sets them).
    Attrs whose names or values XDI cannot hold are skipped with a warning.

    Returns
    -------
    pathlib.Path
        The written file.
    """
    validate(da)
    if da.dims != (ENERGY,):
        raise ParameterError(f"write_xdi writes one spectrum with dims ('energy',); "
                             f"found dims {da.dims}")
    out = Path(path)
    signal = da.attrs.get("signal", "mu")
    column = "normtrans" if signal == "norm" else "mutrans"
    head = ["# XDI/1.1 xasml", "# Column.1: energy eV", f"# Column.2: {column}"]
    if "element" in da.attrs:
        head.append(f"# Element.symbol: {da.attrs['element']}")
    if "edge" in da.attrs:
        head.append(f"# Element.edge: {da.attrs['edge']}")
    skipped: list[str] = []
    for key, value in da.attrs.items():
        if key in _SKIP_ATTRS:
            continue
        text = _header_value(key, value)
        if text is None:
            skipped.append(key)
        else:
            head.append(text)
    if skipped:
        warnings.warn(f"write_xdi: attrs {skipped} cannot be written to an XDI header "
                      "(names must be word characters, values single-line scalars); skipped",
                      XasmlWarning, stacklevel=2)
    comments = str(da.attrs.get("comments", ""))
    if comments:
        head.append("# ///")
        head.extend("# " + c for c in comments.splitlines())
    head.append("#" + "-" * 30)
    head.append(f"#  energy  {column}")
    e = np.asarray(da[ENERGY].values, dtype=float)
    y = np.asarray(da.values, dtype=float)
    body = [f"{a!r:>22}  {b!r:>24}" for a, b in zip(e.tolist(), y.tolist(), strict=True)]
    try:
        out.write_text("\n".join(head + body) + "\n", encoding="utf-8")
    except OSError as exc:
        raise FormatError(out, f"cannot write: {exc.strerror or exc}") from None
    return out


def _header_value(key: str, value: Any) -> str | None:
    """``# Family.key: value`` for one attr, or ``None`` if XDI cannot hold it."""
    if isinstance(value, np.generic):
        value = value.item()
    m = re.fullmatch(r"([A-Za-z0-9_]+)\.([A-Za-z0-9_]+)", key)
    if m and m.group(1).lower() != "column" and m.group(1) != _XASML:
        text = str(value)
        return None if "\n" in text or not np.isscalar(value) else f"# {key}: {text}"
    if not re.fullmatch(r"[A-Za-z0-9_]+", key):
        return None
    if not isinstance(value, (str, int, float, bool)):
        return None
    return f"# {_XASML}.{key}: {json.dumps(value)}"
