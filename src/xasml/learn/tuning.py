"""Cross-validated grid search with material-grouped folds.

A thin, typed layer over :class:`sklearn.model_selection.GridSearchCV`: folds
are :class:`~sklearn.model_selection.GroupKFold` (or
:class:`~sklearn.model_selection.StratifiedGroupKFold` for classifiers) when
``groups`` are given, so no material is in both the training and the
validation part of a fold; the chosen hyperparameters and every CV score are
returned in a :class:`GridSearchResult`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import product
from typing import Any

import numpy as np
from sklearn.base import is_classifier

from ..errors import InputError, ParameterError

__all__ = ["GridSearchResult", "grid_search", "network_param_grid"]


@dataclass(frozen=True)
class GridSearchResult:
    """Outcome of :func:`grid_search`.

    Attributes
    ----------
    best_params
        The chosen hyperparameters.
    best_score
        Mean CV score of ``best_params`` (higher is better; MAE is negated).
    scoring
        The scikit-learn scorer name.
    n_splits
        Number of CV folds.
    candidates
        One entry per hyperparameter combination: ``params``,
        ``mean_score``, ``std_score``, ``fold_scores``, ``rank``.
    best_estimator
        Refitted on all data with ``best_params`` (None when ``refit=False``).
    """

    best_params: dict[str, Any]
    best_score: float
    scoring: str
    n_splits: int
    candidates: list[dict[str, Any]]
    best_estimator: Any = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (without the estimator), e.g. for a bundle's ``cv_results``."""

        def plain(v: Any) -> Any:
            if isinstance(v, tuple | list):
                return [plain(x) for x in v]
            return v.item() if isinstance(v, np.generic) else v

        return {
            "best_params": {k: plain(v) for k, v in self.best_params.items()},
            "best_score": self.best_score,
            "scoring": self.scoring,
            "n_splits": self.n_splits,
            "candidates": [
                {**c, "params": {k: plain(v) for k, v in c["params"].items()}}
                for c in self.candidates
            ],
        }


def network_param_grid(
    *,
    n_layers: Sequence[int] = (1, 2),
    width: Sequence[int] = (64, 128),
    dropout: Sequence[float] = (0.0, 0.5),
    learning_rate: Sequence[float] = (1e-3, 1e-2),
    weight_decay: Sequence[float] = (0.0, 1e-4),
    prefix: str = "",
) -> dict[str, list[Any]]:
    """Grid over depth, width, dropout, learning rate and weight decay for the networks.

    Depth and width combine into ``hidden_layer_sizes = (width,) * n_layers``.
    ``prefix`` (e.g. ``"spectrummlpregressor__"``) addresses a network inside
    a Pipeline.
    """
    sizes = [(int(w),) * int(d) for d, w in product(n_layers, width)]
    return {
        prefix + "hidden_layer_sizes": sizes,
        prefix + "dropout": list(dropout),
        prefix + "learning_rate": list(learning_rate),
        prefix + "weight_decay": list(weight_decay),
    }


def grid_search(
    estimator: Any,
    X: Any,
    y: Any,
    param_grid: Mapping[str, Sequence[Any]] | Sequence[Mapping[str, Sequence[Any]]],
    *,
    groups: Any = None,
    n_splits: int = 5,
    scoring: str | None = None,
    refit: bool = True,
    n_jobs: int | None = None,
    random_state: int | None = 0,
) -> GridSearchResult:
    """k-fold cross-validated grid search, grouped by material when ``groups`` is given.

    Parameters
    ----------
    estimator
        Any scikit-learn estimator or Pipeline (the networks included).
    X, y
        Spectra ``(n_samples, n_features)`` and targets / labels.
    param_grid
        As for :class:`~sklearn.model_selection.GridSearchCV`
        (see :func:`network_param_grid`).
    groups
        Material / molecule id per sample.
    n_splits
        Number of folds (default 5).
    scoring
        Scorer name; default ``"neg_mean_absolute_error"`` for regressors and
        ``"balanced_accuracy"`` for classifiers.
    refit
        Refit the best combination on all data.
    n_jobs
        Parallel fits (None: one).
    random_state
        Seed of fold shuffling.

    Returns
    -------
    GridSearchResult
    """
    from sklearn import model_selection as ms

    if not isinstance(n_splits, int | np.integer) or n_splits < 2:
        raise ParameterError(f"n_splits must be an int >= 2; found {n_splits!r}")
    n = len(X)
    clf = is_classifier(estimator)
    g = None if groups is None else np.asarray(groups)
    if g is not None and g.shape != (n,):
        raise InputError(f"groups must have one entry per sample ({n}); found {g.shape}")
    n_units = n if g is None else np.unique(g).size
    if n_units < n_splits:
        what = "groups (materials)" if g is not None else "samples"
        raise InputError(
            f"n_splits={n_splits} folds need at least {n_splits} {what}; found {n_units}"
        )
    if clf:
        _, counts = np.unique(np.asarray(y), return_counts=True)
        if counts.size < 2:
            raise InputError("classification needs at least 2 classes; found one")
    cv: Any
    if g is not None:
        cv = (ms.StratifiedGroupKFold(n_splits, shuffle=True, random_state=random_state)
              if clf and counts.min() >= n_splits else ms.GroupKFold(n_splits))
    elif clf and counts.min() >= n_splits:
        cv = ms.StratifiedKFold(n_splits, shuffle=True, random_state=random_state)
    else:
        cv = ms.KFold(n_splits, shuffle=True, random_state=random_state)
    scoring = scoring or ("balanced_accuracy" if clf else "neg_mean_absolute_error")
    search = ms.GridSearchCV(estimator, param_grid, scoring=scoring, cv=cv, refit=refit,
                             n_jobs=n_jobs, error_score="raise")
    search.fit(X, y, groups=g)
    res = search.cv_results_
    candidates = [
        {
            "params": dict(res["params"][i]),
            "mean_score": float(res["mean_test_score"][i]),
            "std_score": float(res["std_test_score"][i]),
            "fold_scores": [float(res[f"split{k}_test_score"][i]) for k in range(n_splits)],
            "rank": int(res["rank_test_score"][i]),
        }
        for i in range(len(res["params"]))
    ]
    return GridSearchResult(
        best_params=dict(search.best_params_),
        best_score=float(search.best_score_),
        scoring=scoring,
        n_splits=n_splits,
        candidates=candidates,
        best_estimator=search.best_estimator_ if refit else None,
    )
