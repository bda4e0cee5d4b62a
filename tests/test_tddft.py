"""CVS-TDA engine: pyscf reference matrix, calibration anchor, invariances, errors."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pyscf")

from xasml.errors import EngineError, ParameterError
from xasml.simulate import _cvs, _siteprops
from xasml.simulate.base import Engine, get_engine
from xasml.simulate.molecules import Molecule, parse_xyz
from xasml.simulate.tddft import HARTREE_EV, broaden, core_excitations
from xasml.simulate.tddft_engine import TDDFTEngine

# QM9 geometries (B3LYP/6-31G(2df,p)), Å
H2O = parse_xyz(
    """3
water (QM9 3)
O -0.0343604951 0.9775395708 0.0076015923
H  0.0647664923 0.0205721989 0.0015346341
H  0.8717903737 1.3007924048 0.0006931336
"""
)
NH3 = parse_xyz(
    """4
ammonia (QM9 2)
N -0.0404260543 1.0241077531 0.0625637998
H  0.0172574639 0.0125452063 -0.0273771593
H  0.9157893661 1.3587451948 -0.0287577581
H -0.5202777357 1.3435321258 -0.7755426124
"""
)
CO2 = Molecule(("C", "O", "O"), np.array([[0, 0, 0], [0, 0, 1.16], [0, 0, -1.16]]))
FAST = {"basis": "6-31g", "grid_level": 1, "conv_tol": 1e-8}


def _rotation(seed: int) -> np.ndarray:
    q, r = np.linalg.qr(np.random.default_rng(seed).normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    return q if np.linalg.det(q) > 0 else -q


@pytest.fixture(scope="module")
def h2o_default():
    return core_excitations(H2O, "O")


@pytest.fixture(scope="module")
def h2o_scf():
    return _cvs.run_scf(
        H2O,
        xc="b3lyp",
        basis="6-31g",
        density_fit=True,
        grid_level=1,
        conv_tol=1e-9,
        max_cycle=50,
    )


def test_restricted_a_matrix_equals_pyscf_get_ab(h2o_scf):
    mf = h2o_scf
    c, f, idx = _cvs.core_orbitals(mf, [0])
    center = mf.mol.atom_coords()[0]
    ref = _cvs.a_matrix_pyscf(mf, c, f, idx, 0)
    exact = _cvs.a_matrix(mf, c[:, 0], f[0, 0], center, exact_eri=True, xc_radius=None)
    np.testing.assert_allclose(exact, ref, atol=1e-6, rtol=0)
    # density fitting + kernel near the absorber only: same spectrum to < 1 meV
    fast = _cvs.a_matrix(mf, c[:, 0], f[0, 0], center)
    diff = (np.linalg.eigvalsh(fast) - np.linalg.eigvalsh(ref)) * HARTREE_EV
    assert np.abs(diff).max() < 1e-3


def test_rank1_df_jk_equals_pyscf_df_get_jk(h2o_scf):
    # the A build contracts the fitted integrals with the core orbital only; pyscf's
    # generic density-fitted J/K of the same rank-1 density is the reference
    mf = h2o_scf
    c, _, _ = _cvs.core_orbitals(mf, [0])
    cv = mf.mo_coeff[:, mf.mo_occ == 0]
    vj, vk = mf.with_df.get_jk(np.outer(c[:, 0], c[:, 0]), hermi=1)
    j_vv, k_vv = _cvs._df_jk_rank1(mf.with_df, c[:, 0], cv)
    np.testing.assert_allclose(j_vv, cv.T @ vj @ cv, atol=1e-12, rtol=0)
    np.testing.assert_allclose(k_vv, cv.T @ vk @ cv, atol=1e-12, rtol=0)
    assert np.abs(k_vv).max() > 1e-3  # not a vacuous comparison


def test_oscillator_strengths_match_pyscf_tda(h2o_scf):
    # independent reference: pyscf's own TDA (Davidson) with all but O 1s frozen
    mf = h2o_scf
    c, f, idx = _cvs.core_orbitals(mf, [0])
    w, osc = _cvs.solve(mf, _cvs.a_matrix_pyscf(mf, c, f, idx, 0), c[:, 0])
    occ = np.flatnonzero(mf.mo_occ > 0)
    td = mf.TDA(frozen=[k for k in occ if k != idx[0]])
    td.nstates = 3
    td.conv_tol = 1e-10
    td.kernel()
    np.testing.assert_allclose(w[:3], td.e, atol=1e-7)
    np.testing.assert_allclose(osc[:3], td.oscillator_strength(), rtol=1e-4, atol=1e-7)


def test_h2o_first_excitation_matches_experiment(h2o_default):
    # O 1s -> 4a1 of gas-phase water: 534.0 eV (Schirmer et al. 1993)
    assert h2o_default.settings["shift_calibrated"]
    assert abs(h2o_default.properties["excitation_energy"][0] - 534.0) < 0.5


def test_nh3_first_excitation_matches_experiment():
    res = core_excitations(NH3, "N")
    assert abs(res.energies[0, 0] - 400.8) < 0.5


def test_stick_count_and_positive_strengths():
    res = core_excitations(CO2, "O", **FAST)
    n_vir = 3 * 9 - 11  # 6-31G: 9 functions per first-row atom, 11 doubly occupied
    assert res.energies.shape == res.strengths.shape == (2, n_vir)
    assert np.all(res.strengths >= 0)
    assert np.all(np.diff(res.energies, axis=1) >= 0)
    # the two O atoms of CO2 are equivalent: localised core orbitals give equal spectra
    np.testing.assert_allclose(res.energies[0], res.energies[1], atol=1e-4)
    np.testing.assert_allclose(res.strengths[0], res.strengths[1], atol=1e-5)
    q = res.properties["mulliken_charge"]
    assert q[0] == pytest.approx(q[1], abs=1e-5)


def test_rotation_translation_invariance():
    ref = core_excitations(H2O, "O", **FAST)
    moved = core_excitations(H2O.transformed(_rotation(1), np.array([3.0, -2.0, 7.5])), "O", **FAST)
    np.testing.assert_allclose(moved.energies[0, :10], ref.energies[0, :10], atol=2e-3)
    np.testing.assert_allclose(moved.strengths[0, :10], ref.strengths[0, :10], atol=2e-5)
    for key in ("bond_length", "bond_angle", "n_bonds"):
        np.testing.assert_allclose(moved.properties[key], ref.properties[key], atol=1e-9)
    vol = "voronoi_volume"
    np.testing.assert_allclose(moved.properties[vol], ref.properties[vol], rtol=1e-3)
    for key in ("mulliken_charge", "bond_overlap_population"):
        np.testing.assert_allclose(moved.properties[key], ref.properties[key], atol=1e-4)


def test_mulliken_charges_sum_to_total_charge():
    h3o = parse_xyz(
        """4
hydronium
O 0.000 0.000 0.100
H 0.950 0.000 -0.200
H -0.475 0.823 -0.200
H -0.475 -0.823 -0.200
""",
        charge=1,
    )
    mf = _cvs.run_scf(
        h3o, xc="b3lyp", basis="6-31g", density_fit=True, grid_level=1, conv_tol=1e-8, max_cycle=50
    )
    charges, overlap = _siteprops.mulliken(mf)
    assert charges.sum() == pytest.approx(1.0, abs=1e-8)
    np.testing.assert_allclose(overlap, overlap.T, atol=1e-12)
    assert overlap[0, 1] > 0.2  # an O-H bond has a positive overlap population


def test_h2o_geometry_properties(h2o_default):
    x = H2O.coords
    r1, r2 = np.linalg.norm(x[1] - x[0]), np.linalg.norm(x[2] - x[0])
    cos = (x[1] - x[0]) @ (x[2] - x[0]) / (r1 * r2)
    p = h2o_default.properties
    assert p["n_bonds"][0] == 2
    assert p["bond_length"][0] == pytest.approx((r1 + r2) / 2, abs=1e-12)
    assert p["bond_angle"][0] == pytest.approx(np.degrees(np.arccos(cos)), abs=1e-9)
    assert p["mulliken_charge"][0] < 0


def test_voronoi_volume_known_answers():
    r = _siteprops._radii(("O",), "VDW")[0]
    atom = _siteprops.voronoi_volume(("O",), np.zeros((1, 3)), 0)
    assert atom == pytest.approx(4 / 3 * np.pi * r**3, rel=1e-10)
    d = 1.2  # O2: sphere cut by the bisector plane at d/2 loses a cap of height r - d/2
    h = r - d / 2
    o2 = _siteprops.voronoi_volume(("O", "O"), np.array([[0, 0, 0], [0, 0, d]]), 0)
    assert o2 == pytest.approx(4 / 3 * np.pi * r**3 - np.pi * h**2 * (3 * r - h) / 3, rel=2e-3)


def test_broaden_preserves_area():
    grid = np.linspace(520, 560, 4001)
    e, f = np.array([530.0, 540.0]), np.array([0.2, 0.05])
    for shape in ("gaussian", "lorentzian"):
        y = broaden(e, f, grid, fwhm=0.8, shape=shape)
        tol = 1e-6 if shape == "gaussian" else 0.03  # Lorentzian tails leave the grid
        assert np.trapezoid(y, grid) == pytest.approx(0.25, rel=tol)
    g = broaden(e[:1], f[:1], grid, fwhm=0.8)
    half = grid[g >= g.max() / 2]
    assert half[-1] - half[0] == pytest.approx(0.8, abs=0.02)


def test_engine_protocol_and_output():
    eng = get_engine("tddft", basis="6-31g", grid_level=1, shifts={"O": 14.0})
    assert isinstance(eng, Engine) and isinstance(eng, TDDFTEngine)
    da = eng.simulate({"xyz": H2O.to_xyz(), "element": "O", "site": 0})
    assert da.dims == ("energy",)
    np.testing.assert_allclose(da["energy"].values, eng.grid("O"))
    for key in (
        "bond_length",
        "bond_angle",
        "voronoi_volume",
        "bond_overlap_population",
        "mulliken_charge",
        "excitation_energy",
    ):
        assert np.isfinite(da.coords[key].item())
    assert len(da.attrs["stick_energy"]) == len(da.attrs["stick_strength"]) > 0
    assert max(da.attrs["stick_energy"]) <= da.coords["excitation_energy"].item() + eng.window
    assert da.coords["site"].item() == 0 and da.attrs["edge"] == "K"
    area = np.trapezoid(da.values, da["energy"].values)
    assert area == pytest.approx(sum(da.attrs["stick_strength"]), rel=1e-3)


def test_bad_input_errors():
    with pytest.raises(ParameterError, match="no 'N' atom"):
        core_excitations(H2O, "N", **FAST)
    eng = TDDFTEngine(basis="6-31g", grid_level=1, shifts={"O": 14.0})
    with pytest.raises(ParameterError, match="no calibrated energy shift"):
        TDDFTEngine(basis="6-31g").simulate({"xyz": H2O.to_xyz(), "element": "O"})
    with pytest.raises(ParameterError, match="exactly one"):
        eng.simulate({"element": "O"})
    with pytest.raises(ParameterError, match="element must be one of"):
        eng.simulate({"xyz": H2O.to_xyz(), "element": "Fe"})
    with pytest.raises(ParameterError, match="site 1 is not a O atom"):
        eng.simulate({"xyz": H2O.to_xyz(), "element": "O", "site": 1})
    oh = Molecule(("O", "H"), np.array([[0, 0, 0], [0, 0, 0.97]]))
    with pytest.raises(ParameterError, match="odd electron count"):
        core_excitations(oh, "O", **FAST)
    with pytest.raises(EngineError, match="did not converge"):
        core_excitations(H2O, "O", basis="6-31g", grid_level=1, max_cycle=1)


def test_site_spectra_sum_to_molecular_spectrum():
    eng = TDDFTEngine(basis="6-31g", grid_level=1, shifts={"O": 14.0})
    params = {"xyz": CO2.to_xyz(), "element": "O"}
    per_site = eng.simulate_sites(params)
    total = eng.simulate({**params, "site": "all"})
    assert per_site.dims == ("sample", "energy")
    assert list(per_site["site"].values) == [1, 2]
    assert total.coords["n_sites"].item() == 2
    np.testing.assert_allclose(per_site.sum("sample").values, total.values, atol=1e-10)
    np.testing.assert_allclose(
        total.coords["bond_length"].item(), per_site["bond_length"].values.mean(), atol=1e-12
    )


def test_pyscf_blas_coretype_from_cpu_flags(monkeypatch) -> None:
    """AVX-512 (F/BW/VL/DQ) → SkylakeX kernels, AVX2+FMA → Haswell, else OpenBLAS decides;
    set only while pyscf is not loaded, and a value the user set is never overridden."""
    import os
    import sys

    from xasml.simulate import _pyscf_env

    avx512 = {"avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512dq"}
    assert _pyscf_env.blas_coretype(avx512) == "SkylakeX"
    assert _pyscf_env.blas_coretype({"avx2", "fma", "avx512f"}) == "Haswell"
    assert _pyscf_env.blas_coretype({"sse4_2"}) is None
    monkeypatch.setattr(_pyscf_env, "_cpu_flags", lambda: avx512)
    monkeypatch.delitem(sys.modules, "pyscf", raising=False)  # as before the first import
    monkeypatch.delenv("OPENBLAS_CORETYPE", raising=False)
    _pyscf_env.prepare_pyscf_blas()
    assert os.environ["OPENBLAS_CORETYPE"] == "SkylakeX"
    monkeypatch.setenv("OPENBLAS_CORETYPE", "Zen")
    _pyscf_env.prepare_pyscf_blas()
    assert os.environ["OPENBLAS_CORETYPE"] == "Zen"
    monkeypatch.delenv("OPENBLAS_CORETYPE")
    monkeypatch.setitem(sys.modules, "pyscf", object())  # already loaded: too late to set
    _pyscf_env.prepare_pyscf_blas()
    assert "OPENBLAS_CORETYPE" not in os.environ
