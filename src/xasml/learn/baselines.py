"""Classical baselines behind the same fit/predict interface as the networks.

Each factory returns an unfitted scikit-learn :class:`~sklearn.pipeline.Pipeline`
(a scaler where the method needs one, then the model), so baselines can be
tuned, cross-validated and bundled exactly like the networks. Tree ensembles
follow Torrisi et al. (2020), who used random forests on multiscale spectral
features; k-nearest neighbours and ridge / PLS are the usual linear-ish
references.

References
----------
S. B. Torrisi et al., "Random forest machine learning models for
interpretable X-ray absorption near-edge structure spectrum-property
relationships", npj Comput. Mater. 6, 109 (2020).
"""

from __future__ import annotations

from typing import Any, Literal

from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from ..errors import ParameterError

__all__ = ["BASELINES", "make_baseline"]

Task = Literal["regression", "classification"]
BASELINES = ("knn", "random_forest", "extra_trees", "ridge", "pls")


def _check_task(task: str) -> None:
    if task not in ("regression", "classification"):
        raise ParameterError(f"task must be 'regression' or 'classification'; found {task!r}")


def make_baseline(
    name: Literal["knn", "random_forest", "extra_trees", "ridge", "pls"],
    task: Task = "regression",
    *,
    random_state: int | None = None,
    **params: Any,
) -> Pipeline:
    """Build an unfitted baseline pipeline.

    Parameters
    ----------
    name
        ``"knn"`` (scaler + k-nearest neighbours, default k = 5),
        ``"random_forest"`` / ``"extra_trees"`` (200 trees), ``"ridge"``
        (scaler + ridge regression, or logistic regression for classes),
        ``"pls"`` (partial least squares, default 10 components; regression
        only).
    task
        ``"regression"`` (multi-output supported by all) or ``"classification"``.
    random_state
        Seed for the randomised models.
    **params
        Passed to the final model (e.g. ``n_neighbors=3``, ``alpha=0.1``).

    Returns
    -------
    sklearn.pipeline.Pipeline
    """
    from sklearn import cross_decomposition, ensemble, linear_model, neighbors

    _check_task(task)
    reg = task == "regression"
    if name == "knn":
        cls = neighbors.KNeighborsRegressor if reg else neighbors.KNeighborsClassifier
        return make_pipeline(StandardScaler(), cls(**params))
    if name in ("random_forest", "extra_trees"):
        kind = "RandomForest" if name == "random_forest" else "ExtraTrees"
        tree_cls = getattr(ensemble, kind + ("Regressor" if reg else "Classifier"))
        params.setdefault("n_estimators", 200)
        return make_pipeline(tree_cls(random_state=random_state, **params))
    if name == "ridge":
        if reg:
            return make_pipeline(StandardScaler(), linear_model.Ridge(**params))
        return make_pipeline(StandardScaler(), linear_model.LogisticRegression(
            max_iter=params.pop("max_iter", 1000), random_state=random_state, **params))
    if name == "pls":
        if not reg:
            raise ParameterError("the 'pls' baseline is for regression only; "
                                 "use 'ridge' (logistic) or 'knn' for classes")
        params.setdefault("n_components", 10)
        return make_pipeline(cross_decomposition.PLSRegression(**params))
    raise ParameterError(f"unknown baseline {name!r}; expected one of {BASELINES}")
