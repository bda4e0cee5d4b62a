"""Athena projects: both dialects, gzip, groups, stacks, and no evaluation of Perl."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

import xasml.io as xio
from xasml.errors import FormatError

PERL = """# Athena project file -- Athena version 0.8.061
$old_group = 'abcd';
@args = ('label','it\\'s a, "test"','bkg_e0',7112,'bkg_z','Fe','fft_edge','k','is_xmu',1,
 'titles',['one','two'],'detectors',[],'peak_fit1',undef,'nested',{'a' => [1, 2]});
@x = ('7000','7010.5','7020');
@y = ('0.1','0.5','1.0');
[record]   # create object and set arrays in ifeffit
$old_group = 'efgh';
@args = ('label','second','bkg_e0','7113.5','bkg_z','Fe','fft_edge','K');
@x = ('7000','7010.5','7020');
@y = (0.2, 0.6, 1.1);
[record]
$old_group = 'fit1';
@args = ('label','a fit','not_data',1);
@x = ('1','2');
@y = ('1','2');
[record]
@journal = ();
%plot_features = ('c4' => 'darkorange');
1;
"""


def test_perl_dialect_identical_grids_give_a_labelled_stack(tmp_path):
    p = tmp_path / "p.prj"
    p.write_text(PERL)
    da = xio.read(p)
    assert da.dims == ("sample", "energy") and da.name is None
    assert list(da["label"].values) == ["it's a, \"test\"", "second"]
    np.testing.assert_allclose(da.values, [[0.1, 0.5, 1.0], [0.2, 0.6, 1.1]])
    np.testing.assert_allclose(da["bkg_e0"].values, [7112, 7113.5])  # differs: a coordinate
    assert (da.attrs["element"], da.attrs["edge"], da.attrs["format"]) == ("Fe", "K", "athena")


def test_group_selection_by_label_or_id_and_gzip(tmp_path):
    p = tmp_path / "p.prj"
    p.write_bytes(gzip.compress(PERL.encode()))
    one = xio.read(p, group="efgh")
    assert one.name == "second" and one.attrs["bkg_e0"] == 7113.5
    first = xio.read(p, group="it's a, \"test\"")
    assert first.attrs["titles"] == "one\ntwo" and first.attrs["group"] == "abcd"
    with pytest.raises(FormatError, match=r"no group 'nope'.*second"):
        xio.read(p, group="nope")
    assert [sp.name for sp in xio.read_all(p)] == ["it's a, \"test\"", "second"]  # fit skipped


def test_real_perl_projects(shared_data):
    fes2 = xio.read(shared_data / "formats/athena/FeS2.prj")
    assert fes2.dims == ("energy",) and fes2.sizes["energy"] == 353
    assert fes2.name == "fes2_rt01_mar02.xmu" and fes2.attrs["bkg_e0"] == 7117
    assert fes2["energy"].values[0] == pytest.approx(6911.8277)
    mn = shared_data / "formats/athena/athena_MN.prj"
    with pytest.raises(FormatError, match=r"different energy grids.*LW_0.*group=NAME.*read_all"):
        xio.read(mn)
    groups = xio.read_all(mn)
    assert len(groups) == 13 and all(g.attrs["element"] == "Fe" for g in groups)
    assert xio.read(mn, group="dwtp").name == "AII_-25"


def test_real_json_project(shared_data):
    groups = xio.read_all(shared_data / "formats/athena/Ni_FeNiS20_RT.prj")
    assert [g.name for g in groups][:2] == ["fenis_ni_rt_xafs_003", "fenis_ni_rt_xafs_004"]
    assert len(groups) == 8 and groups[0].sizes["energy"] == 351
    assert (groups[0].attrs["element"], groups[0].attrs["edge"]) == ("Ni", "K")
    assert groups[0].attrs["bkg_e0"] == pytest.approx(8338.493)
    assert groups[0]["energy"].values[0] == pytest.approx(8227.951)


@pytest.mark.parametrize(
    ("text", "match", "line"),
    [
        (PERL.replace("@x = ('7000'", "@x = (system('rm -rf /'),'7000'"), "found 'system'", 5),
        (PERL.replace("@y = (0.2", "@y = (`ls`"), "unexpected character '`'", 11),
        (PERL[:300], "expected.*found the end of the file", None),
        (PERL.replace("'7010.5','7020');\n@y = ('0.1'", "'7010.5');\n@y = ('0.1'"),
         "same length; found 2 and 3", None),
        (PERL.replace("'0.5','1.0'", "'0.5','x'"), "expected numbers in 'y'", None),
        ("# Athena project file\n" + "@x = (" + "[" * 40 + "]" * 40 + ");\n", "nesting", 2),
        (PERL.replace("@y = (0.2", "@y = (" + "9" * 5000), "expected finite numbers in 'y'", None),
    ],
)
def test_malformed_perl_is_a_format_error_never_evaluated(tmp_path, text, match, line):
    p = tmp_path / "bad.prj"
    p.write_text(text)
    with pytest.raises(FormatError, match=match) as info:
        xio.read(p, format="athena")
    if line is not None:
        assert info.value.line == line


def test_corrupt_gzip_and_json(tmp_path):
    p = tmp_path / "bad.prj"
    p.write_bytes(gzip.compress(PERL.encode())[:60])
    with pytest.raises(FormatError, match="gzip stream is corrupt or truncated"):
        xio.read(p, format="athena")
    p.write_text('{"_____header1": "# Athena project file",\n "g": {"args": {}, "x": [1, 2]\n')
    with pytest.raises(FormatError, match="JSON") as info:
        xio.read(p)
    assert info.value.line == 3
