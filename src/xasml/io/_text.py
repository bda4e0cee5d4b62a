"""Shared pieces of the text-format readers: decoding, numeric tables, mu rules.

Every helper takes the file ``path`` so that errors name it, and tracks the
1-based line number of each data row so that errors can point at it.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from ..datamodel import spectrum
from ..errors import FormatError, SpectrumError, XasmlWarning

__all__ = [
    "Table",
    "decode",
    "energy_scale",
    "finish_energy",
    "is_numeric_line",
    "mu_from_columns",
    "norm_name",
    "parse_table",
    "read_bytes",
    "select_columns",
    "to_spectrum",
]

# A file is treated as text only when its head holds no NUL byte and decodes.
_SPLIT = re.compile(r"[\s,]+")
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eEdD][+-]?\d+)?$")

# Column names (normalised by :func:`norm_name`) that hold mu(E) directly,
# in order of preference, with the ``signal`` each stands for.
MU_NAMES: dict[str, str] = {
    "mu": "mu",
    "xmu": "mu",
    "mutrans": "mu",
    "mufluor": "mu",
    "absorption": "mu",
    "murefer": "mu",
    "normtrans": "norm",
    "normfluor": "norm",
    "norm": "norm",
    "flat": "norm",
}
ENERGY_NAMES = ("energy", "e", "ev", "energyev", "mono_energy", "x")
I0_NAMES = ("i0", "io", "izero", "mon", "monitor")
ITRANS_NAMES = ("itrans", "it", "i1", "itr", "trans")
IFLUOR_NAMES = ("ifluor", "if", "ifl", "fluor", "fluo")


def read_bytes(path: Path) -> bytes:
    """Return the file's bytes, raising :class:`FormatError` when unreadable."""
    try:
        return path.read_bytes()
    except IsADirectoryError:
        raise FormatError(path, "expected a file; found a directory") from None
    except OSError as exc:
        raise FormatError(path, f"cannot read: {exc.strerror or exc}") from None


def decode(path: Path, raw: bytes) -> str:
    """Decode UTF-8 (else Latin-1), dropping a BOM; binary or empty is a :class:`FormatError`."""
    if b"\x00" in raw:
        raise FormatError(path, "expected a text file; found binary data (NUL bytes)")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    text = text.lstrip("\ufeff")  # a byte-order mark is not content
    if not text.strip():
        raise FormatError(path, "expected a text file with data; found an empty file")
    return text


def is_numeric_line(line: str) -> bool:
    """True when ``line`` is a row of at least one number (blank-, comma- or tab-separated)."""
    tokens = [t for t in _SPLIT.split(line.strip()) if t]
    return bool(tokens) and all(_NUMBER.match(t) for t in tokens)


def norm_name(label: str) -> str:
    """Normalise a column label: lower case, units and qualifiers dropped.

    ``"Energy [keV]"`` -> ``"energy"``, ``"xmu(trans)"`` -> ``"xmu"``,
    ``"i0 counts || 13BMD:..."`` -> ``"i0"``.
    """
    text = label.split("||")[0].strip().strip("{}\"'").strip().lower()
    return re.split(r"[\s(\[{]", text, maxsplit=1)[0] if text else text


def energy_scale(path: Path, units: str | None) -> float:
    """Factor that turns energies in ``units`` into eV (``None`` means eV)."""
    if units is None:
        return 1.0
    u = units.strip().lower()
    if u in ("", "ev"):
        return 1.0
    if u == "kev":
        return 1000.0
    raise FormatError(path, f"energy units must be eV or keV; found {units!r}")


@dataclass(frozen=True)
class Table:
    """A numeric block: ``data`` ``(n_rows, n_cols)``; ``lines`` the 1-based line of each row."""

    data: np.ndarray
    lines: np.ndarray


def parse_table(
    path: Path,
    rows: Sequence[tuple[int, str]],
    *,
    min_columns: int = 2,
) -> Table:
    """Parse ``(line_number, text)`` rows into a float table.

    Raises
    ------
    FormatError
        On a non-numeric token, a row whose column count differs from the
        first row's, fewer than ``min_columns`` columns, fewer than two rows,
        or a NaN/inf value (each naming the line).
    """
    if len(rows) < 2:
        raise FormatError(path, f"expected at least 2 rows of numbers; found {len(rows)}")
    values: list[list[float]] = []
    ncol = -1
    for lineno, text in rows:
        tokens = [t for t in _SPLIT.split(text.strip()) if t]
        if ncol < 0:
            ncol = len(tokens)
            if ncol < min_columns:
                raise FormatError(
                    path, f"expected at least {min_columns} columns; found {ncol}", line=lineno
                )
        if len(tokens) != ncol:
            raise FormatError(
                path, f"expected {ncol} columns as in the first data row; found {len(tokens)}",
                line=lineno,
            )
        try:
            row = [float(t.replace("D", "e").replace("d", "e")) for t in tokens]
        except ValueError:
            bad = next(t for t in tokens if not _is_float(t))
            raise FormatError(path, f"expected a number; found {bad[:40]!r}", line=lineno) from None
        values.append(row)
    data = np.asarray(values, dtype=float)
    lines = np.asarray([r[0] for r in rows], dtype=int)
    finite = np.isfinite(data)
    if not finite.all():
        i, j = np.argwhere(~finite)[0]
        raise FormatError(
            path, f"expected finite numbers; found {data[i, j]} in column {j + 1}",
            line=int(lines[i]),
        )
    return Table(data, lines)


def _is_float(token: str) -> bool:
    try:
        float(token.replace("D", "e").replace("d", "e"))
    except ValueError:
        return False
    return True


def _find(names: Sequence[str], candidates: Sequence[str]) -> int | None:
    for cand in candidates:
        if cand in names:
            return names.index(cand)
    return None


def mu_from_columns(
    path: Path, names: Sequence[str], table: Table
) -> tuple[int, np.ndarray, str, str]:
    """Pick energy and compute mu(E) from column *names* (any order).

    Rules, first that applies: a stored mu column (:data:`MU_NAMES`);
    ``i0`` with ``itrans`` -> ``ln(i0 / itrans)`` (transmission);
    ``i0`` with ``ifluor`` -> ``ifluor / i0`` (fluorescence).

    Returns
    -------
    energy_index, mu, signal, how
        Column index of energy, mu values shape ``(n_rows,)``, the signal
        name (``"mu"`` or ``"norm"``) and a short description of the rule.
    """
    norm = [norm_name(n) for n in names]
    ie = _find(norm, ENERGY_NAMES)
    if ie is None:
        raise FormatError(
            path, f"expected an energy column (one of {', '.join(ENERGY_NAMES[:3])}); "
            f"found columns {list(names)}"
        )
    for cand, signal in MU_NAMES.items():
        if cand in norm:
            j = norm.index(cand)
            return ie, table.data[:, j].copy(), signal, f"column {names[j]!r}"
    i0 = _find(norm, I0_NAMES)
    it = _find(norm, ITRANS_NAMES)
    ifl = _find(norm, IFLUOR_NAMES)
    if i0 is not None and it is not None:
        a, b = table.data[:, i0], table.data[:, it]
        bad = np.flatnonzero((a <= 0) | (b <= 0))
        if bad.size:
            k = int(bad[0])
            raise FormatError(
                path, f"transmission mu = ln(i0/itrans) needs positive i0 and itrans; "
                f"found i0={a[k]:g}, itrans={b[k]:g}", line=int(table.lines[k]),
            )
        with np.errstate(over="ignore", divide="ignore"):
            mu = np.log(a / b)
        return ie, mu, "mu", f"ln({names[i0]}/{names[it]})"
    if i0 is not None and ifl is not None:
        a = table.data[:, i0]
        bad = np.flatnonzero(a == 0)
        if bad.size:
            raise FormatError(
                path, "fluorescence mu = ifluor/i0 needs non-zero i0; found i0=0",
                line=int(table.lines[bad[0]]),
            )
        with np.errstate(over="ignore"):
            mu = table.data[:, ifl] / a
        return ie, mu, "mu", f"{names[ifl]}/{names[i0]}"
    raise FormatError(
        path, "cannot compute mu: expected a mu column (mu, mutrans, mufluor, normtrans ...), "
        f"i0 with itrans, or i0 with ifluor; found columns {list(names)}"
    )


def finish_energy(
    path: Path,
    energy: np.ndarray,
    values: np.ndarray,
    lines: np.ndarray | None,
    what: str = "the data",
) -> tuple[np.ndarray, np.ndarray]:
    """Return energy and values in strictly increasing energy order.

    A scan recorded downwards is reversed, and out-of-order points are sorted
    with an :class:`~xasml.errors.XasmlWarning`: both keep every point, so
    nothing is lost. Repeated energies would force dropping or averaging
    points, so they raise :class:`FormatError` naming both lines (or, when
    ``lines`` is ``None``, both point indices of ``what``).
    """
    bad = np.flatnonzero(~(np.isfinite(energy) & np.isfinite(values)))
    if bad.size:
        k = int(bad[0])
        raise FormatError(
            path, f"expected finite energy and signal; found energy {energy[k]:g} eV, signal "
            f"{values[k]:g} at point {k} of {what} (overflow in a unit conversion or in mu?)",
            line=None if lines is None else int(lines[k]),
        )
    order = np.argsort(energy, kind="stable")
    e_sorted = energy[order]
    dup = np.flatnonzero(np.diff(e_sorted) == 0)
    if dup.size:
        k = int(dup[0])
        i, j = sorted((int(order[k]), int(order[k + 1])))
        if lines is None:
            where, line = f"points {i} and {j} of {what}", None
        else:
            where, line = f"lines {int(lines[i])} and {int(lines[j])}", int(lines[j])
        raise FormatError(
            path, f"expected distinct energies; energy {e_sorted[k]:g} eV appears at {where} "
            "(merge or remove repeated points first)", line=line,
        )
    steps = np.diff(energy)
    if np.all(steps > 0):
        return energy, values
    if np.all(steps < 0):
        return energy[::-1].copy(), values[::-1].copy()
    k = int(np.flatnonzero(steps <= 0)[0])
    where = f"point {k + 1} of {what}" if lines is None else f"line {int(lines[k + 1])}"
    warnings.warn(
        f"{path}, {where}: energies are not in increasing order "
        f"({energy[k]:g} eV then {energy[k + 1]:g} eV); sorted all {energy.size} points",
        XasmlWarning,
        stacklevel=2,
    )
    return e_sorted, values[order]


def select_columns(
    path: Path,
    names: Sequence[str],
    table: Table,
    columns: Sequence[str | int] | None,
) -> tuple[int, np.ndarray, str | None, str]:
    """Energy column index and signal values, from explicit ``columns`` or the names.

    ``columns`` is ``(energy, signal)`` given as names (matched after
    :func:`norm_name`) or 0-based indices. Without it, :func:`mu_from_columns`
    applies; a file of exactly two unnamed columns is read as ``(x, y)``.
    Returns the signal name (``None`` when unknown) and how it was found.
    """
    ncol = table.data.shape[1]
    if columns is None:
        if not names and ncol == 2:
            return 0, table.data[:, 1].copy(), None, "second column"
        if not names:
            raise FormatError(
                path, f"found {ncol} unnamed columns; expected 2 (energy, signal) or a line "
                "of column names; pass columns=(energy, signal) as names or indices"
            )
        return mu_from_columns(path, names, table)
    if isinstance(columns, str) or len(columns) != 2:
        raise FormatError(path, f"columns must be a pair (energy, signal); got {columns!r}")
    idx: list[int] = []
    norm = [norm_name(n) for n in names]
    for col in columns:
        if isinstance(col, (int, np.integer)) and not isinstance(col, bool):
            if not -ncol <= int(col) < ncol:
                raise FormatError(
                    path, f"column index {col} out of range; the file has {ncol} columns"
                )
            idx.append(int(col) % ncol)
        elif isinstance(col, str) and norm_name(col) in norm:
            idx.append(norm.index(norm_name(col)))
        else:
            raise FormatError(path, f"no column {col!r}; found columns {list(names) or ncol}")
    label = names[idx[1]] if names else f"column {idx[1]}"
    signal = MU_NAMES.get(norm[idx[1]]) if names else None
    return idx[0], table.data[:, idx[1]].copy(), signal, f"column {label!r}"


def to_spectrum(
    path: Path, energy: np.ndarray, values: np.ndarray, attrs: dict[str, Any],
    name: str | None = None,
) -> xr.DataArray:
    """Build the spectrum; a value the data model rejects (e.g. an overflow to inf
    after unit conversion) becomes a :class:`FormatError` naming the file."""
    try:
        da = spectrum(energy, values, name=name)
    except SpectrumError as exc:
        raise FormatError(path, f"the data do not form a valid spectrum: {exc}") from None
    return da.assign_attrs(attrs)
