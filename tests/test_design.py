"""Designs: grid ranges, Latin hypercube strata, stable keys."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from scipy.stats import qmc

from xasml.errors import ParameterError
from xasml.simulate import Design, grid, latin_hypercube, param_key
from xasml.simulate._design import parse_axis


def test_range_inclusive_of_stop_and_rounded():
    values = parse_axis("tendq", "0:2.5:0.1")
    assert len(values) == 26
    assert values[0] == 0.0 and values[-1] == 2.5
    assert values[3] == 0.3  # not 0.30000000000000004
    np.testing.assert_allclose(values, np.arange(26) / 10)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [("1:1:0.5", [1.0]), ("0.5,1.0", [0.5, 1.0]), ("Mn2+,Mn3+", ["Mn2+", "Mn3+"]), (3, [3.0])],
)
def test_axis_forms(spec, expected):
    assert parse_axis("x", spec) == expected


@pytest.mark.parametrize("spec", ["0:2:0", "2:0:0.1", "a:1:0.1", "1:2", [], "0:1:-1"])
def test_bad_axes_raise_one_line_parameter_error(spec):
    with pytest.raises(ParameterError, match="'x'"):
        parse_axis("x", spec)


def test_grid_is_cartesian_product_last_axis_fastest():
    d = grid(ion=["Mn2+", "Mn3+", "Mn4+"], tendq="0:2.5:0.1")
    assert len(d) == 78
    assert d.params[0] == {"ion": "Mn2+", "tendq": 0.0}
    assert d.params[1] == {"ion": "Mn2+", "tendq": 0.1}
    assert d.params[26] == {"ion": "Mn3+", "tendq": 0.0}
    assert len(set(d.keys)) == 78
    assert d.description["kind"] == "grid"


def test_keys_are_canonical():
    assert param_key({"a": 1, "b": "x"}) == param_key({"b": "x", "a": 1.0})
    assert param_key({"a": 0.1 + 0.2}) == param_key({"a": 0.3})
    assert param_key({"a": -0.0}) == param_key({"a": 0.0})
    assert param_key({"a": 1.0}) != param_key({"a": 1.001})
    assert param_key({"a": 1.0}) != param_key({"a": "1.0"})
    # Stable across versions and machines: SHA-256 of the canonical JSON text.
    text = b'{"ion":"Mn2+","tendq":1.0}'
    assert param_key({"tendq": 1, "ion": "Mn2+"}) == hashlib.sha256(text).hexdigest()[:20]


def test_design_deduplicates_and_unions():
    a = grid(x=[1, 2, 3])
    b = grid(x=[3, 4])
    u = a + b
    assert [p["x"] for p in u] == [1.0, 2.0, 3.0, 4.0]
    assert len(Design([{"x": 1}, {"x": 1.0}])) == 1


@pytest.mark.parametrize("bad", [{"x": float("nan")}, {"x": True}, {"x": [1]}, {}])
def test_bad_parameter_sets(bad):
    with pytest.raises(ParameterError):
        Design([bad])


def test_latin_hypercube_strata_and_seed():
    n = 20
    d = latin_hypercube(
        n,
        {"tendq": (0.0, 2.0), "ds": (-0.1, 0.1)},
        {"ion": ["Mn2+", "Mn3+", "Mn4+", "Mn5+"]},
        seed=7,
    )
    assert len(d) == n and d.seed == 7
    t = np.array([p["tendq"] for p in d])
    assert t.min() >= 0 and t.max() < 2
    # Latin property: exactly one sample in each of the n equal strata.
    np.testing.assert_array_equal(np.sort((t / 2.0 * n).astype(int)), np.arange(n))
    ions = [p["ion"] for p in d]
    assert all(ions.count(i) == 5 for i in ["Mn2+", "Mn3+", "Mn4+", "Mn5+"])
    again = latin_hypercube(
        n,
        {"tendq": (0.0, 2.0), "ds": (-0.1, 0.1)},
        {"ion": ["Mn2+", "Mn3+", "Mn4+", "Mn5+"]},
        seed=7,
    )
    assert again.keys == d.keys
    # Same numbers as scipy's sampler with the same generator.
    ref = qmc.LatinHypercube(d=3, seed=np.random.default_rng(7)).random(n)
    np.testing.assert_allclose(t, 2.0 * ref[:, 0], rtol=1e-11)


@pytest.mark.parametrize(
    ("n", "bounds"),
    [(0, {"x": (0, 1)}), (3, {"x": (1, 0)}), (3, {"x": (0, float("inf"))}), (3, {})],
)
def test_latin_hypercube_rejects_bad_input(n, bounds):
    with pytest.raises(ParameterError):
        latin_hypercube(n, bounds, seed=0)
