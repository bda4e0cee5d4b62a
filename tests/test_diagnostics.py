"""Nearest-neighbour failure analysis: neighbours, thresholds and categories on known cases."""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr
from scipy.spatial.distance import cdist
from sklearn.dummy import DummyRegressor
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsRegressor

from _trust_synth import ENERGY, k_edge_set, l_edge_set
from xasml.errors import ParameterError
from xasml.learn import FailureAnalysis, failure_analysis


def _ambiguous_targets(X: np.ndarray, y: np.ndarray, seed: int) -> np.ndarray:
    """Target = edge shift, except strong white lines (wl > 0.85) get a random target."""
    t = y[:, 0].copy()
    hidden = y[:, 1] > 0.85
    t[hidden] = np.random.default_rng(seed).uniform(-8.0, 8.0, hidden.sum())
    return t


@pytest.fixture(scope="module")
def case() -> tuple[np.ndarray, ...]:
    Xtr, ytr = k_edge_set(400, seed=21)
    Xte, yte = k_edge_set(150, seed=22)
    Xte = np.vstack([Xte, l_edge_set(10, seed=23)])
    tte = np.concatenate([_ambiguous_targets(Xte[:150], yte, 24), np.full(10, 12.0)])
    return Xtr, _ambiguous_targets(Xtr, ytr, 25), Xte, tte, yte[:, 1]


def test_neighbours_and_novelty_threshold_match_brute_force(case):
    Xtr, ttr, Xte, tte, _ = case
    model = KNeighborsRegressor(n_neighbors=5).fit(Xtr, ttr)
    res = failure_analysis(model, Xtr, ttr, Xte, tte, n_neighbors=4, novelty_quantile=0.9)
    d = cdist(Xte, Xtr)
    np.testing.assert_array_equal(res.neighbour_indices, np.argsort(d, axis=1)[:, :4])
    np.testing.assert_allclose(res.neighbour_distances, np.sort(d, axis=1)[:, :4])
    dtr = cdist(Xtr, Xtr)
    np.fill_diagonal(dtr, np.inf)
    assert res.novelty_threshold == pytest.approx(np.quantile(dtr.min(axis=1), 0.9))
    err = np.abs(model.predict(Xte) - tte)
    np.testing.assert_allclose(res.table["error"], err)
    assert res.error_threshold == pytest.approx(np.quantile(err, 0.9))
    assert res.table["large_error"].sum() == 16  # errors above the 90 % quantile of 160


def test_novel_spectra_are_flagged_novel(case):
    Xtr, ttr, Xte, tte, _ = case
    model = KNeighborsRegressor(n_neighbors=5).fit(Xtr, ttr)
    res = failure_analysis(model, Xtr, ttr, Xte, tte, error_threshold=2.0)
    cat = res.table["category"].to_numpy()
    assert (cat[150:] == "novel").all()  # the L-edge spectra: nothing like them in training
    assert (cat[~res.table["large_error"].to_numpy()] == "ok").all()
    assert res.counts["novel"] >= 10 and sum(res.counts.values()) == 160


def test_hidden_variable_errors_are_ambiguous():
    # target = edge shift +- 3 by a coin the spectrum does not show: neighbours disagree
    Xtr, ytr = k_edge_set(400, seed=26)
    Xte, yte = k_edge_set(200, seed=27)
    coin = np.random.default_rng(28).choice([-3.0, 3.0], size=600)
    ttr, tte = ytr[:, 0] + coin[:400], yte[:, 0] + coin[400:]
    model = KNeighborsRegressor(n_neighbors=5).fit(Xtr, ttr)
    res = failure_analysis(model, Xtr, ttr, Xte, tte, novelty_quantile=0.99)
    big = res.table[res.table["large_error"]]
    assert len(big) == 20 and np.mean(big["category"] == "ambiguous") >= 0.8


def test_errors_of_a_model_ignoring_the_spectrum_are_other():
    # target fixed by the spectrum, neighbours agree, the model (a constant) is to blame
    Xtr, ytr = k_edge_set(400, seed=29)
    Xte, yte = k_edge_set(200, seed=30)
    dummy = DummyRegressor().fit(Xtr, ytr[:, 0])
    res = failure_analysis(dummy, Xtr, ytr[:, 0], Xte, yte[:, 0], novelty_quantile=0.99)
    big = res.table[res.table["large_error"]]
    assert len(big) == 20 and np.mean(big["category"] == "other") >= 0.8


def test_worst_table_plot_and_json(case, tmp_path):
    Xtr, ttr, Xte, tte, _ = case
    model = KNeighborsRegressor(n_neighbors=5).fit(Xtr, ttr)
    da = xr.DataArray(Xtr, dims=("sample", "energy"), coords={"energy": ENERGY})
    res = failure_analysis(model, da, ttr, Xte, tte, n_neighbors=3, n_worst=4)
    assert isinstance(res, FailureAnalysis)
    assert len(res.worst) == 12 and list(res.worst["rank"][:3]) == [1, 2, 3]
    first = res.worst["test_index"].iloc[0]
    assert first == int(np.argmax(res.table["error"]))
    assert res.worst["y_train"].iloc[0] == ttr[res.neighbour_indices[first, 0]]
    state = json.loads(json.dumps(res.to_dict()))
    assert sum(state["counts"].values()) == len(tte) and len(state["worst"]) == 12
    fig = res.plot(n=3)
    assert len(fig.axes) == 3
    assert fig.axes[0].get_xlabel() == "energy (eV)"
    fig.savefig(tmp_path / "failures.png")
    assert (tmp_path / "failures.png").stat().st_size > 1000


def test_multi_output_and_classifier():
    Xtr, ytr = k_edge_set(300, seed=31)
    Xte, yte = k_edge_set(100, seed=32)
    res = failure_analysis(KNeighborsRegressor().fit(Xtr, ytr), Xtr, ytr, Xte, yte)
    assert {"y_true_0", "y_true_1", "y_pred_1"} <= set(res.table.columns)
    assert "y_train_1" in res.worst.columns
    # labels = sign of the edge shift, 15 % flipped: similar spectra, other labels
    flip = np.random.default_rng(34).random(400) < 0.15
    lab = np.digitize(np.concatenate([ytr[:, 0], yte[:, 0]]), [0.0]) ^ flip
    clf = LogisticRegression(C=0.1, max_iter=2000).fit(Xtr, lab[:300])
    Xl = l_edge_set(3, seed=33)
    Xood = np.vstack([Xte, Xl])
    yood = np.concatenate([lab[300:], 1 - clf.predict(Xl)])  # wrong by construction
    res = failure_analysis(clf, Xtr, lab[:300], Xood, yood)
    assert res.task == "classification"
    wrong = clf.predict(Xood) != yood
    np.testing.assert_array_equal(res.table["large_error"], wrong)
    cat = res.table["category"].to_numpy()
    assert (cat[100:] == "novel").all()
    assert set(cat[~wrong]) == {"ok"}
    in_dist = wrong[:100]
    assert in_dist.sum() >= 8 and np.mean(cat[:100][in_dist] == "ambiguous") >= 0.7


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_neighbors": 60}, r"n_neighbors must be an int in \[1, 59\]"),
        ({"n_neighbors": 0}, "n_neighbors"),
        ({"error_quantile": 1.0}, "error_quantile"),
        ({"novelty_quantile": 0.0}, "novelty_quantile"),
        ({"ambiguity_ratio": 0.0}, "ambiguity_ratio"),
        ({"task": "ranking"}, "task"),
    ],
)
def test_bad_parameters(kwargs, match):
    Xtr, ytr = k_edge_set(60, seed=41)
    model = KNeighborsRegressor().fit(Xtr, ytr)
    with pytest.raises(ParameterError, match=match):
        failure_analysis(model, Xtr, ytr, Xtr[:5], ytr[:5], **kwargs)


def test_mismatched_features_and_targets():
    Xtr, ytr = k_edge_set(60, seed=42)
    model = KNeighborsRegressor().fit(Xtr, ytr)
    with pytest.raises(ParameterError, match="X_test must have 120 features"):
        failure_analysis(model, Xtr, ytr, Xtr[:5, :100], ytr[:5])
    with pytest.raises(ParameterError, match="y_test must have the shape"):
        failure_analysis(model, Xtr, ytr, Xtr[:5], ytr[:5, 0])
