"""Molecule inputs: xyz (plain and QM9 flavour), QM9 from qm9pack, SMILES."""

from __future__ import annotations

import importlib.util
import itertools
import sys

import numpy as np
import pytest

from xasml.errors import EngineError, FormatError, ParameterError
from xasml.simulate.molecules import (
    Molecule,
    from_smiles,
    iter_qm9,
    parse_xyz,
    qm9_molecule,
    qm9_molecules,
    read_smiles_file,
    read_xyz,
)

# dsgdb9nsd_000003.xyz as distributed with QM9 (Mathematica exponents, charge column)
QM9_WATER = """3
gdb 3\t799.58812\t437.90386\t282.94545\t1.8511\t6.31\t-0.2928\t0.0687\t0.3615\t19.0002\t\
0.021375\t-76.404702\t-76.401867\t-76.400922\t-76.422349\t6.316
O\t-0.0343604951\t 0.9775395708\t 0.0076015923\t-0.589706
H\t 0.0647664923\t 0.0205721989\t 0.0015346341\t 0.294853
H\t 0.8717903737\t 1.3007924048\t 6.931336*^-4\t 0.294853
1671.4222\t3803.6305\t3907.698
O\tO
InChI=1S/H2O/h1H2\tInChI=1S/H2O/h1H2
"""
needs_qm9 = pytest.mark.skipif(
    importlib.util.find_spec("qm9pack") is None, reason="qm9pack is not installed"
)


def test_parse_qm9_flavour():
    mol = parse_xyz(QM9_WATER)
    assert mol.symbols == ("O", "H", "H")
    assert mol.meta["qm9_index"] == 3 and mol.name == "qm9:3" and mol.smiles == "O"
    assert mol.coords[2, 2] == pytest.approx(6.931336e-4)
    assert np.linalg.norm(mol.coords[1] - mol.coords[0]) == pytest.approx(0.9621, abs=1e-4)


def test_xyz_round_trip(tmp_path):
    mol = Molecule(
        ("N", "H", "H", "H"),
        np.array([[0, 0, 0.1], [0.94, 0, -0.2], [-0.47, 0.81, -0.2], [-0.47, -0.81, -0.2]]),
    )
    path = tmp_path / "nh3.xyz"
    path.write_text(mol.to_xyz())
    back = read_xyz(path)
    assert back.symbols == mol.symbols
    np.testing.assert_allclose(back.coords, mol.coords, atol=1e-8)
    # atomic numbers are accepted for symbols
    assert parse_xyz("1\n\n8 0 0 0\n").symbols == ("O",)


@pytest.mark.parametrize(
    ("text", "match", "line"),
    [
        ("x\n\nO 0 0 0\n", "atom count", 1),
        ("2\n\nO 0 0 0\n", "only 1 atom lines", 1),
        ("1\n\nO 0 0\n", "symbol x y z", 3),
        ("1\n\nQq 0 0 0\n", "unknown element", 3),
        ("1\n\nO 0 zero 0\n", "must be numbers", 3),
    ],
)
def test_xyz_errors_name_the_line(text, match, line):
    with pytest.raises(FormatError, match=match) as info:
        parse_xyz(text, source="bad.xyz")
    assert info.value.line == line and "bad.xyz" in str(info.value)


def test_read_missing_file(tmp_path):
    with pytest.raises(FormatError, match="cannot read"):
        read_xyz(tmp_path / "absent.xyz")


def test_molecule_validation_and_transform():
    with pytest.raises(ParameterError, match="shape"):
        Molecule(("O", "H"), np.zeros((3, 3)))
    with pytest.raises(ParameterError, match="finite"):
        Molecule(("O",), np.array([[0, np.nan, 0]]))
    mol = parse_xyz(QM9_WATER)
    rot = np.array([[0, -1, 0], [1, 0, 0], [0, 0, 1.0]])
    moved = mol.transformed(rot, np.array([1.0, 2.0, 3.0]))
    d0 = np.linalg.norm(mol.coords[:, None] - mol.coords[None], axis=-1)
    d1 = np.linalg.norm(moved.coords[:, None] - moved.coords[None], axis=-1)
    np.testing.assert_allclose(d1, d0, atol=1e-12)
    assert mol.sites("H") == [1, 2]


@needs_qm9
def test_qm9_molecule_matches_qm9_xyz():
    mol = qm9_molecule(3)
    np.testing.assert_allclose(mol.coords, parse_xyz(QM9_WATER).coords, atol=1e-9)
    assert mol.smiles == "O"
    assert qm9_molecule(100000).meta["qm9_index"] == 100000


@needs_qm9
@pytest.mark.parametrize(
    ("index", "match"), [(0, "1…133885"), (58, "does not contain"), ("3", "integer")]
)
def test_qm9_bad_index(index, match):
    with pytest.raises(ParameterError, match=match):
        qm9_molecule(index)


@needs_qm9
def test_qm9_molecules_equal_one_by_one_lookups_in_given_order():
    idx = [100000, 3, 60000, 3]  # across data files, out of order, repeated
    mols = qm9_molecules(idx)
    assert [m.meta["qm9_index"] for m in mols] == idx
    for m, i in zip(mols, idx, strict=True):
        ref = qm9_molecule(i)
        assert m.symbols == ref.symbols and m.smiles == ref.smiles
        np.testing.assert_array_equal(m.coords, ref.coords)
    with pytest.raises(ParameterError, match=r"does not contain the molecule\(s\) \[58\]"):
        qm9_molecules([3, 58])


@needs_qm9
def test_iter_qm9_filters():
    mols = list(itertools.islice(iter_qm9(("N",), start=1, stop=40, max_heavy=3), 50))
    assert mols and all("N" in m.symbols for m in mols)
    assert all(sum(s != "H" for s in m.symbols) <= 3 for m in mols)
    idx = [m.meta["qm9_index"] for m in mols]
    assert idx == sorted(idx) and all(1 <= i < 40 for i in idx)
    assert 2 in idx and 3 not in idx  # NH3 in, H2O out


needs_rdkit = pytest.mark.skipif(
    importlib.util.find_spec("rdkit") is None, reason="RDKit is not installed"
)


def test_smiles_without_rdkit_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "rdkit", None)  # import rdkit now raises ImportError
    with pytest.raises(EngineError, match="pip install rdkit"):
        from_smiles("C=O")


@needs_rdkit
def test_smiles_geometry_known_answers():
    h2co = from_smiles("C=O")
    # heavy atoms in SMILES order, then the hydrogens; MMFF94's C=O is 1.22 Å
    assert h2co.symbols == ("C", "O", "H", "H") and h2co.name == "C=O"
    assert np.linalg.norm(h2co.coords[1] - h2co.coords[0]) == pytest.approx(1.22, abs=0.02)
    assert h2co.meta["geometry"] == "mmff94" and h2co.charge == 0
    water = from_smiles("O", name="water")
    assert water.name == "water" and water.smiles == "O"
    oh = water.coords[1:] - water.coords[0]
    assert np.linalg.norm(oh, axis=1) == pytest.approx([0.97, 0.97], abs=0.02)
    cos = oh[0] @ oh[1] / np.prod(np.linalg.norm(oh, axis=1))
    assert np.degrees(np.arccos(cos)) == pytest.approx(104, abs=3)
    assert from_smiles("[NH4+]").charge == 1
    # the same SMILES and seed give the same geometry
    np.testing.assert_array_equal(from_smiles("CCO").coords, from_smiles("CCO").coords)


@needs_rdkit
@pytest.mark.parametrize("text", ["C1CC", "", "Xx"])
def test_smiles_errors_name_the_input(text):
    with pytest.raises(ParameterError, match="cannot parse SMILES"):
        from_smiles(text)


@needs_rdkit
def test_read_smiles_file_names_and_skips(tmp_path):
    path = tmp_path / "mols.smi"
    path.write_text("SMILES Name\nO water\n# a comment\n\nC=O\nCC#N  methyl cyanide\n")
    mols = read_smiles_file(path)
    assert [m.name for m in mols] == ["water", "C=O", "methyl cyanide"]
    assert [m.smiles for m in mols] == ["O", "C=O", "CC#N"]
    np.testing.assert_array_equal(mols[2].coords, from_smiles("CC#N").coords)


@needs_rdkit
@pytest.mark.parametrize(("text", "match", "line"), [
    ("O\nC1CC ring\n", "cannot parse SMILES 'C1CC'", 2),
    ("# only a comment\n\n", "no SMILES found", None),
])
def test_read_smiles_file_errors_name_file_and_line(tmp_path, text, match, line):
    path = tmp_path / "bad.smi"
    path.write_text(text)
    with pytest.raises(FormatError, match=match) as info:
        read_smiles_file(path)
    assert info.value.line == line and "bad.smi" in str(info.value)


def test_read_smiles_file_missing(tmp_path):
    with pytest.raises(FormatError, match="cannot read SMILES file"):
        read_smiles_file(tmp_path / "absent.smi")
