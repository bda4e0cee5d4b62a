"""Simulation → measurement gap: shift/broadening fits recover known values."""

from __future__ import annotations

import numpy as np
import pytest

from xasml.datamodel import spectrum, stack
from xasml.errors import ParameterError
from xasml.preprocess import (
    broaden,
    edge_slope_fwhm,
    fit_domain_gap,
    fit_shift_broadening,
    harmonize,
)
from xasml.preprocess._synthetic import synthetic_kedge


def _sharp(e: np.ndarray, e0: float = 8985.0, wl: float = 4.0) -> np.ndarray:
    """A normalised FEFF-like K edge: arctan step, a narrow white line, one wiggle."""
    x = e - e0
    return (0.5 + np.arctan(x / 0.7) / np.pi + 0.6 * np.exp(-0.5 * ((x - wl) / 0.8) ** 2)
            + 0.15 * np.exp(-0.5 * ((x - 14.0) / 1.5) ** 2))


def test_shift_and_broadening_are_recovered() -> None:
    e_sim = np.arange(8960.0, 9060.0, 0.2)
    sim = spectrum(e_sim, _sharp(e_sim), element="Cu", edge="K", signal="mu")
    # "measured": the simulation broadened by 3 eV FWHM, moved up 2.3 eV, on another grid
    wide = broaden(sim, 3.0)
    e_meas = np.arange(8970.0, 9040.0, 0.37)
    y = np.interp(e_meas - 2.3, e_sim, wide.values)
    y = y + np.random.default_rng(0).normal(0, 0.003, y.size)
    meas = spectrum(e_meas, y, element="Cu", edge="K", signal="mu")
    fit = fit_shift_broadening(sim, meas, emin=8975.0, emax=9030.0)
    assert fit.shift == pytest.approx(2.3, abs=0.1)
    assert fit.fwhm == pytest.approx(3.0, abs=0.3)
    assert fit.rmse < 0.006  # about the noise level
    # no gap: zero shift and zero width
    same = fit_shift_broadening(sim, sim, fwhms=np.arange(0.0, 4.01, 0.5))
    assert same.shift == pytest.approx(0.0, abs=0.02) and same.fwhm == pytest.approx(0.0, abs=0.1)


def test_domain_gap_picks_the_true_width_and_shift_without_labels() -> None:
    e = np.arange(8950.0, 9060.0, 0.25)
    wls = np.linspace(2.0, 9.0, 15)  # a family of simulations: white-line position varies
    sims = stack(e, np.array([_sharp(e, wl=w) for w in wls]), labels={"wl": wls},
                 element="Cu", edge="K", signal="mu")
    meas = broaden(sims.isel(sample=[2, 7, 11]), 2.0)
    meas = meas.assign_coords(energy=meas["energy"].values + 1.5)  # calibration offset
    grid = np.arange(8970.0, 9030.0, 0.5)
    gap = fit_domain_gap(sims, meas, grid, fwhms=(0.0, 1.0, 2.0, 3.0, 4.0),
                         shifts=(-1.5, 0.0, 1.5, 3.0), align="none", normalize_measured=False)
    assert (gap.fwhm, gap.shift) == (2.0, 1.5)
    assert gap.score.shape == (5, 4) and gap.score.min() < 1e-3
    # edge alignment removes the offset: only the width matters then
    rel = np.arange(-10.0, 40.0, 0.5)
    gap = fit_domain_gap(sims, meas, rel, fwhms=(0.0, 1.0, 2.0, 3.0), normalize_measured=False)
    assert gap.fwhm == 2.0 and gap.score.shape == (4, 1)


def test_edge_slope_fwhm_recovers_the_instrument_width() -> None:
    e = np.arange(8950.0, 9060.0, 0.2)
    wls = np.linspace(2.0, 9.0, 8)
    sims = stack(e, np.array([_sharp(e, wl=w) for w in wls]), labels={"wl": wls},
                 element="Cu", edge="K", signal="mu")
    meas = broaden(sims.isel(sample=[1, 4, 6]), 1.5)
    meas = meas.assign_coords(energy=meas["energy"].values - 4.0)  # calibration is irrelevant
    fw = edge_slope_fwhm(sims, meas, normalize_measured=False)
    assert fw == pytest.approx(1.5, abs=0.2)
    assert edge_slope_fwhm(sims, sims, normalize_measured=False) == pytest.approx(0.0, abs=0.1)


def test_harmonize_normalises_and_aligns_a_measured_edge() -> None:
    raw = synthetic_kedge(8979.0, noise=0.0)
    grid = np.arange(-20.0, 60.0, 0.5)
    out = harmonize(raw, grid, normalize=True)
    assert out.dims == ("sample", "energy") and out.sizes["energy"] == grid.size
    assert float(out["e0"].values[0]) == pytest.approx(8979.0, abs=1.0)
    assert float(out.sel(energy=0.0).values[0]) == pytest.approx(0.5, abs=0.03)
    assert float(out.sel(energy=45.0, method="nearest").values[0]) == pytest.approx(1.0, abs=0.1)
    assert raw.dims == ("energy",)  # input untouched
    absolute = harmonize(raw, 8979.0 + grid, normalize=True, align="none", shift=2.0)
    # shifted by +2 eV: half-step now at 8981
    assert float(np.interp(0.5, absolute.values[0][:60], 8979.0 + grid[:60])) == pytest.approx(
        8981.0, abs=1.0)


def test_bad_parameters_are_named() -> None:
    sp = spectrum(np.arange(0.0, 50.0, 0.5), np.linspace(0, 1, 100))
    with pytest.raises(ParameterError, match="fwhms"):
        fit_shift_broadening(sp, sp, fwhms=[2.0, 1.0])
    with pytest.raises(ParameterError, match="align"):
        harmonize(sp, np.arange(0.0, 10.0), align="sideways")  # type: ignore[arg-type]
