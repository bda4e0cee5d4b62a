"""XDI reader and writer: known answers on synthetic files, round trips, the real library."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

import xasml.io as xio
from xasml.datamodel import spectrum, stack
from xasml.errors import FormatError, ParameterError, XasmlWarning

# K-edge energies (eV) of the library's elements, from the Elam/xraydb tables.
K_EDGE = {"V": 5465.0, "Cr": 5989.0, "Mn": 6539.0, "Fe": 7112.0, "Co": 7709.0,
          "Ni": 8333.0, "Cu": 8979.0, "Zn": 9659.0}

HEADER = """# XDI/1.0 GSE/1.0
# Column.1: energy keV
# Column.2: itrans
# Column.3: i0
# Element.symbol: Fe
# Element.edge: K
# Mono.d_spacing: 3.13550
# ///
# a free comment
#----
# energy itrans i0
"""


def _write(tmp_path: Path, text: str, name: str = "s.xdi") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def test_transmission_mu_from_column_names_in_any_order(tmp_path):
    e = np.array([7.1, 7.11, 7.12, 7.13])
    i0 = np.array([1000.0, 1010.0, 990.0, 1005.0])
    it = np.array([500.0, 400.0, 300.0, 290.0])
    rows = "".join(f"{a} {b} {c}\n" for a, b, c in zip(e, it, i0, strict=True))
    da = xio.read(_write(tmp_path, HEADER + rows))
    np.testing.assert_allclose(da["energy"].values, e * 1000)
    np.testing.assert_allclose(da.values, np.log(i0 / it))
    assert da.attrs["element"] == "Fe" and da.attrs["edge"] == "K"
    assert da.attrs["Mono.d_spacing"] == "3.13550"
    assert da.attrs["format"] == "xdi" and da.attrs["technique"] == "XAS"
    assert da.attrs["comments"] == "a free comment"


def test_fluorescence_and_stored_mu(tmp_path):
    head = "# XDI/1.0\n# Column.1: i0\n# Column.2: energy eV\n# Column.3: ifluor\n#---\n"
    da = xio.read(_write(tmp_path, head + "10 1 2\n20 2 5\n"))
    np.testing.assert_allclose(da.values, [0.2, 0.25])
    head = "# XDI/1.0\n# Column.1: energy eV\n# Column.2: i0\n# Column.3: normfluor\n#---\n"
    da = xio.read(_write(tmp_path, head + "1 10 0.1\n2 20 0.9\n"))
    np.testing.assert_allclose(da.values, [0.1, 0.9])
    assert da.attrs["signal"] == "norm"


def test_roundtrip_write_read(tmp_path):
    e = np.linspace(7000, 7200, 57) + 1e-7
    y = np.tanh((e - 7112) / 3) + 0.1 * np.sin(e)
    sp = spectrum(e, y, element="Fe", edge="K", technique="XAS", signal="mu", e0=7112.5,
                  sample="hematite (α-Fe2O3)", scan=3, **{"Sample.formula": "Fe2O3"})
    path = xio.write_xdi(sp, tmp_path / "out.xdi")
    back = xio.read(path)
    np.testing.assert_array_equal(back["energy"].values, e)
    np.testing.assert_array_equal(back.values, y)
    assert back.attrs.pop("source") == str(path)
    assert back.attrs.pop("format") == "xdi"
    assert back.attrs == sp.attrs
    assert xio.sniff(path) == "xdi"


def test_roundtrip_of_a_real_file(shared_data, tmp_path):
    src = shared_data / "real-dev/xasdatalibrary/Fe/Hansel2001_goethite_xanes_004.xd"
    first = xio.read(src)
    second = xio.read(xio.write_xdi(first, tmp_path / "copy.xdi"))
    np.testing.assert_array_equal(second.values, first.values)
    np.testing.assert_array_equal(second["energy"].values, first["energy"].values)
    drop = ("source",)
    assert {k: v for k, v in second.attrs.items() if k not in drop} == {
        k: v for k, v in first.attrs.items() if k not in drop}


def test_write_rejects_a_stack(tmp_path):
    with pytest.raises(ParameterError, match="one spectrum"):
        xio.write_xdi(stack([1.0, 2.0], [[1.0, 2.0]]), tmp_path / "x.xdi")


def test_all_library_files_match_labels_and_have_an_edge_step(shared_data):
    root = shared_data / "real-dev"
    with open(root / "labels.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 124
    for row in rows:
        da = xio.read(root / row["file"])
        assert da.attrs["format"] == "xdi", row["file"]
        assert (da.attrs["element"], da.attrs["edge"]) == (row["element"], row["edge"])
        # Edge step: post-edge line minus pre-edge line, both evaluated at the tabulated E0.
        e, mu, e0 = da["energy"].values, da.values, K_EDGE[row["element"]]
        pre = (e > e0 - 200) & (e < e0 - 10)
        post = (e > e0 + 30) & (e < e0 + 150)
        assert pre.sum() >= 3 and post.sum() >= 3, row["file"]
        step = np.polyval(np.polyfit(e[post], mu[post], 1), e0) - np.polyval(
            np.polyfit(e[pre], mu[pre], 1), e0)
        assert step > 0.05 * np.ptp(mu), row["file"]


@pytest.mark.parametrize(
    ("body", "match", "line"),
    [
        ("1 10 5\n1 11 5\n", r"energy 1000 eV appears at lines 12 and 13", 13),
        ("1 10 5\n2 nan 5\n", "expected finite numbers", 13),
        ("1 10 5\n2 11\n", "expected 3 columns", 13),
        ("1 10 5\n2 abc 5\n", "expected a number; found 'abc'", 13),
        ("1 10 5\n", "at least 2 rows", None),
    ],
)
def test_bad_data_names_file_and_line(tmp_path, body, match, line):
    p = _write(tmp_path, HEADER + body)
    with pytest.raises(FormatError, match=match) as info:
        xio.read(p)
    assert info.value.line == line and info.value.path == str(p)


def test_bad_headers(tmp_path):
    with pytest.raises(FormatError, match=r"XDI/1\.x"):
        xio.read(_write(tmp_path, "# not xdi\n1 2\n3 4\n"), format="xdi")
    head = "# XDI/1.0\n# Column.1: energy eV\n# Column.2: i0\n#---\n"
    with pytest.raises(FormatError, match=r"cannot compute mu.*'energy', 'i0'"):
        xio.read(_write(tmp_path, head + "1 2\n3 4\n"))
    with pytest.raises(FormatError, match="eV or keV"):
        xio.read(_write(tmp_path, HEADER.replace("keV", "nm") + "1 2 3\n2 2 3\n"))
    with pytest.raises(FormatError, match="positive i0 and itrans") as info:
        xio.read(_write(tmp_path, HEADER + "1 2 3\n2 0 3\n"))
    assert info.value.line == 13


def test_unsorted_energies_are_sorted_with_a_warning_and_reversed_scans_flipped(tmp_path):
    with pytest.warns(XasmlWarning, match="line 14: energies are not in increasing order"):
        da = xio.read(_write(tmp_path, HEADER + "1 1 2\n3 1 3\n2 1 4\n"))
    np.testing.assert_allclose(da["energy"].values, [1000, 2000, 3000])
    np.testing.assert_allclose(da.values, np.log([2, 4, 3]))
    da = xio.read(_write(tmp_path, HEADER + "3 1 2\n2 1 3\n1 1 4\n"))
    np.testing.assert_allclose(da.values, np.log([4, 3, 2]))


def test_overflow_after_unit_conversion_is_a_format_error(tmp_path):
    with pytest.raises(FormatError, match=r"expected finite energy and signal; found energy inf"):
        xio.read(_write(tmp_path, HEADER + "1e306 1 2\n1e307 1 3\n"))
