"""Peak trust: the members' disagreement on peak positions and risk-coverage scores."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from xasml.errors import InputError, ParameterError
from xasml.learn import (
    calibrate_peak_trust,
    peak_position_spread,
    peak_trust_threshold,
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


def _two_peak_set(n_good: int, n_bad: int):
    """Spectra with peaks at 5 and 12 eV; the bad predictions put both 3 eV off."""
    true = np.tile(gauss(5.0, 0.3) + gauss(12.0, 0.3), (n_good + n_bad, 1))
    pred = true.copy()
    pred[n_good:] = gauss(8.0, 0.3) + gauss(15.0, 0.3)
    return spectral_metrics(E, true, pred, tolerance=1.0)


def test_threshold_keeps_the_longest_prefix_meeting_the_target() -> None:
    metrics = _two_peak_set(10, 4)  # 20 good predicted peaks, then 8 wrong ones
    u = np.r_[np.linspace(0.1, 0.2, 10), np.linspace(0.5, 0.8, 4)]
    t = peak_trust_threshold(metrics, u, 0.95, min_peaks=5)
    assert t.threshold == pytest.approx(0.2) and t.n_spectra == 10
    assert t.coverage == pytest.approx(10 / 14) and t.precision == 1.0
    assert t.n_predicted_peaks == 20 and t.n_calibration == 14
    # one wrong spectrum among 10 right ones: 20/22 = 0.909 passes 0.9, not 0.95
    u2 = np.r_[np.linspace(0.1, 0.2, 10), [0.15, 0.9, 0.95, 0.99]]
    assert peak_trust_threshold(metrics, u2, 0.9, min_peaks=5).n_spectra == 11
    assert peak_trust_threshold(metrics, u2, 0.95, min_peaks=5).threshold == pytest.approx(
        np.linspace(0.1, 0.2, 10)[4])  # the 5 good ones below the bad 0.15
    # ranking backwards: nothing meets the target, and the dict says so in JSON terms
    none = peak_trust_threshold(metrics, -u, 0.95, min_peaks=5)
    assert none.threshold is None and none.coverage == 0.0 and np.isnan(none.precision)
    assert none.to_dict()["threshold"] is None and none.to_dict()["precision"] is None


def test_threshold_with_a_confidence_bound_keeps_fewer_spectra() -> None:
    metrics = _two_peak_set(25, 2)  # 50 good predicted peaks, then 2 spectra of 2 wrong ones
    u = np.arange(27.0)
    # the precision itself takes one wrong spectrum along: 50/52 >= 0.95 > 50/54
    assert peak_trust_threshold(metrics, u, 0.95).n_spectra == 26
    # 50 of 50 has the 90 % Clopper-Pearson lower bound 0.1 ** (1 / 50) = 0.955; 50 of 52, 0.926
    t = peak_trust_threshold(metrics, u, 0.95, confidence=0.9)
    assert (t.n_spectra, t.precision, t.confidence) == (25, 1.0, 0.9)
    # 44 of 44: 0.1 ** (1 / 44) = 0.949 misses 95 %
    short = peak_trust_threshold(_two_peak_set(22, 2), np.arange(24.0), 0.95, confidence=0.9)
    assert short.threshold is None
    with pytest.raises(ParameterError, match="confidence"):
        peak_trust_threshold(metrics, u, 0.95, confidence=0.0)


def test_the_bound_counts_the_spectra_of_one_molecule_as_correlated() -> None:
    metrics = _two_peak_set(25, 2)
    u = np.arange(27.0)
    # the 50 right peaks of 25 molecules pass (above); of 5 molecules they are less
    # evidence: 5 groups give the t-quantile correction (t_49 / t_4) ** 2 = 0.72
    five = np.r_[np.repeat(np.arange(5), 5), [5, 6]]
    assert peak_trust_threshold(metrics, u, 0.95, confidence=0.9,
                                groups=five).threshold is None
    assert peak_trust_threshold(metrics, u, 0.95, confidence=0.9,
                                groups=np.arange(27)).n_spectra == 25
    with pytest.raises(InputError, match=r"one label per spectrum, shape \(27,\)"):
        peak_trust_threshold(metrics, u, 0.95, confidence=0.9, groups=five[:3])


def test_threshold_needs_min_peaks_and_does_not_split_ties() -> None:
    metrics = _two_peak_set(3, 1)
    # 6 good peaks are fewer than 20: no threshold however good
    assert peak_trust_threshold(metrics, np.arange(4.0), 0.95).threshold is None
    # the bad spectrum ties with a good one: the tie is kept or dropped whole
    t = peak_trust_threshold(metrics, np.array([0.1, 0.3, 0.3, 0.3]), 0.95, min_peaks=1)
    assert t.n_spectra == 1 and t.threshold == pytest.approx(0.1)


def test_threshold_rejects_bad_input() -> None:
    metrics = _two_peak_set(2, 0)
    with pytest.raises(ParameterError, match="target_precision"):
        peak_trust_threshold(metrics, np.zeros(2), 1.5)
    with pytest.raises(ParameterError, match="min_peaks"):
        peak_trust_threshold(metrics, np.zeros(2), min_peaks=0)
    with pytest.raises(InputError, match=r"shape \(2,\)"):
        peak_trust_threshold(metrics, np.zeros(3))
    with pytest.raises(InputError, match="NaN"):
        peak_trust_threshold(metrics, np.array([0.1, np.nan]))


class _Ensemble:
    """Two fixed members: what calibrate_peak_trust needs of a fitted model."""

    energy_ = E

    def __init__(self, members: np.ndarray) -> None:
        self.members = members

    def predict_members(self, X):
        return self.members[:, : len(X)]


def test_calibration_ranks_by_relative_std_of_the_members() -> None:
    good = gauss(5.0, 0.3) + gauss(12.0, 0.3)
    bad = gauss(8.0, 0.3) + gauss(15.0, 0.3)
    n = 12
    truth = np.tile(good, (n, 1))
    # members agree on the 8 good predictions and disagree (in height) on the 4 bad ones
    a = np.stack([good] * 8 + [bad] * 4)
    b = np.stack([good] * 8 + [1.5 * bad] * 4)
    t = calibrate_peak_trust(_Ensemble(np.stack([a, b])), list(range(n)), truth,
                             min_peaks=4)
    assert t.n_spectra == 8 and t.precision == 1.0 and t.threshold == 0.0
    with pytest.raises(ParameterError, match="ensemble"):
        calibrate_peak_trust(_Ensemble(a[None]), list(range(n)), truth)
    with pytest.raises(InputError, match="y must have shape"):
        calibrate_peak_trust(_Ensemble(np.stack([a, b])), list(range(n)), truth[:, :10])


def test_calibration_scores_in_ev_when_the_model_only_knows_row_indices() -> None:
    # a model fitted on a bare array has energy_ = 0, 1, 2, ...: a 1-eV tolerance
    # would then be 1 grid step (0.01 eV here) and every 0.5-eV shift a miss
    truth = np.tile(gauss(5.0, 0.3) + gauss(12.0, 0.3), (12, 1))
    shifted = np.tile(gauss(5.5, 0.3) + gauss(12.5, 0.3), (12, 1))
    model = _Ensemble(np.stack([shifted, shifted]))
    model.energy_ = np.arange(E.size, dtype=np.float64)
    assert calibrate_peak_trust(model, list(range(12)), truth, min_peaks=4).threshold is None
    ev = calibrate_peak_trust(model, list(range(12)), truth, energy=E, min_peaks=4)
    assert ev.precision == 1.0 and ev.n_spectra == 12
    stack = xr.DataArray(truth, dims=("sample", "energy"), coords={"energy": E})
    assert calibrate_peak_trust(model, list(range(12)), stack, min_peaks=4) == ev
    # a model that knows its eV grid refuses another one
    with pytest.raises(InputError, match="not the model's grid"):
        calibrate_peak_trust(_Ensemble(np.stack([shifted, shifted])), list(range(12)),
                             truth, energy=E + 1.0)
    with pytest.raises(InputError, match=r"shape \(n_sample, 10\)"):
        calibrate_peak_trust(model, list(range(12)), truth, energy=E[:10])
    with pytest.raises(InputError, match="strictly increasing"):
        calibrate_peak_trust(model, list(range(12)), truth, energy=E[::-1])
    with pytest.raises(ParameterError, match="energies once"):
        calibrate_peak_trust(model, list(range(12)), stack, energy=E)
