"""Resampling and broadening: known widths, areas and grid rules."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import peak_widths

from xasml import ParameterError, SpectrumError, spectrum, stack
from xasml.preprocess import KIYOHARA_GRID, broaden, resample

FWHM_PER_SIGMA = 2 * np.sqrt(2 * np.log(2))


def _fwhm(e: np.ndarray, y: np.ndarray) -> float:
    i = int(np.argmax(y))
    w = peak_widths(y, [i], rel_height=0.5)[0][0]
    return float(w * (e[1] - e[0]))


def test_kiyohara_grid() -> None:
    assert KIYOHARA_GRID.size == 160
    assert KIYOHARA_GRID[0] == -1.0 and KIYOHARA_GRID[-1] == 14.9
    assert np.allclose(KIYOHARA_GRID, np.round(np.arange(-1, 15, 0.1), 10))


def test_resample_linear_exact_and_outside_modes() -> None:
    e = np.linspace(-5, 20, 51)
    sp = spectrum(e, 2 * e + 1)
    out = resample(sp)
    assert np.allclose(out.values, 2 * KIYOHARA_GRID + 1)
    with pytest.raises(SpectrumError, match=r"grid -10 .. 30 eV extends beyond the data -5 .. 20"):
        resample(sp, np.linspace(-10, 30, 5))
    g = np.array([-10.0, 0.0, 30.0])
    assert resample(sp, g, outside="zero").values.tolist() == [0.0, 1.0, 0.0]
    assert resample(sp, g, outside="edge").values.tolist() == [-9.0, 1.0, 41.0]
    assert np.isnan(resample(sp, g, outside="nan").values[[0, 2]]).all()
    with pytest.raises(ParameterError, match="outside"):
        resample(sp, g, outside="clip")  # type: ignore[arg-type]


def test_resample_set_keeps_labels_and_dim_order() -> None:
    e = np.linspace(0, 10, 11)
    st = stack(e, np.vstack([e, 2 * e]), labels={"charge": [2, 3]})
    out = resample(st.transpose("energy", "sample"), np.array([0.5, 9.5]))
    assert out.dims == ("energy", "sample")
    assert out.charge.values.tolist() == [2, 3]
    assert np.allclose(out.values, [[0.5, 1.0], [9.5, 19.0]])


def _nonuniform(lo: float = -40, hi: float = 40) -> np.ndarray:
    rng = np.random.default_rng(1)
    return np.unique(np.concatenate([np.linspace(lo, hi, 1601), rng.uniform(lo, hi, 500)]))


@pytest.mark.parametrize("profile", ["gaussian", "lorentzian"])
def test_broadening_a_delta_gives_the_profile_width_and_conserves_area(profile: str) -> None:
    e = np.arange(-40, 40.001, 0.02)
    y = np.zeros_like(e)
    y[e.size // 2] = 1 / 0.02  # unit-area delta
    out = broaden(spectrum(e, y), 1.5, profile=profile)  # type: ignore[arg-type]
    assert _fwhm(e, out.values) == pytest.approx(1.5, rel=0.01)
    inside = 1.0 if profile == "gaussian" else 2 / np.pi * np.arctan(40 / 0.75)
    assert np.trapezoid(out.values, e) == pytest.approx(inside, rel=1e-4)


def test_gaussian_widths_add_in_quadrature_on_a_nonuniform_grid() -> None:
    e = _nonuniform()
    w0 = 1.0
    y = np.exp(-0.5 * (e / (w0 / FWHM_PER_SIGMA)) ** 2)
    out = broaden(spectrum(e, y), 2.0).values
    u = np.linspace(-40, 40, 8001)
    assert _fwhm(u, np.interp(u, e, out)) == pytest.approx(np.hypot(1.0, 2.0), rel=0.005)
    assert np.trapezoid(out, e) == pytest.approx(np.trapezoid(y, e), rel=1e-4)


def test_voigt_of_delta_matches_scipy_and_energy_dependent_width() -> None:
    from scipy.special import voigt_profile

    e = np.arange(-30, 30.001, 0.05)
    y = np.zeros_like(e)
    y[e.size // 2] = 1 / 0.05
    out = broaden(spectrum(e, y), 1.0, profile="voigt", lorentzian_fwhm=0.6).values
    ref = voigt_profile(e, 1.0 / FWHM_PER_SIGMA, 0.3)
    assert np.max(np.abs(out - ref)) < 0.01 * ref.max()
    # width growing with energy: two deltas get their own widths, areas kept
    y2 = np.zeros_like(e)
    y2[[200, 1000]] = 1 / 0.05
    out2 = broaden(spectrum(e, y2), lambda en: 0.5 + 0.1 * (en + 30)).values
    left, right = out2[: e.size // 2], out2[e.size // 2 :]
    assert _fwhm(e[: e.size // 2], left) == pytest.approx(0.5 + 0.1 * (e[200] + 30), rel=0.02)
    assert _fwhm(e[e.size // 2 :], right) == pytest.approx(0.5 + 0.1 * (e[1000] + 30), rel=0.02)
    assert np.trapezoid(out2, e) == pytest.approx(2.0, rel=1e-3)


def test_broaden_bad_width_and_map() -> None:
    e = np.linspace(0, 10, 101)
    sp = spectrum(e, np.exp(-((e - 5) ** 2)))
    with pytest.raises(ParameterError, match="fwhm"):
        broaden(sp, -1.0)
    with pytest.raises(ParameterError, match="lorentzian_fwhm"):
        broaden(sp, 1.0, profile="voigt")
    import xarray as xr

    m = xr.DataArray(np.broadcast_to(sp.values, (2, 3, 101)).copy(), dims=("y", "x", "energy"),
                     coords={"energy": e})
    out = broaden(m, 0.5)
    assert out.dims == ("y", "x", "energy")
    assert np.allclose(out.values[1, 2], broaden(sp, 0.5).values)
    assert broaden(sp, 0.0).identical(sp)
