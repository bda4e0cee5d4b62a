"""sklearn transformers: the estimator contract and a Pipeline across energy grids."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from sklearn.linear_model import Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from xasml import stack
from xasml.preprocess import AlignEdge, Broaden, Normalize, Resample, Smooth


# Normalize is left out: sklearn's random test data have rows with max <= 0 or area <= 0,
# which cannot be normalised (SpectrumError by design); its behaviour is tested below.
# Smooth: check_fit_idempotent uses 2-feature data, shorter than any smoothing window.
@parametrize_with_checks(
    [Resample(), Broaden(fwhm=2.0), Smooth(width=3.0)],
    expected_failed_checks=lambda est: (
        {"check_fit_idempotent": "2 energy points < window"} if isinstance(est, Smooth) else {}
    ),
)
def test_sklearn_contract(estimator, check) -> None:
    check(estimator)


def _training_set() -> xr.DataArray:
    """Edges whose white-line height (the label) varies, on a 0.25 eV grid."""
    rng = np.random.default_rng(0)
    e = np.arange(7050.0, 7300.0, 0.25)
    heights = rng.uniform(0.2, 1.0, 40)
    rows = []
    for h in heights:
        x = e - 7112.0
        rows.append(0.2 + 0.5 + np.arctan(x) / np.pi + h * np.exp(-0.5 * ((x - 7) / 2) ** 2))
    return stack(e, np.array(rows), labels={"height": heights}, element="Fe")


def test_pipeline_carries_its_grid_to_a_measured_spectrum() -> None:
    train = _training_set()
    grid = np.arange(7080.0, 7200.0, 0.5)
    pipe = make_pipeline(Resample(grid=grid), Normalize(), StandardScaler(), Ridge(alpha=1e-3))
    pipe.fit(train, train.height.values)
    # a "measured" spectrum on a coarser, non-uniform grid, scaled by 3
    e = np.unique(np.concatenate([np.arange(7040, 7320, 1.1), np.arange(7100, 7130, 0.35)]))
    x = e - 7112.0
    meas = 3 * (0.2 + 0.5 + np.arctan(x) / np.pi + 0.6 * np.exp(-0.5 * ((x - 7) / 2) ** 2))
    pred = pipe.predict(stack(e, meas[None, :]))
    assert pred.shape == (1,)
    assert pred[0] == pytest.approx(0.6, abs=0.05)
    out = pipe[:2].transform(train)
    assert isinstance(out, xr.DataArray) and out.dims == ("sample", "energy")
    assert np.allclose(out.energy.values, grid)
    assert np.allclose(out.height.values, train.height.values)


def test_normalize_transformer_matches_function_and_rejects_bad_rows() -> None:
    from xasml import SpectrumError
    from xasml.preprocess import normalize_edge, scale

    train = _training_set()
    assert np.allclose(Normalize().fit_transform(train).values, normalize_edge(train).values)
    assert np.allclose(Normalize(method="area").fit_transform(train).values,
                       scale(train, "area").values)
    with pytest.raises(SpectrumError, match="max"):
        Normalize(method="max").fit_transform(-train)


def test_ndarray_input_uses_the_known_grid() -> None:
    train = _training_set()
    r = Resample(grid=np.arange(7100.0, 7120.0, 1.0), energy=train.energy.values)
    out = r.fit_transform(train.values)
    assert np.allclose(out.values, r.transform(train).values)
    from xasml.preprocess import find_e0

    aligned = AlignEdge(grid=np.arange(-20.0, 60.0, 0.5)).fit(train).transform(train)
    assert np.allclose(aligned.e0.values, find_e0(train).values)
    assert np.allclose(aligned.energy.values, np.arange(-20.0, 60.0, 0.5))
