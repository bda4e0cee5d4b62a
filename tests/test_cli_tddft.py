"""``xasml simulate tddft``: molecules (xyz files) through the campaign runner."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import xarray as xr

from xasml.cli import main
from xasml.errors import ParameterError
from xasml.simulate import TDDFTEngine, molecule_design, parse_xyz

pytest.importorskip("pyscf")

# Experimental-ish geometries (Å): water and formaldehyde.
H2O = """3
water
O 0.000000 0.000000 0.117300
H 0.000000 0.757200 -0.469200
H 0.000000 -0.757200 -0.469200
"""
H2CO = """4
formaldehyde
C 0.000000 0.000000 -0.529000
O 0.000000 0.000000 0.676000
H 0.000000 0.935000 -1.112000
H 0.000000 -0.935000 -1.112000
"""
CH4 = """5
methane
C 0.0 0.0 0.0
H 0.629 0.629 0.629
H -0.629 -0.629 0.629
H -0.629 0.629 -0.629
H 0.629 -0.629 -0.629
"""
# 6-31G has no calibrated shift; 14 eV puts the O 1s onsets on the O grid.
SETTINGS = {"basis": "6-31g", "shifts": {"O": 14.0}}


@pytest.fixture
def xyz_files(tmp_path):
    paths = []
    for name, text in (("h2o", H2O), ("h2co", H2CO)):
        p = tmp_path / f"{name}.xyz"
        p.write_text(text)
        paths.append(p)
    return paths


def test_molecule_design_per_site_and_skip():
    mols = [parse_xyz(t) for t in (H2O, H2CO, CH4)]
    with pytest.warns(UserWarning, match="1 molecule"):
        d = molecule_design(mols, "O", sites="per-site")
    assert [p["site"] for p in d.params] == [0.0, 1.0]  # O is atom 0 of water, 1 of H2CO
    assert d.description["molecules"] == ["water", "formaldehyde"]
    with pytest.raises(ParameterError, match="has a 'N' atom"):
        molecule_design(mols, "N")


def test_cli_per_site_dataset_matches_engine(xyz_files, tmp_path, capsys):
    out = tmp_path / "mol.zarr"
    argv = ["simulate", "tddft", "--element", "O", "--site", "per-site", "--basis", "6-31g"]
    argv += ["--shift", "14", "--out", str(out), "--workers", "0", "--no-progress"]
    for p in xyz_files:
        argv += ["--xyz", str(p)]
    assert main(argv) == 0
    assert "2 new spectra, 2 in the dataset, 0 failed" in capsys.readouterr().out
    ds = xr.open_zarr(out).load()
    assert ds["intensity"].dims == ("sample", "energy")
    assert list(ds["molecule"].values) == ["water", "formaldehyde"]
    props = ["bond_length", "bond_angle", "voronoi_volume", "bond_overlap_population"]
    props += ["mulliken_charge", "excitation_energy"]
    # Each sample carries its own site properties, equal to the engine's own answer.
    eng = TDDFTEngine(**SETTINGS)
    for i, p in enumerate(xyz_files):
        ref = eng.simulate({"xyz": p.read_text(), "element": "O", "site": int(ds["site"][i])})
        np.testing.assert_allclose(ds["intensity"].values[i], ref.values, rtol=1e-6, atol=1e-8)
        for name in props:
            assert float(ds[name][i]) == pytest.approx(float(ref.coords[name]), rel=1e-6)
    # Known answers: water O-H 0.9572 Å, H-O-H 104.5°; the C=O bond 1.205 Å.
    assert float(ds["bond_length"][0]) == pytest.approx(0.9572, abs=1e-3)
    assert float(ds["bond_angle"][0]) == pytest.approx(104.5, abs=0.1)
    assert float(ds["bond_length"][1]) == pytest.approx(1.205, abs=1e-3)
    assert (ds["mulliken_charge"].values < 0).all()  # O is the negative end of both


def test_cli_refuses_bad_site(tmp_path, capsys):
    argv = ["simulate", "tddft", "--qm9", "3", "--element", "O", "--site", "each"]
    argv += ["--out", str(tmp_path / "x.zarr")]
    assert main(argv) == 1
    assert "--site must be 'all' or 'per-site'" in capsys.readouterr().err


def test_cli_qm9_range_keeps_only_molecules_with_the_element(tmp_path, capsys):
    if importlib.util.find_spec("qm9pack") is None:  # its data files are read, not imported
        pytest.skip("qm9pack (QM9 data) is not installed")
    out = tmp_path / "q.zarr"
    argv = ["simulate", "tddft", "--qm9", "1:8", "--element", "O", "--basis", "6-31g"]
    argv += ["--shift", "14", "--out", str(out), "--workers", "0", "--no-progress"]
    assert main(argv) == 0
    ds = xr.open_zarr(out).load()
    # QM9 1-7: CH4 NH3 H2O C2H2 HCN H2CO C2H6 -> water (3) and formaldehyde (6) have O.
    np.testing.assert_array_equal(ds["qm9_index"].values, [3, 6])
    assert list(ds["site"].values) == ["all", "all"] and (ds["n_sites"].values == 1).all()


def test_cli_smiles_are_embedded_and_stored_as_their_geometry(tmp_path, capsys):
    pytest.importorskip("rdkit")
    from xasml.simulate import from_smiles

    smi = tmp_path / "mols.smi"
    smi.write_text("C=O formaldehyde\nC methane\nCCCO propanol\n")
    out = tmp_path / "s.zarr"
    argv = ["simulate", "tddft", "--element", "O", "--site", "per-site", "--basis", "6-31g",
            "--shift", "14", "--out", str(out), "--workers", "0", "--no-progress",
            "--smiles", "O", "--smiles-file", str(smi), "--max-heavy", "2"]
    with pytest.warns(UserWarning, match="1 molecule"):  # methane: no O
        assert main(argv) == 0
    capsys.readouterr()
    ds = xr.open_zarr(out).load()
    # propanol (4 heavy atoms) is over --max-heavy; the names come from the file
    assert list(ds["molecule"].values) == ["O", "formaldehyde"]
    # the stored geometry is RDKit's embedding, and the spectrum that of the engine on it
    water = from_smiles("O")
    assert parse_xyz(str(ds["xyz"].values[0])).coords == pytest.approx(water.coords, abs=1e-7)
    ref = TDDFTEngine(**SETTINGS).simulate({"xyz": water.to_xyz(), "element": "O", "site": 0})
    np.testing.assert_allclose(ds["intensity"].values[0], ref.values, rtol=1e-6, atol=1e-8)

    argv[argv.index("--smiles") + 1] = "C1CC"
    assert main(argv) == 1
    assert "--smiles: cannot parse SMILES 'C1CC'" in capsys.readouterr().err
