"""Per-site spectra averaged into their structure's spectrum (xasml.learn.site_average)."""

from __future__ import annotations

import numpy as np
import pytest

from xasml.datamodel import stack
from xasml.errors import InputError
from xasml.learn import Structure
from xasml.learn.site_average import average_site_spectra, average_sites


def test_weighted_mean_per_structure_in_order_of_first_site():
    y = np.array([[1.0, 0.0], [3.0, 2.0], [5.0, 5.0], [0.0, 4.0]])
    labels = ["a#0", "b#1", "a#2", "c"]  # 'c' has no '#': a structure of one site
    avg = average_sites(y, labels, weights=[1, 1, 3, 2])
    assert avg.names == ["a", "b", "c"]
    np.testing.assert_allclose(avg.values, [[4.0, 3.75], [3.0, 2.0], [0.0, 4.0]])
    np.testing.assert_array_equal(avg.n_sites, [2, 1, 1])
    np.testing.assert_array_equal(avg.weight, [4, 1, 2])
    np.testing.assert_array_equal(avg.group, [0, 1, 0, 2])


def test_leading_axes_are_averaged_alike_and_site_order_does_not_matter():
    rng = np.random.default_rng(0)
    members = rng.random((3, 5, 7))  # (models, sites, energy)
    labels = ["m1#0", "m1#4", "m2#1", "m1#6", "m2#3"]
    avg = average_sites(members, labels)
    for k in range(3):
        np.testing.assert_allclose(avg.values[k], average_sites(members[k], labels).values)
    perm = [4, 2, 0, 3, 1]
    again = average_sites(members[:, perm], [labels[i] for i in perm])
    assert again.names == ["m2", "m1"]
    np.testing.assert_allclose(again.values[:, ::-1], avg.values)
    # m1 is the plain mean of its three sites, whatever their order
    np.testing.assert_allclose(avg.values[:, 0], members[:, [0, 1, 3]].mean(axis=1))


def test_dataarray_keeps_energy_and_attrs_and_names_the_structures():
    sp = stack([530.0, 531.0, 532.0], [[1, 2, 3], [3, 2, 1], [0, 0, 6]],
               labels={"label": ["w#0", "w#1", "x#2"]}, element="O", edge="K")
    out = average_site_spectra(sp)
    assert out.dims == ("sample", "energy")
    assert list(out["label"].values) == ["w", "x"]
    assert list(out["n_sites"].values) == [2, 1]
    np.testing.assert_allclose(out.values, [[2, 2, 2], [0, 0, 6]])
    np.testing.assert_array_equal(out["energy"].values, sp["energy"].values)
    assert out.attrs["element"] == "O" and out.attrs["edge"] == "K"


def test_bad_input_is_named():
    with pytest.raises(InputError, match=r"shape \(\.\.\., n_sites=2, n_energy\); found \(3, 4\)"):
        average_sites(np.zeros((3, 4)), ["a#0", "a#1"])
    with pytest.raises(InputError, match="weights must be 2 positive finite numbers"):
        average_sites(np.zeros((2, 4)), ["a#0", "a#1"], weights=[1, 0])
    with pytest.raises(InputError, match="weights must be 2 positive"):
        average_sites(np.zeros((2, 4)), ["a#0", "a#1"], weights=[1])
    with pytest.raises(InputError, match="need a 'label' coordinate"):
        average_site_spectra(stack([1.0, 2.0], [[1, 2]]))
    with pytest.raises(InputError, match=r"Structure\.weight must be a positive number"):
        Structure(np.array([8]), np.zeros((1, 3)), weight=float("nan"))
    with pytest.raises(InputError, match=r"Structure\.weight must be a positive number"):
        Structure(np.array([8]), np.zeros((1, 3)), weight="two")  # type: ignore[arg-type]
