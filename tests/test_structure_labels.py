"""Labels from structures on hand-checkable cases; structure readers."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

pytest.importorskip("pymatgen")

from xasml.errors import FormatError, ParameterError
from xasml.simulate.structures import (
    PROTOTYPES,
    absorber_labels,
    read_structure,
    site_labels,
    structure_entries,
)


def test_mno_rocksalt_octahedral_mn2() -> None:
    (lab,) = absorber_labels(PROTOTYPES["rocksalt"]("Mn", 4.445), "Mn")
    assert lab.cn == 6 and lab.geometry == "octahedral"
    assert lab.geometry_score == pytest.approx(1.0, abs=1e-6)
    assert lab.oxidation_state == 2 and lab.oxidation_method == "bv"
    assert lab.mean_nn_distance == pytest.approx(4.445 / 2, abs=1e-6)  # a/2 in rocksalt
    assert set(lab.neighbours) == {"O"}


def test_zno_wurtzite_tetrahedral() -> None:
    a, c, u = 3.250, 5.207, 0.3819
    (lab,) = absorber_labels(PROTOTYPES["wurtzite"]("Zn", a, c, u), "Zn")
    assert lab.cn == 4 and lab.geometry == "tetrahedral" and lab.oxidation_state == 2
    # mean of one axial bond u*c and three basal bonds sqrt(a²/3 + (1/2-u)² c²)
    basal = math.sqrt(a**2 / 3 + ((0.5 - u) * c) ** 2)
    assert lab.mean_nn_distance == pytest.approx((u * c + 3 * basal) / 4, abs=1e-4)
    assert lab.multiplicity == 2  # two Zn per wurtzite cell, symmetry-equivalent


def test_cro4_oxoanion_cr6() -> None:
    mol = PROTOTYPES["oxoanion"]("Cr", 1.65, -2.0)
    (lab,) = absorber_labels(mol, "Cr")
    assert lab.cn == 4 and lab.geometry == "tetrahedral"
    assert lab.oxidation_state == 6 and lab.oxidation_method == "charge_balance"
    assert lab.mean_nn_distance == pytest.approx(1.65)


def test_square_pyramidal_cn5() -> None:
    (lab,) = absorber_labels(
        PROTOTYPES["square_pyramidal"]("Sr", "Fe", 3.90, 7.60, 0.26, 0.30), "Fe"
    )
    assert lab.cn == 5 and lab.geometry == "square_pyramidal"
    assert lab.scores["square_pyramidal"] > lab.scores["trigonal_bipyramidal"]
    assert lab.oxidation_state == 3


def test_cuo_square_planar() -> None:
    (lab,) = absorber_labels(PROTOTYPES["tenorite"]("Cu", 4.684, 3.423, 5.129, 99.54), "Cu")
    assert (lab.cn, lab.geometry, lab.oxidation_state) == (4, "square_planar", 2)
    assert lab.scores["square_planar"] > 0.8 > lab.scores["tetrahedral"]


def test_spinel_sites_are_distinguished() -> None:
    labs = absorber_labels(PROTOTYPES["spinel_normal"]("Co", "Co", 8.084, 0.3881), "Co")
    by_cn = {lab.cn: lab for lab in labs}
    assert set(by_cn) == {4, 6}
    assert by_cn[4].oxidation_state == 2 and by_cn[6].oxidation_state == 3  # Co2+ tet, Co3+ oct
    assert by_cn[6].multiplicity == 2 * by_cn[4].multiplicity  # AB2O4


def test_missing_absorber_and_bad_site() -> None:
    s = PROTOTYPES["rocksalt"]("Mn", 4.445)
    with pytest.raises(ParameterError, match="'Fe'"):
        absorber_labels(s, "Fe")
    with pytest.raises(ParameterError, match="site index 9"):
        site_labels(s, 9)


def test_cif_poscar_xyz_round_trip(tmp_path: Path) -> None:
    from pymatgen.io.cif import CifWriter
    from pymatgen.io.vasp import Poscar

    s = PROTOTYPES["rutile"]("Ti", 4.594, 2.959, 0.3049)
    CifWriter(s).write_file(tmp_path / "tio2.cif")
    Poscar(s).write_file(tmp_path / "POSCAR")
    PROTOTYPES["oxoanion"]("Cr", 1.65, -2.0).to(filename=str(tmp_path / "cro4.xyz"))
    for path in (tmp_path / "tio2.cif", tmp_path / "POSCAR"):
        back = read_structure(path)
        assert back.composition.reduced_formula == "TiO2"
        (lab,) = absorber_labels(back, "Ti")
        assert (lab.cn, lab.oxidation_state) == (6, 4)
    (entry,) = structure_entries([tmp_path / "cro4.xyz"], "Cr", charge=-2)
    assert entry.labels[0].oxidation_state == 6 and entry.settings["source"].endswith("cro4.xyz")
    assert entry.to_pymatgen().composition == read_structure(tmp_path / "cro4.xyz").composition


def test_unreadable_cif_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "broken.cif"
    bad.write_text("data_x\n_cell_length_a 4.0\nloop_\n_atom_site_label\nnot a cif at all\n")
    with pytest.raises(FormatError, match=r"broken\.cif"):
        read_structure(bad)
    with pytest.raises(FormatError, match="no such file"):
        read_structure(tmp_path / "missing.cif")
