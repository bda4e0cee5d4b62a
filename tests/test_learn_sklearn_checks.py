"""The spectrum networks honour the scikit-learn estimator contract."""

from __future__ import annotations

from sklearn.utils.estimator_checks import parametrize_with_checks

from xasml.learn import SpectrumMLPClassifier, SpectrumMLPRegressor
from xasml.learn._torch_base import expected_failed_checks

# Tiny settings: the checks fit dozens of models; these keep the whole file fast.
_SMALL = dict(
    hidden_layer_sizes=(16,),
    dropout=0.0,
    learning_rate=2e-2,
    batch_size=256,
    max_epochs=60,
    patience=60,
    random_state=0,
    n_threads=1,
)


@parametrize_with_checks(
    [SpectrumMLPRegressor(**_SMALL), SpectrumMLPClassifier(**_SMALL)],  # type: ignore[arg-type]
    expected_failed_checks=expected_failed_checks,
)
def test_sklearn_contract(estimator, check):
    check(estimator)
