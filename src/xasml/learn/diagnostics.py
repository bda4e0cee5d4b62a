"""Why did the model fail here? Nearest-neighbour failure analysis of a fitted model.

For every test spectrum the ``k`` closest training spectra (Euclidean distance on
the model's input features) are found, with their targets and distances. Large
errors are then sorted into two causes that call for different remedies, after
Kiyohara, Tsubaki & Mizoguchi (2019), *J. Phys.: Mater.* 2, 024003, who traced
failed property predictions from core-loss spectra back to the training spectra:

``"novel"``
    No training spectrum is similar: the nearest distance exceeds the
    ``novelty_quantile`` of the training set's own leave-one-out nearest-neighbour
    distances. Remedy: add training data of that kind.
``"ambiguous"``
    Similar training spectra exist but their targets diverge from this one's:
    the root-mean-square difference between the neighbours' targets and the true
    target (``neighbour_discrepancy``, which grows both with the neighbours' own
    spread and with their offset from the truth) is at least ``ambiguity_ratio``
    times the error. For classifiers it is the fraction of neighbours whose label
    differs from the true one. The spectrum does not pin the target down: a
    lookup of similar spectra fails as badly as the model.
``"other"``
    Neither: neighbours are close and agree, yet the model is off (underfitting,
    a label error in the test set, or an unlucky region).

Well-predicted test spectra are marked ``"ok"``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
from sklearn.base import is_classifier
from sklearn.neighbors import NearestNeighbors

from ..errors import ParameterError
from ._trust_checks import as_features, as_targets, check_fraction, check_n_features

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["FailureAnalysis", "failure_analysis"]

Category = Literal["ok", "novel", "ambiguous", "other"]


@dataclass(frozen=True)
class FailureAnalysis:
    """Result of :func:`failure_analysis`.

    Attributes
    ----------
    table
        One row per test sample (index = test position): ``error``,
        ``large_error``, ``category``, ``nearest_distance``, ``neighbour_spread``
        (spread of the neighbours' targets: root of the summed per-target
        variances, or the fraction outside their majority class),
        ``neighbour_discrepancy`` (see the module notes),
        and the true and predicted targets (``y_true``/``y_pred``, or
        ``y_true_<j>``/``y_pred_<j>`` for several targets).
    worst
        The ``n_worst`` largest errors with their neighbours, one row per
        (test sample, neighbour): ``test_index``, ``error``, ``category``,
        ``rank`` (1 = nearest), ``train_index``, ``distance`` and the neighbour's
        target(s) ``y_train`` / ``y_train_<j>``.
    neighbour_indices, neighbour_distances
        Shape ``(n_test, k)``: training rows of the ``k`` nearest neighbours and
        their Euclidean distances, nearest first.
    novelty_threshold
        Nearest-neighbour distance beyond which a test spectrum counts as novel.
    error_threshold
        Error above which a prediction counts as a large error.
    task
        ``"regression"`` or ``"classification"``.
    """

    table: pd.DataFrame
    worst: pd.DataFrame
    neighbour_indices: np.ndarray
    neighbour_distances: np.ndarray
    novelty_threshold: float
    error_threshold: float
    task: Literal["regression", "classification"]
    energy: np.ndarray = field(repr=False)
    X_train: np.ndarray = field(repr=False)
    X_test: np.ndarray = field(repr=False)
    y_train: np.ndarray = field(repr=False)

    @property
    def counts(self) -> dict[str, int]:
        """Number of test samples per category (``ok``, ``novel``, ``ambiguous``, ``other``)."""
        vc = self.table["category"].value_counts()
        return {c: int(vc.get(c, 0)) for c in ("ok", "novel", "ambiguous", "other")}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary: thresholds, counts and the worst cases with neighbours."""
        return {
            "task": self.task,
            "n_neighbors": int(self.neighbour_indices.shape[1]),
            "novelty_threshold": self.novelty_threshold,
            "error_threshold": self.error_threshold,
            "counts": self.counts,
            "worst": _records(self.worst),
        }

    def plot(self, n: int = 4, n_neighbors: int = 3) -> Figure:
        """Worst cases' spectra over their nearest training spectra.

        Parameters
        ----------
        n
            Number of worst cases (panels).
        n_neighbors
            Neighbours drawn per panel (at most the ``k`` of the analysis).

        Returns
        -------
        matplotlib.figure.Figure
            One panel per case: the test spectrum in black (true/predicted target,
            category) and its neighbours in colour (target, distance). Made without
            pyplot, so no backend or global state is touched.
        """
        from matplotlib.figure import Figure

        cases = list(dict.fromkeys(self.worst["test_index"].tolist()))[: max(int(n), 1)]
        n_nb = max(1, min(int(n_neighbors), self.neighbour_indices.shape[1]))
        fig = Figure(figsize=(4.0 * len(cases), 3.4), layout="constrained")
        axes = fig.subplots(1, max(len(cases), 1), squeeze=False)[0]
        for ax, i in zip(axes, cases, strict=False):
            row = self.table.loc[i]
            truth, pred = _target_text(row, "y_true"), _target_text(row, "y_pred")
            ax.plot(
                self.energy,
                self.X_test[i],
                color="k",
                lw=2.0,
                label=f"test {i}: y={truth}, pred={pred}",
            )
            for r in range(n_nb):
                j = int(self.neighbour_indices[i, r])
                ax.plot(
                    self.energy,
                    self.X_train[j],
                    lw=1.0,
                    alpha=0.8,
                    label=f"train {j}: y={_fmt(self.y_train[j])}, "
                    f"d={self.neighbour_distances[i, r]:.3g}",
                )
            ax.set_title(f"{row['category']} (error {row['error']:.3g})", fontsize=9)
            ax.set_xlabel("energy (eV)" if self.energy.size and self._has_energy else "feature")
            ax.legend(fontsize=6)
        return fig

    @property
    def _has_energy(self) -> bool:
        return not np.array_equal(self.energy, np.arange(self.energy.size, dtype=float))


def _fmt(v: Any) -> str:
    arr = np.atleast_1d(np.asarray(v))
    if arr.dtype.kind in "fc":
        return ", ".join(f"{x:.3g}" for x in arr)
    return ", ".join(str(x) for x in arr)


def _target_text(row: pd.Series, prefix: str) -> str:
    if prefix in row.index:
        return _fmt(row[prefix])
    return _fmt([row[c] for c in row.index if str(c).startswith(prefix + "_")])


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    # numpy scalars -> Python scalars so json.dumps accepts the result
    return [
        {k: (v.item() if hasattr(v, "item") else v) for k, v in r.items()}
        for r in df.to_dict(orient="records")
    ]


def _target_columns(y: np.ndarray, prefix: str) -> dict[str, np.ndarray]:
    if y.ndim == 1:
        return {prefix: y}
    return {f"{prefix}_{j}": y[:, j] for j in range(y.shape[1])}


def failure_analysis(
    model: Any,
    X_train: Any,
    y_train: Any,
    X_test: Any,
    y_test: Any,
    *,
    n_neighbors: int = 5,
    error_quantile: float = 0.9,
    error_threshold: float | None = None,
    novelty_quantile: float = 0.95,
    ambiguity_ratio: float = 0.5,
    n_worst: int = 10,
    task: Literal["auto", "regression", "classification"] = "auto",
) -> FailureAnalysis:
    """Find each test spectrum's nearest training spectra and classify large errors.

    Parameters
    ----------
    model
        Fitted estimator taking spectra ``(n_samples, n_energy)``.
    X_train, y_train
        The training spectra ``(n_train, n_energy)`` and targets ``(n_train,)`` or
        ``(n_train, n_targets)`` the model was fitted on.
    X_test, y_test
        Held-out spectra and true targets, same layout.
    n_neighbors
        ``k`` training neighbours reported per test spectrum.
    error_quantile
        Errors above this quantile of the test errors are large (regression).
    error_threshold
        Absolute error above which an error is large; overrides ``error_quantile``.
        The error is ``|y_pred - y_true|``, the Euclidean norm over targets when
        there are several (scale targets comparably first). For classifiers every
        misclassification is a large error.
    novelty_quantile
        Quantile of the training set's leave-one-out nearest-neighbour distances
        beyond which a test spectrum is novel.
    ambiguity_ratio
        A large error is ambiguous when the neighbours' targets differ from the
        true target by at least this times the error (RMS over neighbours; for
        classifiers, the fraction of neighbours with another label).
    n_worst
        Worst cases listed (with their neighbours) in ``worst``.
    task
        ``"auto"`` uses scikit-learn's ``is_classifier(model)``.

    Returns
    -------
    FailureAnalysis
    """
    Xtr, energy = as_features(X_train, "X_train")
    Xte, _ = as_features(X_test, "X_test")
    check_n_features(Xte, Xtr.shape[1], "X_test")
    ytr = as_targets(y_train, Xtr.shape[0], "y_train")
    yte = as_targets(y_test, Xte.shape[0], "y_test")
    if ytr.shape[1:] != yte.shape[1:]:
        raise ParameterError(
            f"y_test must have the shape per sample of y_train {ytr.shape[1:]}; "
            f"found {yte.shape[1:]}"
        )
    k = n_neighbors
    if not isinstance(k, int | np.integer) or not 1 <= k <= Xtr.shape[0] - 1:
        raise ParameterError(
            f"n_neighbors must be an int in [1, {Xtr.shape[0] - 1}] (training spectra - 1); "
            f"found {n_neighbors!r}"
        )
    q_err = check_fraction(error_quantile, "error_quantile")
    q_nov = check_fraction(novelty_quantile, "novelty_quantile")
    if not float(ambiguity_ratio) > 0:
        raise ParameterError(f"ambiguity_ratio must be > 0; found {ambiguity_ratio!r}")
    if task == "auto":
        task = "classification" if is_classifier(model) else "regression"
    elif task not in ("regression", "classification"):
        raise ParameterError(
            f"task must be 'auto', 'regression' or 'classification'; found {task!r}"
        )

    index = NearestNeighbors(n_neighbors=int(k)).fit(Xtr)
    dist, idx = index.kneighbors(Xte)
    # the training set's own spacing: nearest other training spectrum (leave-one-out)
    loo = index.kneighbors(Xtr, n_neighbors=2)[0][:, 1]
    novelty = float(np.quantile(loo, q_nov))

    y_pred = np.asarray(model.predict(X_test))
    if task == "classification":
        if ytr.ndim != 1:
            raise ParameterError(f"y_train must be 1-D class labels; found shape {ytr.shape}")
        y_pred = y_pred.reshape(yte.shape)
        error = (y_pred != yte).astype(float)
        thr = 0.5
        # spread = fraction of neighbours outside the neighbours' majority class
        majority = np.array([np.unique(r, return_counts=True)[1].max() for r in ytr[idx]])
        spread = 1.0 - majority / k
        discrepancy = (ytr[idx] != yte[:, None]).mean(axis=1)
    else:
        y_pred = y_pred.astype(float).reshape(yte.shape)
        diff = (y_pred - yte.astype(float)).reshape(len(yte), -1)
        error = np.linalg.norm(diff, axis=1)
        thr = (
            float(error_threshold)
            if error_threshold is not None
            else float(np.quantile(error, q_err))
        )
        nb = ytr.astype(float)[idx].reshape(len(yte), k, -1)
        spread = np.sqrt(nb.var(axis=1).sum(axis=1))
        offset = nb - yte.astype(float).reshape(len(yte), 1, -1)
        discrepancy = np.sqrt((offset**2).sum(axis=2).mean(axis=1))
    diverge = discrepancy >= float(ambiguity_ratio) * error
    large = error > thr
    category = np.where(
        ~large,
        "ok",
        np.where(dist[:, 0] > novelty, "novel", np.where(diverge, "ambiguous", "other")),
    )
    table = pd.DataFrame(
        {
            "error": error,
            "large_error": large,
            "category": category,
            "nearest_distance": dist[:, 0],
            "neighbour_spread": spread,
            "neighbour_discrepancy": discrepancy,
            **_target_columns(yte, "y_true"),
            **_target_columns(y_pred, "y_pred"),
        }
    )
    worst_idx = np.argsort(-error, kind="stable")[: max(int(n_worst), 0)]
    rows = []
    for i in worst_idx:
        for r in range(int(k)):
            j = int(idx[i, r])
            rec = {
                "test_index": int(i),
                "error": float(error[i]),
                "category": str(category[i]),
                "rank": r + 1,
                "train_index": j,
                "distance": float(dist[i, r]),
            }
            rec.update({c: v[j] for c, v in _target_columns(ytr, "y_train").items()})
            rows.append(rec)
    worst = pd.DataFrame(rows)
    return FailureAnalysis(
        table=table,
        worst=worst,
        neighbour_indices=idx,
        neighbour_distances=dist,
        novelty_threshold=novelty,
        error_threshold=thr,
        task=task,
        energy=energy if energy is not None else np.arange(Xtr.shape[1], dtype=float),
        X_train=Xtr,
        X_test=Xte,
        y_train=ytr,
    )
