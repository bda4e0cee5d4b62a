"""Dispatch by content: renamed copies still read with the right reader; read_all fallback."""

from __future__ import annotations

import shutil

import pytest

import xasml.io as xio
from xasml.errors import FormatError

CASES = [
    ("real-dev/xasdatalibrary/Fe/Hansel2001_goethite_xanes_004.xd", "xdi"),
    ("formats/athena/FeS2.prj", "athena"),
    ("formats/athena/Ni_FeNiS20_RT.prj", "athena"),
    ("formats/emsa/exspy/coreloss_spectrum.msa", "emsa"),
    ("formats/xmu/cu_10k.xmu", "columns"),
    ("formats/xmu/znse_zn_xafs.001", "columns"),
]


@pytest.mark.parametrize(("rel", "fmt"), CASES)
def test_renamed_copies_are_read_by_content(shared_data, tmp_path, rel, fmt):
    src = shared_data / rel
    original = xio.read_all(src)
    for suffix in (".txt", ".dat", ""):
        copy = tmp_path / f"renamed{suffix}"
        shutil.copyfile(src, copy)
        assert xio.sniff(copy) == fmt
        again = xio.read_all(copy)
        assert [a.attrs["format"] for a in again] == [fmt] * len(original)
        assert all(a.equals(b) for a, b in zip(again, original, strict=True))


def test_extension_breaks_the_tie_for_headerless_msa(shared_data, tmp_path):
    src = shared_data / "formats/emsa/eelsdb-ta2o5/data.msa"
    assert xio.sniff(src) == "emsa" and xio.read(src).attrs["technique"] == "EELS"
    copy = tmp_path / "data.txt"
    shutil.copyfile(src, copy)
    assert xio.sniff(copy) == "columns"


def test_read_all_falls_back_to_a_one_element_list(tmp_path):
    p = tmp_path / "s.txt"
    p.write_text("1 2\n2 3\n")
    (only,) = xio.read_all(p)
    assert only.equals(xio.read(p))


def test_missing_unknown_and_wrong_format(tmp_path):
    with pytest.raises(FormatError, match="no such file"):
        xio.read(tmp_path / "absent.xdi")
    binary = tmp_path / "blob.bin"
    binary.write_bytes(bytes(range(256)))
    with pytest.raises(FormatError, match="not a recognised spectrum format"):
        xio.read(binary)
    with pytest.raises(FormatError, match="unknown format 'foo'"):
        xio.read(binary, format="foo")
    with pytest.raises(FormatError, match="binary data"):
        xio.read(binary, format="columns")
    empty = tmp_path / "empty.xdi"
    empty.write_text("")
    with pytest.raises(FormatError, match="empty"):
        xio.read(empty, format="xdi")
