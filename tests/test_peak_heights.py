"""Per-peak trust: predicted peaks, their hits and the calibrated relative-height threshold."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from xasml.errors import InputError, ParameterError
from xasml.learn import (
    calibrate_peak_heights,
    find_predicted_peaks,
    peak_height_threshold,
    peak_hits,
    spectral_metrics,
)

E = np.round(np.arange(0.0, 20.0001, 0.01), 2)


def gauss(center: float, height: float = 1.0, sigma: float = 0.3) -> np.ndarray:
    return height * np.exp(-0.5 * ((E - center) / sigma) ** 2)


def test_peaks_carry_their_energy_and_height_relative_to_the_range() -> None:
    two = 0.1 + gauss(5.0) + gauss(12.0, 0.4)  # baseline 0.1: range 1.0
    flat = np.full(E.size, 0.3)
    one = gauss(8.0, 2.0)
    pk = find_predicted_peaks(E, np.stack([two, flat, one]))
    np.testing.assert_array_equal(pk.spectrum, [0, 0, 2])
    np.testing.assert_allclose(pk.energy, [5.0, 12.0, 8.0])
    np.testing.assert_allclose(pk.relative_height, [1.0, 0.4, 1.0], atol=1e-9)
    np.testing.assert_array_equal(pk.counts(), [2, 0, 1])
    padded = pk.padded()
    assert padded.shape == (3, 2)
    np.testing.assert_allclose(padded[0], [5.0, 12.0])
    assert np.isnan(padded[1]).all() and padded[2, 0] == 8.0 and np.isnan(padded[2, 1])
    flags = pk.padded(np.array([True, False, True]), fill=False)
    assert flags.dtype == bool
    np.testing.assert_array_equal(flags, [[True, False], [False, False], [True, False]])
    # a peak below the prominence is no peak: 0.4 of the range < 0.5
    assert find_predicted_peaks(E, two, prominence=0.5).energy.tolist() == [5.0]
    none = find_predicted_peaks(E, flat[None])
    assert none.energy.size == 0 and none.padded().shape == (1, 0)


def test_hits_pair_one_to_one_exactly_as_the_peak_metric_counts() -> None:
    rng = np.random.default_rng(3)
    truth, pred = [], []
    for _ in range(25):
        centres = rng.uniform(2, 18, size=4)
        truth.append(sum(gauss(c, h) for c, h in zip(centres, rng.uniform(0.2, 1, 4),
                                                      strict=True)))
        moved = centres + rng.normal(0, 1.0, size=4)  # some within 1 eV, some not
        pred.append(sum(gauss(c, h) for c, h in zip(moved, rng.uniform(0.2, 1, 4),
                                                     strict=True)))
    truth, pred = np.array(truth), np.array(pred)
    pk = find_predicted_peaks(E, pred)
    hit, n_true = peak_hits(E, truth, pk)
    m = spectral_metrics(E, truth, pred)
    assert hit.size == m.n_pred_peaks and n_true.sum() == m.n_true_peaks
    assert hit.sum() == m.n_matched and 0 < hit.sum() < hit.size
    np.testing.assert_array_equal(np.bincount(pk.spectrum[hit], minlength=25),
                                  m.peak_counts[:, 2])
    # two predicted peaks near one true peak: only one of them is a hit
    pair = find_predicted_peaks(E, gauss(5.0) + gauss(5.8))
    assert peak_hits(E, gauss(5.4)[None], pair)[0].sum() == 1
    with pytest.raises(InputError, match="holds 2 spectra; the peaks are of 1"):
        peak_hits(E, np.stack([truth[0], truth[1]]), pair)
    with pytest.raises(ParameterError, match="tolerance"):
        peak_hits(E, truth, pk, tolerance=0)


def _calibration_set() -> tuple[np.ndarray, np.ndarray]:
    """10 spectra: a tall predicted peak on the truth, a small one 3 eV off it."""
    truth = np.tile(gauss(5.0), (10, 1))
    small = np.linspace(0.10, 0.19, 10)  # relative heights of the spurious peaks
    pred = np.stack([gauss(5.0) + gauss(15.0, h) for h in small])
    return truth, pred


def test_threshold_keeps_the_tallest_peaks_that_meet_the_target() -> None:
    truth, pred = _calibration_set()
    pk = find_predicted_peaks(E, pred)
    hit, n_true = peak_hits(E, truth, pk)
    assert hit.sum() == 10 and hit.size == 20  # 50 % precision over all peaks
    t = peak_height_threshold(pk, hit, n_true, 0.95, min_peaks=5)
    # all 10 tall peaks (relative height 1) are hits, every small one a miss
    assert t.threshold == pytest.approx(1.0, abs=1e-6)
    assert (t.n_kept, t.precision, t.coverage, t.fraction_within) == (10, 1.0, 0.5, 1.0)
    assert t.n_predicted_peaks == 20 and t.n_true_peaks == 10 and t.n_calibration == 10
    # for 2/3 precision the 5 tallest small peaks may come in: 10 hits / 15 peaks
    t2 = peak_height_threshold(pk, hit, n_true, 2 / 3, min_peaks=5)
    assert t2.n_kept == 15 and t2.precision == pytest.approx(2 / 3)
    small_rel = pk.relative_height[~hit]
    assert t2.threshold == pytest.approx(np.sort(small_rel)[-5])
    # a set smaller than min_peaks never sets a threshold
    none = peak_height_threshold(pk, hit, n_true, 0.95, min_peaks=11)
    assert none.threshold is None and none.n_kept == 0 and np.isnan(none.precision)
    assert none.to_dict()["precision"] is None
    with pytest.raises(ParameterError, match="target_precision"):
        peak_height_threshold(pk, hit, n_true, 0.0)
    with pytest.raises(ParameterError, match="min_peaks"):
        peak_height_threshold(pk, hit, n_true, min_peaks=0)
    with pytest.raises(InputError, match=r"one flag per predicted peak, shape \(20,\)"):
        peak_height_threshold(pk, hit[:3], n_true)


def test_threshold_never_splits_tied_heights() -> None:
    # three peaks of equal height, one of them a miss: kept together or not at all
    truth = np.stack([gauss(5.0), gauss(5.0), gauss(5.0)])
    pred = np.stack([gauss(5.0), gauss(5.0), gauss(9.0)])
    pk = find_predicted_peaks(E, pred)
    hit, n_true = peak_hits(E, truth, pk)
    assert peak_height_threshold(pk, hit, n_true, 0.9, min_peaks=1).threshold is None
    assert peak_height_threshold(pk, hit, n_true, 0.6, min_peaks=1).n_kept == 3


def _ranked_peaks(n_hits: int, n_misses: int):
    """``n_hits`` hits, then ``n_misses`` misses, in order of falling relative height."""
    from xasml.learn.peak_heights import PredictedPeaks

    n = n_hits + n_misses
    pk = PredictedPeaks(spectrum=np.arange(n), energy=np.full(n, 5.0),
                        relative_height=np.linspace(1.0, 0.1, n), n_spectra=n,
                        prominence=0.05)
    return pk, np.arange(n) < n_hits, np.ones(n, int)


def test_a_confidence_bound_keeps_only_peaks_whose_precision_bound_meets_the_target() -> None:
    pk, hit, n_true = _ranked_peaks(50, 10)
    # the precision itself: 50 hits may take 2 misses along (50/52 >= 0.95 > 50/53)
    assert peak_height_threshold(pk, hit, n_true, 0.95).n_kept == 52
    # all-hit sets of n peaks have the Clopper-Pearson lower bound 0.1 ** (1 / n) at 90 %:
    # 0.955 for the 50 hits; one miss more drops it to 0.926 (beta(50, 2) quantile)
    t = peak_height_threshold(pk, hit, n_true, 0.95, confidence=0.9)
    assert (t.n_kept, t.precision, t.confidence) == (50, 1.0, 0.9)
    assert t.threshold == pytest.approx(pk.relative_height[49])
    assert t.to_dict()["confidence"] == 0.9
    assert peak_height_threshold(pk, hit, n_true, 0.95).confidence is None
    # 0.1 ** (1 / 45) = 0.9501 meets 95 %, 0.1 ** (1 / 44) = 0.9490 does not
    assert peak_height_threshold(*_ranked_peaks(45, 5), 0.95, confidence=0.9).n_kept == 45
    assert peak_height_threshold(*_ranked_peaks(44, 5), 0.95, confidence=0.9).threshold is None
    with pytest.raises(ParameterError, match=r"confidence must be None or in \(0, 1\)"):
        peak_height_threshold(pk, hit, n_true, confidence=1.0)


def test_the_bound_counts_the_peaks_of_one_molecule_as_correlated() -> None:
    pk, hit, n_true = _ranked_peaks(50, 10)
    # 50 right peaks of 50 molecules pass at 90 % (above); of 5 molecules, 10 each,
    # they are less evidence: (t_49 / t_4) ** 2 = 0.72 leaves 36 peaks' worth, 0.938
    five = np.repeat(np.arange(6), 10)
    assert peak_height_threshold(pk, hit, n_true, 0.95, confidence=0.9,
                                 groups=five).threshold is None
    with pytest.raises(InputError, match=r"one label per spectrum, shape \(60,\)"):
        peak_height_threshold(pk, hit, n_true, 0.95, confidence=0.9, groups=five[:5])


def test_calibration_groups_the_sites_of_a_molecule_by_their_labels() -> None:
    from types import SimpleNamespace

    # 50 held-out sites, each one right peak: from 50 molecules or from 5
    truth = np.tile(gauss(5.0), (50, 1))
    sites = [SimpleNamespace(label=f"m{i}#0", weight=1.0) for i in range(50)]
    t = calibrate_peak_heights(_Model(truth), sites, truth, confidence=0.9)
    assert t.n_kept == 50 and t.precision == 1.0
    for i, s in enumerate(sites):
        s.label = f"m{i // 10}#{i % 10}"
    assert calibrate_peak_heights(_Model(truth), sites, truth,
                                  confidence=0.9).threshold is None
    # per structure: 5 molecule spectra, too few peaks to bound anything
    assert calibrate_peak_heights(_Model(truth), sites, truth, confidence=0.9,
                                  per_structure=True, min_peaks=1).threshold is None


class _Model:
    """A fitted model's interface: predict and an energy grid."""

    def __init__(self, pred: np.ndarray, energy: np.ndarray = E) -> None:
        self.pred, self.energy_ = pred, energy

    def predict(self, X):
        return self.pred[: len(X)]


def test_calibration_scores_a_single_model_on_held_out_spectra() -> None:
    truth, pred = _calibration_set()
    t = calibrate_peak_heights(_Model(pred), list(range(10)), truth, min_peaks=5)
    assert t.threshold == pytest.approx(1.0, abs=1e-6) and t.precision == 1.0
    stack = xr.DataArray(truth, dims=("sample", "energy"), coords={"energy": E})
    assert calibrate_peak_heights(_Model(pred), list(range(10)), stack, min_peaks=5) == t
    # a model fitted on a bare array knows row indices only: energy= gives the eV
    rows = _Model(pred, np.arange(E.size, dtype=np.float64))
    assert calibrate_peak_heights(rows, list(range(10)), truth, energy=E, min_peaks=5) == t
    with pytest.raises(InputError, match="y must have shape"):
        calibrate_peak_heights(_Model(pred), list(range(10)), truth[:, :10])
    with pytest.raises(InputError, match="not the model's grid"):
        calibrate_peak_heights(_Model(pred), list(range(10)), truth, energy=E + 1.0)


def test_per_structure_calibration_scores_the_weighted_site_means() -> None:
    from types import SimpleNamespace

    # 5 molecules of 2 sites: site 0 right at 5 eV; site 1 right at 10 eV plus a
    # spurious small peak at 15 eV (relative height h of its own spectrum)
    small = np.linspace(0.10, 0.18, 5)
    truth = np.stack([t for _ in small for t in (gauss(5.0), gauss(10.0))])
    pred = np.stack([p for h in small for p in (gauss(5.0), gauss(10.0) + gauss(15.0, h))])
    sites = [SimpleNamespace(label=f"m{i}#{j}", weight=1.0) for i in range(5) for j in range(2)]
    t = calibrate_peak_heights(_Model(pred), sites, truth, min_peaks=5, per_structure=True)
    # the mean of two equal sites: both true peaks have relative height 1, the spurious h
    assert t.n_calibration == 5 and t.n_predicted_peaks == 15 and t.n_kept == 10
    assert t.threshold == pytest.approx(1.0, abs=1e-6) and t.precision == 1.0
    # site 1 standing for 3 atoms: the 5 eV peak is 1/4 of the mean, 1/3 of its range
    for s in sites[1::2]:
        s.weight = 3.0
    w = calibrate_peak_heights(_Model(pred), sites, truth, min_peaks=5, per_structure=True)
    assert w.threshold == pytest.approx(1 / 3, abs=1e-3) and w.n_kept == 10
    assert w.precision == 1.0 and w.coverage == pytest.approx(10 / 15)
    # the same as calibrating on the weighted means themselves
    mean = lambda y: (y[0::2] + 3 * y[1::2]) / 4  # noqa: E731
    assert calibrate_peak_heights(_Model(mean(pred)), list(range(5)), mean(truth),
                                  min_peaks=5) == w
    with pytest.raises(InputError, match="per_structure needs the held-out structures"):
        calibrate_peak_heights(_Model(pred), list(range(10)), truth, per_structure=True)


def test_bad_spectra_are_named() -> None:
    with pytest.raises(InputError, match=r"spectra must have shape \(n_spectra, 2001\)"):
        find_predicted_peaks(E, np.zeros((2, 10)))
    bad = gauss(5.0)
    bad[7] = np.nan
    with pytest.raises(InputError, match="spectra contain NaN"):
        find_predicted_peaks(E, bad)
    with pytest.raises(ParameterError, match="prominence"):
        find_predicted_peaks(E, gauss(5.0), prominence=1.0)
    pk = find_predicted_peaks(E, gauss(5.0))
    with pytest.raises(InputError, match=r"one value per peak, shape \(1,\)"):
        pk.padded(np.zeros(3))
    with pytest.raises(InputError, match="y_true contain NaN"):
        peak_hits(E, bad[None], pk)
