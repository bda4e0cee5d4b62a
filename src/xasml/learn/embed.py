"""Low-dimensional embeddings of spectra with out-of-sample placement.

:class:`SpectrumEmbedding` reduces a set of preprocessed spectra on one energy
grid to a few coordinates (MDS, Isomap, t-SNE, UMAP or PCA) and places new
spectra among them, as in the parameter read-off of Suzuki et al., where
multiplet-simulated Mn L2,3 spectra are embedded and a measured spectrum is
located among them [1]_.

References
----------
.. [1] Y. Suzuki, H. Hino, M. Kotsugi, K. Ono, "Automated estimation of
   materials parameter from X-ray absorption and electron energy-loss
   spectra with similarity measures", npj Comput. Mater. 5, 39 (2019).
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import xarray as xr
from numpy.typing import NDArray
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from ..datamodel import ENERGY, SAMPLE, validate
from ..errors import ParameterError, SpectrumError

__all__ = ["SpectrumEmbedding", "EmbeddingMethod", "mds_out_of_sample", "spectra_matrix"]

EmbeddingMethod = Literal["mds", "isomap", "tsne", "umap", "pca"]
_METHODS = ("mds", "isomap", "tsne", "umap", "pca")


def spectra_matrix(
    X: Any, *, energy: NDArray[np.float64] | None = None, what: str = "spectra"
) -> NDArray[np.float64]:
    """Return spectra as a float matrix of shape ``(n_sample, n_energy)``.

    Parameters
    ----------
    X
        A stack ``(sample, energy)``, a single spectrum ``(energy,)`` or an
        array of shape ``(n_sample, n_energy)`` / ``(n_energy,)``.
    energy
        When given, a DataArray input must lie on exactly this grid (eV).
    what
        Name used in error messages.

    Raises
    ------
    SpectrumError
        If the input is not a spectrum/stack, holds non-finite values, or lies
        on another energy grid than ``energy``.
    """
    if isinstance(X, xr.DataArray):
        validate(X, what=what)
        if X.dims == (ENERGY,):
            X = X.expand_dims(SAMPLE)
        elif set(X.dims) == {SAMPLE, ENERGY}:
            X = X.transpose(SAMPLE, ENERGY)
        else:
            raise SpectrumError(
                f"{what} must have dims (sample, energy) or (energy,); found {X.dims}"
            )
        if energy is not None:
            e = np.asarray(X[ENERGY].values, dtype=float)
            if e.shape != energy.shape or not np.allclose(e, energy, rtol=0, atol=1e-6):
                raise SpectrumError(
                    f"{what} is on a {e.size}-point grid {e[0]:g}–{e[-1]:g} eV, not on the "
                    f"fitted {energy.size}-point grid {energy[0]:g}–{energy[-1]:g} eV; "
                    "resample it onto the fitted grid first"
                )
        return np.asarray(X.values, dtype=float)
    try:
        arr = np.asarray(X, dtype=float)
    except (TypeError, ValueError) as exc:
        raise SpectrumError(f"{what} must be numeric; could not convert: {exc}") from None
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2:
        raise SpectrumError(f"{what} must be 2-D (n_sample, n_energy); found shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise SpectrumError(f"{what} has {int((~np.isfinite(arr)).sum())} non-finite value(s)")
    return arr


def sample_labels(X: Any) -> dict[str, NDArray[Any]]:
    """Per-sample label coordinates of a stack, as ``{name: array (n_sample,)}``."""
    if not isinstance(X, xr.DataArray) or SAMPLE not in X.dims:
        return {}
    return {
        str(name): np.asarray(coord.values)
        for name, coord in X.coords.items()
        if coord.dims == (SAMPLE,) and name != SAMPLE
    }


class SpectrumEmbedding(TransformerMixin, BaseEstimator):
    """Embed spectra in a few dimensions and place new spectra among them.

    Parameters
    ----------
    method
        ``"mds"`` (metric MDS: SMACOF stress minimisation started from
        classical MDS), ``"isomap"``, ``"tsne"`` (openTSNE), ``"umap"``
        (umap-learn) or ``"pca"``.
    n_components
        Dimension of the embedding.
    random_state
        Seed for the stochastic methods.
    method_kwargs
        Extra keyword arguments for the method: ``sklearn.manifold.smacof``
        (``max_iter``, ``eps``) for MDS, ``sklearn.manifold.Isomap``,
        ``openTSNE.TSNE``, ``umap.UMAP`` or ``sklearn.decomposition.PCA``.

    Attributes
    ----------
    energy_ : ndarray of shape (n_energy,) or None
        Energy grid (eV) of the training stack; ``None`` for array input.
    embedding_ : ndarray of shape (n_sample, n_components)
        Coordinates of the training spectra.
    labels_ : dict of str to ndarray of shape (n_sample,)
        Label coordinates of the training stack (``charge``, ``tendq`` ...).
    X_fit_ : ndarray of shape (n_sample, n_energy)
        Training spectra (needed to place new spectra with MDS).
    n_features_in_ : int
        Number of energy points.
    model_ : object or None
        The fitted PCA/Isomap/UMAP model or openTSNE ``TSNEEmbedding``;
        ``None`` for MDS.
    dissimilarity_ : ndarray of shape (n_sample, n_sample)
        MDS only: Euclidean distances between training spectra.
    stress_ : float
        MDS only: final raw stress of the SMACOF fit.

    Notes
    -----
    Out-of-sample placement uses the method's own transform where it has
    one (PCA, Isomap, openTSNE's ``TSNEEmbedding.transform`` [3]_, UMAP). MDS
    has none; a new spectrum with distances ``δ`` to the training spectra is
    placed by minimising its raw stress ``Σ_i (‖y − x_i‖ − δ_i)²`` with the
    training configuration held fixed (the out-of-sample problem of Trosset &
    Priebe [1]_), by stress majorisation (Guttman updates, the MI-MDS
    interpolation of Bae et al. [2]_). It starts from the better of the
    nearest training point and Gower's add-a-point formula (the landmark-MDS
    triangulation of de Silva & Tenenbaum [4]_). A training spectrum is a
    fixed point of these updates, so it lands on its fitted position.

    References
    ----------
    .. [1] M. W. Trosset, C. E. Priebe, "The out-of-sample problem for
       classical multidimensional scaling", Comput. Stat. Data Anal. 52,
       4635 (2008).
    .. [2] S.-H. Bae, J. Y. Choi, J. Qiu, G. C. Fox, "Dimension reduction and
       visualization of large high-dimensional data via interpolation",
       Proc. HPDC '10, 203 (2010).
    .. [3] P. G. Poličar, M. Stražar, B. Zupan, "openTSNE: a modular Python
       library for t-SNE dimensionality reduction and embedding", J. Stat.
       Softw. 109 (2024).
    .. [4] V. de Silva, J. B. Tenenbaum, "Sparse multidimensional scaling
       using landmark points", Stanford tech. rep. (2004); J. C. Gower,
       "Adding a point to vector diagrams in multivariate analysis",
       Biometrika 55, 582 (1968).
    """

    def __init__(
        self,
        method: EmbeddingMethod = "mds",
        *,
        n_components: int = 2,
        random_state: int | None = None,
        method_kwargs: dict[str, Any] | None = None,
    ) -> None:
        self.method = method
        self.n_components = n_components
        self.random_state = random_state
        self.method_kwargs = method_kwargs

    # -- fitting -----------------------------------------------------------
    def fit(self, X: Any, y: Any = None) -> SpectrumEmbedding:
        """Embed the training spectra.

        Parameters
        ----------
        X
            Stack ``(sample, energy)`` of preprocessed spectra on one grid, or
            an array ``(n_sample, n_energy)``.
        y
            Ignored.
        """
        if self.method not in _METHODS:
            raise ParameterError(f"method must be one of {_METHODS}; found {self.method!r}")
        if not isinstance(self.n_components, int | np.integer) or self.n_components < 1:
            raise ParameterError(
                f"n_components must be a positive integer; found {self.n_components!r}"
            )
        A = spectra_matrix(X, what="training spectra")
        if A.shape[0] <= self.n_components:
            raise ParameterError(
                f"need more training spectra ({A.shape[0]}) than n_components ({self.n_components})"
            )
        kw = dict(self.method_kwargs or {})
        self.energy_ = (
            np.asarray(X[ENERGY].values, dtype=float) if isinstance(X, xr.DataArray) else None
        )
        self.labels_ = sample_labels(X)
        self.X_fit_ = A.copy()
        self.n_features_in_ = A.shape[1]
        fit = getattr(self, f"_fit_{self.method}")
        try:
            self.embedding_ = np.asarray(fit(A, kw), dtype=float)
        except TypeError as exc:
            # Almost always a keyword the method does not take.
            raise ParameterError(
                f"method_kwargs {sorted(self.method_kwargs or {})} not accepted by "
                f"method {self.method!r}: {exc}"
            ) from None
        return self

    def _fit_pca(self, A: NDArray[np.float64], kw: dict[str, Any]) -> NDArray[np.float64]:
        from sklearn.decomposition import PCA

        self.model_ = PCA(n_components=self.n_components, random_state=self.random_state, **kw)
        return np.asarray(self.model_.fit_transform(A))

    def _fit_isomap(self, A: NDArray[np.float64], kw: dict[str, Any]) -> NDArray[np.float64]:
        from sklearn.manifold import Isomap

        kw.setdefault("n_neighbors", min(10, A.shape[0] - 1))
        self.model_ = Isomap(n_components=self.n_components, **kw)
        return np.asarray(self.model_.fit_transform(A))

    def _fit_tsne(self, A: NDArray[np.float64], kw: dict[str, Any]) -> NDArray[np.float64]:
        from openTSNE import TSNE

        # openTSNE needs roughly 3 * perplexity neighbours per point.
        kw.setdefault("perplexity", float(min(30.0, (A.shape[0] - 1) / 3.0)))
        tsne = TSNE(n_components=self.n_components, random_state=self.random_state, **kw)
        # The TSNEEmbedding returned by fit keeps the affinities transform needs.
        self.model_ = tsne.fit(A)
        return np.asarray(self.model_)

    def _fit_umap(self, A: NDArray[np.float64], kw: dict[str, Any]) -> NDArray[np.float64]:
        import warnings

        import umap

        kw.setdefault("n_neighbors", min(15, A.shape[0] - 1))
        self.model_ = umap.UMAP(
            n_components=self.n_components, random_state=self.random_state, **kw
        )
        with warnings.catch_warnings():
            # A seed makes umap run single-threaded and say so each time.
            warnings.filterwarnings("ignore", message="n_jobs value", category=UserWarning)
            self.model_.fit(A)
        return np.asarray(self.model_.embedding_)

    def _fit_mds(self, A: NDArray[np.float64], kw: dict[str, Any]) -> NDArray[np.float64]:
        from scipy.spatial.distance import pdist, squareform
        from sklearn.manifold import smacof

        D = squareform(pdist(A))
        self.dissimilarity_ = D
        init = _classical_mds(D, self.n_components)
        kw.setdefault("max_iter", 1000)
        kw.setdefault("eps", 1e-9)
        X, stress = smacof(
            D, metric=True, n_components=self.n_components, init=init, n_init=1,
            random_state=self.random_state, normalized_stress=False, **kw,
        )
        self.stress_ = float(stress)
        self.model_ = None
        return np.asarray(X)

    # -- placing new spectra -----------------------------------------------
    def transform(self, X: Any) -> NDArray[np.float64]:
        """Place spectra in the fitted embedding.

        Parameters
        ----------
        X
            Stack ``(sample, energy)`` or single spectrum on the fitted grid
            ``energy_``, or an array ``(n_sample, n_energy)``.

        Returns
        -------
        ndarray of shape (n_sample, n_components)
        """
        check_is_fitted(self, "embedding_")
        A = spectra_matrix(X, energy=self.energy_, what="spectra to place")
        if A.shape[1] != self.n_features_in_:
            raise SpectrumError(
                f"spectra to place have {A.shape[1]} energy points; the embedding was "
                f"fitted on {self.n_features_in_}"
            )
        if self.method == "mds":
            return self._place_mds(A)
        if self.method == "tsne":
            k = min(25, self.X_fit_.shape[0] - 1)
            placed = self.model_.transform(A, k=k, perplexity=min(5.0, (k - 1) / 3.0))
            return np.asarray(placed, dtype=float)
        return np.asarray(self.model_.transform(A), dtype=float)

    def _place_mds(self, A: NDArray[np.float64]) -> NDArray[np.float64]:
        from scipy.spatial.distance import cdist

        return mds_out_of_sample(self.embedding_, self.dissimilarity_, cdist(A, self.X_fit_))


def _classical_mds(D: NDArray[np.float64], k: int) -> NDArray[np.float64]:
    """Torgerson's classical MDS of a distance matrix ``(n, n)`` → ``(n, k)``."""
    n = D.shape[0]
    J = np.eye(n) - 1.0 / n
    B = -0.5 * J @ (D**2) @ J
    w, V = np.linalg.eigh(B)
    order = np.argsort(w)[::-1][:k]
    return V[:, order] * np.sqrt(np.clip(w[order], 0.0, None))


def mds_out_of_sample(
    embedding: NDArray[np.float64],
    D_train: NDArray[np.float64],
    delta: NDArray[np.float64],
    *,
    max_iter: int = 500,
    tol: float = 1e-10,
) -> NDArray[np.float64]:
    """Place points in a fixed metric-MDS configuration (out-of-sample MDS).

    Parameters
    ----------
    embedding
        Training configuration, shape ``(n, k)``.
    D_train
        Distances between training points in the original space, ``(n, n)``.
    delta
        Distances from each new point to the training points, ``(m, n)``.
    max_iter, tol
        Majorisation stops after ``max_iter`` updates or when no point moves
        more than ``tol`` times the configuration's size.

    Returns
    -------
    ndarray of shape (m, k)
        Positions minimising ``Σ_i (‖y − x_i‖ − δ_i)²`` for each new point.

    Notes
    -----
    Starting points: Gower's formula ``y = ½ (XᵀX)⁻¹ Xᵀ (d̄² − δ²)`` with the
    centred configuration X and the column means d̄² of the squared training
    distances (exact for classical MDS; de Silva & Tenenbaum's landmark
    triangulation), and the nearest training point; the one of lower stress
    after majorisation is kept. Updates are Guttman transforms of the
    one-point stress, ``y ← mean_i [x_i + δ_i (y − x_i)/‖y − x_i‖]``
    (Bae et al. 2010).
    """
    X = np.asarray(embedding, dtype=float)
    delta = np.atleast_2d(np.asarray(delta, dtype=float))
    centre = X.mean(axis=0)
    Xc = X - centre
    dbar2 = np.mean(np.asarray(D_train, dtype=float) ** 2, axis=0)
    gower = 0.5 * np.linalg.lstsq(Xc, (dbar2[None, :] - delta**2).T, rcond=None)[0].T + centre
    nearest = X[np.argmin(delta, axis=1)]
    scale = float(np.sqrt(np.mean(np.sum(Xc**2, axis=1)))) or 1.0
    candidates = [_majorise(X, delta, start, max_iter, tol * scale) for start in (nearest, gower)]
    stress = np.stack([_stress(X, delta, Y) for Y in candidates])  # (2, m)
    # Ties go to the nearest-point start, which keeps training points in place.
    return np.where((stress[1] < stress[0])[:, None], candidates[1], candidates[0])


def _stress(X: NDArray[np.float64], delta: NDArray[np.float64], Y: NDArray[np.float64]) -> Any:
    return np.sum((np.linalg.norm(Y[:, None, :] - X[None, :, :], axis=2) - delta) ** 2, axis=1)


def _majorise(
    X: NDArray[np.float64], delta: NDArray[np.float64], Y: NDArray[np.float64],
    max_iter: int, tol: float,
) -> NDArray[np.float64]:
    for _ in range(max_iter):
        diff = Y[:, None, :] - X[None, :, :]
        dist = np.linalg.norm(diff, axis=2)
        ratio = np.divide(delta, dist, out=np.zeros_like(dist), where=dist > 0)
        Y_new = np.mean(X[None, :, :] + ratio[:, :, None] * diff, axis=1)
        step = float(np.max(np.abs(Y_new - Y)))
        Y = Y_new
        if step <= tol:
            break
    return Y
