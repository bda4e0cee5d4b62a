"""ParameterEstimator / estimate: known answers on the toy Mn L2,3 model, errors.

The training grid steps 10Dq by 0.1 eV. Tolerances:
* clean spectra off the grid: |Δ10Dq| ≤ 0.05 eV (half a grid step);
* with 1 % noise, a 0.1 eV shift and 25 % more broadening: |Δ10Dq| ≤ 0.25 eV.
  The two crystal-field peaks of a manifold sit at E ∓ 10Dq/2 with unequal
  weights, so a rigid shift δ of the spectrum reads as up to 2δ of 10Dq
  (0.2 eV), plus half a grid step.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.neighbors import KNeighborsClassifier

from _synthetic_mn import GRID, measured, training_stack
from xasml.datamodel import spectrum
from xasml.errors import ParameterError, SpectrumError
from xasml.learn import EstimationResult, ParameterEstimator, SpectrumEmbedding, estimate

CASES = [(2, 0.35), (2, 1.25), (3, 0.85), (3, 2.05), (4, 1.55), (4, 2.25)]


@pytest.fixture(scope="module")
def train():
    return training_stack()


@pytest.fixture(scope="module")
def fitted(train):
    return ParameterEstimator(n_neighbors=5, embedding="mds").fit(train)


@pytest.mark.parametrize(("charge", "tendq"), CASES)
def test_recovers_off_grid_parameters_from_clean_spectra(fitted, charge, tendq):
    r = fitted.estimate(measured(charge, tendq))
    for space in (r.spectrum, r.embedding):
        assert space is not None
        assert space.predicted_class == charge
        assert space.class_probabilities[charge] == pytest.approx(1.0)
        assert abs(space.values["tendq"].mean - tendq) <= 0.05


@pytest.mark.parametrize("metric", ["euclidean", "correlation"])
@pytest.mark.parametrize(("charge", "tendq"), CASES)
def test_recovers_parameters_from_perturbed_spectra(train, metric, charge, tendq):
    est = ParameterEstimator(metric=metric, embedding="mds").fit(train)
    spec = measured(charge, tendq, noise=0.01, shift=0.1, fwhm=0.5, seed=charge)
    r = est.estimate(spec)
    for space in (r.spectrum, r.embedding):
        assert space is not None
        assert space.predicted_class == charge
        assert space.class_probabilities[charge] > 0.5
        assert abs(space.values["tendq"].mean - tendq) <= 0.25
        assert space.values["tendq"].std > 0


def test_training_spectrum_finds_itself(fitted, train):
    i = 40
    r = fitted.estimate(train.isel(sample=i))
    first = r.spectrum.neighbours[0]
    assert first.index == i
    assert first.distance == 0.0
    assert first.labels == {"charge": int(train["charge"][i]), "tendq": float(train["tendq"][i])}
    assert r.spectrum.class_probabilities[first.labels["charge"]] == 1.0
    assert r.spectrum.values["tendq"].mean == first.labels["tendq"]
    assert r.spectrum.values["tendq"].std == 0.0
    # In the MDS embedding the placement is within SMACOF's tolerance of its fit.
    assert r.embedding is not None and r.embedding.neighbours[0].index == i
    assert r.embedding.neighbours[0].distance < 1e-3
    np.testing.assert_allclose(r.position, fitted.embedding_.embedding_[i], atol=1e-3)


def test_class_probabilities_match_sklearn_knn(train):
    est = ParameterEstimator(n_neighbors=7, embedding=None, normalize="none").fit(train)
    ref = KNeighborsClassifier(n_neighbors=7, weights="distance").fit(
        train.values, train["charge"].values
    )
    # Halfway between a Mn2+ and a Mn3+ spectrum: neighbours of both classes.
    mix = 0.5 * (train.values[10] + train.values[30])
    r = est.estimate(spectrum(GRID, mix))
    expected = dict(zip(ref.classes_, ref.predict_proba(mix[None, :])[0], strict=True))
    got = r.spectrum.class_probabilities
    assert set(got) == {2, 3, 4}
    for c in (2, 3, 4):
        assert got[c] == pytest.approx(expected[c], abs=1e-12)
    assert 0 < got[2] < 1 and 0 < got[3] < 1


def test_correlation_metric_ignores_scale_and_offset(train):
    est = ParameterEstimator(metric="correlation", normalize="none", embedding=None).fit(train)
    spec = measured(3, 1.15, energy=GRID)
    a = est.estimate(spec)
    b = est.estimate(spec * 4.0 + 0.3)
    assert [n.index for n in a.spectrum.neighbours] == [n.index for n in b.spectrum.neighbours]
    np.testing.assert_allclose(
        [n.distance for n in a.spectrum.neighbours],
        [n.distance for n in b.spectrum.neighbours], atol=1e-12,
    )


def test_generic_label_names_and_values_only(train):
    renamed = train.rename({"charge": "valence", "tendq": "crystal_field"})
    r = estimate(renamed, measured(2, 1.25), class_label="valence",
                 value_labels=("crystal_field",), embedding="pca")
    assert r.spectrum.predicted_class == 2 and r.method == "pca"
    assert abs(r.embedding.values["crystal_field"].mean - 1.25) <= 0.1  # type: ignore[union-attr]
    r2 = estimate(train, measured(2, 1.25), class_label=None, embedding=None)
    assert r2.spectrum.predicted_class is None and r2.embedding is None
    assert set(r2.spectrum.neighbours[0].labels) == {"tendq"}


def test_embedding_instance_is_cloned_not_mutated(train):
    emb = SpectrumEmbedding("isomap", method_kwargs={"n_neighbors": 12})
    est = ParameterEstimator(embedding=emb).fit(train)
    assert not hasattr(emb, "embedding_")
    assert est.embedding_.method == "isomap"
    assert est.estimate(measured(4, 0.6)).embedding.predicted_class == 4  # type: ignore[union-attr]


def test_result_serialises_and_renders(fitted):
    r = fitted.estimate(measured(3, 1.0))
    assert isinstance(r, EstimationResult)
    d = json.loads(json.dumps(r.to_dict()))
    assert d["spectrum"]["predicted_class"] == 3
    assert set(d["spectrum"]["class_probabilities"]) == {"2", "3", "4"}
    assert d["embedding"]["values"]["tendq"]["n"] == 5
    assert len(d["spectrum"]["neighbours"]) == 5 and d["method"] == "mds"
    md = r.to_markdown()
    assert "| charge | 3 (p = 1.00) | 3 (p = 1.00) |" in md
    assert "| tendq |" in md and "Nearest simulated spectra (spectrum space)" in md


def test_measured_must_cover_training_range(fitted):
    narrow = measured(2, 1.0, energy=np.arange(630.0, 640.0, 0.1))
    with pytest.raises(SpectrumError, match=r"measured range 630–639\.9 eV does not cover "
                       r"the training range 635–660 eV"):
        fitted.estimate(narrow)


def test_element_and_edge_must_match(fitted):
    with pytest.raises(SpectrumError, match=r"element 'Fe'.*element 'Mn'"):
        fitted.estimate(measured(2, 1.0, element="Fe"))
    with pytest.raises(SpectrumError, match="edge 'K'"):
        fitted.estimate(measured(2, 1.0, element="Mn", edge="K"))
    # Spelling variants of the same edge are accepted.
    r = fitted.estimate(measured(2, 1.0, element="mn", edge="L23"))
    assert r.spectrum.predicted_class == 2


def test_bad_inputs(train, fitted):
    with pytest.raises(ParameterError, match="label 'spin' is not a coordinate"):
        ParameterEstimator(class_label="spin").fit(train)
    with pytest.raises(ParameterError, match="sequence of names"):
        ParameterEstimator(value_labels="tendq").fit(train)
    with pytest.raises(ParameterError, match=r"n_neighbors must be an integer in 1\.\.78"):
        ParameterEstimator(n_neighbors=100).fit(train)
    with pytest.raises(ParameterError, match="metric"):
        ParameterEstimator(metric="cosine").fit(train)  # type: ignore[arg-type]
    with pytest.raises(SpectrumError, match="dims"):
        ParameterEstimator().fit(train.values)  # type: ignore[arg-type]
    with pytest.raises(SpectrumError, match="found 2 samples"):
        fitted.estimate(train.isel(sample=[0, 1]))
    with pytest.raises(SpectrumError, match="cannot be normalised"):
        fitted.estimate(spectrum(GRID, np.zeros(GRID.size)))
