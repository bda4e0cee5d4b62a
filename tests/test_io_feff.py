"""FEFF: feff.inp parsing, first-shell coordination, xmu.dat and run trees."""

from __future__ import annotations

import shutil
import tarfile
from pathlib import Path

import numpy as np
import pytest

from xasml.errors import FormatError, XasmlWarning
from xasml.io import (
    _feff,
    coordination_number,
    neighbour_shell,
    read,
    read_feff_inp,
    read_xmu,
    sniff,
)

MP = Path("formats") / "feff" / "mp-1021507"


@pytest.fixture(scope="module")
def tree(shared_data: Path) -> Path:
    return shared_data / MP


def test_feff_inp(tree: Path) -> None:
    inp = read_feff_inp(tree / "FEFF-XANES" / "003_Cu" / "feff.inp")
    assert inp.absorber == "Cu"
    assert inp.edge == "K"
    assert [(p.ipot, p.z, p.tag) for p in inp.potentials] == [
        (0, 29, "Cu"),
        (1, 56, "Ba"),
        (2, 39, "Y"),
        (3, 29, "Cu"),
        (4, 8, "O"),
    ]
    assert inp.xyz.shape == (208, 3) and inp.ipot.shape == (208,)
    np.testing.assert_allclose(inp.xyz[0], 0.0)  # absorber at the origin
    # distances recomputed from xyz agree with the file's rounded column (1.95691 ...)
    np.testing.assert_allclose(inp.distance[1:3], [1.95691, 1.95691], atol=1e-5)
    assert inp.cards["FMS"] == "9.0 0" and inp.cards["COREHOLE"] == "RPA"
    assert inp.cards["K_GRID"].splitlines() == ["-1 0 0.04", "0 6 0.04"]
    assert inp.elements()[:2] == ("Cu", "O")


def test_first_shell(tree: Path) -> None:
    inp = read_feff_inp(tree / "FEFF-XANES" / "003_Cu" / "feff.inp")
    # by hand from the ATOMS table: O at 1.957 (x2), 2.022 (x2), 2.317, next O at 3.676 Å
    shell = neighbour_shell(inp, "O")
    assert shell.count == 5
    assert shell.radius == pytest.approx(2.31668)
    assert coordination_number(inp, "O", cutoff=2.1) == 4
    assert coordination_number(inp, "Y") == 4  # four Y at 3.169 Å
    assert coordination_number(inp, "Pt") == 0
    # all elements: the 5 O, then the Y at 3.17 Å is 0.85 Å further
    assert coordination_number(inp) == 5
    assert coordination_number(inp, cutoff=3.2) == 9  # 5 O and 4 Y within 3.2 Å


def test_xmu_fermi_level(tree: Path) -> None:
    path = tree / "FEFF-XANES" / "003_Cu" / "xmu.dat"
    assert sniff(path) == "feff"
    da = read_xmu(path)
    raw = np.loadtxt(path)
    np.testing.assert_allclose(da.energy.values, raw[:, 0])
    np.testing.assert_allclose(da.values, raw[:, 3])
    # Mu=-8.369 eV: E - E_F = e - Mu on every row
    np.testing.assert_allclose(da.energy.values - da.attrs["e_fermi"], raw[:, 1] + 8.369, atol=2e-3)
    assert da.attrs["e_fermi"] == pytest.approx(8984.958 + 12.179 - 8.369, abs=1e-3)
    assert da.attrs["element"] == "Cu" and da.attrs["edge"] == "K"
    assert da.sizes["energy"] == 173
    np.testing.assert_allclose(da["k"].values[[0, -1]], [-1.0, 6.0])


def test_tree_with_different_grids(tree: Path) -> None:
    assert sniff(tree) == "feff"
    with pytest.raises(FormatError, match="read_all"):
        read(tree)
    spectra = _feff.read_all(tree)
    assert [s.attrs["site"] for s in spectra] == [3, 4, 5]
    assert {s.attrs["material_id"] for s in spectra} == {"mp-1021507"}
    assert len(_feff.read_all(tree / "FEFF-XANES")) == 3
    one = read(tree / "FEFF-XANES" / "004_Cu")  # a single site folder is one spectrum
    assert one.dims == ("energy",)
    assert (one.attrs["material_id"], one.attrs["site"]) == ("mp-1021507", 4)


def test_tree_on_one_grid_stacks_and_reports_missing(tree: Path, tmp_path: Path) -> None:
    site = tree / "FEFF-XANES" / "003_Cu"
    mat = tmp_path / "mp-x"
    for name in ("000_Cu", "002_Cu"):
        shutil.copytree(site, mat / "FEFF-XANES" / name)
    (mat / "FEFF-XANES" / "007_Cu").mkdir()
    shutil.copy(site / "feff.inp", mat / "FEFF-XANES" / "007_Cu")
    with pytest.warns(XasmlWarning, match="mp-x/007_Cu"):
        da = read(mat)
    assert da.dims == ("sample", "energy")
    assert list(da["site"].values) == [0, 2]
    assert list(da["material_id"].values) == ["mp-x", "mp-x"]
    assert list(da["absorber"].values) == ["Cu", "Cu"]
    assert da.attrs["missing_sites"] == ["mp-x/007_Cu"]
    np.testing.assert_array_equal(da.values[0], read_xmu(site / "xmu.dat").values)


def test_bad_trees_and_files(tmp_path: Path) -> None:
    with pytest.raises(FormatError, match="empty folder"):
        _feff.read(tmp_path)
    site = tmp_path / "mp-y" / "FEFF-XANES" / "001_Cu"
    site.mkdir(parents=True)
    (site / "feff.inp").write_text("EDGE K\nPOTENTIALS\n 0 29 Cu\nATOMS\n0 0 0 0 Cu\nEND\n")
    with pytest.raises(FormatError, match=r"no xmu\.dat"):
        _feff.read(tmp_path / "mp-y")
    bad = tmp_path / "bad.inp"
    bad.write_text("POTENTIALS\n 0 29 Cu\nATOMS\n0 0 0 0 Cu\n1.0 x 0 1 O\n")
    with pytest.raises(FormatError, match="line 5"):
        read_feff_inp(bad)
    bad.write_text("POTENTIALS\n 0 29 Cu\n")
    with pytest.raises(FormatError, match="ATOMS"):
        read_feff_inp(bad)
    xmu = tmp_path / "xmu.dat"
    xmu.write_text("# FEFF\n# no fermi level\n1 2 3 4 5 6\n")
    with pytest.raises(FormatError, match="Mu="):
        read_xmu(xmu)
    xmu.write_text("# Mu=-8.0E+00eV\n1 2 3 4 5 6\n2 3 4\n")
    with pytest.raises(FormatError, match="line 3"):
        read_xmu(xmu)


@pytest.fixture(scope="module")
def omnixas_sites(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A few materials of the OmniXAS set, including mp-1101124 (sites without xmu.dat)."""
    archive = shared_data / "feff-cu-omnixas.tar.gz"
    if not archive.is_file():
        pytest.skip("feff-cu-omnixas.tar.gz is not present")
    out = tmp_path_factory.mktemp("omnixas")
    wanted = {"mp-1101124"}
    with tarfile.open(archive, "r|gz") as tar:
        for member in tar:
            parts = Path(member.name).parts
            if len(parts) < 4 or parts[1] != "structures_and_spectra":
                continue
            if len(wanted) < 3:
                wanted.add(parts[2])
            if parts[2] in wanted and member.isfile():
                tar.extract(member, out, filter="data")
            if parts[2] == "mp-1101124" and parts[-1] == "POSCAR":
                break
    return out / "feff-cu-omnixas" / "structures_and_spectra"


def test_omnixas_missing_sites_are_reported(omnixas_sites: Path) -> None:
    assert sniff(omnixas_sites) == "feff"
    with pytest.warns(XasmlWarning, match=r"mp-1101124/001_Cu, mp-1101124/003_Cu"):
        spectra = _feff.read_all(omnixas_sites)
    assert spectra and all(
        s.attrs["missing_sites"] == ["mp-1101124/001_Cu", "mp-1101124/003_Cu"] for s in spectra
    )
    for s in spectra:
        # every spectrum starts near 3.8 eV below E_F (k = -1 / Å) and has 173 points
        assert s.sizes["energy"] == 173
        assert s.energy.values[0] - s.attrs["e_fermi"] == pytest.approx(-3.8, abs=0.2)
        inp = read_feff_inp(Path(s.attrs["source"]).parent / "feff.inp")
        assert inp.absorber == "Cu" and inp.distance[0] == 0.0
