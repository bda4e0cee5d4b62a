"""Athena project files (``.prj``): every data group as a spectrum.

Athena (Ravel & Newville, J. Synchrotron Rad. 12, 537 (2005)) saves a project
as text, usually gzip-compressed, in one of two dialects:

* the old Perl ``Data::Dumper`` dialect: per group ``$old_group = 'id';``,
  ``@args = ('key', value, ...);``, ``@x = (...);``, ``@y = (...);`` and a
  ``[record]`` line. It is parsed here by a small tokenizer for the literal
  subset Data::Dumper writes (quoted strings, numbers, ``undef``, nested
  ``[...]``/``{...}``); the file is never evaluated.
* the newer JSON dialect (Demeter >= 0.9.2x): an object whose keys are group
  ids with ``args``, ``x`` and ``y``, plus ``_____order`` and headers.

``x`` is energy (eV) and ``y`` is mu(E) for groups in energy space.
"""

from __future__ import annotations

import gzip
import json
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
import xarray as xr

from ..datamodel import concat
from ..errors import FormatError
from ._text import finish_energy, read_bytes, to_spectrum

__all__ = ["read", "read_all", "sniff"]

_MAGIC = "# Athena project file"
_GZIP = b"\x1f\x8b"
_MAX_DEPTH = 32
_TOKEN = re.compile(
    r"""
    (?P<ws>\s+|\#[^\n]*)
  | (?P<sq>'(?:[^'\\]|\\.)*')
  | (?P<dq>"(?:[^"\\]|\\.)*")
  | (?P<num>[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<var>[$@%][A-Za-z_]\w*)
  | (?P<op>=>|[=,;()\[\]{}])
  | (?P<word>[A-Za-z_]\w*)
    """,
    re.VERBOSE | re.DOTALL,
)
# Groups whose x is not energy (k, R, q space) or that hold no measured data.
_NOT_ENERGY = ("is_chi", "is_rsp", "is_qsp", "not_data")


def sniff(path: Path, head: bytes) -> bool:
    """An Athena header (either dialect), in plain text or gzip."""
    if head.startswith(_GZIP):
        try:
            head = zlib.decompressobj(wbits=31).decompress(head, 4096)
        except zlib.error:
            return False
    text = head[:600].decode("utf-8", "replace").lstrip()
    return text.startswith(_MAGIC) or (text.startswith("{") and _MAGIC in text)


def _text(path: Path) -> str:
    raw = read_bytes(path)
    if raw.startswith(_GZIP):
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise FormatError(path, f"expected a gzip-compressed Athena project; the gzip "
                              f"stream is corrupt or truncated ({exc})") from None
    if not raw.strip():
        raise FormatError(path, "expected an Athena project; found an empty file")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


@dataclass
class _Group:
    gid: str
    args: dict[str, Any] = field(default_factory=dict)
    arrays: dict[str, Any] = field(default_factory=dict)


# --- Perl Data::Dumper dialect -------------------------------------------------------------


class _Perl:
    """Recursive-descent reader of the Data::Dumper literal subset (no evaluation)."""

    def __init__(self, path: Path, text: str):
        self.path = path
        self.text = text
        self.tokens: list[tuple[str, str, int]] = []
        pos = 0
        n = len(text)
        while pos < n:
            m = _TOKEN.match(text, pos)
            if m is None:
                self.fail(f"unexpected character {text[pos]!r}", pos)
            kind = m.lastgroup or "ws"
            if kind != "ws":
                self.tokens.append((kind, m.group(), pos))
            pos = m.end()
        self.i = 0

    def fail(self, message: str, pos: int | None = None) -> NoReturn:
        if pos is None:
            pos = self.tokens[self.i][2] if self.i < len(self.tokens) else len(self.text)
        line = self.text.count("\n", 0, pos) + 1
        raise FormatError(self.path, message, line=line)

    def peek(self) -> tuple[str, str]:
        if self.i >= len(self.tokens):
            return ("eof", "")
        kind, value, _ = self.tokens[self.i]
        return kind, value

    def take(self, value: str | None = None) -> tuple[str, str]:
        kind, tok = self.peek()
        if kind == "eof":
            self.fail(f"expected {value or 'a value'}; found the end of the file "
                      "(truncated project?)")
        if value is not None and tok != value:
            self.fail(f"expected {value!r}; found {tok[:40]!r}")
        self.i += 1
        return kind, tok

    def value(self, depth: int = 0) -> Any:
        if depth > _MAX_DEPTH:
            self.fail(f"expected nesting of at most {_MAX_DEPTH} levels; found deeper")
        kind, tok = self.take()
        if kind == "sq":
            return re.sub(r"\\([\\'])", r"\1", tok[1:-1])
        if kind == "dq":
            return re.sub(r"\\(.)", r"\1", tok[1:-1])
        if kind == "num":
            try:
                return int(tok)
            except ValueError:  # a float, or more digits than int() accepts
                return float(tok)
        if kind == "word" and tok == "undef":
            return None
        if tok == "[":
            return self.items("]", depth + 1)
        if tok == "{":
            items = self.items("}", depth + 1)
            return dict(zip(items[::2], items[1::2], strict=False))
        self.i -= 1
        self.fail(f"expected a string, number, undef, [ or {{; found {tok[:40]!r}")

    def items(self, close: str, depth: int) -> list[Any]:
        out: list[Any] = []
        while self.peek()[1] != close:
            out.append(self.value(depth))
            if self.peek()[1] in (",", "=>"):
                self.i += 1
            elif self.peek()[1] != close:
                self.fail(f"expected ',' or {close!r}; found {self.peek()[1][:40]!r}")
        self.take(close)
        return out

    def groups(self) -> list[_Group]:
        groups: list[_Group] = []
        current: _Group | None = None
        while self.peek()[0] != "eof":
            kind, tok = self.take()
            if tok == "[":  # "[record]" closes a group
                self.take()
                self.take("]")
                if current is not None:
                    groups.append(current)
                current = None
            elif kind == "num":  # the closing "1;"
                self.take(";")
            elif kind == "var":
                self.take("=")
                if tok[0] == "$":
                    value = self.value()
                else:
                    self.take("(")
                    value = self.items(")", 1)
                self.take(";")
                if tok == "$old_group":
                    current = _Group(str(value))
                elif current is not None and tok == "@args":
                    current.args = dict(zip(value[::2], value[1::2], strict=False))
                elif current is not None and tok[0] == "@":
                    current.arrays[tok[1:]] = value
            else:
                self.i -= 1
                self.fail(f"expected a statement ($name = ..., @name = (...), [record]); "
                          f"found {tok[:40]!r}")
        if current is not None:
            groups.append(current)
        return groups


# --- JSON dialect ------------------------------------------------------------------------


def _json_groups(path: Path, text: str) -> list[_Group]:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise FormatError(path, f"expected JSON (Athena JSON dialect): {exc.msg}",
                          line=exc.lineno) from None
    except ValueError as exc:  # e.g. an integer longer than Python's digit limit
        raise FormatError(path, f"expected JSON (Athena JSON dialect): {exc}") from None
    except RecursionError:
        raise FormatError(path, "expected JSON (Athena JSON dialect); nesting too deep") from None
    if not isinstance(doc, dict):
        raise FormatError(path, f"expected a JSON object of groups; found {type(doc).__name__}")
    order = doc.get("_____order")
    ids = order if isinstance(order, list) else [k for k in doc if not k.startswith("_____")]
    groups = []
    for gid in ids:
        entry = doc.get(gid)
        if not isinstance(entry, dict):
            raise FormatError(path, f"group {gid!r} listed in _____order is missing or not an "
                              "object")
        args = entry.get("args", {})
        arrays = {k: v for k, v in entry.items() if k != "args"}
        groups.append(_Group(str(gid), args if isinstance(args, dict) else {}, arrays))
    return groups


# --- groups to spectra -------------------------------------------------------------------


def _scalar(value: Any) -> Any:
    """Numbers from numeric strings; lists of strings joined by newlines; else as is."""
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return value
        if not np.isfinite(number):
            return value
        return int(number) if re.fullmatch(r"[+-]?\d+", value.strip()) else number
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "\n".join(value)
    return value


def _truthy(value: Any) -> bool:
    return _scalar(value) not in (0, None, "", "0", 0.0)


def _spectrum(path: Path, group: _Group) -> xr.DataArray | None:
    args = group.args
    if any(_truthy(args.get(flag)) for flag in _NOT_ENERGY):
        return None
    label = str(args.get("label") or group.gid)
    what = f"group {label!r}"
    arrays = []
    for key in ("x", "y"):
        raw = group.arrays.get(key)
        if not isinstance(raw, list) or len(raw) < 2:
            raise FormatError(path, f"{what}: expected an array {key!r} of at least 2 values; "
                              f"found {type(raw).__name__ if raw is not None else 'none'}")
        try:
            arr = np.asarray([float(v) for v in raw])  # type: ignore[arg-type]
        except (TypeError, ValueError, OverflowError):
            raise FormatError(path, f"{what}: expected numbers in {key!r}; found a non-number"
                              ) from None
        if not np.all(np.isfinite(arr)):
            k = int(np.flatnonzero(~np.isfinite(arr))[0])
            raise FormatError(path, f"{what}: expected finite numbers in {key!r}; found "
                              f"{arr[k]} at point {k}")
        arrays.append(arr)
    energy, mu = arrays
    if energy.size != mu.size:
        raise FormatError(path, f"{what}: x and y must have the same length; found "
                          f"{energy.size} and {mu.size}")
    if _truthy(args.get("is_kev")):
        with np.errstate(over="ignore"):  # overflow to inf is reported by finish_energy
            energy = energy * 1000.0
    energy, mu = finish_energy(path, energy, mu, None, what)
    attrs: dict[str, Any] = {}
    for key, value in args.items():
        v = _scalar(value)
        if isinstance(key, str) and isinstance(v, (str, int, float)):
            attrs[key] = v
    if isinstance(args.get("bkg_z"), str) and args["bkg_z"].strip():
        attrs["element"] = args["bkg_z"].strip()
    if isinstance(args.get("fft_edge"), str) and args["fft_edge"].strip():
        attrs["edge"] = args["fft_edge"].strip().upper()
    attrs["label"] = label
    attrs["group"] = group.gid
    attrs["technique"] = "XAS"
    attrs["signal"] = "norm" if _truthy(args.get("is_nor")) else "mu"
    attrs["source"] = str(path)
    attrs["format"] = "athena"
    return to_spectrum(path, energy, mu, attrs, name=label)


def read_all(path: str | Path) -> list[xr.DataArray]:
    """Read every data group of an Athena project, each on its own energy grid.

    Groups that are not in energy space (chi(k), chi(R), chi(q)) or are marked
    ``not_data`` (fit results) are left out.

    Returns
    -------
    list of xarray.DataArray
        One ``(energy,)`` spectrum per group, in project order, named by the
        group label; ``attrs`` hold the group's scalar Athena ``args``
        (``bkg_e0``, ``bkg_step`` ...) plus ``element`` (``bkg_z``), ``edge``
        (``fft_edge``), ``label``, ``group`` (Athena's id), ``technique``,
        ``signal``, ``source`` and ``format`` ``"athena"``.

    Raises
    ------
    FormatError
        Corrupt gzip, syntax outside the Data::Dumper/JSON subset (with the
        line), groups without numeric x/y, no data group at all.
    """
    p = Path(path)
    text = _text(p)
    body = text.lstrip()
    if body.startswith("{"):
        groups = _json_groups(p, body)
    elif body.startswith(_MAGIC) or "$old_group" in text[:4096]:
        groups = _Perl(p, text).groups()
    else:
        raise FormatError(p, f"expected an Athena project ('{_MAGIC}' or JSON); found "
                          f"{body[:40]!r}", line=1)
    spectra = [sp for g in groups if (sp := _spectrum(p, g)) is not None]
    if not spectra:
        raise FormatError(p, f"expected at least one data group in energy space; found "
                          f"{len(groups)} group(s), none of them data")
    return spectra


def read(path: str | Path, *, group: str | None = None) -> xr.DataArray:
    """Read one group, or all groups as a set when they share one energy grid.

    Parameters
    ----------
    path
        The ``.prj`` file.
    group
        Label (or Athena id) of the group to read.

    Returns
    -------
    xarray.DataArray
        ``(energy,)`` for a single (or the chosen) group; otherwise
        ``(sample, energy)`` with a ``label`` coordinate when every group has
        the same energy grid.

    Raises
    ------
    FormatError
        If ``group`` names no group, or the groups lie on different energy
        grids (use ``group=`` or :func:`read_all`).
    """
    p = Path(path)
    spectra = read_all(p)
    labels = [str(sp.attrs["label"]) for sp in spectra]
    if group is not None:
        for sp in spectra:
            if group in (sp.attrs["label"], sp.attrs["group"]):
                return sp
        raise FormatError(p, f"no group {group!r}; the project holds: {', '.join(labels)}")
    if len(spectra) == 1:
        return spectra[0]
    first = spectra[0]["energy"].values
    if all(np.array_equal(sp["energy"].values, first) for sp in spectra[1:]):
        return concat(spectra, labels={"label": labels}).rename(None)
    raise FormatError(p, f"the {len(spectra)} groups lie on different energy grids "
                      f"({', '.join(labels)}); pass group=NAME to read one, or call "
                      "xasml.io.read_all to get them all")
