"""Plain column files: real .xmu/.dat/GSE samples, CSV, headerless, explicit columns, errors."""

from __future__ import annotations

import numpy as np
import pytest

import xasml.io as xio
from xasml.errors import FormatError


def test_xmu_with_percent_header(shared_data):
    da = xio.read(shared_data / "formats/xmu/cu_10k.xmu")
    assert da.attrs["format"] == "columns"
    assert (da.attrs["element"], da.attrs["edge"], da.attrs["signal"]) == ("Cu", "K", "mu")
    assert da.sizes["energy"] == 612
    assert da["energy"].values[0] == pytest.approx(8786.204)
    assert da.values[0] == pytest.approx(1.013661)


def test_dat_with_free_header(shared_data):
    da = xio.read(shared_data / "formats/xmu/mn_cpmnco3.dat")
    assert da.sizes["energy"] == 409
    assert (da["energy"].values[0], da.values[0]) == pytest.approx((6339.98, -0.952437))


def test_gse_raw_scan_gives_transmission_mu(shared_data):
    da = xio.read(shared_data / "formats/xmu/znse_zn_xafs.001")
    assert da.sizes["energy"] == 469
    assert da["energy"].values[0] == pytest.approx(9509.0)
    assert da.values[0] == pytest.approx(np.log(101896.7 / 167180.2))


def test_csv_with_label_line_and_kev(tmp_path):
    p = tmp_path / "s.csv"
    p.write_text("Energy (keV),i0,itrans\n8.98,100,50\n8.99,100,25\n")
    da = xio.read(p)
    np.testing.assert_allclose(da["energy"].values, [8980.0, 8990.0])
    np.testing.assert_allclose(da.values, [np.log(2), np.log(4)])


def test_headerless_two_columns_are_x_y(tmp_path):
    p = tmp_path / "s.txt"
    p.write_text("1\t5\n2\t6\n3\t7\n")
    da = xio.read(p)
    np.testing.assert_allclose(da.values, [5, 6, 7])
    assert "signal" not in da.attrs and da.attrs["source"] == str(p)


def test_explicit_columns_by_name_and_index(tmp_path):
    p = tmp_path / "s.dat"
    p.write_text("# energy a b\n1 10 100\n2 20 200\n")
    np.testing.assert_allclose(xio.read(p, columns=("energy", "b")).values, [100, 200])
    np.testing.assert_allclose(xio.read(p, columns=(0, -2)).values, [10, 20])
    with pytest.raises(FormatError, match="no column 'mu'"):
        xio.read(p, columns=("energy", "mu"))
    with pytest.raises(FormatError, match="index 5 out of range"):
        xio.read(p, columns=(0, 5))


def test_unnamed_extra_columns_ask_for_columns(tmp_path):
    p = tmp_path / "s.dat"
    p.write_text("1 2 3\n2 3 4\n")
    with pytest.raises(FormatError, match=r"3 unnamed columns.*columns=\(energy, signal\)"):
        xio.read(p)
    np.testing.assert_allclose(xio.read(p, columns=(0, 2)).values, [3, 4])


def test_text_after_data_names_the_line(tmp_path):
    p = tmp_path / "s.dat"
    p.write_text("# energy mu\n1 2\n2 3\noops\n")
    with pytest.raises(FormatError, match="expected a row of numbers; found 'oops'") as info:
        xio.read(p)
    assert info.value.line == 4
