"""Fuzz every reader in FORMATS: garbage and mutated files may only raise XasmlError.

Seeds per format are small synthetic files written here plus every small file
under ``shared/data/formats`` that sniffs as that format, so formats added to
:data:`xasml.io.FORMATS` later are covered without editing this test.
"""

from __future__ import annotations

import gzip
import io
import itertools
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import xasml.io as xio
from xasml.errors import XasmlError, XasmlWarning

# Same place as the shared_data fixture in conftest.py; seeds are optional, so no skip.
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"

_PERL = (
    "# Athena project file -- Athena version 0.8.061\n$old_group = 'ab';\n"
    "@args = ('label','g1','bkg_e0',7112,'titles',['a','b'],'x',undef);\n"
    "@x = ('7000','7010','7020');\n@y = ('0.1','0.5','1.0');\n[record]\n1;\n"
)
_JSON = (
    '{"_____header1": "# Athena project file -- Demeter",\n'
    '"g": {"args": {"label": "g", "bkg_z": "Ni"}, "x": ["1", "2", "3"], "y": ["4", "5", "6"]},\n'
    '"_____order": ["g"]}\n'
)
SYNTHETIC: dict[str, list[tuple[str, bytes]]] = {
    "xdi": [(".xdi", b"# XDI/1.0\n# Column.1: energy eV\n# Column.2: i0\n# Column.3: itrans\n"
             b"# Element.symbol: Fe\n# ///\n# c\n#----\n# energy i0 itrans\n"
             b"7000 10 5\n7001 10 4\n7002 10 3\n")],
    "athena": [(".prj", _PERL.encode()), (".prj", gzip.compress(_PERL.encode(), mtime=0)),
               (".prj", _JSON.encode())],
    "emsa": [(".msa", b"#FORMAT : EMSA/MAS Spectral Data File\n#NPOINTS : 4\n#XUNITS : eV\n"
              b"#DATATYPE : Y\n#XPERCHAN : 0.5\n#OFFSET : 100\n#SPECTRUM :\n1, 2\n3, 4\n"
              b"#ENDOFDATA :\n"), (".msa", b"1\t2\n2\t3\n3\t5\n")],
    "columns": [(".xmu", b"#%atom: Cu\n# energy i0 itrans\n1 10 5\n2 10 4\n3 10 3\n"),
                (".csv", b"energy,mu\n1,0.5\n2,0.7\n"), (".txt", b"1 2\n2 3\n")],
}
_MAX_SEED_BYTES = 40_000  # keeps each example fast


def _tiff_seed() -> list[tuple[str, bytes]]:
    """A 3-page 4 x 5 stack (the energy list is absent, so reads end in FormatError
    after the pages are decoded: the fuzzing is of the TIFF parsing)."""
    try:
        import tifffile
    except ImportError:
        return []
    buf = io.BytesIO()
    tifffile.imwrite(buf, np.arange(60, dtype=np.uint16).reshape(3, 4, 5),
                     photometric="minisblack")
    return [(".tif", buf.getvalue())]


def _h5_stack_seed() -> list[tuple[str, bytes]]:
    """A 3 x 4 x 5 cube and its energy list in a bare HDF5 file."""
    try:
        import h5py
    except ImportError:
        return []
    buf = io.BytesIO()
    with h5py.File(buf, "w") as fh:
        fh["data"] = np.arange(60, dtype=np.float32).reshape(3, 4, 5)
        fh["energy"] = np.array([640.0, 641.0, 642.0])
    return [(".h5", buf.getvalue())]


SYNTHETIC["tiff-stack"] = _tiff_seed()
SYNTHETIC["h5-stack"] = _h5_stack_seed()


def _seeds() -> dict[str, list[tuple[str, bytes]]]:
    seeds: dict[str, list[tuple[str, bytes]]] = {name: [] for name in xio.FORMATS}
    for name, items in SYNTHETIC.items():
        if name in seeds:
            seeds[name].extend(items)
    if (SHARED_DATA / "formats").is_dir():
        for path in sorted((SHARED_DATA / "formats").rglob("*")):
            if not path.is_file() or path.stat().st_size > _MAX_SEED_BYTES:
                continue
            try:
                name = xio.sniff(path)
            except XasmlError:
                continue
            seeds[name].append((path.suffix, path.read_bytes()))
    return seeds


SEEDS = _seeds()
_counter = itertools.count()


def _mutate(data: st.DataObject, raw: bytes) -> bytes:
    """Apply 1-3 of: truncation, byte flips, line deletion/duplication, token injection."""
    for _ in range(data.draw(st.integers(1, 3))):
        op = data.draw(st.sampled_from(["truncate", "flip", "delete", "dup", "inject"]))
        if not raw:
            break
        at = data.draw(st.integers(0, len(raw) - 1))
        if op == "truncate":
            raw = raw[:at]
        elif op == "flip":
            raw = raw[:at] + bytes([raw[at] ^ data.draw(st.integers(1, 255))]) + raw[at + 1:]
        elif op in ("delete", "dup"):
            lines = raw.split(b"\n")
            i = at % len(lines)
            lines[i:i + 1] = [] if op == "delete" else [lines[i], lines[i]]
            raw = b"\n".join(lines)
        else:
            token = data.draw(st.sampled_from([b"nan", b"-1e400", b"'", b"(", b"[", b"{",
                                               b"\x00", b"#", b",", b"\n\n", b"1e-320"]))
            raw = raw[:at] + token + raw[at:]
    return raw


def _read_everything(path: Path, fmt: str) -> None:
    """Read ``path`` as ``fmt`` and by content; only XasmlError may escape."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", XasmlWarning)
        for call in (lambda: xio.read(path, format=fmt), lambda: xio.read_all(path)):
            try:
                call()
            except XasmlError:
                pass


@pytest.fixture(scope="module", autouse=True)
def _warm_up(tmp_path_factory):
    """Pay xarray's one-off lazy imports before the per-example deadline applies."""
    path = tmp_path_factory.mktemp("warm") / "w.txt"
    path.write_bytes(SYNTHETIC["columns"][-1][1])
    xio.read(path)


_SETTINGS = settings(max_examples=25, deadline=2000, derandomize=True, database=None,
                     suppress_health_check=[HealthCheck.function_scoped_fixture,
                                            HealthCheck.too_slow])


@pytest.mark.parametrize("fmt", list(xio.FORMATS))
@_SETTINGS
@given(raw=st.binary(max_size=1024), suffix=st.sampled_from(["", ".txt", ".msa", ".prj"]))
def test_random_bytes_only_raise_xasml_errors(tmp_path, fmt, raw, suffix):
    path = tmp_path / f"rand{next(_counter)}{suffix}"
    path.write_bytes(raw)
    _read_everything(path, fmt)


@pytest.mark.parametrize("fmt", list(xio.FORMATS))
@_SETTINGS
@given(data=st.data())
def test_mutated_files_only_raise_xasml_errors(tmp_path, fmt, data):
    if not SEEDS[fmt]:
        pytest.skip(f"no seed file for {fmt}")
    suffix, raw = data.draw(st.sampled_from(SEEDS[fmt]))
    path = tmp_path / f"mut{next(_counter)}{suffix}"
    path.write_bytes(_mutate(data, raw))
    _read_everything(path, fmt)
