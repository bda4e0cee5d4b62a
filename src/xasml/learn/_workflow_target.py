"""One target of the training workflow: build, tune, fit, score, calibrate, bundle.

Split out of :mod:`xasml.learn.workflow`, which prepares the data set, the split
and the shared out-of-distribution detector and calls :func:`train_target` once
per target.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from ..errors import InputError, ParameterError, XasmlWarning
from ._workflow_types import MODELS, WORKFLOW_FILE, Augmentation, TargetReport, Task
from .split import DataSplit

__all__ = ["augment_copies", "check_labels", "small_grid", "train_target"]


def check_labels(y: np.ndarray, name: str, task: Task) -> np.ndarray:
    if y.dtype.kind == "f":
        bad = int(np.count_nonzero(~np.isfinite(y)))
        if bad:
            raise InputError(f"target {name!r} has {bad} NaN/inf label(s); drop those samples "
                             "or fill them before training")
    elif y.dtype.kind == "O":
        bad = sum(v is None or (isinstance(v, float) and not np.isfinite(v)) for v in y)
        if bad:
            raise InputError(f"target {name!r} has {bad} missing label(s)")
        y = y.astype(str)
    if task == "classification":
        if y.dtype.kind == "f":
            if not np.all(y == np.round(y)):
                raise InputError(f"target {name!r} is to be classified but has non-integer "
                                 "values; use task='regression'")
            y = y.astype(np.int64)
        classes = np.unique(y)
        if classes.size < 2:
            raise InputError(f"target {name!r} has a single class ({classes[0]!r}); "
                             "classification needs at least 2")
    elif y.dtype.kind not in "iuf":
        raise InputError(f"target {name!r} is to be regressed but has labels of dtype {y.dtype}")
    return y.astype(float) if task == "regression" else y


def _make_model(name: str, task: Task, random_state: int | None,
                params: Mapping[str, Any]) -> Any:
    from .baselines import make_baseline

    reg = task == "regression"
    if name in ("mlp", "cnn"):
        if name == "mlp":
            from .mlp import SpectrumMLPClassifier, SpectrumMLPRegressor

            cls: Any = SpectrumMLPRegressor if reg else SpectrumMLPClassifier
        else:
            from .cnn import SpectrumCNNClassifier, SpectrumCNNRegressor

            cls = SpectrumCNNRegressor if reg else SpectrumCNNClassifier
        return cls(random_state=random_state, **params)
    baseline = {"rf": "random_forest", "extra_trees": "extra_trees", "knn": "knn",
                "ridge": "ridge"}
    if name not in baseline:
        raise ParameterError(f"model must be one of {', '.join(MODELS)}; found {name!r}")
    return make_baseline(baseline[name], task, random_state=random_state,  # type: ignore[arg-type]
                         **params)


def small_grid(name: str) -> dict[str, list[Any]]:
    """A small hyperparameter grid per model (the CLI's ``--grid small``)."""
    grids: dict[str, dict[str, list[Any]]] = {
        "mlp": {"hidden_layer_sizes": [(64,), (128, 64)], "dropout": [0.0, 0.3]},
        "cnn": {"channels": [(8, 16)], "kernel_size": [3, 7]},
        "rf": {"n_estimators": [100, 300], "max_features": ["sqrt", 0.3]},
        "extra_trees": {"n_estimators": [100, 300], "max_features": ["sqrt", 0.3]},
        "knn": {"n_neighbors": [3, 5, 10], "weights": ["uniform", "distance"]},
        "ridge": {"C": [0.1, 1.0, 10.0]},
    }
    return grids[name]


def _prefixed_grid(model: Any, grid: Mapping[str, Any], name: str, task: Task) -> dict[str, Any]:
    from sklearn.pipeline import Pipeline

    if name == "ridge" and task == "regression" and "C" in grid:
        grid = {"alpha": [1.0 / c for c in grid["C"]]}
    if not isinstance(model, Pipeline):
        return {k: list(v) for k, v in grid.items()}
    step = model.steps[-1][0]
    return {(k if "__" in k else f"{step}__{k}"): list(v) for k, v in grid.items()}


def augment_copies(X: np.ndarray, energy: np.ndarray, aug: Augmentation,
             rng: np.random.Generator) -> np.ndarray:
    if aug.copies < 1 or aug.noise < 0 or aug.shift < 0:
        raise ParameterError(f"augment needs copies >= 1, noise >= 0, shift >= 0; found {aug}")
    out = []
    sd = X.std(axis=1, keepdims=True)
    for _ in range(aug.copies):
        Xc = X
        if aug.shift > 0:
            shifts = np.asarray(rng.uniform(-aug.shift, aug.shift, X.shape[0]))
            Xc = np.stack([np.interp(energy - shifts[i], energy, X[i]) for i in range(len(X))])
        out.append(Xc + rng.normal(0.0, 1.0, X.shape) * aug.noise * sd)
    return np.concatenate(out)


def train_target(
    name: str, task: Task, y: np.ndarray, model_name: str, Xfit: np.ndarray, rep: int,
    X: np.ndarray, sp: DataSplit, groups: np.ndarray | None, grid: Any, n_splits: int,
    confidence: float, seed: int | None, params: dict[str, Any], energy: np.ndarray,
    da: xr.DataArray, root: Path, say: Callable[[str], None],
) -> TargetReport:
    from sklearn.metrics import f1_score

    from .bundle import hash_training_data, save_bundle
    from .conformal import ConformalClassifier, ConformalRegressor, empirical_coverage
    from .diagnostics import failure_analysis
    from .metrics import classification_metrics, regression_metrics
    from .tuning import grid_search

    tr, va, te = sp.train, sp.validation, sp.test
    yfit = np.concatenate([y[tr]] * rep)
    est = _make_model(model_name, task, seed, params)
    cv = None
    if grid is not None:
        g = small_grid(model_name) if grid == "small" else grid
        if not isinstance(g, Mapping):
            raise ParameterError(f"grid must be a dict of lists or 'small'; found {grid!r}")
        say(f"{name}: {n_splits}-fold grid search")
        gfit = None if groups is None else np.concatenate([groups[tr]] * rep)
        cv = grid_search(est, Xfit, yfit, _prefixed_grid(est, g, model_name, task),
                         groups=gfit, n_splits=n_splits, random_state=seed)
        est = cv.best_estimator
    else:
        say(f"{name}: fitting {model_name} ({task})")
        est.fit(Xfit, yfit)
    say(f"{name}: evaluating and calibrating")
    pred = np.asarray(est.predict(X[te]))
    per_class = None
    metrics: Any
    if task == "classification":
        known = set(np.asarray(est.classes_).tolist())
        metrics = classification_metrics(y[te], pred)
        labs = np.asarray(metrics.labels)
        f1 = f1_score(y[te], pred, labels=labs, average=None, zero_division=0)
        per_class = {str(lab): float(v) for lab, v in zip(labs, f1, strict=True)}
        # Conformal sets can only hold classes the model knows; samples of a class
        # absent from the training split are left out of calibration and coverage.
        cal = va[np.isin(y[va], list(known))]
        tst = te[np.isin(y[te], list(known))]
        if cal.size < va.size or tst.size < te.size:
            warnings.warn(
                f"target {name!r}: {va.size - cal.size} validation and {te.size - tst.size} "
                "test sample(s) have a class absent from the training split; they are left "
                "out of conformal calibration and coverage", XasmlWarning, stacklevel=3)
        conf: Any = ConformalClassifier(est).calibrate(X[cal], y[cal])
    else:
        metrics = regression_metrics(y[te], pred, targets=[name])
        cal, tst = va, te
        conf = ConformalRegressor(est).calibrate(X[cal], y[cal])
    if tst.size == 0:
        raise InputError(f"target {name!r}: no test sample has a class seen in training")
    coverage = empirical_coverage(conf, X[tst], y[tst], confidence)
    fa = failure_analysis(est, X[tr], y[tr], X[te], y[te], task=task,
                          n_neighbors=min(5, len(tr) - 1))
    sub = f"targets/{name}"
    report = TargetReport(name=name, task=task, metrics=metrics, coverage=coverage,
                          failures=fa.counts, per_class_f1=per_class, cv=cv, bundle=sub)
    unit = str(da[name].attrs.get("units", ""))
    save_bundle(
        est, root / sub, energy=energy, targets=[(name, unit)],
        preprocessing={"resample": "np.interp onto the energy grid"},
        training_data_sha256=hash_training_data(X[tr], y[tr]),
        metrics=metrics, cv_results=cv,
        extras={
            "task": task,
            "confidence": confidence,
            "conformal": conf.to_dict(),
            "coverage": coverage,
            "per_class_f1": per_class,
            "failure_analysis": {k: v for k, v in fa.to_dict().items() if k != "worst"},
            "ood": f"../../{WORKFLOW_FILE}#ood",
        },
    )
    return report
