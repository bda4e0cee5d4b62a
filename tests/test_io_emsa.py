"""EMSA/MSA EELS files: DATATYPE Y and XY, units, eelsdb metadata, headerless files."""

from __future__ import annotations

import numpy as np
import pytest

import xasml.io as xio
from xasml.errors import FormatError

HEAD = """#FORMAT      : EMSA/MAS Spectral Data File
#VERSION     : 1.0
#TITLE       : test
#NPOINTS     : {n}
#NCOLUMNS    : 3
#XUNITS      : keV
#DATATYPE    : Y
#XPERCHAN    : 0.001
#OFFSET      : 0.5
#SIGNALTYPE  : ELS
#BEAMKV   -kV: 200
#SPECTRUM    :
"""


def test_y_datatype_several_values_per_line_and_kev(tmp_path):
    p = tmp_path / "s.msa"
    p.write_text(HEAD.format(n=5) + "1, 2, 3,\n4, 5\n#ENDOFDATA   :\n")
    da = xio.read(p)
    np.testing.assert_allclose(da["energy"].values, [500, 501, 502, 503, 504])
    np.testing.assert_allclose(da.values, [1, 2, 3, 4, 5])
    assert da.attrs["technique"] == "EELS" and da.attrs["format"] == "emsa"
    assert da.attrs["title"] == "test" and da.attrs["EMSA.BEAMKV"] == "200 kV"


def test_npoints_mismatch_is_an_error(tmp_path):
    p = tmp_path / "s.msa"
    p.write_text(HEAD.format(n=6) + "1, 2, 3,\n4, 5\n")
    with pytest.raises(FormatError, match="NPOINTS says 6 values; found 5"):
        xio.read(p)


def test_xy_datatype(tmp_path):
    p = tmp_path / "s.txt"  # content, not the name, makes it EMSA
    p.write_text(HEAD.format(n=2).replace(": Y", ": XY") + "0.5, 7\n0.6, 8\n")
    da = xio.read(p)
    assert da.attrs["format"] == "emsa"
    np.testing.assert_allclose(da["energy"].values, [500, 600])


def test_exspy_coreloss(shared_data):
    da = xio.read(shared_data / "formats/emsa/exspy/coreloss_spectrum.msa")
    assert da.sizes["energy"] == 2048 and da.values[0] == 47179
    np.testing.assert_allclose(da["energy"].values[:2], [360.0, 360.2])
    assert da.attrs["technique"] == "EELS"


def test_eelsdb_metadata_and_headerless_files(shared_data):
    da = xio.read(shared_data / "formats/emsa/eelsdb-la2nio4-o-k/data.msa")
    assert (da.attrs["element"], da.attrs["edge"], da.attrs["formula"]) == ("O", "K", "La2NiO4")
    assert (da["energy"].values[0], da["energy"].values[-1]) == pytest.approx((521.6, 559.2))
    ta = xio.read(shared_data / "formats/emsa/eelsdb-ta2o5/data.msa")
    assert ta.attrs["format"] == "emsa" and ta.attrs["technique"] == "EELS"
    assert ta.sizes["energy"] == 2998 and "element" not in ta.attrs  # three edges listed
    assert ta.attrs["edges"] == "O_K; Ta_N2,3; Ta_M4,5"
    assert ta.attrs["title"] == "Ta2O5 – amoprhous"


def test_malformed_header_line(tmp_path):
    p = tmp_path / "s.msa"
    p.write_text(HEAD.format(n=2) + "#garbage here\n1\n2\n")
    with pytest.raises(FormatError, match="expected '#KEYWORD : value'") as info:
        xio.read(p)
    assert info.value.line == 13
