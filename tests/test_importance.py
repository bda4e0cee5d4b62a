"""Energy-window permutation importance: known answers on models that use one window."""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestRegressor
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline

from _trust_synth import ENERGY, k_edge_set
from xasml.errors import ParameterError
from xasml.learn import energy_window_importance, equal_width_windows

WINDOWS = {"pre-edge": (7100.0, 7115.0), "edge": (7115.0, 7140.0), "post-edge": (7140.0, 7200.0)}


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    Xtr, ytr = k_edge_set(400, seed=11)
    Xte, yte = k_edge_set(300, seed=12)
    return Xtr, ytr, Xte, yte


def test_model_using_one_window_has_zero_importance_elsewhere(data):
    Xtr, ytr, Xte, yte = data
    cols = np.flatnonzero((ENERGY >= 7115.0) & (ENERGY < 7140.0))
    only_edge = make_pipeline(
        ColumnTransformer([("edge", "passthrough", cols)]), Ridge(alpha=1e-3)
    ).fit(Xtr, ytr[:, 0])
    res = energy_window_importance(
        only_edge, Xte, yte[:, 0], WINDOWS, energy=ENERGY, scoring="r2", n_repeats=5
    )
    imp = res.table.set_index("window")["importance_mean"]
    assert imp["pre-edge"] == 0.0 and imp["post-edge"] == 0.0  # predictions do not change
    assert imp["edge"] > 0.5  # the edge position carries the shift
    assert res.baseline_score > 0.9
    assert res.table["n_points"].sum() == ENERGY.size


def test_random_forest_white_line_lives_at_the_edge(data):
    Xtr, ytr, Xte, yte = data
    rf = RandomForestRegressor(n_estimators=30, max_depth=8, random_state=0, n_jobs=1)
    rf.fit(Xtr, ytr[:, 1])
    da = xr.DataArray(Xte, dims=("sample", "energy"), coords={"energy": ENERGY})
    res = energy_window_importance(rf, da, yte[:, 1], WINDOWS, n_repeats=3, random_state=1)
    imp = res.table.set_index("window")["importance_mean"]
    assert imp.idxmax() == "edge"
    assert imp["edge"] > 5 * max(imp["pre-edge"], imp["post-edge"], 1e-3)


def test_equal_width_windows_classifier_and_seed(data):
    Xtr, ytr, Xte, yte = data
    labels = np.digitize(ytr[:, 0], [0.0])
    clf = LogisticRegression(max_iter=2000).fit(Xtr, labels)
    args = (clf, Xte, np.digitize(yte[:, 0], [0.0]), 4)
    a = energy_window_importance(*args, energy=ENERGY, scoring="accuracy", n_repeats=3)
    b = energy_window_importance(*args, energy=ENERGY, scoring="accuracy", n_repeats=3)
    np.testing.assert_array_equal(a.importances, b.importances)
    assert a.importances.shape == (4, 3)
    assert a.table["n_points"].sum() == ENERGY.size
    widths = a.table["e_max"] - a.table["e_min"]
    np.testing.assert_allclose(widths, 25.0)
    state = json.loads(json.dumps(a.to_dict()))
    assert [w["window"] for w in state["windows"]] == list(a.table["window"])
    assert equal_width_windows(ENERGY, 2) == {
        "7100.0-7150.0": (7100.0, 7150.0),
        "7150.0-7200.0": (7150.0, 7200.0),
    }


def test_plot_returns_figure(data, tmp_path):
    Xtr, ytr, Xte, yte = data
    model = Ridge().fit(Xtr, ytr)
    res = energy_window_importance(model, Xte, yte, WINDOWS, energy=ENERGY, n_repeats=2)
    fig = res.plot()
    assert len(fig.axes) == 2  # spectrum + importance bars
    fig.savefig(tmp_path / "importance.png")
    assert (tmp_path / "importance.png").stat().st_size > 1000


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"windows": {"far": (8000.0, 8100.0)}}, "far.*holds no energy point"),
        ({"windows": {"bad": (7150.0, 7110.0)}}, "e_min < e_max"),
        ({"windows": 0}, "windows must be a positive int"),
        ({"n_repeats": 0}, "n_repeats"),
        ({"energy": ENERGY[:-1]}, "energy must have shape"),
        ({"energy": None}, "energy is needed"),
    ],
)
def test_bad_input(data, kwargs, match):
    Xtr, ytr, Xte, yte = data
    model = Ridge().fit(Xtr, ytr)
    call = {"windows": WINDOWS, "energy": ENERGY, **kwargs}
    with pytest.raises(ParameterError, match=match):
        energy_window_importance(model, Xte, yte, **call)


def test_mismatched_targets(data):
    Xtr, ytr, Xte, yte = data
    with pytest.raises(ParameterError, match="y must have one row per sample"):
        energy_window_importance(Ridge().fit(Xtr, ytr), Xte, yte[:10], 3)
