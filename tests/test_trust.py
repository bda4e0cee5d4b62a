"""OOD detector and conformal wrappers: known answers, coverage, JSON round trips."""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr
from scipy.spatial.distance import cdist
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.neighbors import KNeighborsRegressor

from _trust_synth import ENERGY, k_edge_set, l_edge_set
from xasml.errors import ParameterError
from xasml.learn import (
    ConformalClassifier,
    ConformalRegressor,
    OODDetector,
    empirical_coverage,
)


@pytest.fixture(scope="module")
def splits() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    return {
        "train": k_edge_set(500, seed=1),
        "calib": k_edge_set(1000, seed=2),
        "test": k_edge_set(4000, seed=3),
    }


# -- OOD ---------------------------------------------------------------------------
def test_ood_flags_other_element_and_far_shifted_edge(splits):
    X, _ = splits["train"]
    det = OODDetector(quantile=0.99).fit(X, X_calib=splits["calib"][0])
    assert det.predict(l_edge_set(30, seed=4)).all()
    # An edge 20 eV above anything in training is the same shape but still outside.
    shifted = np.interp(ENERGY - 20.0, ENERGY, X[0])[None, :]
    assert det.predict(shifted).all()


def test_ood_false_positive_rate_matches_quantile(splits):
    X, _ = splits["train"]
    det = OODDetector(quantile=0.95, n_neighbors=5).fit(X, X_calib=splits["calib"][0])
    fpr = det.predict(splits["test"][0]).mean()
    # calibration with n = 1000 gives a threshold quantile within ~ +-0.007 (1 sigma)
    assert abs(fpr - 0.05) < 0.02, fpr


def test_ood_internal_split_and_dataarray_input(splits):
    X, _ = splits["train"]
    da = xr.DataArray(X, dims=("sample", "energy"), coords={"energy": ENERGY})
    a = OODDetector(random_state=3).fit(da)
    b = OODDetector(random_state=3).fit(X)
    assert a.calibration_scores_.size == 100
    np.testing.assert_allclose(a.score_samples(da[:20]), b.score_samples(X[:20]))


@pytest.mark.parametrize("standardize", [False, True])
def test_ood_score_is_exact_knn_distance_with_full_pca(standardize):
    X, _ = k_edge_set(300, seed=5)
    Xq, _ = k_edge_set(40, seed=6)
    det = OODDetector(n_neighbors=3, n_components=X.shape[1], quantile=0.9,
                      standardize=standardize)
    det.fit(X, X_calib=Xq)
    mean, std = X.mean(0), (X.std(0) if standardize else 1.0)
    d = np.sort(cdist((Xq - mean) / std, (X - mean) / std), axis=1)[:, 2]
    np.testing.assert_allclose(det.score_samples(Xq), d, rtol=1e-6)
    # float32 spectra (maps) are scored in float32: same distances to float32 precision
    np.testing.assert_allclose(det.score_samples(Xq.astype(np.float32)), d, rtol=1e-4)


@pytest.mark.parametrize("n_components", [3, 40])  # KD-tree and brute-force search
def test_ood_score_matches_reference_formula(n_components):
    # s = sqrt(d_k**2 + r**2) with d_k the k-th neighbour distance in PCA space and r
    # the explicit reconstruction error; the fast path (norm identity, tree) is exact.
    X, _ = k_edge_set(300, seed=5)
    Xq, _ = k_edge_set(40, seed=6)
    Xq = np.vstack([Xq, Xq[:5] * 3.0])  # a few far-away spectra too
    det = OODDetector(n_neighbors=4, n_components=n_components, quantile=0.9)
    det.fit(X, X_calib=Xq[:20])
    z = (Xq - det.center_) / det.scale_
    t = z @ det.components_.T
    r = np.linalg.norm(z - t @ det.components_, axis=1)
    d = np.sort(cdist(t, det.train_embedding_), axis=1)[:, 3]
    np.testing.assert_allclose(det.score_samples(Xq), np.hypot(d, r), rtol=1e-9)


def test_ood_json_round_trip(splits):
    X, _ = splits["train"]
    det = OODDetector(quantile=0.9).fit(X)
    state = json.loads(json.dumps(det.to_dict()))
    det2 = OODDetector.from_dict(state)
    Xt = splits["test"][0][:50]
    np.testing.assert_allclose(det2.score_samples(Xt), det.score_samples(Xt))
    assert det2.threshold_ == det.threshold_
    assert det2.get_params() == det.get_params()


@pytest.mark.parametrize(
    ("kwargs", "fit_X", "match"),
    [
        ({"n_neighbors": 90}, 100, "n_neighbors"),
        ({"quantile": 1.5}, 100, "quantile"),
        ({"quantile": 0.99}, 100, "quantile=0.99 needs at least 99"),
        ({"n_components": 0}, 100, "n_components"),
        ({"calibration_fraction": 0.0}, 100, "calibration_fraction"),
    ],
)
def test_ood_bad_parameters(kwargs, fit_X, match):
    X, _ = k_edge_set(fit_X, seed=7)
    with pytest.raises(ParameterError, match=match):
        OODDetector(**kwargs).fit(X)


def test_ood_mismatched_features(splits):
    det = OODDetector().fit(splits["train"][0])
    with pytest.raises(ParameterError, match="X must have 120 features"):
        det.score_samples(splits["test"][0][:, :100])
    with pytest.raises(ParameterError, match="X_calib must have 120"):
        OODDetector().fit(splits["train"][0], X_calib=splits["test"][0][:, :100])


# -- conformal regression ----------------------------------------------------------
def test_conformal_regressor_multi_output_coverage(splits):
    (Xtr, ytr), (Xc, yc), (Xt, yt) = splits["train"], splits["calib"], splits["test"]
    model = Ridge(alpha=1e-2).fit(Xtr, ytr)
    cr = ConformalRegressor(model).calibrate(Xc, yc)
    iv = cr.predict_interval(Xt, confidence=0.9)
    assert iv.shape == (4000, 2, 2)
    report = empirical_coverage(cr, Xt, yt, confidence=0.9)
    assert len(report.coverage) == 2
    for c in report.coverage:
        assert abs(c - 0.9) < 0.03, report
    # intervals are centred on the model's predictions
    np.testing.assert_allclose(iv.mean(axis=2), model.predict(Xt))


def test_conformal_regressor_single_output_and_width_grows(splits):
    (Xtr, ytr), (Xc, yc), (Xt, yt) = splits["train"], splits["calib"], splits["test"]
    model = KNeighborsRegressor(n_neighbors=5).fit(Xtr, ytr[:, 0])
    cr = ConformalRegressor(model).calibrate(Xc, yc[:, 0])
    assert cr.predict_interval(Xt[:3], 0.8).shape == (3, 2)
    r80 = empirical_coverage(cr, Xt, yt[:, 0], 0.8)
    r95 = empirical_coverage(cr, Xt, yt[:, 0], 0.95)
    assert abs(r80.coverage[0] - 0.8) < 0.03 and abs(r95.coverage[0] - 0.95) < 0.03
    assert r95.mean_width[0] > r80.mean_width[0]
    # the half-width is the ceil((n+1)c)-th smallest calibration residual
    res = np.sort(np.abs(yc[:, 0] - model.predict(Xc)))
    half = np.diff(cr.predict_interval(Xt[:1], 0.8), axis=1)[0, 0] / 2
    assert half == pytest.approx(res[int(np.ceil(1001 * 0.8)) - 1])


def test_conformal_regressor_json_round_trip(splits):
    (Xtr, ytr), (Xc, yc), (Xt, _) = splits["train"], splits["calib"], splits["test"]
    model = Ridge().fit(Xtr, ytr)
    cr = ConformalRegressor(model).calibrate(Xc[:200], yc[:200])
    cr2 = ConformalRegressor.from_dict(json.loads(json.dumps(cr.to_dict())), model)
    np.testing.assert_array_equal(cr2.predict_interval(Xt[:10]), cr.predict_interval(Xt[:10]))


# -- conformal classification ------------------------------------------------------
def _classes(y: np.ndarray) -> np.ndarray:
    # oxidation-state-like classes from the edge shift; overlap comes from noise
    return np.digitize(y[:, 0], [-1.5, 1.5])


def test_conformal_classifier_coverage_and_sets(splits):
    (Xtr, ytr), (Xc, yc), (Xt, yt) = splits["train"], splits["calib"], splits["test"]
    noisy = [
        x + 0.3 * np.random.default_rng(s).standard_normal(x.shape)
        for s, x in enumerate((Xtr, Xc, Xt))
    ]
    model = LogisticRegression(C=0.05, max_iter=2000).fit(noisy[0], _classes(ytr))
    cc = ConformalClassifier(model).calibrate(noisy[1], _classes(yc))
    sets = cc.predict_set(noisy[2], confidence=0.95)
    assert sets.shape == (4000, 3) and sets.dtype == bool
    report = empirical_coverage(cc, noisy[2], _classes(yt), confidence=0.95)
    assert abs(report.coverage[0] - 0.95) < 0.03, report
    assert 1.0 < report.mean_width[0] < 3.0  # sets are informative, not all classes
    cc2 = ConformalClassifier.from_dict(json.loads(json.dumps(cc.to_dict())), model)
    np.testing.assert_array_equal(cc2.predict_set(noisy[2][:50], 0.95), sets[:50])


def test_conformal_classifier_string_labels_and_unknown_label(splits):
    (Xtr, ytr), (Xc, yc) = splits["train"], splits["calib"]
    names = np.array(["Fe2+", "mixed", "Fe3+"])
    model = LogisticRegression(max_iter=2000).fit(Xtr, names[_classes(ytr)])
    cc = ConformalClassifier(model).calibrate(Xc, names[_classes(yc)])
    assert set(cc.classes_.tolist()) == set(names.tolist())
    with pytest.raises(ParameterError, match="y_calib holds labels the model does not know"):
        ConformalClassifier(model).calibrate(Xc[:3], ["Fe2+", "Fe4+", "Fe3+"])


@pytest.mark.parametrize("confidence", [0.0, 1.0, -0.1, 1.5])
def test_confidence_outside_unit_interval(splits, confidence):
    (Xtr, ytr), (Xc, yc) = splits["train"], splits["calib"]
    cr = ConformalRegressor(Ridge().fit(Xtr, ytr)).calibrate(Xc, yc)
    with pytest.raises(ParameterError, match="confidence must be in"):
        cr.predict_interval(Xc[:2], confidence)


def test_calibration_set_too_small(splits):
    (Xtr, ytr), (Xc, yc) = splits["train"], splits["calib"]
    cr = ConformalRegressor(Ridge().fit(Xtr, ytr)).calibrate(Xc[:8], yc[:8])
    cr.predict_interval(Xc[:2], 0.8)  # 8 samples support 80 %
    with pytest.raises(ParameterError, match=r"needs at least .* calibration samples.* has 8"):
        cr.predict_interval(Xc[:2], 0.95)


def test_uncalibrated_and_wrong_model(splits):
    with pytest.raises(ParameterError, match="not calibrated"):
        ConformalRegressor(Ridge()).predict_interval(splits["test"][0])
    with pytest.raises(ParameterError, match="predict_proba"):
        ConformalClassifier(Ridge()).calibrate(*splits["calib"])


def test_conformal_mismatched_features(splits):
    (Xtr, ytr), (Xc, yc) = splits["train"], splits["calib"]
    cr = ConformalRegressor(Ridge().fit(Xtr, ytr)).calibrate(Xc, yc)
    with pytest.raises(ParameterError, match="X must have 120 features"):
        cr.predict_interval(Xc[:, :100])
    clf = LogisticRegression(max_iter=500).fit(Xtr, ytr[:, 0] > 0)
    cc = ConformalClassifier(clf).calibrate(Xc, yc[:, 0] > 0)
    with pytest.raises(ParameterError, match="X must have 120 features"):
        cc.predict_set(Xc[:, :100])


def test_smoothed_sets_hit_nominal_coverage_when_scores_tie() -> None:
    """A 1-NN classifier on separable classes gives p = 1 for every true class, so
    every calibration and test score ties at 0: plain p-values then include the true
    class always (coverage 1), smoothed p-values break the ties and give the nominal
    coverage (Vovk et al. 2005, smoothed conformal predictors)."""
    from sklearn.neighbors import KNeighborsClassifier

    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 6000)
    X = y[:, None] * 10.0 + rng.normal(0, 0.1, (y.size, 4))
    model = KNeighborsClassifier(n_neighbors=1).fit(X[:100], y[:100])
    plain = ConformalClassifier(model).calibrate(X[100:600], y[100:600])
    smooth = ConformalClassifier(model, smoothing=True).calibrate(X[100:600], y[100:600])
    assert empirical_coverage(plain, X[600:], y[600:], 0.9).coverage[0] == 1.0
    cov = empirical_coverage(smooth, X[600:], y[600:], 0.9).coverage[0]
    # binomial sd for 5400 draws is 0.004
    assert abs(cov - 0.9) < 0.015, cov
    again = empirical_coverage(smooth, X[600:], y[600:], 0.9).coverage[0]
    assert again == cov  # seeded draw: the same call gives the same sets
