"""The breakdown of predicted peaks into hits and kinds of miss (peak_error_breakdown)."""

from __future__ import annotations

import numpy as np
import pytest

from xasml.errors import InputError, ParameterError
from xasml.learn import peak_error_breakdown, spectral_metrics

E = np.round(np.arange(0.0, 20.0001, 0.01), 2)


def gauss(center: float, height: float = 1.0, sigma: float = 0.15) -> np.ndarray:
    return height * np.exp(-0.5 * ((E - center) / sigma) ** 2)


def test_each_kind_of_miss_is_named() -> None:
    truth = gauss(3.0) + gauss(8.0) + gauss(12.0, 0.02)  # 12 eV: 2 % of the range, not a peak
    pred = (gauss(3.0) + gauss(8.4) + gauss(7.5, 0.8)  # 8.4 pairs with 8; 7.5 is a second peak
            + gauss(12.3, 0.5)                         # on the faint true feature
            + gauss(4.5, 0.5)                          # 1.5 eV from the true peak at 3
            + gauss(17.0, 0.5))                        # nothing near
    b = peak_error_breakdown(E, truth, pred)
    kinds = (b.n_predicted, b.matched, b.duplicate, b.weak, b.shifted, b.spurious)
    assert kinds == (6, 2, 1, 1, 1, 1)
    assert b.precision == pytest.approx(2 / 6)
    assert sum(b.fractions().values()) == pytest.approx(1.0)
    assert "duplicate 1 (16.7 %)" in b.summary()


def test_identical_spectra_are_all_hits_and_no_prediction_is_nan() -> None:
    truth = np.stack([gauss(3.0) + gauss(9.0, 0.5), gauss(6.0)])
    b = peak_error_breakdown(E, truth, truth)
    assert (b.n_predicted, b.matched) == (3, 3)
    flat = peak_error_breakdown(E, truth, np.ones_like(truth))
    assert flat.n_predicted == 0 and np.isnan(flat.precision)


def test_shift_limit_decides_shifted_or_spurious() -> None:
    truth, pred = gauss(5.0), gauss(8.0)  # 3 eV apart
    assert peak_error_breakdown(E, truth, pred).spurious == 1
    assert peak_error_breakdown(E, truth, pred, shift_limit=3.5).shifted == 1


def test_matched_peaks_are_those_of_spectral_metrics() -> None:
    rng = np.random.default_rng(0)
    centres = rng.uniform(1, 19, size=(40, 5))
    truth = np.stack([sum(gauss(c, h) for c, h in zip(cs, rng.uniform(0.2, 1, 5), strict=True))
                      for cs in centres])
    pred = np.stack([sum(gauss(c + d, h) for c, d, h in
                         zip(cs, rng.normal(0, 0.8, 5), rng.uniform(0.2, 1, 5), strict=True))
                     for cs in centres])
    b = peak_error_breakdown(E, truth, pred)
    m = spectral_metrics(E, truth, pred)
    assert (b.n_predicted, b.matched) == (m.n_pred_peaks, m.n_matched)
    assert b.matched + b.duplicate + b.weak + b.shifted + b.spurious == b.n_predicted
    assert b.n_predicted > b.matched > 0  # the noise made misses to sort


def test_bad_settings_and_shapes_are_named() -> None:
    y = gauss(5.0)
    with pytest.raises(ParameterError, match="weak_prominence"):
        peak_error_breakdown(E, y, y, weak_prominence=0.05)
    with pytest.raises(ParameterError, match="shift_limit"):
        peak_error_breakdown(E, y, y, shift_limit=0.5)
    with pytest.raises(ParameterError, match="tolerance"):
        peak_error_breakdown(E, y, y, tolerance=0)
    with pytest.raises(InputError, match="shape"):
        peak_error_breakdown(E, y, y[:-1])
