"""SpectrumEmbedding: shapes, out-of-sample placement, reference transforms, errors."""

from __future__ import annotations

import re

import numpy as np
import pytest
from scipy.spatial.distance import cdist, pdist, squareform
from sklearn.base import clone
from sklearn.decomposition import PCA
from sklearn.exceptions import NotFittedError

from _synthetic_mn import GRID, training_stack
from xasml.datamodel import stack
from xasml.errors import ParameterError, SpectrumError
from xasml.learn import SpectrumEmbedding
from xasml.learn.embed import mds_out_of_sample


@pytest.fixture(scope="module")
def train():
    return training_stack()


@pytest.mark.parametrize("method", ["pca", "mds", "isomap", "tsne"])
def test_shapes_grid_and_labels(train, method):
    emb = SpectrumEmbedding(method, random_state=0).fit(train)
    assert emb.embedding_.shape == (train.sizes["sample"], 2)
    assert np.all(np.isfinite(emb.embedding_))
    np.testing.assert_array_equal(emb.energy_, GRID)
    np.testing.assert_array_equal(emb.labels_["charge"], train["charge"].values)
    placed = emb.transform(train.isel(sample=slice(0, 3)))
    assert placed.shape == (3, 2)
    # A single spectrum (energy,) is placed as one row.
    assert emb.transform(train.isel(sample=0)).shape == (1, 2)


@pytest.mark.parametrize("n_components", [2, 3])
def test_pca_transform_equals_sklearn(train, n_components):
    emb = SpectrumEmbedding("pca", n_components=n_components).fit(train)
    ref = PCA(n_components=n_components).fit(train.values)
    queries = train.values[::7] * 1.1 + 0.01
    np.testing.assert_allclose(emb.transform(queries), ref.transform(queries), atol=1e-12)
    np.testing.assert_allclose(np.abs(emb.embedding_), np.abs(ref.transform(train.values)))


def test_mds_places_training_spectra_on_their_fitted_positions(train):
    emb = SpectrumEmbedding("mds").fit(train)
    placed = emb.transform(train)
    size = np.ptp(emb.embedding_, axis=0).max()
    # Converged SMACOF makes every training point a stationary point of its own
    # one-point stress; the residual is set by SMACOF's stopping tolerance.
    assert np.max(np.linalg.norm(placed - emb.embedding_, axis=1)) < 1e-3 * size


def test_mds_out_of_sample_recovers_exact_planar_configuration():
    # Points that truly lie in a plane (rotated into 30-D): the MDS embedding is
    # exact, so a new point's embedded distances must equal its true distances.
    rng = np.random.default_rng(3)
    plane = rng.uniform(-1, 1, size=(40, 2))
    rot = np.linalg.qr(rng.standard_normal((30, 30)))[0][:, :2]
    emb = SpectrumEmbedding("mds").fit(plane @ rot.T)
    new = rng.uniform(-0.8, 0.8, size=(5, 2))
    placed = emb.transform(new @ rot.T)
    np.testing.assert_allclose(cdist(placed, emb.embedding_), cdist(new, plane), atol=1e-4)


def test_mds_out_of_sample_gower_start_is_exact_for_classical_mds():
    # For a classical-MDS configuration Gower's formula alone is exact; the
    # majorisation must keep it.
    rng = np.random.default_rng(4)
    pts = rng.standard_normal((25, 2))
    X = pts - pts.mean(axis=0)
    D = squareform(pdist(X))
    y = np.array([[0.3, -0.2]])
    np.testing.assert_allclose(mds_out_of_sample(X, D, cdist(y, X)), y, atol=1e-6)


def test_isomap_places_training_spectra_on_their_fitted_positions(train):
    emb = SpectrumEmbedding("isomap").fit(train)
    np.testing.assert_allclose(emb.transform(train), emb.embedding_, atol=1e-6)


def test_tsne_places_training_spectra_beside_themselves(train):
    emb = SpectrumEmbedding("tsne", random_state=0).fit(train)
    placed = emb.transform(train.isel(sample=[5, 30, 60]))
    nearest = np.argmin(cdist(placed, emb.embedding_), axis=1)
    for i, j in zip([5, 30, 60], nearest, strict=True):
        assert train["charge"].values[j] == train["charge"].values[i]
        assert abs(train["tendq"].values[j] - train["tendq"].values[i]) <= 0.2 + 1e-9


@pytest.mark.slow
def test_umap_fit_and_transform(train):
    # umap-learn compiles with numba on first use (~25 s CPU): one small test only.
    small = train.isel(sample=slice(None, None, 2))
    emb = SpectrumEmbedding("umap", random_state=0, method_kwargs={"n_epochs": 50}).fit(small)
    assert emb.embedding_.shape == (small.sizes["sample"], 2)
    placed = emb.transform(small.isel(sample=[3, 30]))
    nearest = np.argmin(cdist(placed, emb.embedding_), axis=1)
    np.testing.assert_array_equal(
        small["charge"].values[nearest], small["charge"].values[[3, 30]]
    )


def test_estimator_contract(train):
    emb = SpectrumEmbedding("pca", n_components=3, method_kwargs={"whiten": True})
    assert clone(emb).get_params() == emb.get_params()
    with pytest.raises(NotFittedError):
        emb.transform(train)


def test_bad_inputs(train):
    with pytest.raises(ParameterError, match="method must be one of"):
        SpectrumEmbedding("lle").fit(train)  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="n_components"):
        SpectrumEmbedding("pca", n_components=0).fit(train)
    emb = SpectrumEmbedding("pca").fit(train)
    other = stack(GRID + 0.05, train.values)
    with pytest.raises(SpectrumError, match="not on the fitted 251-point grid 635–660 eV"):
        emb.transform(other)
    with pytest.raises(SpectrumError, match="250 energy points"):
        emb.transform(train.values[:, :-1])
    bad = train.values.copy()
    bad[0, 3] = np.nan
    with pytest.raises(SpectrumError, match="non-finite"):
        SpectrumEmbedding("pca").fit(bad)


# -- the embedding figure ------------------------------------------------------
@pytest.fixture(scope="module")
def fitted_mds(train):
    from xasml.learn import ParameterEstimator

    return ParameterEstimator(embedding="mds").fit(train)


def test_plot_embedding_draws_points_labels_measured_and_inset(fitted_mds, train):
    from _synthetic_mn import measured
    from xasml.learn import plot_embedding

    fig = plot_embedding(fitted_mds, measured(2, 1.15, noise=0.01), n_best=3)
    ax = fig.axes[0]
    texts = [t.get_text() for t in ax.texts]
    assert sorted(texts) == sorted(str(round(t * 10)) for t in train["tendq"].values)
    # Three class clouds and the measured circle.
    assert len(ax.collections) == 4
    np.testing.assert_allclose(ax.collections[-1].get_offsets()[0],
                               fitted_mds.estimate(measured(2, 1.15, noise=0.01)).position)
    inset = ax.child_axes[0]
    assert len(inset.lines) == 4  # three best matches and the measured spectrum
    # No simulated point hides under the inset.
    box = inset.get_position(original=False)
    fig.canvas.draw()
    pix = ax.transData.transform(fitted_mds.embedding_.embedding_)
    inv = fig.transFigure.inverted().transform(pix)
    under = ((inv[:, 0] > box.x0) & (inv[:, 0] < box.x1)
             & (inv[:, 1] > box.y0) & (inv[:, 1] < box.y1))
    assert not under.any()


def test_save_embedding_figure_png_and_html(fitted_mds, tmp_path):
    from _synthetic_mn import measured
    from xasml.learn import save_embedding_figure

    png = save_embedding_figure(tmp_path / "emb.png", fitted_mds, measured(3, 0.8))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    html = save_embedding_figure(tmp_path / "emb.html", fitted_mds, measured(3, 0.8)).read_text()
    # Standalone: plotly.js embedded, no <script src=...> fetching it.
    assert "Plotly.newPlot" in html and re.search(r"<script[^>]*\bsrc=", html) is None
    assert len(html) > 1_000_000
    assert "charge 3" in html and "measured" in html


def test_figure_errors(train, fitted_mds, tmp_path):
    from xasml.learn import ParameterEstimator, plot_embedding, save_embedding_figure

    with pytest.raises(ParameterError, match="no embedding"):
        plot_embedding(ParameterEstimator(embedding=None).fit(train))
    three = ParameterEstimator(embedding=SpectrumEmbedding("pca", n_components=3)).fit(train)
    with pytest.raises(ParameterError, match="2-D embedding"):
        plot_embedding(three)
    with pytest.raises(ParameterError, match=r"\.png, \.pdf, \.svg or \.html"):
        save_embedding_figure(tmp_path / "emb.jpg", fitted_mds)
    with pytest.raises(ParameterError, match="annotate label 'spin'"):
        plot_embedding(fitted_mds, annotate="spin")


def test_unknown_method_kwarg_is_a_parameter_error(train):
    with pytest.raises(ParameterError, match=r"method_kwargs \['bogus'\].*'isomap'"):
        SpectrumEmbedding("isomap", method_kwargs={"bogus": 1}).fit(train)
