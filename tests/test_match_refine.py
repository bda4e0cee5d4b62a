"""MatchedEstimator, interpolate_value, fit_spectrum, SticksModel: known answers.

Tolerances:
* Gaussian widths add in quadrature, so broadening a Gaussian of FWHM 0.3 by
  0.4 gives 0.5 eV (to the grid's discretisation, 1e-3).
* The nuisance search steps 0.02 eV in shift and 0.1 eV in width and refines
  by a parabola: a clean spectrum's shift is found within half a shift step
  (0.01 eV), its extra width within 0.05 eV (half a width step).
* Projection onto a segment is exact for points that vary linearly with the
  value; multiplet spectra between 10Dq grid points 0.1 eV apart are not
  linear, so the matched read-out of 10Dq 1.23 is asked within 0.03 eV
  (under a third of a step; the nearest grid point alone is 0.03 off and the
  un-matched estimator is far off: > 0.1 eV).
* The least-squares fit with the engine itself recovers a clean Mn2+
  spectrum's 10Dq within 0.01 eV (SticksModel interpolates between 0.005 eV
  nodes).
"""

from __future__ import annotations

import numpy as np
import pytest

from _synthetic_mn import GRID, training_stack
from xasml.datamodel import spectrum, stack
from xasml.errors import ParameterError
from xasml.learn import ParameterEstimator
from xasml.learn.match import MatchedEstimator, gaussian_broaden_rows, interpolate_value
from xasml.learn.refine import SticksModel, fit_spectrum

IONS = {2: "Mn2+", 3: "Mn3+"}
TENDQ = np.round(np.arange(0.8, 1.8 + 1e-9, 0.1), 6)


def _fwhm(e: np.ndarray, y: np.ndarray) -> float:
    above = e[y >= y.max() / 2]
    return float(above[-1] - above[0])


def test_gaussian_widths_add_in_quadrature_and_area_is_kept():
    e = np.round(np.arange(-10, 10 + 1e-9, 0.005), 6)
    sigma = 0.3 / (2 * np.sqrt(2 * np.log(2)))
    y = np.exp(-0.5 * (e / sigma) ** 2)[None, :]
    out = gaussian_broaden_rows(e, y, 0.4)[0]
    assert _fwhm(e, out) == pytest.approx(0.5, abs=1e-2)
    assert np.trapezoid(out, e) == pytest.approx(np.trapezoid(y[0], e), rel=1e-6)
    np.testing.assert_array_equal(gaussian_broaden_rows(e, y, 0.0), y)


def test_interpolate_value_is_exact_on_a_line():
    v = np.round(np.arange(0.0, 2.01, 0.1), 6)
    a, b = np.array([1.0, -2.0, 0.5]), np.array([3.0, 0.0, 1.0])
    points = v[:, None] * a + b
    value, std = interpolate_value(1.23 * a + b, points, v)
    assert value == pytest.approx(1.23, abs=1e-12)
    assert std == pytest.approx(0.0, abs=1e-9)
    # Beyond the ends the read-out clips to the end point.
    assert interpolate_value(2.5 * a + b, points, v)[0] == pytest.approx(2.0)


def test_interpolate_value_stays_within_mask_and_other_labels():
    v = np.array([0.0, 1.0, 0.0, 1.0])
    cls = np.array([0, 0, 1, 1])
    points = np.array([[0.0], [1.0], [10.0], [11.0]])
    # Nearest allowed point is index 2 (class 1); the neighbour must be index 3.
    value, _ = interpolate_value(np.array([10.4]), points, v, mask=cls == 1,
                                 others={"cls": cls})
    assert value == pytest.approx(0.4)
    with pytest.raises(ParameterError, match="mask"):
        interpolate_value(np.array([0.0]), points, v, mask=np.zeros(4, bool))


def test_match_recovers_shift_and_width_on_the_toy_model():
    train = training_stack()
    est = MatchedEstimator(estimator=ParameterEstimator(embedding=None)).fit(train)
    i = 40
    y = gaussian_broaden_rows(GRID, train.values[i][None, :], 0.4)[0]
    y = np.interp(GRID - 0.3, GRID, y)  # measured(E) = model(E − 0.3)
    shift, width, best = est.match(spectrum(GRID, y, element="Mn", edge="L2,3"))
    assert shift == pytest.approx(0.3, abs=0.01)
    assert width == pytest.approx(0.4, abs=0.05)
    assert best == i


@pytest.mark.parametrize("bad", [(0.1, 0.2), (0.0, 0.3, 0.2), ()])
def test_matched_estimator_rejects_bad_widths(bad):
    with pytest.raises(ParameterError, match="extra_fwhm"):
        MatchedEstimator(extra_fwhm=bad).fit(training_stack())


def test_fit_spectrum_recovers_a_gaussian_peak_with_calibrated_errors():
    e = np.linspace(-5, 5, 401)

    def model(p):
        return np.exp(-0.5 * ((e - p["centre"]) / p["sigma"]) ** 2)

    rng = np.random.default_rng(0)
    y = 2.5 * model({"centre": 0.37, "sigma": 0.8}) + 0.01 * rng.standard_normal(e.size)
    fit = fit_spectrum(spectrum(e, y), model, {"centre": 0.0, "sigma": 1.0},
                       {"centre": (-1, 1), "sigma": (0.1, 3)})
    assert fit.success
    assert fit.scale == pytest.approx(2.5, rel=1e-2)
    for name, true in (("centre", 0.37), ("sigma", 0.8)):
        assert 0 < fit.errors[name] < 0.01
        assert abs(fit.values[name] - true) < 4 * fit.errors[name]
    assert fit.rms == pytest.approx(0.01, rel=0.15)
    with pytest.raises(ParameterError, match="bounds"):
        fit_spectrum(spectrum(e, y), model, {"centre": 0.0}, {})


# -- with the multiplet engine (one numba warm-up for the module) ------------
@pytest.fixture(scope="module")
def engine():
    pytest.importorskip("edrixs")
    from xasml.simulate.multiplet import MultipletEngine, warm_up

    warm_up()
    return MultipletEngine()


@pytest.fixture(scope="module")
def seed(engine):
    rows, c, t = [], [], []
    for charge, ion in IONS.items():
        for v in TENDQ:
            rows.append(engine.simulate({"ion": ion, "tendq": float(v)}).values)
            c.append(charge)
            t.append(float(v))
    return stack(engine.grid("Mn2+"), np.stack(rows), labels={"charge": c, "tendq": t},
                 element="Mn", edge="L2,3")


@pytest.fixture(scope="module")
def measured(engine):
    # 10Dq off the grid, shifted 0.3 eV, 0.4 eV extra Gaussian width.
    da = engine.simulate({"ion": "Mn3+", "tendq": 1.23, "shift": 0.3,
                          "fwhm_gauss": float(np.hypot(0.2, 0.4))})
    return da.copy(data=da.values)


def test_matched_estimator_recovers_off_grid_multiplet_parameters(seed, measured):
    inner = ParameterEstimator(embedding="pca")
    m = MatchedEstimator(estimator=inner).fit(seed).estimate(measured)
    assert m.shift == pytest.approx(0.3, abs=0.02)
    assert m.extra_fwhm == pytest.approx(0.4, abs=0.05)
    for space in (m.result.spectrum, m.result.embedding):
        assert space is not None
        assert space.predicted_class == 3
        assert space.values["tendq"].mean == pytest.approx(1.23, abs=0.03)
    plain = ParameterEstimator(embedding=None).fit(seed).estimate(measured)
    assert abs(plain.spectrum.values["tendq"].mean - 1.23) > 0.1
    assert "Matched shift +0.3" in m.to_markdown()


def test_sticks_model_matches_the_engine(engine):
    model = SticksModel(engine, {"ion": "Mn3+"}, engine.grid("Mn3+"))
    p = {"tendq": 1.1, "fwhm_gauss": 0.4, "shift": 0.2}
    ref = engine.simulate({"ion": "Mn3+", **p}).values
    np.testing.assert_allclose(model(p), ref, atol=2e-3 * ref.max())


def test_refinement_recovers_off_grid_10dq(engine):
    # Mn2+: its spectrum changes smoothly with 10Dq. (Mn3+ spectra at the default
    # 0.2 eV Gaussian width change unevenly on a 0.01 eV scale of 10Dq, so a local
    # fit can stop ~0.02 eV short; the benchmark measures that case.)
    measured = engine.simulate({"ion": "Mn2+", "tendq": 1.23, "shift": 0.3,
                                "fwhm_gauss": float(np.hypot(0.2, 0.4))})
    model = SticksModel(engine, {"ion": "Mn2+"}, engine.grid("Mn2+"))
    fit = fit_spectrum(measured, model, {"tendq": 1.2, "shift": 0.28, "fwhm_gauss": 0.45},
                       {"tendq": (0.9, 1.5), "shift": (0.0, 0.6), "fwhm_gauss": (0.05, 1.0)})
    assert fit.values["tendq"] == pytest.approx(1.23, abs=0.01)
    assert fit.values["shift"] == pytest.approx(0.3, abs=0.01)
    assert fit.values["fwhm_gauss"] == pytest.approx(np.hypot(0.2, 0.4), abs=0.02)
