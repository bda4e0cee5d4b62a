"""Alignment, smoothing, derivatives, scaling, augmentation and the demo."""

from __future__ import annotations

import numpy as np
import pytest

from xasml import ParameterError, SpectrumError, spectrum, stack
from xasml.preprocess import (
    align_at_excitation,
    align_edge,
    align_to_reference,
    augment,
    derivative,
    estimate_shift,
    normalize_edge,
    resample,
    scale,
    smooth,
)
from xasml.preprocess._synthetic import synthetic_kedge


def test_align_edge_puts_e0_at_zero_and_threshold_crossing() -> None:
    sp = synthetic_kedge(8979.0)
    out = align_edge(sp)
    assert out.attrs["e0"] == pytest.approx(8979.0, abs=0.05)
    assert np.allclose(out.energy.values, sp.energy.values - out.attrs["e0"])
    norm = normalize_edge(sp)
    half = align_edge(norm, method="threshold", threshold=0.5)
    # the arctan edge crosses half height close to E0 (white line pulls it down a little)
    assert half.attrs["e0"] == pytest.approx(8979.0, abs=0.6)


def test_estimate_shift_recovers_sub_grid_shifts_for_a_set() -> None:
    ref = synthetic_kedge(7112.0, noise=0.0)
    shifts = np.array([-2.37, 0.0, 1.13])
    grid = ref.energy.values
    rows = [resample(synthetic_kedge(7112.0 + s, noise=0.0), grid, outside="edge").values
            for s in shifts]
    st = stack(ref.energy.values, np.array(rows))
    est = estimate_shift(st, ref, emin=7080, emax=7200)
    assert np.allclose(est, -shifts, atol=0.02)
    aligned = align_to_reference(st, ref, emin=7080, emax=7200)
    assert np.allclose(aligned.energy_shift.values, -shifts, atol=0.02)
    inner = (ref.energy > 7090) & (ref.energy < 7200)
    assert np.max(np.abs(aligned.values[:, inner.values] - ref.values[inner.values])) < 0.02


def test_align_at_excitation_zero_pads_below() -> None:
    e = np.arange(100.0, 130.0, 0.05)
    sp = spectrum(e, np.ones_like(e))
    out = align_at_excitation(sp, 100.5)
    assert out.sizes["energy"] == 160
    assert np.all(out.values[out.energy.values < -0.5] == 0.0)
    assert np.all(out.values[out.energy.values >= -0.5] == 1.0)
    with pytest.raises(SpectrumError, match="above the data end"):
        align_at_excitation(sp, 120.0)


def test_smooth_derivative_scale() -> None:
    e = np.arange(0.0, 50.0, 0.1)
    quad = spectrum(e, 0.5 * e**2 + 2 * e)
    assert np.allclose(smooth(quad, 2.0).values, quad.values)  # SG keeps quadratics
    assert np.allclose(derivative(quad).values[1:-1], e[1:-1] + 2)
    assert np.allclose(derivative(quad, order=2).values[5:-5], 1.0)
    g = spectrum(e, np.exp(-0.5 * ((e - 25) / 2) ** 2) * 3)
    assert scale(g).values.max() == pytest.approx(1.0)
    assert np.trapezoid(scale(g, "area").values, e) == pytest.approx(1.0)
    with pytest.raises(SpectrumError, match="uniform"):
        smooth(spectrum(np.r_[e, 60.0], np.r_[e, 60.0]), 1.0)
    with pytest.raises(ParameterError, match="width"):
        smooth(quad, -1)


def test_augment_is_reproducible_and_bounded() -> None:
    sp = synthetic_kedge(7112.0, noise=0.0)
    st = stack(sp.energy.values, np.vstack([sp.values, 2 * sp.values]), labels={"cn": [4, 6]})
    a = augment(st, copies=3, noise=0.01, shift=1.0, fwhm=1.0, random_state=42)
    b = augment(st, copies=3, noise=0.01, shift=1.0, fwhm=1.0, random_state=42)
    assert a.identical(b)
    assert a.sizes["sample"] == 6 and a.cn.values.tolist() == [4, 4, 4, 6, 6, 6]
    assert not np.allclose(a.values[0], a.values[1])
    plain = augment(st, copies=1)
    assert np.array_equal(plain.values, st.values)
    noisy = augment(sp, copies=200, noise=0.01, random_state=0)
    resid = noisy.values - sp.values
    assert resid.std() == pytest.approx(0.01 * sp.values.max(), rel=0.05)
