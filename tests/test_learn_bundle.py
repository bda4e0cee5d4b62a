"""Model bundles round-trip exactly and refuse tampered or too-new bundles."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.ensemble import RandomForestRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from xasml.errors import ModelError
from xasml.learn import (
    FORMAT_VERSION,
    SpectrumCNNClassifier,
    SpectrumMLPClassifier,
    SpectrumMLPRegressor,
    Target,
    hash_training_data,
    load_bundle,
    save_bundle,
)

ENERGY = np.linspace(7100.0, 7180.0, 16)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, ENERGY.size))
    y = np.c_[X[:, 0] * 2.0, X[:, 1] - X[:, 2]]
    labels = np.where(X[:, 0] > 0, "oct", "tet")
    return X, y, labels


def _fitted_models(X, y, labels):
    small = dict(hidden_layer_sizes=(8, 4), max_epochs=5, random_state=0)
    return {
        "mlp-regressor": (SpectrumMLPRegressor(**small).fit(X, y), "regression"),
        "mlp-classifier": (SpectrumMLPClassifier(class_weight="balanced", **small)
                           .fit(X, labels), "classes"),
        "cnn-classifier": (SpectrumCNNClassifier(channels=(2,), **small).fit(X, labels),
                           "classes"),
        "pipeline+torch": (make_pipeline(StandardScaler(), SpectrumMLPRegressor(**small))
                           .fit(X, y), "regression"),
        "sklearn": (make_pipeline(StandardScaler(),
                                  RandomForestRegressor(n_estimators=5, random_state=0))
                    .fit(X, y), "regression"),
    }


@pytest.mark.parametrize(
    "kind", ["mlp-regressor", "mlp-classifier", "cnn-classifier", "pipeline+torch", "sklearn"]
)
def test_round_trip_gives_identical_predictions(data, tmp_path, kind):
    X, y, labels = data
    model, _ = _fitted_models(X, y, labels)[kind]
    path = save_bundle(
        model, tmp_path / "m", energy=ENERGY,
        targets=[Target("bond_length", "angstrom"), ("cn", "")],
        preprocessing={"normalise": "edge-step"},
        training_data_sha256=hash_training_data(X, y),
        metrics={"mae": np.array([0.1, 0.2])},
        extras={"ood_threshold": 3.5},
    )
    bundle = load_bundle(path)
    assert np.array_equal(bundle.model.predict(X), model.predict(X))
    if hasattr(model, "predict_proba"):
        assert np.array_equal(bundle.model.predict_proba(X), model.predict_proba(X))
        assert list(bundle.manifest.classes) == list(model.classes_)
    np.testing.assert_array_equal(bundle.energy, ENERGY)
    assert bundle.manifest.targets == [Target("bond_length", "angstrom"), Target("cn", "")]
    assert bundle.manifest.extras == {"ood_threshold": 3.5}
    assert bundle.manifest.metrics == {"mae": [0.1, 0.2]}
    assert bundle.manifest.format_version == FORMAT_VERSION
    assert bundle.manifest.training_data_sha256 == hash_training_data(X, y)
    assert "numpy" in bundle.manifest.packages
    if kind != "sklearn":
        assert bundle.model.get_params() .keys() == model.get_params().keys()


def test_torch_hyperparameters_survive(data, tmp_path):
    X, _, labels = data
    model = SpectrumMLPClassifier(hidden_layer_sizes=(8, 4), class_weight={"oct": 2.0},
                                  max_epochs=2, random_state=0).fit(X, labels)
    loaded = load_bundle(save_bundle(model, tmp_path / "m", energy=ENERGY)).model
    assert loaded.get_params() == model.get_params()


def test_tampered_weight_file_is_refused_by_name(data, tmp_path):
    X, y, labels = data
    model, _ = _fitted_models(X, y, labels)["mlp-regressor"]
    path = save_bundle(model, tmp_path / "m", energy=ENERGY)
    weights = path / "weights.safetensors"
    raw = bytearray(weights.read_bytes())
    raw[-1] ^= 0xFF
    weights.write_bytes(bytes(raw))
    with pytest.raises(ModelError, match=r"weights.safetensors does not match its sha256"):
        load_bundle(path)


def test_newer_format_version_is_refused(data, tmp_path):
    X, y, labels = data
    model, _ = _fitted_models(X, y, labels)["sklearn"]
    path = save_bundle(model, tmp_path / "m", energy=ENERGY)
    manifest = json.loads((path / "manifest.json").read_text())
    manifest["format_version"] = FORMAT_VERSION + 1
    (path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelError, match=rf"format version {FORMAT_VERSION + 1}, newer"):
        load_bundle(path)


def test_skops_types_outside_allow_list_are_refused(tmp_path):
    import os

    from sklearn.preprocessing import FunctionTransformer

    # a pickle-based format would call os.system on load; skops + the allow-list refuse it
    model = FunctionTransformer(os.system).fit(np.ones((3, 2)))
    path = save_bundle(model, tmp_path / "m", energy=ENERGY[:2])
    with pytest.raises(ModelError, match=r"outside the allow-list: \w+\.system"):
        load_bundle(path)


def test_existing_bundle_is_kept_unless_overwrite(data, tmp_path):
    X, y, labels = data
    model, _ = _fitted_models(X, y, labels)["sklearn"]
    path = save_bundle(model, tmp_path / "m", energy=ENERGY)
    with pytest.raises(ModelError, match=r"already exists"):
        save_bundle(model, path, energy=ENERGY)
    save_bundle(model, path, energy=ENERGY[:4], overwrite=True)
    assert load_bundle(path).energy.size == 4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]  # no temp dirs left behind


def test_unfitted_model_and_missing_manifest(tmp_path):
    with pytest.raises(ModelError, match=r"unfitted"):
        save_bundle(SpectrumMLPRegressor(), tmp_path / "m", energy=ENERGY)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelError, match=r"manifest.json is missing"):
        load_bundle(tmp_path / "empty")


def test_bundle_predict_checks_energy_grid(data, tmp_path):
    import xarray as xr

    from xasml.errors import SpectrumError

    X, y, labels = data
    model, _ = _fitted_models(X, y, labels)["mlp-regressor"]
    bundle = load_bundle(save_bundle(model, tmp_path / "m", energy=ENERGY))
    good = xr.DataArray(X, dims=("sample", "energy"), coords={"energy": ENERGY})
    assert np.array_equal(bundle.predict(good), model.predict(X))
    with pytest.raises(SpectrumError, match=r"different energy grid"):
        bundle.predict(good.assign_coords(energy=ENERGY + 1.0))
