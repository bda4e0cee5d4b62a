"""Spectrum networks learn known maps, are reproducible and refuse bad input."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from xasml.errors import InputError, ParameterError
from xasml.learn import (
    SpectrumCNNClassifier,
    SpectrumCNNRegressor,
    SpectrumMLPClassifier,
    SpectrumMLPRegressor,
)

NOISE = 0.05


@pytest.fixture(scope="module")
def linear_data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(600, 30))
    W = rng.normal(size=(30, 3))
    y = X @ W + NOISE * rng.normal(size=(600, 3))
    return X, y


@pytest.fixture(scope="module")
def three_blobs():
    """Three well separated classes of 'spectra' (peak at three positions)."""
    rng = np.random.default_rng(1)
    e = np.linspace(0, 1, 40)
    centres = np.array([0.25, 0.5, 0.75])
    labels = np.repeat(np.array(["tet", "oct", "sq"]), 60)
    c = centres[np.repeat([0, 1, 2], 60)]
    X = np.exp(-((e[None, :] - c[:, None]) ** 2) / 0.005) + 0.02 * rng.normal(size=(180, 40))
    return X, labels


def test_mlp_learns_exact_linear_multioutput_map(linear_data):
    X, y = linear_data
    model = SpectrumMLPRegressor(hidden_layer_sizes=(), dropout=0.0, learning_rate=1e-2,
                                 batch_size=512, max_epochs=400, patience=40,
                                 random_state=0, n_threads=1)
    model.fit(X[:500], y[:500])
    mae = np.abs(model.predict(X[500:]) - y[500:]).mean(axis=0)
    # the mean absolute Gaussian noise is NOISE * sqrt(2/pi) ~= 0.04; targets have std ~5
    assert mae.shape == (3,)
    assert np.all(mae < 2.0 * NOISE * np.sqrt(2 / np.pi)), mae


def test_mlp_single_target_returns_1d(linear_data):
    X, y = linear_data
    model = SpectrumMLPRegressor(hidden_layer_sizes=(8,), max_epochs=3, random_state=0)
    assert model.fit(X, y[:, 0]).predict(X[:5]).shape == (5,)


@pytest.mark.parametrize("cls", [SpectrumMLPClassifier, SpectrumCNNClassifier])
def test_separable_three_classes_are_learned_exactly(three_blobs, cls):
    X, labels = three_blobs
    model = cls(hidden_layer_sizes=(16,), learning_rate=1e-2, max_epochs=60, patience=60,
                class_weight="balanced", random_state=0, n_threads=1)
    model.fit(X, labels)
    assert list(model.classes_) == ["oct", "sq", "tet"]
    assert np.mean(model.predict(X) == labels) == 1.0
    proba = model.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    assert np.array_equal(model.classes_[proba.argmax(axis=1)], model.predict(X))


def test_cnn_regressor_learns_peak_position():
    rng = np.random.default_rng(2)
    e = np.linspace(0, 1, 48)
    pos = rng.uniform(0.2, 0.8, size=300)
    X = np.exp(-((e[None, :] - pos[:, None]) ** 2) / 0.003)
    model = SpectrumCNNRegressor(channels=(4,), hidden_layer_sizes=(16,), learning_rate=1e-2,
                                 batch_size=64, max_epochs=150, patience=30, random_state=0,
                                 n_threads=1)
    model.fit(X[:250], pos[:250])
    # the position range is 0.6 wide: a useful model is far better than the 0.15 of guessing
    assert np.abs(model.predict(X[250:]) - pos[250:]).mean() < 0.05


@pytest.mark.parametrize("cls", [SpectrumMLPRegressor, SpectrumCNNRegressor])
def test_same_seed_gives_identical_predictions(linear_data, cls):
    X, y = linear_data
    kw = dict(hidden_layer_sizes=(8, 8), dropout=0.5, max_epochs=5, random_state=3)
    p1 = cls(**kw).fit(X, y).predict(X)
    p2 = cls(**kw).fit(X, y).predict(X)
    p3 = cls(**{**kw, "random_state": 4}).fit(X, y).predict(X)
    assert np.array_equal(p1, p2)
    assert not np.array_equal(p1, p3)


def test_fit_leaves_global_torch_state_alone(linear_data):
    import torch

    X, y = linear_data
    threads = torch.get_num_threads()
    state = torch.random.get_rng_state()
    SpectrumMLPRegressor(hidden_layer_sizes=(4,), max_epochs=2, n_threads=1,
                         random_state=0).fit(X, y)
    assert torch.get_num_threads() == threads
    assert torch.equal(torch.random.get_rng_state(), state)


def test_dataarray_input_is_accepted(linear_data):
    X, y = linear_data
    da = xr.DataArray(X, dims=("sample", "energy"),
                      coords={"energy": np.linspace(7100, 7200, X.shape[1])})
    model = SpectrumMLPRegressor(hidden_layer_sizes=(4,), max_epochs=2, random_state=0)
    assert np.array_equal(model.fit(da, y).predict(da), model.predict(X))


def test_dropout_skips_the_last_hidden_layer():
    import torch

    model = SpectrumMLPRegressor(hidden_layer_sizes=(8, 8, 8), dropout=0.5, max_epochs=1)
    model.fit(np.random.default_rng(0).normal(size=(20, 5)), np.arange(20.0))
    kinds = [type(m).__name__ for m in model.module_]
    assert kinds == ["Linear", "ReLU", "Dropout", "Linear", "ReLU", "Dropout",
                     "Linear", "ReLU", "Linear"]
    assert isinstance(model.module_[-1], torch.nn.Linear)


def test_early_stopping_restores_best_epoch(linear_data):
    X, y = linear_data
    model = SpectrumMLPRegressor(hidden_layer_sizes=(64, 64), dropout=0.0, learning_rate=0.05,
                                 max_epochs=300, patience=5, random_state=0).fit(X[:60], y[:60])
    assert model.n_epochs_ < 300
    assert model.n_epochs_ - model.best_epoch_ == 5
    assert model.validation_loss_curve_[model.best_epoch_ - 1] == min(
        model.validation_loss_curve_)


def test_nan_labels_are_refused(linear_data):
    X, y = linear_data
    y = y.copy()
    y[3, 1] = np.nan
    with pytest.raises(InputError, match=r"y contains NaN"):
        SpectrumMLPRegressor(max_epochs=1).fit(X, y)


def test_single_class_is_refused(three_blobs):
    X, _ = three_blobs
    with pytest.raises(InputError, match=r"at least 2 classes.*'oct'"):
        SpectrumMLPClassifier(max_epochs=1).fit(X, np.full(len(X), "oct"))


def test_wrong_feature_count_at_predict(linear_data):
    X, y = linear_data
    model = SpectrumMLPRegressor(hidden_layer_sizes=(4,), max_epochs=1).fit(X, y)
    with pytest.raises(InputError, match=r"X has 29 features.*expecting 30"):
        model.predict(X[:, :-1])


def test_bad_hyperparameter_is_named():
    with pytest.raises(ParameterError, match=r"'dropout' must be a float in \[0, 1\); found 1.5"):
        SpectrumMLPRegressor(dropout=1.5).fit(np.zeros((4, 2)), np.zeros(4))


def test_balanced_class_weight_lifts_minority_recall():
    rng = np.random.default_rng(5)
    X = np.r_[rng.normal(0.0, 1.0, size=(270, 4)), rng.normal(1.0, 1.0, size=(30, 4))]
    labels = np.repeat(["oct", "tet"], [270, 30])
    kw = dict(hidden_layer_sizes=(8,), learning_rate=1e-2, max_epochs=80, patience=80,
              validation_fraction=0.0, random_state=0, n_threads=1)
    recall = {}
    for cw in (None, "balanced"):
        pred = SpectrumMLPClassifier(class_weight=cw, **kw).fit(X, labels).predict(X)
        recall[cw] = np.mean(pred[labels == "tet"] == "tet")
    assert recall["balanced"] > recall[None] + 0.3, recall


def test_mlp_predict_matches_float64_reference_and_keeps_torch_state(linear_data):
    # Batched float32 inference equals the network evaluated in float64 from its
    # weights (to float32 rounding), across batch borders; threads and RNG untouched.
    import torch

    from xasml.learn import _torch_base

    X, y = linear_data
    model = SpectrumMLPRegressor(hidden_layer_sizes=(16, 8), dropout=0.5, max_epochs=3,
                                 n_threads=1, random_state=0).fit(X, y)
    w = {k: v.double().numpy() for k, v in model.module_.state_dict().items()}
    layers = sorted({k.split(".")[0] for k in w}, key=int)
    h = (X - model.x_mean_) / model.x_scale_
    for i, name in enumerate(layers):
        h = h @ w[f"{name}.weight"].T + w[f"{name}.bias"]
        if i < len(layers) - 1:
            h = np.maximum(h, 0.0)
    want = h * model.y_scale_ + model.y_mean_
    threads, state = torch.get_num_threads(), torch.random.get_rng_state()
    old = _torch_base._PREDICT_BATCH
    _torch_base._PREDICT_BATCH = 7  # many batches, the last one partial
    try:
        got = model.predict(X)
    finally:
        _torch_base._PREDICT_BATCH = old
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * np.abs(want).max())
    assert torch.get_num_threads() == threads
    assert torch.equal(torch.random.get_rng_state(), state)
