"""Metrics agree with hand-computed answers; baselines and AppendFeature behave."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from sklearn.pipeline import make_pipeline

from xasml.errors import InputError, ParameterError
from xasml.learn import (
    BASELINES,
    AppendFeature,
    SpectrumMLPRegressor,
    append_feature,
    classification_metrics,
    confusion_matrix_figure,
    make_baseline,
    parity_figure,
    regression_metrics,
)


def test_regression_metrics_known_answer():
    y = np.array([[0.0, 1.0], [1.0, 1.0], [2.0, 4.0], [3.0, 2.0]])
    p = y + np.array([[1.0, 0.0], [-1.0, 0.0], [1.0, 0.0], [-1.0, 2.0]])
    m = regression_metrics(y, p, targets=["cn", "bond"])
    np.testing.assert_allclose(m.mae, [1.0, 0.5])
    np.testing.assert_allclose(m.rmse, [1.0, 1.0])
    # R² = 1 - SSE/SST: SST(cn) = 5, SSE = 4 -> 0.2; SST(bond) = 6, SSE = 4 -> 1/3
    np.testing.assert_allclose(m.r2, [0.2, 1 / 3])
    assert m.to_dict()["targets"]["cn"] == {"mae": 1.0, "rmse": 1.0, "r2": pytest.approx(0.2)}


def test_classification_metrics_known_answer():
    t = np.array(["oct"] * 4 + ["tet"] * 2)
    p = np.array(["oct", "oct", "oct", "tet", "tet", "tet"])
    m = classification_metrics(t, p)
    assert m.accuracy == pytest.approx(5 / 6)
    assert m.balanced_accuracy == pytest.approx((3 / 4 + 1) / 2)
    # F1(oct) = 2*1*0.75/1.75 = 6/7; F1(tet) = 2*(2/3)*1/(5/3) = 4/5
    assert m.macro_f1 == pytest.approx((6 / 7 + 4 / 5) / 2)
    assert m.labels == ["oct", "tet"]
    assert m.confusion.tolist() == [[3, 1], [0, 2]]
    assert m.to_dict()["confusion"] == [[3, 1], [0, 2]]


def test_metrics_refuse_nan_and_shape_mismatch():
    with pytest.raises(InputError, match="y_pred contains NaN"):
        regression_metrics([1.0, 2.0], [1.0, np.nan])
    with pytest.raises(InputError, match="shapes differ"):
        regression_metrics(np.zeros((3, 2)), np.zeros((3, 1)))


def test_figures_are_drawn(tmp_path):
    y = np.random.default_rng(0).normal(size=(20, 2))
    fig = parity_figure(y, y + 0.1, targets=["cn", "bond"], units=["", "Å"])
    assert len(fig.axes) == 2 and fig.axes[1].get_xlabel() == "true bond (Å)"
    fig.savefig(tmp_path / "parity.png")
    cm = classification_metrics(["a", "b", "b"], ["a", "b", "a"])
    fig2 = confusion_matrix_figure(cm, normalize=True)
    texts = [t.get_text() for t in fig2.axes[0].texts]
    assert texts == ["1.00", "0.00", "0.50", "0.50"]
    fig2.savefig(tmp_path / "cm.png")
    assert (tmp_path / "parity.png").stat().st_size > 0


@pytest.mark.parametrize("name", BASELINES)
def test_baselines_fit_linear_multioutput_map(name):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 12))
    y = np.c_[X[:, 0] + X[:, 1], X[:, 2]]
    model = make_baseline(name, "regression", random_state=0,
                          **({"n_estimators": 30} if "tree" in name or "forest" in name
                             else {}))
    model.fit(X[:250], y[:250])
    r2 = regression_metrics(y[250:], model.predict(X[250:])).r2
    assert r2.shape == (2,) and np.all(r2 > 0.5), r2


@pytest.mark.parametrize("name", ["knn", "random_forest", "extra_trees", "ridge"])
def test_baseline_classifiers(name):
    rng = np.random.default_rng(1)
    X = np.r_[rng.normal(-3, 1, size=(50, 5)), rng.normal(3, 1, size=(50, 5))]
    labels = np.repeat(["Fe2+", "Fe3+"], 50)
    model = make_baseline(name, "classification", random_state=0).fit(X, labels)
    assert classification_metrics(labels, model.predict(X)).accuracy == 1.0


def test_baseline_bad_name_and_pls_classes():
    with pytest.raises(ParameterError, match="unknown baseline 'svm'"):
        make_baseline("svm")  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="regression only"):
        make_baseline("pls", "classification")


def test_append_feature_excitation_energy_in_pipeline():
    rng = np.random.default_rng(0)
    e = np.linspace(0, 1, 10)
    X = rng.normal(size=(200, 10))
    e0 = rng.uniform(7100, 7130, size=200)
    y = (e0 - 7115) / 10 + X[:, 0]
    da = xr.DataArray(X, dims=("sample", "energy"), coords={
        "energy": e, "excitation_energy": ("sample", e0)})
    out = AppendFeature().fit_transform(da)
    assert out.shape == (200, 11)
    np.testing.assert_array_equal(out[:, -1], e0)
    np.testing.assert_array_equal(append_feature(X, e0), out)
    pipe = make_pipeline(AppendFeature(), SpectrumMLPRegressor(
        hidden_layer_sizes=(), dropout=0.0, learning_rate=1e-2, batch_size=256,
        max_epochs=300, patience=30, random_state=0))
    pipe.fit(da[:150], y[:150])
    assert np.abs(pipe.predict(da[150:]) - y[150:]).mean() < 0.1
    with pytest.raises(InputError, match="coordinate 'excitation_energy' not found"):
        AppendFeature().fit(da.drop_vars("excitation_energy"))
