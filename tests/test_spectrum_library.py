"""Snapping predictions to library spectra: exact neighbours, distances, means, errors."""

from __future__ import annotations

import numpy as np
import pytest

from xasml.errors import InputError, ParameterError
from xasml.learn import nearest_spectra

ENERGY = np.linspace(0.0, 10.0, 101)


def _library() -> np.ndarray:
    # sharp peaks at 2, 4, 6, 8 eV
    return np.stack([np.exp(-0.5 * ((ENERGY - c) / 0.3) ** 2) for c in (2.0, 4.0, 6.0, 8.0)])


def test_a_library_spectrum_is_its_own_nearest_at_zero_distance() -> None:
    lib = _library()
    snap = nearest_spectra(lib[[2, 0]], lib, k=1)
    assert snap.index[:, 0].tolist() == [2, 0]
    np.testing.assert_array_equal(snap.rms, 0.0)
    np.testing.assert_array_equal(snap.spectra, lib[[2, 0]])


def test_rms_is_the_root_mean_square_difference() -> None:
    lib = _library()
    # a constant offset of 0.01 from row 1: RMS exactly 0.01, closer than any other row
    snap = nearest_spectra(lib[1:2] + 0.01, lib, k=1)
    assert snap.index[0, 0] == 1
    assert snap.rms[0, 0] == pytest.approx(0.01, rel=1e-9)


def test_k_neighbours_nearest_first_and_their_mean() -> None:
    lib = _library()
    # a smeared prediction: mostly the 4 eV peak, some of the 6 eV one
    query = 0.7 * lib[1] + 0.3 * lib[2]
    snap = nearest_spectra(query[None], lib, k=2)
    assert snap.index[0].tolist() == [1, 2]
    assert snap.rms[0, 0] < snap.rms[0, 1]
    np.testing.assert_allclose(snap.spectra[0], lib[[1, 2]].mean(axis=0))
    # k=1 gives back a full-height sharp peak where the query's was lowered to 0.7
    one = nearest_spectra(query[None], lib, k=1).spectra[0]
    assert query.max() == pytest.approx(0.7, abs=1e-3) and one.max() == pytest.approx(1.0)


def test_no_queries_give_empty_results() -> None:
    snap = nearest_spectra(np.zeros((0, ENERGY.size)), _library(), k=2)
    assert snap.spectra.shape == (0, ENERGY.size) and snap.index.shape == (0, 2)


def test_errors_name_the_problem() -> None:
    lib = _library()
    with pytest.raises(ParameterError, match=r"k must be an int in 1\.\.4"):
        nearest_spectra(lib, lib, k=5)
    with pytest.raises(ParameterError, match="k must"):
        nearest_spectra(lib, lib, k=0)
    with pytest.raises(InputError, match=r"\(n_queries, 101\)"):
        nearest_spectra(lib[:, :50], lib)
    with pytest.raises(InputError, match="library must"):
        nearest_spectra(lib, np.zeros((0, 101)))
    bad = lib.copy()
    bad[0, 3] = np.nan
    with pytest.raises(InputError, match="queries contain NaN"):
        nearest_spectra(bad, lib)
