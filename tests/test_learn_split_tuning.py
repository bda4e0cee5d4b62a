"""Grouped splits never straddle materials; grid search records every combination."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import Ridge

from xasml.errors import InputError, ParameterError
from xasml.learn import (
    SpectrumMLPRegressor,
    grid_search,
    network_param_grid,
    train_val_test_split,
)


def _grouped(n_groups=200, per_group=5, seed=0):
    groups = np.repeat([f"mp-{i}" for i in range(n_groups)], per_group)
    return np.random.default_rng(seed).permutation(groups)


@pytest.mark.parametrize("stratified", [False, True])
def test_grouped_split_keeps_materials_whole_and_is_8_1_1(stratified):
    groups = _grouped()
    labels = np.array([["tet", "oct"][int(g[3:]) % 2] for g in groups])
    split = train_val_test_split(len(groups), groups=groups,
                                 stratify=labels if stratified else None, random_state=0)
    parts = [set(groups[idx]) for idx in (split.train, split.validation, split.test)]
    assert not (parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2])
    allrows = np.concatenate([split.train, split.validation, split.test])
    assert np.array_equal(np.sort(allrows), np.arange(len(groups)))
    fractions = np.array(split.sizes()) / len(groups)
    np.testing.assert_allclose(fractions, [0.8, 0.1, 0.1], atol=0.02)
    if stratified:
        for idx in (split.validation, split.test):
            assert abs(np.mean(labels[idx] == "tet") - 0.5) < 0.1


def test_ungrouped_split_ratios_are_configurable():
    split = train_val_test_split(np.zeros((1000, 3)), ratios=(0.6, 0.2, 0.2), random_state=1)
    assert split.sizes() == (600, 200, 200)
    again = train_val_test_split(np.zeros((1000, 3)), ratios=(0.6, 0.2, 0.2), random_state=1)
    assert np.array_equal(split.test, again.test)


def test_split_refuses_too_few_groups_and_bad_ratios():
    with pytest.raises(InputError, match=r"cannot split 2 groups into 3"):
        train_val_test_split(10, groups=np.repeat(["a", "b"], 5))
    with pytest.raises(ParameterError, match="ratios"):
        train_val_test_split(10, ratios=(0.0, 0.5, 0.5))


@pytest.fixture(scope="module")
def grouped_regression():
    rng = np.random.default_rng(3)
    groups = np.repeat(np.arange(20), 6)
    X = rng.normal(size=(120, 8))
    y = X @ rng.normal(size=8) + 0.1 * rng.normal(size=120)
    return X, y, groups


def test_grid_search_records_all_combinations(grouped_regression):
    X, y, groups = grouped_regression
    grid = {"alpha": [1e-3, 1.0, 1e3], "fit_intercept": [True, False]}
    res = grid_search(Ridge(), X, y, grid, groups=groups, n_splits=5)
    assert len(res.candidates) == 6
    combos = {(c["params"]["alpha"], c["params"]["fit_intercept"]) for c in res.candidates}
    assert combos == {(a, f) for a in grid["alpha"] for f in grid["fit_intercept"]}
    assert all(len(c["fold_scores"]) == 5 for c in res.candidates)
    # the exact linear map is best fitted with (almost) no shrinkage
    assert res.best_params["alpha"] == 1e-3
    assert res.scoring == "neg_mean_absolute_error"
    best = max(res.candidates, key=lambda c: c["mean_score"])
    assert best["rank"] == 1 and best["mean_score"] == res.best_score
    d = res.to_dict()
    assert len(d["candidates"]) == 6 and "best_estimator" not in d


def test_grid_search_over_network_hyperparameters(grouped_regression):
    X, y, groups = grouped_regression
    grid = network_param_grid(n_layers=(1, 2), width=(4,), dropout=(0.0,),
                              learning_rate=(1e-2,), weight_decay=(0.0, 1e-4))
    model = SpectrumMLPRegressor(max_epochs=3, random_state=0, n_threads=1)
    res = grid_search(model, X, y, grid, groups=groups, n_splits=2)
    assert [c["params"]["hidden_layer_sizes"] for c in res.candidates].count((4, 4)) == 2
    assert len(res.candidates) == 4
    assert res.best_estimator.n_features_in_ == 8


def test_grid_search_refuses_too_few_groups_for_folds(grouped_regression):
    X, y, _ = grouped_regression
    groups = np.repeat([0, 1, 2], 40)
    with pytest.raises(InputError, match=r"n_splits=5 folds need at least 5 groups"):
        grid_search(Ridge(), X, y, {"alpha": [1.0]}, groups=groups)
