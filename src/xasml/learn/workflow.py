"""Spectrum → properties and classes: train, evaluate, calibrate and bundle in one call.

:func:`train` takes a labelled ``(sample, energy)`` stack and, for every target,

1. splits the samples 8:1:1 into train / validation / test, keeping each material
   (``groups``) in one split (:func:`~xasml.learn.train_val_test_split`);
2. optionally picks hyperparameters by grouped k-fold CV on the training split
   (:func:`~xasml.learn.grid_search`);
3. fits the model on the training split and scores it on the test split;
4. calibrates split-conformal intervals (regression) or prediction sets
   (classification) on the validation split and measures their coverage on the
   test split (Vovk et al. 2005; Angelopoulos & Bates 2021, arXiv:2107.07511);
5. runs a nearest-neighbour failure analysis of the test errors (Kiyohara et al.
   2019, J. Phys.: Mater. 2, 024003).

One out-of-distribution detector (fitted on the training spectra, threshold set on
the validation spectra) is shared by all targets.

Targets and tasks
-----------------
Each target gets its own model: a class target (charge) and a value target (10Dq)
need different heads and losses, and separate models let each target have its
own CV-selected hyperparameters and its own conformal calibration. A target is a
class target when its labels are strings/booleans, or integers with at most
:data:`MAX_CLASSES` distinct values; ``task={"name": "regression"}`` overrides.

Bundle layout
-------------
::

    BUNDLE/workflow.json           kind, format version, element/edge, energy grid (eV),
                                   per-spectrum normalization, targets with their
                                   task and sub-bundle, the OOD detector state, the
                                   training sample ids, the report, the sha256 of
                                   every file below
    BUNDLE/training.safetensors    training spectra ``X`` (n_train, n_energy), for the
                                   nearest-training-sample look-up (no pickle)
    BUNDLE/targets/<name>/         one :func:`~xasml.learn.save_bundle` bundle per
                                   target; its manifest ``extras`` hold ``task``,
                                   ``conformal`` (calibration state), ``coverage``,
                                   ``failure_analysis`` and the OOD reference

:func:`xasml.apply.predict` (spectra) and :func:`xasml.apply.apply_bundle` (maps)
read such a directory.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import xarray as xr

from ..errors import InputError, ModelError, ParameterError, SpectrumError, XasmlWarning
from ._workflow_target import augment_copies, check_labels, train_target
from ._workflow_types import (
    MODELS,
    NORMALIZATIONS,
    WORKFLOW_FILE,
    Augmentation,
    ModelName,
    Normalization,
    TargetReport,
    Task,
    TrainingReport,
    normalize_rows,
    resample,
)
from .bundle import _jsonable as _plain
from .bundle import _sha256
from .split import DataSplit, train_val_test_split

__all__ = [
    "MAX_CLASSES",
    "MODELS",
    "WORKFLOW_FILE",
    "Augmentation",
    "TargetReport",
    "TrainingReport",
    "infer_task",
    "normalize_rows",
    "resample",
    "train",
]

#: Integer labels with at most this many distinct values are treated as classes.
MAX_CLASSES = 20
TRAINING_FILE = "training.safetensors"
WORKFLOW_VERSION = 1
_SPLIT_NAMES = {"train": "train", "val": "validation", "validation": "validation",
                "test": "test"}


# ---------------------------------------------------------------- helpers


def infer_task(labels: Any, name: str = "target") -> Task:
    """``"classification"`` for strings/booleans or few distinct integers, else regression."""
    y = np.asarray(labels)
    if y.dtype.kind in "OUSb":
        return "classification"
    if y.dtype.kind in "iu" and np.unique(y).size <= MAX_CLASSES:
        return "classification"
    if y.dtype.kind in "iuf":
        return "regression"
    raise InputError(f"target {name!r} has labels of unsupported dtype {y.dtype}")


def _as_stack(dataset: Any) -> xr.DataArray:
    if isinstance(dataset, str | os.PathLike):
        from ..io import read

        dataset = read(Path(dataset))
    if not isinstance(dataset, xr.DataArray) or dataset.dims != ("sample", "energy"):
        dims = getattr(dataset, "dims", type(dataset).__name__)
        raise InputError(f"dataset must be a (sample, energy) stack with labels as sample "
                         f"coords; found {dims}")
    return dataset


def _sample_ids(da: xr.DataArray) -> list[str]:
    if "sample" in da.coords:
        return [str(v) for v in da["sample"].values]
    return [str(i) for i in range(da.sizes["sample"])]


def _resolve_split(da: xr.DataArray, split: Any, groups: np.ndarray | None,
                   strat: np.ndarray | None, ratios: Any, seed: int | None) -> DataSplit:
    if isinstance(split, DataSplit):
        return split
    if isinstance(split, str):
        if split not in da.coords:
            raise ParameterError(f"split coordinate {split!r} not in the dataset; "
                                 f"found {sorted(map(str, da.coords))}")
        names = np.array([_SPLIT_NAMES.get(str(v).lower(), "?") for v in da[split].values])
        if (names == "?").any():
            raise ParameterError(f"split coordinate {split!r} must hold train/val/test; "
                                 f"found {sorted(set(map(str, da[split].values)))[:6]}")
        return DataSplit(*(np.flatnonzero(names == k) for k in ("train", "validation", "test")))
    if split is not None:
        raise ParameterError(f"split must be None, a DataSplit or a coordinate name; "
                             f"found {split!r}")
    return train_val_test_split(da.sizes["sample"], groups=groups, stratify=strat,
                                ratios=ratios, random_state=seed)


# ---------------------------------------------------------------- train


def train(
    dataset: Any,
    *,
    targets: Sequence[str],
    out: str | Path,
    model: ModelName = "mlp",
    groups: str | None = "auto",
    task: Mapping[str, Task] | None = None,
    ratios: tuple[float, float, float] = (0.8, 0.1, 0.1),
    split: DataSplit | str | None = None,
    grid: Mapping[str, Sequence[Any]] | Literal["small"] | None = None,
    n_splits: int = 5,
    confidence: float = 0.9,
    ood_quantile: float = 0.95,
    augment: Augmentation | int | None = None,
    model_params: Mapping[str, Any] | None = None,
    energy: Any = None,
    normalization: Normalization = "none",
    random_state: int | None = 0,
    overwrite: bool = False,
    progress: Callable[[str], None] | None = None,
) -> tuple[Path, TrainingReport]:
    """Train one model per target, evaluate, calibrate trust outputs and write a bundle.

    Parameters
    ----------
    dataset
        ``(sample, energy)`` DataArray with the targets as ``sample`` coords, or a
        path that :func:`xasml.io.read` turns into one.
    targets
        Names of the label coordinates to learn.
    out
        Bundle directory to write (see the module docs for its layout).
    model
        ``"mlp"``, ``"cnn"`` (PyTorch networks), ``"rf"``, ``"extra_trees"``,
        ``"knn"`` or ``"ridge"`` (scikit-learn baselines; ridge is logistic
        regression for classes).
    groups
        Coordinate holding the material id; no material is split across
        train/validation/test or across CV folds. ``"auto"``: ``material_id``
        when the dataset has it, else ungrouped. ``None``: ungrouped.
    task
        Per-target override, e.g. ``{"charge": "regression"}``; otherwise
        :func:`infer_task` decides.
    ratios
        Relative sizes of (train, validation, test); default 8:1:1.
    split
        A fixed split instead of a random one: a :class:`~xasml.learn.DataSplit`
        or the name of a coordinate holding ``train``/``val``/``test``.
    grid
        Hyperparameter grid searched by grouped ``n_splits``-fold CV on the
        training split (keys are the model's parameter names), ``"small"`` for a
        built-in grid per model, or ``None`` for the defaults.
    n_splits
        CV folds for ``grid``.
    confidence
        Nominal coverage of the conformal intervals and sets, in (0, 1).
    ood_quantile
        Fraction of in-distribution spectra that pass the OOD check.
    augment
        :class:`Augmentation` (or an int number of noisy copies) applied to the
        training split only.
    model_params
        Extra keyword hyperparameters for the model (e.g. ``max_epochs``).
    energy
        Resample the dataset onto this grid (eV) first; default: its own grid.
    normalization
        Per-spectrum scaling (:func:`normalize_rows`) applied to the dataset here
        and, recorded in the bundle, to every spectrum or map pixel at prediction:
        ``"l1"`` or ``"max"`` where thickness varies (spectromicroscopy maps),
        ``"none"`` for spectra already normalised.
    random_state
        Seed of the split, the models, CV folds and augmentation.
    overwrite
        Replace an existing bundle at ``out``.
    progress
        Called with a short message at every stage (the CLI shows them).

    Returns
    -------
    (pathlib.Path, TrainingReport)
        The bundle directory and the measured results.

    Raises
    ------
    InputError
        NaN labels, a single class, too few samples or groups for the split or
        the CV folds, too few validation samples for ``confidence``.
    """
    from .ood import OODDetector

    t0 = time.perf_counter()
    say = progress or (lambda _msg: None)
    if model not in MODELS:
        raise ParameterError(f"model must be one of {', '.join(MODELS)}; found {model!r}")
    if not targets:
        raise ParameterError("targets must name at least one label coordinate")
    if normalization not in NORMALIZATIONS:
        raise ParameterError(f"normalization must be one of {NORMALIZATIONS}; "
                             f"found {normalization!r}")
    out = Path(out)
    if out.exists() and not overwrite:
        raise ModelError(f"{out} already exists; pass overwrite=True to replace it")
    da = _as_stack(dataset)
    if energy is not None:
        da = resample(da, np.asarray(energy, dtype=float), what="the dataset's spectra")
    grid_e = np.asarray(da["energy"].values, dtype=float)
    X = np.asarray(da.values, dtype=float)
    if not np.all(np.isfinite(X)):
        raise SpectrumError(f"the dataset has {int((~np.isfinite(X)).sum())} NaN/inf "
                            "intensities; clean or drop those spectra first")
    X = normalize_rows(X, normalization)
    missing = [t for t in targets if t not in da.coords]
    if missing:
        labels = sorted(str(c) for c in da.coords if da[c].dims == ("sample",))
        raise ParameterError(f"target(s) {missing} not found; the dataset's labels are {labels}")
    tasks = {t: (task or {}).get(t) or infer_task(da[t].values, t) for t in targets}
    for t, k in tasks.items():
        if k not in ("regression", "classification"):
            raise ParameterError(f"task for {t!r} must be 'regression' or 'classification'; "
                                 f"found {k!r}")
    ys = {t: check_labels(np.asarray(da[t].values), t, tasks[t]) for t in targets}
    gname = ("material_id" if "material_id" in da.coords else None) if groups == "auto" \
        else groups
    if gname is not None and gname not in da.coords:
        raise ParameterError(f"groups coordinate {gname!r} not in the dataset")
    g = None if gname is None else np.asarray(da[gname].values).astype(str)
    strat = next((ys[t] for t in targets if tasks[t] == "classification"), None)
    say("splitting")
    sp = _resolve_split(da, split, g, strat, ratios, random_state)
    tr, va, te = sp.train, sp.validation, sp.test
    for nm, idx in (("train", tr), ("validation", va), ("test", te)):
        if idx.size < 2:
            raise InputError(f"the {nm} split has {idx.size} sample(s); need more samples "
                             f"(found {X.shape[0]} in all)")
    Xtr = X[tr]
    if augment:
        aug = augment if isinstance(augment, Augmentation) else Augmentation(copies=int(augment))
        rng = np.random.default_rng(random_state)
        Xfit = np.concatenate([Xtr, augment_copies(Xtr, grid_e, aug, rng)])
        rep = 1 + aug.copies
    else:
        aug, Xfit, rep = None, Xtr, 1

    say("fitting the OOD detector")
    q_max = va.size / (va.size + 1.0)  # largest quantile n validation scores support
    if ood_quantile > q_max:
        warnings.warn(f"ood_quantile={ood_quantile} needs more than the {va.size} validation "
                      f"spectra; using {q_max:.3f}", XasmlWarning, stacklevel=2)
    ood = OODDetector(quantile=min(ood_quantile, q_max), n_neighbors=min(5, len(tr)),
                      n_components=0.99, random_state=random_state)
    ood.fit(Xtr, X_calib=X[va])
    ood_test = float(ood.predict(X[te]).mean())

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        reports = []
        for t in targets:
            reports.append(train_target(
                t, tasks[t], ys[t], model, Xfit, rep, X, sp, g, grid, n_splits, confidence,
                random_state, dict(model_params or {}), grid_e, da, tmp, say))
        say("writing the bundle")
        from safetensors.numpy import save_file

        save_file({"X": np.ascontiguousarray(Xtr)}, str(tmp / TRAINING_FILE))
        report = TrainingReport(
            bundle=out, model=model, targets=tuple(reports), split_sizes=sp.sizes(),
            groups=gname, confidence=float(confidence), ood_threshold=float(ood.threshold_),
            ood_test_flagged=ood_test, seconds=0.0,
        )
        report = TrainingReport(**{**report.__dict__,
                                   "seconds": round(time.perf_counter() - t0, 3)})
        files = {TRAINING_FILE: _sha256(tmp / TRAINING_FILE)}
        for r in reports:
            files[f"{r.bundle}/manifest.json"] = _sha256(tmp / r.bundle / "manifest.json")
        ids = _sample_ids(da)
        doc = {
            "kind": "xasml-workflow",
            "format_version": WORKFLOW_VERSION,
            "element": da.attrs.get("element"),
            "edge": da.attrs.get("edge"),
            "technique": da.attrs.get("technique"),
            "energy": grid_e.tolist(),
            "preprocessing": {"resample": "linear interpolation onto 'energy' (np.interp), "
                              "no extrapolation", "normalization": normalization},
            "confidence": float(confidence),
            "targets": [{"name": r.name, "task": r.task, "bundle": r.bundle} for r in reports],
            "ood": ood.to_dict(),
            "training_ids": [ids[i] for i in tr],
            "augmentation": None if aug is None else aug.to_dict(),
            "report": report.to_dict() | {"bundle": out.name},
            "files": files,
        }
        (tmp / WORKFLOW_FILE).write_text(json.dumps(_plain(doc), indent=1, allow_nan=False))
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    say("done")
    return out, report
