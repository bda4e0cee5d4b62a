"""E0 and edge-step normalisation: synthetic known answers and larch as reference."""

from __future__ import annotations

import numpy as np
import pytest

from xasml import ParameterError, SpectrumError, spectrum, stack
from xasml.preprocess import find_e0, normalize_edge
from xasml.preprocess._synthetic import synthetic_kedge


def _ideal(e0: float = 8979.0, step: float = 2.0) -> tuple[np.ndarray, np.ndarray]:
    """Linear pre-edge + (step + quadratic) post-edge with an erf edge: exact answers known."""
    from scipy.special import erf

    e = np.arange(e0 - 200, e0 + 600, 0.5)
    x = e - e0
    pre = 0.4 - 3e-4 * x
    post = step * (1 + 2e-4 * x - 1e-7 * x**2)
    return e, pre + 0.5 * (1 + erf(x / 1.5)) * post


def test_find_e0_erf_edge_is_the_inflection_point() -> None:
    e, mu = _ideal()
    assert find_e0(spectrum(e, mu)) == pytest.approx(8979.0, abs=0.05)


def test_normalisation_recovers_known_step_and_unit_post_edge() -> None:
    e, mu = _ideal()
    out = normalize_edge(spectrum(e, mu), e0=8979.0, pre1=-190, pre2=-40, norm1=100,
                         norm2=590, nnorm=2)
    assert out.attrs["edge_step"] == pytest.approx(2.0, rel=1e-3)
    assert out.attrs["signal"] == "norm"
    x = e - 8979.0
    # below the edge the normalised mu is 0; far above, the post-edge curve / step
    assert np.abs(out.values[x < -50]).max() < 1e-3
    expected = 1 + 2e-4 * x - 1e-7 * x**2
    assert np.allclose(out.values[x > 50], expected[x > 50], atol=2e-3)


def test_normalize_does_not_mutate_and_lifts_over_sets_and_maps() -> None:
    sp = synthetic_kedge(7112.0)
    before = sp.copy(deep=True)
    single = normalize_edge(sp)
    assert sp.identical(before)
    scale = np.array([1.0, 2.0, 0.5])
    st = stack(sp.energy.values, np.outer(scale, sp.values), labels={"charge": [1, 2, 3]})
    ns = normalize_edge(st)
    assert ns.dims == ("sample", "energy")
    assert np.allclose(ns.edge_step.values, scale * single.attrs["edge_step"], rtol=1e-9)
    assert np.allclose(ns.values, single.values[None, :], atol=1e-9)
    assert list(ns.charge.values) == [1, 2, 3]
    m = st.isel(sample=[0, 1, 2, 0]).values.reshape(2, 2, -1)
    import xarray as xr

    da = xr.DataArray(m.transpose(2, 0, 1), dims=("energy", "y", "x"),
                      coords={"energy": sp.energy.values})
    nm = normalize_edge(da)
    assert nm.dims == ("energy", "y", "x")
    assert np.allclose(nm.values[:, 1, 1], single.values, atol=1e-9)
    assert nm.e0.dims == ("y", "x")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"pre1": -3, "pre2": -2.8}, "pre-edge range"),
        ({"norm1": 399.9, "norm2": 400.0}, "post-edge range"),
        ({"nnorm": 5}, "nnorm"),
        ({"e0": 1.0}, "e0"),
        ({"step": -1.0}, "step"),
    ],
)
def test_bad_parameters_name_the_parameter(kwargs: dict, match: str) -> None:
    with pytest.raises(ParameterError, match=match):
        normalize_edge(synthetic_kedge(7112.0), **kwargs)


def test_bad_spectra_raise_spectrum_error() -> None:
    sp = synthetic_kedge(7112.0)
    with pytest.raises(SpectrumError, match="non-finite"):
        normalize_edge(sp.where(sp.energy != sp.energy[10]))
    with pytest.raises(SpectrumError, match="energy"):
        normalize_edge(sp.rename(energy="E"))
    with pytest.raises(SpectrumError, match="edge step"):
        normalize_edge(-sp)
