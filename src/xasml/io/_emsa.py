"""EMSA/MAS spectral data files (``.msa``, ``.emsa``), as written for EELS and EDS.

The format (ISO 22029; Microscopy Society of America EMSA/MAS 1.0) is a text
header of ``#KEYWORD[-units] : value`` lines, ``#SPECTRUM :`` before the data
and ``#ENDOFDATA :`` after it. ``DATATYPE Y`` stores only intensities, with
the energy axis ``OFFSET + i * XPERCHAN`` (``i < NPOINTS``); ``DATATYPE XY``
stores ``x, y`` pairs. Files from eelsdb.eu may come with a sibling
``metadata.json`` (read into ``attrs``) and sometimes without any header, as
tab-separated ``x, y``: with an ``.msa`` name such a file is read as ``XY``.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from ..errors import FormatError
from ._text import (
    decode,
    energy_scale,
    finish_energy,
    is_numeric_line,
    parse_table,
    read_bytes,
    to_spectrum,
)

__all__ = ["read", "sniff"]

_KEY = re.compile(r"^#\s*([A-Za-z0-9_]+)\s*(-\s*[^:]*?)?\s*:\s*(.*?)\s*$")
_SUFFIXES = (".msa", ".emsa", ".ems")
_SIGNALS = {"ELS": "EELS", "EDS": "EDS", "WDS": "WDS", "XRF": "XRF", "AES": "AES",
            "PES": "XPS", "XAS": "XAS"}


def sniff(path: Path, head: bytes) -> bool:
    """An EMSA header (``#FORMAT : EMSA/MAS ...``), or numbers in a file named ``.msa``."""
    first = head.lstrip(b"\xef\xbb\xbf").lstrip()[:200].upper()
    if first.startswith(b"#FORMAT") and b"EMSA" in first:
        return True
    if path.suffix.lower() not in _SUFFIXES or not head or b"\x00" in head:
        return False
    lines = head.decode("utf-8", "replace").splitlines()[:5]
    return bool(lines) and all(is_numeric_line(ln) for ln in lines if ln.strip())


def read(path: str | Path) -> xr.DataArray:
    """Read an EMSA/MSA spectrum.

    Returns
    -------
    xarray.DataArray
        Dims ``(energy,)`` in eV (``XUNITS`` keV converted), values as stored
        (counts). ``attrs``: ``technique`` (``"EELS"`` for ``SIGNALTYPE ELS``
        and headerless eelsdb files), ``signal`` ``"counts"``, ``source``,
        ``format`` ``"emsa"``, ``title``, other header keywords as
        ``"EMSA.KEY"``, and from a sibling ``metadata.json`` (eelsdb):
        ``element``/``edge`` when it lists one edge, ``edges``, ``formula``
        and its other scalar fields as ``"eelsdb.key"``.

    Raises
    ------
    FormatError
        Naming the file and line: bad header values, non-numeric data, fewer
        or more values than ``NPOINTS``, NaN, repeated energies.
    """
    p = Path(path)
    lines = decode(p, read_bytes(p)).lstrip("\ufeff").splitlines()
    header: dict[str, str] = {}
    units: dict[str, str] = {}
    rows: list[tuple[int, str]] = []
    ended = False
    for lineno, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line or ended:
            continue
        if line.startswith("#"):
            m = _KEY.match(line)
            if not m:
                raise FormatError(p, f"expected '#KEYWORD : value'; found {line[:60]!r}",
                                  line=lineno)
            key = m.group(1).upper()
            if key == "ENDOFDATA":
                ended = True
            elif key != "SPECTRUM":
                header[key] = m.group(3)
                if m.group(2):
                    units[key] = m.group(2).lstrip("- ").strip()
        else:
            rows.append((lineno, line))
    if not rows:
        raise FormatError(p, "expected data values after the header; found none")
    datatype = header.get("DATATYPE", "XY").upper()
    if datatype == "Y":
        energy, values, lines_of = _y_data(p, header, rows)
    elif datatype == "XY":
        table = parse_table(p, rows)
        if table.data.shape[1] != 2:
            raise FormatError(p, f"DATATYPE XY expects 2 columns (x, y); found "
                              f"{table.data.shape[1]}", line=int(table.lines[0]))
        energy, values, lines_of = table.data[:, 0], table.data[:, 1], table.lines
    else:
        raise FormatError(p, f"DATATYPE must be Y or XY; found {datatype!r}")
    with np.errstate(over="ignore"):  # overflow to inf is reported by finish_energy
        energy = energy * energy_scale(p, header.get("XUNITS") or None)
    energy, values = finish_energy(p, energy, values, lines_of)

    attrs: dict[str, Any] = {}
    signal_type = header.get("SIGNALTYPE", "").upper()
    attrs["technique"] = _SIGNALS.get(signal_type, signal_type or "EELS")
    attrs["signal"] = "counts"
    if header.get("TITLE"):
        attrs["title"] = header["TITLE"]
    for key, value in header.items():
        if key not in ("TITLE", "NPOINTS", "NCOLUMNS", "XPERCHAN", "OFFSET", "DATATYPE") and value:
            attrs[f"EMSA.{key}"] = value + (f" {units[key]}" if key in units else "")
    attrs.update(_eelsdb_metadata(p))
    attrs["source"] = str(p)
    attrs["format"] = "emsa"
    return to_spectrum(p, energy, values, attrs)


def _number(path: Path, header: dict[str, str], key: str) -> float:
    text = header.get(key)
    if text is None:
        raise FormatError(path, f"DATATYPE Y needs the header keyword {key}; found none")
    try:
        value = float(text.split()[0].rstrip(","))
    except (ValueError, IndexError):
        raise FormatError(path, f"expected a number for {key}; found {text!r}") from None
    if not np.isfinite(value):
        raise FormatError(path, f"expected a finite number for {key}; found {text!r}")
    return value


def _y_data(
    path: Path, header: dict[str, str], rows: list[tuple[int, str]]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Values of a ``DATATYPE Y`` block (any number per line) and their axis."""
    npoints = _number(path, header, "NPOINTS")
    step = _number(path, header, "XPERCHAN")
    offset = _number(path, header, "OFFSET")
    if npoints != int(npoints) or not 2 <= npoints <= 1e8:
        raise FormatError(path, f"NPOINTS must be an integer >= 2; found {npoints:g}")
    if step == 0:
        raise FormatError(path, "XPERCHAN must be non-zero; found 0")
    values: list[float] = []
    lines_of: list[int] = []
    for lineno, text in rows:
        for token in (t for t in re.split(r"[\s,]+", text) if t):
            try:
                v = float(token)
            except ValueError:
                raise FormatError(path, f"expected a number; found {token[:40]!r}",
                                  line=lineno) from None
            if not np.isfinite(v):
                raise FormatError(path, f"expected finite numbers; found {token!r}", line=lineno)
            values.append(v)
            lines_of.append(lineno)
    if len(values) != int(npoints):
        raise FormatError(path, f"NPOINTS says {int(npoints)} values; found {len(values)} "
                          "(truncated or corrupted data block?)")
    with np.errstate(over="ignore", invalid="ignore"):
        energy = offset + step * np.arange(len(values), dtype=float)
    return energy, np.asarray(values), np.asarray(lines_of)


def _eelsdb_metadata(path: Path) -> dict[str, Any]:
    """Attrs from an eelsdb ``metadata.json`` beside the file (empty if there is none)."""
    meta_path = path.with_name("metadata.json")
    if not meta_path.is_file():
        return {}
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise FormatError(meta_path, f"expected eelsdb metadata as JSON; could not read it: {exc}"
                          ) from None
    if not isinstance(meta, dict):
        raise FormatError(meta_path, f"expected a JSON object; found {type(meta).__name__}")
    attrs: dict[str, Any] = {}
    edges = [str(e) for e in meta.get("edges") or [] if isinstance(e, str)]
    if edges:
        attrs["edges"] = "; ".join(edges)
    if len(edges) == 1 and "_" in edges[0]:
        attrs["element"], attrs["edge"] = edges[0].split("_", 1)
    if isinstance(meta.get("formula"), str):
        attrs["formula"] = meta["formula"]
    if isinstance(meta.get("title"), str):
        attrs["title"] = html.unescape(meta["title"])
    for key, value in meta.items():
        if key not in ("edges", "formula", "title") and isinstance(value, (str, int, float)):
            attrs[f"eelsdb.{key}"] = value
    return attrs
