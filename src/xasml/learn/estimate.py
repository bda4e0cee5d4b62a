"""Read parameters of a measured spectrum off a labelled set of simulations.

A measured spectrum is compared with simulated spectra of known parameters
(for Mn L2,3: the charge and the crystal-field splitting 10Dq). The class
label (charge) gets probabilities from distance-weighted nearest neighbours;
each value label (10Dq) gets the weighted mean and spread of the nearest
simulations of the predicted class. Both are computed in spectrum space (on
the common energy grid) and in a low-dimensional embedding, as in Suzuki et
al. [1]_.

References
----------
.. [1] Y. Suzuki, H. Hino, M. Kotsugi, K. Ono, "Automated estimation of
   materials parameter from X-ray absorption and electron energy-loss
   spectra with similarity measures", npj Comput. Mater. 5, 39 (2019).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
import xarray as xr
from numpy.typing import NDArray
from scipy.integrate import trapezoid
from scipy.spatial.distance import cdist
from sklearn.base import BaseEstimator, clone
from sklearn.utils.validation import check_is_fitted

from ..datamodel import ENERGY, SAMPLE, validate
from ..errors import ParameterError, SpectrumError
from .embed import EmbeddingMethod, SpectrumEmbedding, sample_labels

__all__ = [
    "Neighbour",
    "ValueEstimate",
    "SpaceEstimate",
    "EstimationResult",
    "ParameterEstimator",
    "estimate",
]

Normalize = Literal["area", "max", "none"]
Metric = Literal["euclidean", "correlation"]


@dataclass(frozen=True)
class Neighbour:
    """One simulated spectrum near the measured one."""

    index: int
    distance: float
    labels: dict[str, Any]


@dataclass(frozen=True)
class ValueEstimate:
    """A continuous parameter: weighted mean ± weighted spread of ``n`` neighbours."""

    name: str
    mean: float
    std: float
    n: int


@dataclass(frozen=True)
class SpaceEstimate:
    """Estimates from neighbours in one space (``"spectrum"`` or ``"embedding"``)."""

    space: str
    metric: str
    predicted_class: Any
    class_probabilities: dict[Any, float]
    values: dict[str, ValueEstimate]
    neighbours: tuple[Neighbour, ...]


@dataclass(frozen=True)
class EstimationResult:
    """Parameters of a measured spectrum read off simulations (:func:`estimate`).

    Attributes
    ----------
    class_label, value_labels
        Names of the estimated labels.
    spectrum
        Estimate from distances between spectra on the training grid.
    embedding
        Estimate from distances in the embedding, or ``None`` without one.
    position
        Coordinates of the measured spectrum in the embedding.
    method
        Embedding method (``"mds"`` ...), or ``None``.
    name
        Name of the measured spectrum.
    """

    class_label: str | None
    value_labels: tuple[str, ...]
    spectrum: SpaceEstimate
    embedding: SpaceEstimate | None
    position: tuple[float, ...] | None
    method: str | None
    name: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable dictionary (class keys become strings)."""
        out = _jsonable(asdict(self))
        return dict(out)

    def to_markdown(self) -> str:
        """Human-readable Markdown report."""
        title = f"Parameter estimate for {self.name}" if self.name else "Parameter estimate"
        lines = [f"## {title}", ""]
        spaces = [self.spectrum] + ([self.embedding] if self.embedding is not None else [])
        head = ["quantity"] + [f"{s.space} ({s.metric})" for s in spaces]
        lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        if self.class_label is not None:
            lines.append(
                f"| {self.class_label} | "
                + " | ".join(
                    f"{_fmt(s.predicted_class)} "
                    f"(p = {s.class_probabilities[s.predicted_class]:.2f})"
                    for s in spaces
                )
                + " |"
            )
        for name in self.value_labels:
            lines.append(
                f"| {name} | "
                + " | ".join(
                    f"{s.values[name].mean:.3g} ± {s.values[name].std:.2g}" for s in spaces
                )
                + " |"
            )
        if self.position is not None:
            lines += ["", f"Position in the {self.method} embedding: "
                      + ", ".join(f"{p:.3g}" for p in self.position)]
        for s in spaces:
            lines += ["", f"Nearest simulated spectra ({s.space} space):", ""]
            names = list(s.neighbours[0].labels) if s.neighbours else []
            lines += ["| # | sample | distance | " + " | ".join(names) + " |",
                      "|---|---|---|" + "---|" * len(names)]
            for rank, nb in enumerate(s.neighbours, 1):
                lines.append(
                    f"| {rank} | {nb.index} | {nb.distance:.3g} | "
                    + " | ".join(_fmt(nb.labels[k]) for k in names) + " |"
                )
        return "\n".join(lines) + "\n"

    def __str__(self) -> str:
        return self.to_markdown()


class ParameterEstimator(BaseEstimator):
    """Estimate a class label and value labels of a spectrum from simulations.

    Parameters
    ----------
    class_label
        Label estimated as a class with probabilities (``"charge"``), or
        ``None`` to estimate values only.
    value_labels
        Numeric labels estimated as values with an uncertainty (``"tendq"``).
    n_neighbors
        Number ``k`` of nearest simulations used.
    metric
        Distance between spectra: ``"euclidean"`` or ``"correlation"``
        (1 − Pearson correlation, blind to scale and offset).
    normalize
        Scaling applied to every spectrum (training and measured) after
        resampling: ``"area"`` (unit integral), ``"max"`` (unit maximum) or
        ``"none"``.
    embedding
        A :class:`SpectrumEmbedding`, a method name, or ``None`` for no
        embedding-space estimate.
    value_within_class
        Take the value neighbours among simulations of the predicted class
        only (10Dq is read at the estimated charge).
    random_state
        Seed for the embedding when ``embedding`` is a method name.

    Attributes
    ----------
    energy_ : ndarray of shape (n_energy,)
        Training energy grid (eV).
    X_fit_ : ndarray of shape (n_sample, n_energy)
        Normalised training spectra.
    labels_ : dict of str to ndarray of shape (n_sample,)
    embedding_ : SpectrumEmbedding or None
        The fitted embedding.
    attrs_ : dict
        Attributes of the training stack (``element``, ``edge`` ...).

    Notes
    -----
    Weights are inverse distances, as in scikit-learn's ``weights="distance"``;
    an exact match (distance 0) takes all the weight. The value spread is the
    weighted standard deviation of the ``k`` neighbour values; it reflects the
    spacing of the simulation grid and how sharply the data single out a
    simulation, not a calibrated error bar.
    """

    def __init__(
        self,
        *,
        class_label: str | None = "charge",
        value_labels: Sequence[str] = ("tendq",),
        n_neighbors: int = 5,
        metric: Metric = "euclidean",
        normalize: Normalize = "area",
        embedding: SpectrumEmbedding | EmbeddingMethod | None = "mds",
        value_within_class: bool = True,
        random_state: int | None = 0,
    ) -> None:
        self.class_label = class_label
        self.value_labels = value_labels
        self.n_neighbors = n_neighbors
        self.metric = metric
        self.normalize = normalize
        self.embedding = embedding
        self.value_within_class = value_within_class
        self.random_state = random_state

    def fit(self, X: xr.DataArray, y: Any = None) -> ParameterEstimator:
        """Store normalised training spectra and fit the embedding.

        Parameters
        ----------
        X
            Labelled stack ``(sample, energy)`` of simulated spectra.
        y
            Ignored (labels are coordinates of ``X``).
        """
        if not isinstance(X, xr.DataArray) or set(X.dims) != {SAMPLE, ENERGY}:
            raise SpectrumError(
                "training spectra must be an xarray.DataArray with dims (sample, energy); "
                f"found {type(X).__name__}" + (f" with dims {X.dims}" if hasattr(X, "dims") else "")
            )
        validate(X, what="training spectra")
        X = X.transpose(SAMPLE, ENERGY)
        self._check_params(X)
        labels = sample_labels(X)
        self.energy_ = np.asarray(X[ENERGY].values, dtype=float)
        self.X_fit_ = _normalise(np.asarray(X.values, dtype=float), self.energy_, self.normalize)
        self.labels_ = labels
        self.attrs_ = dict(X.attrs)
        self.embedding_ = None
        if self.embedding is not None:
            emb = (
                clone(self.embedding)
                if isinstance(self.embedding, SpectrumEmbedding)
                else SpectrumEmbedding(self.embedding, random_state=self.random_state)
            )
            normed = X.copy(data=self.X_fit_)
            self.embedding_ = emb.fit(normed)
        return self

    def _check_params(self, X: xr.DataArray) -> None:
        labels = sample_labels(X)
        if isinstance(self.value_labels, str):
            raise ParameterError(
                "value_labels must be a sequence of names, e.g. ('tendq',); "
                f"found the string {self.value_labels!r}"
            )
        names = [] if self.class_label is None else [self.class_label]
        for name in [*names, *self.value_labels]:
            if name not in labels:
                raise ParameterError(
                    f"label {name!r} is not a coordinate on 'sample' of the training spectra; "
                    f"found {sorted(labels)}"
                )
        for name in self.value_labels:
            if not np.issubdtype(np.asarray(labels[name]).dtype, np.number):
                raise ParameterError(
                    f"value label {name!r} must be numeric; found dtype {labels[name].dtype}"
                )
        n = X.sizes[SAMPLE]
        if not isinstance(self.n_neighbors, int | np.integer) or not 1 <= self.n_neighbors <= n:
            raise ParameterError(
                f"n_neighbors must be an integer in 1..{n} (the number of training spectra); "
                f"found {self.n_neighbors!r}"
            )
        if self.metric not in ("euclidean", "correlation"):
            raise ParameterError(
                f"metric must be 'euclidean' or 'correlation'; found {self.metric!r}"
            )
        if self.normalize not in ("area", "max", "none"):
            raise ParameterError(
                f"normalize must be 'area', 'max' or 'none'; found {self.normalize!r}"
            )

    # -- applying ----------------------------------------------------------
    def prepare(self, measured: xr.DataArray) -> NDArray[np.float64]:
        """Validate, resample (linear) and normalise a measured spectrum.

        Returns
        -------
        ndarray of shape (n_energy,)
            The spectrum on the training grid ``energy_``.

        Raises
        ------
        SpectrumError
            If it is not one spectrum, does not cover the training energy
            range, or its ``element``/``edge`` differ from the training set's.
        """
        check_is_fitted(self, "X_fit_")
        if isinstance(measured, xr.DataArray) and SAMPLE in measured.dims:
            if measured.sizes[SAMPLE] != 1:
                raise SpectrumError(
                    f"measured must be one spectrum; found {measured.sizes[SAMPLE]} samples "
                    "(estimate them one at a time)"
                )
            measured = measured.isel({SAMPLE: 0})
        if not isinstance(measured, xr.DataArray) or measured.dims != (ENERGY,):
            raise SpectrumError(
                "measured must be a spectrum (xarray.DataArray with dim 'energy'); found "
                + (f"dims {measured.dims}" if isinstance(measured, xr.DataArray)
                   else type(measured).__name__)
            )
        validate(measured, what="measured spectrum")
        for key in ("element", "edge"):
            a, b = measured.attrs.get(key), self.attrs_.get(key)
            if a is not None and b is not None and _norm_attr(a) != _norm_attr(b):
                raise SpectrumError(
                    f"measured spectrum has {key} {a!r} but the training spectra have {key} {b!r}"
                )
        e = np.asarray(measured[ENERGY].values, dtype=float)
        grid = self.energy_
        tol = 0.5 * float(np.median(np.diff(grid)))
        if e[0] > grid[0] + tol or e[-1] < grid[-1] - tol:
            raise SpectrumError(
                f"measured range {e[0]:g}–{e[-1]:g} eV does not cover the training range "
                f"{grid[0]:g}–{grid[-1]:g} eV"
            )
        y = np.interp(grid, e, np.asarray(measured.values, dtype=float))
        return _normalise(y[None, :], grid, self.normalize)[0]

    def estimate(self, measured: xr.DataArray) -> EstimationResult:
        """Estimate the labels of one measured spectrum.

        Parameters
        ----------
        measured
            Spectrum ``(energy,)`` covering the training energy range; it is
            resampled onto ``energy_`` and normalised like the training set.
        """
        y = self.prepare(measured)
        # scipy's cdist, unlike the Gram trick, gives exactly 0 for identical spectra.
        d_spec = cdist(y[None, :], self.X_fit_, metric=self.metric)[0]
        spec = self._space_estimate("spectrum", self.metric, d_spec)
        emb: SpaceEstimate | None = None
        position: tuple[float, ...] | None = None
        method: str | None = None
        if self.embedding_ is not None:
            z = self.embedding_.transform(y[None, :])[0]
            d_emb = np.linalg.norm(self.embedding_.embedding_ - z, axis=1)
            emb = self._space_estimate("embedding", "euclidean", d_emb)
            position = tuple(float(v) for v in z)
            method = str(self.embedding_.method)
        return EstimationResult(
            class_label=self.class_label,
            value_labels=tuple(self.value_labels),
            spectrum=spec,
            embedding=emb,
            position=position,
            method=method,
            name=None if measured.name is None else str(measured.name),
        )

    def _space_estimate(self, space: str, metric: str, d: NDArray[np.float64]) -> SpaceEstimate:
        k = self.n_neighbors
        order = np.argsort(d, kind="stable")[:k]
        names = ([] if self.class_label is None else [self.class_label]) + list(self.value_labels)
        neighbours = tuple(
            Neighbour(int(i), float(d[i]), {n: _scalar(self.labels_[n][i]) for n in names})
            for i in order
        )
        predicted: Any = None
        probs: dict[Any, float] = {}
        candidates = np.arange(d.size)
        if self.class_label is not None:
            cls = self.labels_[self.class_label]
            w = _weights(d[order])
            classes = np.unique(cls)
            probs = {_scalar(c): float(w[cls[order] == c].sum() / w.sum()) for c in classes}
            predicted = max(probs, key=lambda c: probs[c])
            if self.value_within_class:
                candidates = np.flatnonzero(cls == predicted)
        sub = candidates[np.argsort(d[candidates], kind="stable")[:k]]
        w = _weights(d[sub])
        values = {}
        for name in self.value_labels:
            v = np.asarray(self.labels_[name][sub], dtype=float)
            mean = float(np.sum(w * v) / w.sum())
            std = float(np.sqrt(np.sum(w * (v - mean) ** 2) / w.sum()))
            values[name] = ValueEstimate(name, mean, std, int(sub.size))
        return SpaceEstimate(space, metric, predicted, probs, values, neighbours)


def estimate(
    train: xr.DataArray,
    measured: xr.DataArray,
    *,
    class_label: str | None = "charge",
    value_labels: Sequence[str] = ("tendq",),
    n_neighbors: int = 5,
    metric: Metric = "euclidean",
    normalize: Normalize = "area",
    embedding: SpectrumEmbedding | EmbeddingMethod | None = "mds",
    random_state: int | None = 0,
) -> EstimationResult:
    """Fit a :class:`ParameterEstimator` on ``train`` and apply it to ``measured``.

    Parameters are those of :class:`ParameterEstimator`.

    Examples
    --------
    >>> result = estimate(simulated, mno, class_label="charge", value_labels=("tendq",))
    ... # doctest: +SKIP
    >>> print(result.to_markdown())  # doctest: +SKIP
    """
    est = ParameterEstimator(
        class_label=class_label, value_labels=value_labels, n_neighbors=n_neighbors,
        metric=metric, normalize=normalize, embedding=embedding, random_state=random_state,
    )
    return est.fit(train).estimate(measured)


# -- helpers -----------------------------------------------------------------
def _normalise(Y: NDArray[np.float64], e: NDArray[np.float64], how: str) -> NDArray[np.float64]:
    if how == "none":
        return Y.copy()
    scale = trapezoid(Y, e, axis=1) if how == "area" else np.max(np.abs(Y), axis=1)
    if np.any(~np.isfinite(scale) | (np.abs(scale) <= 0)):
        bad = int(np.flatnonzero(~np.isfinite(scale) | (np.abs(scale) <= 0))[0])
        raise SpectrumError(
            f"spectrum {bad} cannot be normalised by {how!r}: its {how} is {scale[bad]:g}"
        )
    return Y / scale[:, None]


def _weights(d: NDArray[np.float64]) -> NDArray[np.float64]:
    exact = d <= 1e-12 * max(1.0, float(np.max(d)))
    if exact.any():
        return exact.astype(float)
    return 1.0 / d


def _norm_attr(v: Any) -> str:
    return re.sub(r"[^0-9a-z]", "", str(v).lower())


def _scalar(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v


def _fmt(v: Any) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    return obj
