"""``xasml simulate feff|oxides``: structures → sites → FEFF campaign; bad files named."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr

pytest.importorskip("pymatgen")

from xasml.cli import main
from xasml.simulate.structures import PROTOTYPES

CRO4_XYZ = """5
chromate
Cr 0.0 0.0 0.0
O 0.952628 0.952628 0.952628
O -0.952628 -0.952628 0.952628
O -0.952628 0.952628 -0.952628
O 0.952628 -0.952628 -0.952628
"""
TINY = ["--scf-radius", "0", "--fms-radius", "3", "--workers", "0", "--no-progress"]


def _bad_files(tmp_path: Path) -> tuple[Path, Path]:
    mno = tmp_path / "MnO.json"
    mno.write_text(PROTOTYPES["rocksalt"]("Mn", 4.445).to_json())  # no Cr in it
    cif = tmp_path / "broken.cif"
    cif.write_text("data_x\n_cell_length_a 3.0\nloop_\n_atom_site_label\n")
    return mno, cif


def test_unusable_files_are_named_one_line_each(tmp_path: Path, capsys) -> None:
    mno, cif = _bad_files(tmp_path)
    out = tmp_path / "cr.zarr"
    code = main(["simulate", "feff", str(mno), str(cif), "--element", "Cr", "-o", str(out), *TINY])
    err = capsys.readouterr().err.splitlines()
    assert code == 1 and len(err) == 3
    assert "MnO.json" in err[0] and "'Cr' is not in MnO" in err[0]
    assert "broken.cif" in err[1] and err[1].startswith("xasml: error:")
    assert "no usable structure" in err[2]
    assert not out.exists()


def test_bad_corehole_is_a_parameter_error(tmp_path: Path, capsys) -> None:
    code = main(["simulate", "feff", "x.cif", "-e", "Cr", "--corehole", "XYZ",
                 "-o", str(tmp_path / "x.zarr")])
    assert code == 1 and "--corehole must be RPA, FSR or NONE" in capsys.readouterr().err


def test_oxides_dry_run_counts_structures(capsys) -> None:
    # CrO4 (1 site) and rutile CrO2 (1 inequivalent site): 2 base entries, so n=6
    # takes 3 strains (-3 %, 0, +3 %) and no distorted copies
    argv = ["simulate", "oxides", "--elements", "Cr", "--prototype", "oxoanion",
            "--prototype", "rutile", "--n", "6", "--dry-run", "-o", "unused.zarr"]
    assert main(argv) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "6 structures, 6 sites"
    assert "Cr CN 4 ox +6: 3" in lines and "Cr CN 6 ox +4: 3" in lines


def test_oxides_n_caps_the_selection(capsys) -> None:
    argv = ["simulate", "oxides", "--elements", "Cr", "--prototype", "oxoanion", "--n", "3",
            "--distortion", "0.03", "--dry-run", "-o", "unused.zarr"]
    assert main(argv) == 0
    assert capsys.readouterr().out.splitlines()[0] == "3 structures, 3 sites"


def test_oxides_substitution_fills_classes(capsys) -> None:
    # The measured table has no Mn spinel; substitution puts Mn on both spinel
    # sites (tetrahedral Mn2+ in MnX2O4, octahedral Mn3+ in ZnMn2O4 ...).
    argv = ["simulate", "oxides", "--elements", "Mn", "--prototype", "spinel_normal",
            "--n", "5", "--dry-run", "-o", "unused.zarr"]
    assert main([*argv, "--no-substitute"]) == 1
    assert "no prototype compound has an absorber among ['Mn']" in capsys.readouterr().err
    assert main(argv) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "Mn CN 4 ox +2: 3" in lines and "Mn CN 6 ox +3: 2" in lines


def test_missing_option_is_a_usage_error_not_a_traceback(capsys) -> None:
    assert main(["simulate", "oxides", "--n", "3", "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert "Missing option '--out'" in err and "Traceback" not in err


@pytest.mark.slow
def test_feff_campaign_cro4_continues_past_bad_files(tmp_path: Path, capsys) -> None:
    pytest.importorskip("feff10")
    xyz = tmp_path / "cro4.xyz"
    xyz.write_text(CRO4_XYZ)
    mno, cif = _bad_files(tmp_path)
    out = tmp_path / "cr.zarr"
    argv = ["simulate", "feff", str(cif), str(xyz), str(mno), "--element", "Cr",
            "--charge", "-2", "-o", str(out), *TINY]
    assert main(argv) == 1  # two unusable files: non-zero exit, but the campaign ran
    captured = capsys.readouterr()
    assert "2 structures" not in captured.out and "1 new spectra" in captured.out
    assert "broken.cif" in captured.err and "MnO.json" in captured.err
    ds = xr.open_zarr(out)
    assert ds.sizes["sample"] == 1
    assert float(ds["label_oxidation_state"].values[0]) == 6.0
    assert float(ds["label_cn"].values[0]) == 4.0
    mu = ds["intensity"].values[0]
    assert np.all(np.isfinite(mu)) and mu[-20:].mean() > 0.5  # normalised edge step
    # resume: nothing new, and the good file alone exits 0
    assert main(["simulate", "feff", str(xyz), "-e", "Cr", "--charge", "-2", "-o", str(out),
                 *TINY]) == 0
    assert "0 new spectra, 1 in the dataset" in capsys.readouterr().out


def test_failed_sites_are_named_and_the_rest_is_kept(tmp_path: Path, capsys, monkeypatch) -> None:
    from xasml.datamodel import spectrum
    from xasml.errors import EngineError
    from xasml.simulate.feff import FeffEngine

    def fake(self: FeffEngine, params: dict) -> object:  # no FEFF: fail on CrO2, pass CrO4
        if "rutile" in params["label_name"]:
            raise EngineError("FEFF failed for site 0 (Cr) of CrO2 in stage pot")
        return spectrum(self.energy, np.linspace(0.0, 1.0, self.n_energy), element="Cr",
                        edge="K", signal="mu")

    monkeypatch.setattr(FeffEngine, "simulate", fake)
    out = tmp_path / "ox.zarr"
    argv = ["simulate", "oxides", "--elements", "Cr", "--prototype", "oxoanion",
            "--prototype", "rutile", "--n", "2", "-o", str(out), *TINY]
    assert main(argv) == 1
    captured = capsys.readouterr()
    assert "2 structures, 2 sites; 1 new spectra" in captured.out
    err = captured.err.splitlines()
    assert err[0].startswith("xasml: error: rutile-CrO2-Cr site 0: ") and "stage pot" in err[0]
    assert "1 of 2 sites failed" in err[-1]
    ds = xr.open_zarr(out)
    assert ds.sizes["sample"] == 1 and str(ds["label_name"].values[0]) == "oxoanion-CrO4-Cr"


def test_feff_on_qm9_water_is_the_second_molecular_engine(tmp_path: Path, capsys) -> None:
    # QM9 index 3 is water: the whole molecule is the cluster; its O has the
    # two H as covalent neighbours (CrystalNN with ionic radii found none).
    pytest.importorskip("feff10")
    from xasml.errors import EngineError
    from xasml.io import read
    from xasml.simulate import qm9_molecule

    try:
        qm9_molecule(3)
    except EngineError:
        pytest.skip("qm9pack's data files are not installed")

    # FEFF puts water's O edge (E_F ~530 eV) ~13 eV under O's tabulated K edge, so the
    # default grid (from -10 eV) holds only the post-edge tail: refused, not stored.
    bad = tmp_path / "tail.zarr"
    code = main(["simulate", "feff", "--qm9", "3", "--element", "O", "-o", str(bad), *TINY])
    err = capsys.readouterr().err
    assert code == 1 and "edge is outside the grid" in err and "--e-min" in err

    out = tmp_path / "w.zarr"
    code = main(["simulate", "feff", "--qm9", "3", "--element", "O", "-o", str(out),
                 "--e-min", "-20", "--e-max", "30", *TINY])
    assert code == 0, capsys.readouterr().err
    da = read(out)
    assert da.sizes["sample"] == 1 and str(da["label_name"].values[0]) == "qm9-3"
    assert int(da["label_cn"].values[0]) == 2
    assert float(da["label_mean_nn_distance"].values[0]) == pytest.approx(0.96, abs=0.02)
    e, mu = da["energy"].values, da.values[0]
    assert e[0] == -20 and e[-1] == 30 and da.sizes["energy"] == 201
    assert np.isfinite(mu).all() and mu[0] < 0.1 < 0.5 < mu.max()  # the rise is in the grid
    fermi = float(da["fermi_energy"].values[0] - da["edge_energy"].values[0])
    assert e[0] < fermi < e[np.argmax(mu)]


def test_feff_needs_structures_or_qm9(tmp_path: Path, capsys) -> None:
    assert main(["simulate", "feff", "-e", "O", "-o", str(tmp_path / "x.zarr")]) == 1
    assert "give structure files, QM9 molecules" in capsys.readouterr().err


def test_feff_energy_grid_checked(tmp_path: Path, capsys) -> None:
    args = ["simulate", "feff", "--qm9", "3", "-e", "O", "-o", str(tmp_path / "x.zarr")]
    assert main([*args, "--e-min", "10", "--e-max", "0"]) == 1
    assert "need --e-max > --e-min" in capsys.readouterr().err
    assert not (tmp_path / "x.zarr").exists()


def test_feff_on_smiles_molecules_with_file_safe_names(tmp_path: Path, capsys) -> None:
    pytest.importorskip("feff10")
    pytest.importorskip("rdkit")
    from xasml.io import read

    out = tmp_path / "n.zarr"
    code = main(["simulate", "feff", "--smiles", "CC#N", "--smiles", "CC#N", "--element", "N",
                 "-o", str(out), "--e-min", "-20", "--e-max", "30", *TINY])
    assert code == 0, capsys.readouterr().err
    da = read(out)
    # "#" is not kept in file names, and a name is never used twice
    assert [str(v) for v in da["label_name"].values] == ["CC_N", "CC_N-2"]
    assert (tmp_path / "n.structures" / "CC_N.json").is_file()
    # the nitrile N has one covalent neighbour, the C at MMFF94's 1.16 Å
    assert list(da["label_cn"].values) == [1, 1]
    assert da["label_mean_nn_distance"].values == pytest.approx([1.16, 1.16], abs=0.02)
    assert np.isfinite(da.values).all()
