"""Scores of predictions against known answers, as typed result objects.

Regression: per-target mean absolute error, root-mean-square error and R²
(the measures reported by Kiyohara et al. 2019). Classification: accuracy,
balanced accuracy, macro-averaged F1 and the confusion matrix (Carbone et
al. 2019). Both results have ``to_dict()`` for bundle manifests and reports.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import InputError

__all__ = [
    "ClassificationMetrics",
    "RegressionMetrics",
    "classification_metrics",
    "classification_table",
    "regression_metrics",
]


@dataclass(frozen=True)
class RegressionMetrics:
    """Per-target errors; arrays have shape ``(n_targets,)`` in the targets' units."""

    targets: list[str]
    mae: np.ndarray
    rmse: np.ndarray
    r2: np.ndarray
    n_samples: int

    def to_dict(self) -> dict[str, Any]:
        """``{"n_samples": n, "targets": {name: {"mae", "rmse", "r2"}}}``."""
        return {
            "n_samples": self.n_samples,
            "targets": {
                name: {"mae": float(self.mae[i]), "rmse": float(self.rmse[i]),
                       "r2": float(self.r2[i])}
                for i, name in enumerate(self.targets)
            },
        }


@dataclass(frozen=True)
class ClassificationMetrics:
    """Scores of class predictions; ``confusion[i, j]`` counts true ``labels[i]``
    predicted as ``labels[j]``."""

    accuracy: float
    balanced_accuracy: float
    macro_f1: float
    labels: list[Any]
    confusion: np.ndarray
    n_samples: int

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict."""
        return {
            "n_samples": self.n_samples,
            "accuracy": self.accuracy,
            "balanced_accuracy": self.balanced_accuracy,
            "macro_f1": self.macro_f1,
            "labels": [v.item() if isinstance(v, np.generic) else v for v in self.labels],
            "confusion": self.confusion.tolist(),
        }


def _as_2d(a: Any, name: str) -> np.ndarray:
    try:
        arr = np.asarray(a, dtype=float)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{name} must be numeric: {exc}") from None
    if arr.ndim not in (1, 2):
        raise InputError(f"{name} must be 1-D or 2-D; found shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise InputError(f"{name} contains NaN or inf")
    return arr.reshape(len(arr), -1)


def regression_metrics(
    y_true: Any, y_pred: Any, *, targets: Sequence[str] | None = None
) -> RegressionMetrics:
    """MAE, RMSE and R² per target.

    Parameters
    ----------
    y_true, y_pred
        Shape ``(n_samples,)`` or ``(n_samples, n_targets)``.
    targets
        Target names (default ``target0``, ``target1``, ...).
    """
    from sklearn.metrics import r2_score

    t, p = _as_2d(y_true, "y_true"), _as_2d(y_pred, "y_pred")
    if t.shape != p.shape:
        raise InputError(f"y_true and y_pred shapes differ: {t.shape} vs {p.shape}")
    if len(t) < 2:
        raise InputError(f"metrics need at least 2 samples; found {len(t)}")
    names = list(targets) if targets is not None else [f"target{i}" for i in range(t.shape[1])]
    if len(names) != t.shape[1]:
        raise InputError(f"{len(names)} target names given for {t.shape[1]} targets")
    err = p - t
    return RegressionMetrics(
        targets=names,
        mae=np.abs(err).mean(axis=0),
        rmse=np.sqrt((err**2).mean(axis=0)),
        r2=np.atleast_1d(r2_score(t, p, multioutput="raw_values")),
        n_samples=len(t),
    )


def classification_metrics(
    y_true: Any, y_pred: Any, *, labels: Sequence[Any] | None = None
) -> ClassificationMetrics:
    """Accuracy, balanced accuracy, macro-F1 and confusion matrix.

    Parameters
    ----------
    y_true, y_pred
        Labels, shape ``(n_samples,)``.
    labels
        Class order of the confusion matrix (default: sorted union of both).
    """
    from sklearn import metrics as m

    t, p = np.asarray(y_true), np.asarray(y_pred)
    if t.ndim != 1 or t.shape != p.shape:
        raise InputError(f"y_true and y_pred must be 1-D of equal length; found {t.shape}, "
                         f"{p.shape}")
    if t.size == 0:
        raise InputError("metrics need at least one sample; found none")
    labs = np.asarray(labels) if labels is not None else np.unique(np.concatenate([t, p]))
    return ClassificationMetrics(
        accuracy=float(m.accuracy_score(t, p)),
        balanced_accuracy=float(m.balanced_accuracy_score(t, p)),
        macro_f1=float(m.f1_score(t, p, labels=labs, average="macro", zero_division=0)),
        labels=labs.tolist(),
        confusion=m.confusion_matrix(t, p, labels=labs),
        n_samples=int(t.size),
    )


def classification_table(
    y_true: Any,
    y_pred: Any,
    by: Any,
    *,
    labels: Sequence[Any] | None = None,
) -> Any:
    """Accuracy and per-class F1 for each group, in the layout of Torrisi et al. 2020.

    One row per group (e.g. absorbing element), then a ``mean`` row (unweighted
    mean over the groups, as their "mean accuracy over Ti–Cu") and an ``all``
    row (pooled over every sample).

    Parameters
    ----------
    y_true, y_pred
        Labels, shape ``(n_samples,)``.
    by
        Group of each sample, shape ``(n_samples,)``.
    labels
        Classes to give F1 columns for (default: sorted union of both).

    Returns
    -------
    pandas.DataFrame
        Index: the groups, ``mean``, ``all``. Columns: ``n`` (test samples),
        ``accuracy``, ``macro_f1`` and ``F1[<class>]`` per class; an F1 is NaN
        where the class is neither true nor predicted in the group, and the
        row's ``macro_f1`` averages only the classes present (unlike
        :func:`classification_metrics`, which counts every label).
    """
    import pandas as pd
    from sklearn import metrics as m

    t, p, g = np.asarray(y_true), np.asarray(y_pred), np.asarray(by)
    if t.ndim != 1 or t.shape != p.shape or t.shape != g.shape:
        raise InputError(f"y_true, y_pred and by must be 1-D of equal length; found {t.shape}, "
                         f"{p.shape}, {g.shape}")
    if t.size == 0:
        raise InputError("metrics need at least one sample; found none")
    labs = list(labels) if labels is not None else np.unique(np.concatenate([t, p])).tolist()

    def row(mask: np.ndarray) -> dict[str, float]:
        tt, pp = t[mask], p[mask]
        f1 = m.f1_score(tt, pp, labels=labs, average=None, zero_division=0)
        present = {c for c in labs if np.any(tt == c) or np.any(pp == c)}
        out = {"n": float(mask.sum()), "accuracy": float(np.mean(tt == pp)),
               "macro_f1": float(np.mean([f for c, f in zip(labs, f1, strict=True)
                                          if c in present]))}
        for c, f in zip(labs, f1, strict=True):
            out[f"F1[{c}]"] = float(f) if c in present else float("nan")
        return out

    rows = {str(k): row(g == k) for k in np.unique(g)}
    table = pd.DataFrame.from_dict(rows, orient="index")
    mean = table.mean(axis=0, skipna=True)
    mean["n"] = table["n"].sum()
    table.loc["mean"] = mean
    table.loc["all"] = pd.Series(row(np.ones(t.size, dtype=bool)))
    table["n"] = table["n"].astype(int)
    return table
