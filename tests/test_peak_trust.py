"""Peak trust: the members' disagreement on peak positions and risk-coverage scores."""

from __future__ import annotations

import numpy as np
import pytest

from xasml.errors import InputError, ParameterError
from xasml.learn import (
    peak_position_spread,
    relative_std,
    selective_peak_scores,
    spectral_metrics,
)

E = np.round(np.arange(0.0, 20.0001, 0.01), 2)


def gauss(center: float, sigma: float = 1.0) -> np.ndarray:
    return np.exp(-0.5 * ((E - center) / sigma) ** 2)


def test_spread_is_the_distance_from_the_mean_peak_to_each_member_peak() -> None:
    # two members 0.6 eV apart: their (unimodal) mean peaks half-way, 0.3 eV from each
    split = np.stack([gauss(5.0), gauss(5.6)])
    same = np.stack([gauss(12.0), gauss(12.0)])
    flat_member = np.stack([gauss(8.0), np.zeros_like(E)])
    members = np.stack([split, same, flat_member], axis=1)  # (2 models, 3 spectra, n)
    spread = peak_position_spread(E, members)
    assert spread[0] == pytest.approx(0.3, abs=0.011)
    assert spread[1] == 0.0
    # a member with no peak is the whole range away
    assert spread[2] == pytest.approx(E[-1] - E[0])
    # a mean with no peak claims nothing
    assert peak_position_spread(E, np.zeros((3, 1, E.size)))[0] == 0.0


def test_spread_rejects_bad_members() -> None:
    with pytest.raises(InputError, match="at least 2 members"):
        peak_position_spread(E, np.zeros((1, 2, E.size)))
    with pytest.raises(InputError, match=r"\(n_models, n_spectra, 2001\)"):
        peak_position_spread(E, np.zeros((2, E.size)))
    bad = np.zeros((2, 1, E.size))
    bad[0, 0, 3] = np.nan
    with pytest.raises(InputError, match="NaN"):
        peak_position_spread(E, bad)


def test_selective_scores_keep_the_least_uncertain_spectra() -> None:
    truth = np.stack([gauss(5.0), gauss(5.0), gauss(5.0), gauss(5.0)])
    # spectra 0 and 2 right, 1 and 3 predicted 3 eV off
    pred = np.stack([gauss(5.0), gauss(8.0), gauss(5.2), gauss(2.0)])
    m = spectral_metrics(E, truth, pred)
    uncertainty = np.array([0.1, 2.0, 0.2, 1.0])
    s = selective_peak_scores(m, uncertainty, coverages=(1.0, 0.75, 0.5, 0.25))
    np.testing.assert_array_equal(s.n_spectra, [4, 3, 2, 1])
    np.testing.assert_allclose(s.threshold, [2.0, 1.0, 0.2, 0.1])
    # full coverage reproduces the plain scores
    assert s.precision[0] == pytest.approx(m.precision) == 0.5
    assert s.fraction_within[0] == pytest.approx(m.fraction_within)
    np.testing.assert_allclose(s.precision, [0.5, 2 / 3, 1.0, 1.0])
    np.testing.assert_allclose(s.fraction_within, [0.5, 2 / 3, 1.0, 1.0])
    # an uninformative ranking (reversed) does the opposite
    worst = selective_peak_scores(m, -uncertainty, coverages=(0.5,))
    assert worst.precision[0] == 0.0


def test_selective_scores_reject_bad_input() -> None:
    m = spectral_metrics(E, np.stack([gauss(5.0)] * 2), np.stack([gauss(5.0)] * 2))
    with pytest.raises(InputError, match=r"shape \(2,\)"):
        selective_peak_scores(m, [0.1, 0.2, 0.3])
    with pytest.raises(InputError, match="NaN"):
        selective_peak_scores(m, [0.1, np.nan])
    with pytest.raises(ParameterError, match="coverages"):
        selective_peak_scores(m, [0.1, 0.2], coverages=(0.0,))


def test_relative_std_is_the_mean_std_over_the_range() -> None:
    mean = np.array([[0.0, 2.0, 1.0], [1.0, 1.0, 1.0]])
    std = np.array([[0.3, 0.3, 0.6], [0.1, 0.1, 0.1]])
    np.testing.assert_allclose(relative_std(mean, std), [0.2, np.inf])
    with pytest.raises(InputError, match="same shape"):
        relative_std(mean, std[:, :2])
    with pytest.raises(InputError, match="NaN"):
        relative_std(mean, np.full_like(std, np.nan))
