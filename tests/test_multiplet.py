"""Multiplet L2,3 engine: reference route, physics limits, invariants, bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("edrixs")

from xasml.errors import ParameterError
from xasml.simulate._ed import blocked_sticks, plain_edrixs_xas
from xasml.simulate._sticks import Sticks, broaden
from xasml.simulate.base import get_engine
from xasml.simulate.multiplet import (
    MultipletEngine,
    _coefficients,
    ion_data,
    model_inputs,
    resolve_params,
)

D4H = {"symmetry": "D4h", "tendq": 1.5, "ds": 0.1, "dt": 0.05}


@pytest.fixture(scope="module")
def engine() -> MultipletEngine:
    """One engine per module: its per-d-count term cache serves every test."""
    return MultipletEngine()


def _raw(engine, params, *, zero=(), components=(0, 1, 2), temperature=None):
    """Relative sticks with chosen Hamiltonian terms switched off."""
    p = resolve_params(params)
    data = ion_data(p["ion"])
    coef_i, coef_n = _coefficients(model_inputs(data, p))
    for name in zero:
        coef_i[name] = 0.0
        coef_n[name] = 0.0
    t = p["temperature"] if temperature is None else temperature
    return blocked_sticks(engine._model(data.n_d), coef_i, coef_n, t, 1e-8, components)


# --- reference: edrixs's plain dense route -----------------------------------


@pytest.mark.parametrize("ion", ["Mn2+", "Mn3+", "Mn4+"])
@pytest.mark.parametrize("cf", [{"tendq": 1.2}, D4H], ids=["Oh", "D4h"])
def test_equals_plain_edrixs_route(engine, ion, cf):
    params = {"ion": ion, **cf}
    sticks = engine.sticks(params)
    data = ion_data(ion)
    p = resolve_params(params)
    omega = np.linspace(sticks.energies.min() - 2, sticks.energies.max() + 2, 121)
    ours = broaden(sticks, omega, gamma_l3=0.6, gamma_l2=0.6, fwhm_gauss=0.0)
    ref = plain_edrixs_xas(
        data.n_d,
        model_inputs(data, p),
        omega - data.offset,
        gamma_hwhm=0.3,
        temperature=p["temperature"],
    )
    assert np.max(np.abs(ours - ref)) <= 1e-6 * np.max(ref)


def test_blocks_are_real_and_jz_blocked(engine):
    model = engine._model(5)
    assert model.is_real
    assert sorted(b.size for b in model.intermediate.blocks) == [314, 314, 316, 316]
    assert sum(b.size for b in model.initial.blocks) == 252


# --- physics limits with known answers ---------------------------------------


def test_integrated_intensity_counts_3d_holes(engine):
    totals = [engine.sticks({"ion": ion, "tendq": 0.9}).total for ion in ("Mn2+", "Mn3+", "Mn4+")]
    # Σ weights = (number of 3d holes)/3 in edrixs's normalisation: 5 : 6 : 7.
    np.testing.assert_allclose(totals, np.array([5, 6, 7]) / 3, rtol=1e-10)


@pytest.mark.parametrize("ion", ["Mn2+", "Mn3+"])
def test_statistical_branching_ratio_without_core_valence_coupling(engine, ion):
    # No 2p–3d Coulomb and no 3d spin-orbit: the 2p hole is a pure j state and
    # the L3 : L2 intensity is the 2j+1 ratio 4 : 2.
    _, w, l3 = _raw(engine, {"ion": ion, "tendq": 0.0}, zero=("F2_dp", "G1_dp", "G3_dp", "soc_d"))
    np.testing.assert_allclose(l3[w > 1e-12], np.rint(l3[w > 1e-12]), atol=1e-10)
    np.testing.assert_allclose(w[l3 > 0.5].sum() / w.sum(), 2 / 3, rtol=1e-10)


def test_bare_core_spin_orbit_gives_two_lines_split_by_three_halves_zeta(engine):
    keep_only_soc_p = (
        "F0_dd",
        "F2_dd",
        "F4_dd",
        "F0_dp",
        "F2_dp",
        "G1_dp",
        "G3_dp",
        "soc_d",
        "cf_10dq",
    )
    e, w, _ = _raw(engine, {"ion": "Mn2+", "tendq": 0.0}, zero=keep_only_soc_p)
    zeta = ion_data("Mn2+").soc_p
    lines = np.unique(np.round(e[w > 1e-12], 8))
    np.testing.assert_allclose(lines, [-zeta / 2, zeta], atol=1e-8)


def test_d4h_with_zero_ds_dt_equals_oh(engine):
    oh = engine.simulate({"ion": "Mn3+", "tendq": 1.1})
    d4h = engine.simulate({"ion": "Mn3+", "tendq": 1.1, "symmetry": "D4h"})
    np.testing.assert_allclose(d4h.values, oh.values, rtol=1e-12, atol=0)


def test_cubic_crystal_has_no_linear_dichroism_and_d4h_is_uniaxial(engine):
    # Rotational averaging: in Oh the x, y and z spectra coincide with the
    # powder average; in D4h x = y ≠ z and (x + y + z)/3 is the powder average.
    grid = np.linspace(630, 665, 200)

    def spec(params, comps):
        e, w, l3 = _raw(engine, params, components=comps)
        s = Sticks(e, w, np.where(l3 > 0.5, "L3", "L2"), l3)
        return broaden(
            s, grid - ion_data(params["ion"]).offset, gamma_l3=0.4, gamma_l2=0.8, fwhm_gauss=0.2
        )

    oh = {"ion": "Mn3+", "tendq": 1.2}
    iso = spec(oh, (0, 1, 2))
    for k in range(3):
        np.testing.assert_allclose(spec(oh, (k,)), iso, rtol=0, atol=1e-9 * iso.max())
    d4 = {"ion": "Mn3+", **D4H}
    x, y, z = (spec(d4, (k,)) for k in range(3))
    np.testing.assert_allclose(x, y, rtol=0, atol=1e-9 * x.max())
    assert np.max(np.abs(x - z)) > 1e-2 * x.max()
    np.testing.assert_allclose((x + y + z) / 3, spec(d4, (0, 1, 2)), rtol=0, atol=1e-9 * x.max())


def test_zero_temperature_is_the_ground_state_limit(engine):
    # D4h Mn4+: a Kramers ground doublet, the next doublet 0.69 meV (8 K) above.
    cold = engine.sticks({"ion": "Mn4+", **D4H, "temperature": 0.0})
    almost = engine.sticks({"ion": "Mn4+", **D4H, "temperature": 0.3})
    warm = engine.sticks({"ion": "Mn4+", **D4H, "temperature": 300.0})
    grid = np.linspace(630, 665, 351)

    def b(s):
        return broaden(s, grid, gamma_l3=0.4, gamma_l2=0.8, fwhm_gauss=0.2)

    np.testing.assert_allclose(b(almost), b(cold), rtol=0, atol=1e-8 * b(cold).max())
    assert np.max(np.abs(b(warm) - b(cold))) > 1e-3 * b(cold).max()
    assert cold.total == pytest.approx(almost.total, rel=1e-12)


def test_broadening_preserves_the_sum_rule(engine):
    sticks = engine.sticks({"ion": "Mn2+", "tendq": 0.9})
    # Fine where the sticks are, coarse in the Lorentzian tails.
    wide = np.concatenate(
        [np.arange(150.0, 600.0, 0.5), np.arange(600.0, 700.0, 0.01), np.arange(700.0, 1150.0, 0.5)]
    )
    gauss = broaden(sticks, wide, gamma_l3=0.0, gamma_l2=0.0, fwhm_gauss=0.3)
    assert np.trapezoid(gauss, wide) == pytest.approx(sticks.total, rel=1e-9)
    voigt = broaden(sticks, wide, gamma_l3=0.4, gamma_l2=0.8, fwhm_gauss=0.3)
    # Lorentzian tails beyond ±500 eV hold ~3e-4 of the area.
    assert np.trapezoid(voigt, wide) == pytest.approx(sticks.total, rel=1e-3)


# --- engine API ---------------------------------------------------------------


def test_simulate_grid_attrs_and_registry(engine):
    da = engine.simulate({"ion": "Mn2+", "tendq": 0.9})
    assert da.dims == ("energy",)
    assert da.energy.values[0] == pytest.approx(630.7)
    assert da.energy.values[-1] == pytest.approx(659.9)
    assert np.allclose(np.diff(da.energy.values), 0.1)
    assert da.attrs["engine"] == "multiplet" and da.attrs["element"] == "Mn"
    params = json.loads(da.attrs["parameters"])
    assert params["tendq"] == 0.9 and params["slater_scale"] == 0.8
    assert params["gamma_l3"] == pytest.approx(0.42)  # 2 × edrixs HWHM
    assert json.loads(da.attrs["provenance"])["edrixs_version"]
    # L3 white line of Mn2+ in Oh sits at ~640 eV on the absolute scale.
    assert 639.0 < float(da.energy.values[np.argmax(da.values)]) < 642.0
    assert isinstance(get_engine("multiplet"), MultipletEngine)


def test_fixed_grid_and_several_broadenings_from_one_diagonalisation(engine):
    grid = np.linspace(635, 660, 51)
    eng = MultipletEngine(energy=grid)
    sticks = eng.sticks({"ion": "Mn4+", "tendq": 2.5})
    a = eng.spectrum_from_sticks(sticks, {"ion": "Mn4+", "fwhm_gauss": 0.1})
    b = eng.spectrum_from_sticks(sticks, {"ion": "Mn4+", "fwhm_gauss": 0.5})
    np.testing.assert_array_equal(a.energy.values, grid)
    assert a.max() > b.max()
    with pytest.raises(AttributeError):
        sticks.energies = sticks.energies  # type: ignore[misc]


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"ion": "Xx2+"}, "allowed elements"),
        ({"ion": "Zn2+"}, "allowed elements"),
        ({"ion": "Mn7+"}, "allowed: Mn2\\+"),
        ({"ion": "Cu1+"}, "charge \\+1"),
        ({"ion": "Mn2"}, "ion must look like"),
        ({"ion": "Mn2+", "gamma_l3": -0.1}, "gamma_l3"),
        ({"ion": "Mn2+", "fwhm_gauss": -1}, "fwhm_gauss"),
        ({"ion": "Mn2+", "temperature": -5}, "temperature"),
        ({"ion": "Mn2+", "ds": 0.1}, "symmetry='D4h'"),
        ({"ion": "Mn2+", "symmetry": "Td"}, "symmetry must be one of"),
        ({"ion": "Mn2+", "tenDq": 1.0}, "unknown multiplet parameter"),
        ({"tendq": 1.0}, "'ion' is required"),
        ({"ion": "Mn2+", "tendq": "big"}, "tendq must be a number"),
    ],
)
def test_bad_input_raises_parameter_error(params, match):
    with pytest.raises(ParameterError, match=match):
        resolve_params(params)


def test_other_3d_ions_run(engine):
    for ion in ("Ti4+", "Ni2+", "Cu2+", "Fe3+"):
        s = engine.sticks({"ion": ion, "tendq": 1.0})
        n_holes = 10 - ion_data(ion).n_d
        assert s.total == pytest.approx(n_holes / 3, rel=1e-10)
