"""Lower bounds of a held-out precision when peaks come in correlated groups."""

import numpy as np
import pytest
from scipy.stats import beta

from xasml.errors import InputError
from xasml.learn import precision_lower_bounds


def test_independent_peaks_give_the_clopper_pearson_bound() -> None:
    ones = np.ones(60)
    lower = precision_lower_bounds(ones, ones, confidence=0.9)
    # all hits: the Clopper-Pearson bound is (1 - confidence) ** (1 / n); a single
    # peak (one group) bounds nothing
    assert lower[0] == 0 and lower[1:] == pytest.approx(0.1 ** (1 / np.arange(2, 61)))
    # a binomial spread: the variance is estimated, so n - 1 peaks' worth
    hits = (np.arange(60) % 10 != 0).astype(float)  # 54 of 60
    assert precision_lower_bounds(hits, ones, confidence=0.9)[-1] == pytest.approx(
        beta.ppf(0.1, 0.9 * 59, 0.1 * 59 + 1))


def test_items_of_several_peaks_equal_their_peaks_one_by_one() -> None:
    rng = np.random.default_rng(0)
    groups, peaks = rng.integers(0, 20, 100), rng.integers(0, 4, 100)
    hits = rng.binomial(peaks, 0.85)
    by_item = precision_lower_bounds(hits, peaks, groups, confidence=0.9)
    flat_hits = np.concatenate([[1] * h + [0] * (k - h) for h, k in zip(hits, peaks, strict=True)])
    by_peak = precision_lower_bounds(flat_hits, np.ones(flat_hits.size),
                                     np.repeat(groups, peaks), confidence=0.9)
    ends = np.cumsum(peaks) - 1
    assert by_item[peaks > 0] == pytest.approx(by_peak[ends[peaks > 0]], abs=1e-12)


def test_a_group_that_hits_or_misses_as_one_counts_as_one() -> None:
    # 40 molecules of 5 peaks, 36 right and 4 wrong throughout: 200 peaks at 90 %,
    # but as much evidence as 40 molecules (less the df correction), not 200 peaks
    groups = np.repeat(np.arange(40), 5)
    hits = (groups % 10 != 0).astype(float)
    ones = np.ones(200)
    grouped = precision_lower_bounds(hits, ones, groups, confidence=0.9)[-1]
    independent = precision_lower_bounds(hits, ones, confidence=0.9)[-1]
    molecules = beta.ppf(0.1, 36, 5)  # Clopper-Pearson of 36 of 40
    assert independent > 0.86 > molecules
    assert grouped < molecules < grouped + 0.01


def test_the_grouped_bound_holds_its_confidence_where_peaks_are_correlated() -> None:
    # molecules of 1-8 peaks, each with its own precision (mean 0.9, strongly
    # spread): the 90 % bound should exceed the true 0.9 in about 10 % of samples
    rng = np.random.default_rng(1)
    over = {"grouped": 0, "independent": 0}
    for _ in range(400):
        size = rng.integers(1, 9, 60)
        p = rng.beta(1.8, 0.2, 60)
        groups = np.repeat(np.arange(60), size)
        hits = (rng.random(groups.size) < p[groups]).astype(float)
        ones = np.ones(groups.size)
        over["grouped"] += precision_lower_bounds(hits, ones, groups, confidence=0.9)[-1] > 0.9
        over["independent"] += precision_lower_bounds(hits, ones, confidence=0.9)[-1] > 0.9
    assert over["grouped"] / 400 < 0.14  # 10 % +- 1.5 % (binomial sd)
    assert over["independent"] / 400 > 0.18


def test_one_group_bounds_nothing_and_bad_input_is_named() -> None:
    ones = np.ones(50)
    assert np.all(precision_lower_bounds(ones, ones, np.zeros(50), confidence=0.9) == 0)
    # a set without peaks yet
    assert precision_lower_bounds([0, 1], [0, 1], confidence=0.9)[0] == 0
    with pytest.raises(InputError, match="hits must lie in"):
        precision_lower_bounds([2], [1], confidence=0.9)
    with pytest.raises(InputError, match="one length"):
        precision_lower_bounds([1, 1], [1], confidence=0.9)
    with pytest.raises(InputError, match=r"one label per item, shape \(2,\)"):
        precision_lower_bounds([1, 1], [1, 1], [0], confidence=0.9)
    for bad in (0.0, 1.0, 90, float("nan")):
        with pytest.raises(InputError, match=r"confidence must be in \(0, 1\)"):
            precision_lower_bounds([1, 1], [1, 1], confidence=bad)
