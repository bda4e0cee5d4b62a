"""Types and array helpers of the training workflow (:mod:`xasml.learn.workflow`).

Split out of the workflow module: the typed results (:class:`TrainingReport`,
:class:`TargetReport`), the augmentation option, and the resampling /
row-normalisation that training, prediction and maps share.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import xarray as xr

from ..errors import ParameterError, SpectrumError

ModelName = Literal["mlp", "cnn", "rf", "extra_trees", "knn", "ridge"]
Task = Literal["regression", "classification"]
Normalization = Literal["none", "l1", "max"]
NORMALIZATIONS: tuple[str, ...] = ("none", "l1", "max")
MODELS: tuple[str, ...] = ("mlp", "cnn", "rf", "extra_trees", "knn", "ridge")
#: The workflow bundle's top-level file (see :mod:`xasml.learn.workflow`).
WORKFLOW_FILE = "workflow.json"


# ---------------------------------------------------------------- resampling


def resample(da: xr.DataArray, energy: np.ndarray, *, what: str = "spectra") -> xr.DataArray:
    """Linearly interpolate spectra onto ``energy`` (eV); the grid must be covered.

    :func:`xasml.preprocess.resample` with ``outside="raise"``: no
    extrapolation, so a spectrum that does not span the grid raises instead of
    being padded.

    Parameters
    ----------
    da
        ``(energy,)`` or ``(sample, energy)`` DataArray.
    energy
        Target grid, shape ``(n_energy,)``, eV, increasing.
    what
        Name used in error messages.

    Returns
    -------
    xarray.DataArray
        Same leading dims and attrs, on ``energy``.

    Raises
    ------
    SpectrumError
        If the spectra's energy range does not cover ``energy`` (both ranges named).
    """
    from ..preprocess import resample as _resample

    grid = np.asarray(energy, dtype=float)
    if "energy" not in da.dims:
        raise SpectrumError(f"{what} must have an 'energy' dimension; found dims {da.dims}")
    da = da.transpose(..., "energy")
    e = np.asarray(da["energy"].values, dtype=float)
    if e.shape == grid.shape and np.allclose(e, grid, rtol=0, atol=1e-9):
        return da
    if np.any(np.diff(e) < 0):  # readers sort, but stacks built by hand may not be
        da = da.isel(energy=np.argsort(e))
    e = np.sort(e)
    tol = 1e-6 * max(1.0, float(np.abs(grid).max()))
    if e[0] > grid[0] + tol or e[-1] < grid[-1] - tol:
        # said in the model's terms: the caller cannot choose an ``outside`` policy here
        raise SpectrumError(
            f"{what} cover {e[0]:g}..{e[-1]:g} eV but the model's energy grid is "
            f"{grid[0]:g}..{grid[-1]:g} eV; the spectra must span the whole grid"
        )
    return _resample(da, grid, outside="raise", tol=tol)


def normalize_rows(X: np.ndarray, kind: str) -> np.ndarray:
    """Scale every spectrum (row) by its L1 norm (``"l1"``) or maximum (``"max"``).

    Thickness and concentration change a spectrum's scale, not its shape, across a
    map or between samples; dividing it out makes model and OOD check see shape only.

    Parameters
    ----------
    X
        Spectra, shape ``(n_samples, n_energy)``.
    kind
        ``"none"`` (returned unchanged), ``"l1"`` (sum of absolute values) or
        ``"max"`` (largest absolute value). All-zero rows are left as they are.

    Returns
    -------
    ndarray, shape (n_samples, n_energy)
    """
    if kind not in NORMALIZATIONS:
        raise ParameterError(f"normalization must be one of {NORMALIZATIONS}; found {kind!r}")
    if kind == "none":
        return X
    norm = np.abs(X).sum(axis=1) if kind == "l1" else np.abs(X).max(axis=1)
    return X / np.where(norm > 0, norm, 1).astype(X.dtype, copy=False)[:, None]


# ---------------------------------------------------------------- options and results


@dataclass(frozen=True)
class Augmentation:
    """Noisy, shifted copies of the training spectra (validation/test are never augmented).

    Attributes
    ----------
    copies
        Extra copies of every training spectrum.
    noise
        Gaussian noise sigma as a fraction of each spectrum's standard deviation.
    shift
        Energy shifts drawn uniformly from ``[-shift, shift]`` eV (edge position
        uncertainty); values beyond the grid ends are held constant.
    """

    copies: int = 1
    noise: float = 0.01
    shift: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {"copies": self.copies, "noise": self.noise, "shift": self.shift}


@dataclass(frozen=True)
class TargetReport:
    """Test-split results of one target.

    Attributes
    ----------
    name, task
        Target coordinate name and ``"regression"`` / ``"classification"``.
    metrics
        :class:`~xasml.learn.RegressionMetrics` or
        :class:`~xasml.learn.ClassificationMetrics` on the test split.
    coverage
        Empirical coverage of the conformal intervals/sets on the test split
        next to the nominal confidence (:class:`~xasml.learn.CoverageReport`).
    failures
        Failure-analysis counts on the test split: ``ok``, ``novel``,
        ``ambiguous``, ``other``.
    per_class_f1
        F1 per class (classification only).
    cv
        Grid-search result (``None`` without a grid).
    bundle
        Sub-bundle directory of this target.
    """

    name: str
    task: Task
    metrics: Any
    coverage: Any
    failures: dict[str, int]
    per_class_f1: dict[str, float] | None = None
    cv: Any = None
    bundle: str = ""

    @property
    def score(self) -> float:
        """Headline number: accuracy (classes) or MAE (values)."""
        m = self.metrics
        return float(m.accuracy if self.task == "classification" else m.mae[0])

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "name": self.name,
            "task": self.task,
            "metrics": self.metrics.to_dict(),
            "coverage": self.coverage.to_dict(),
            "failures": dict(self.failures),
            "per_class_f1": self.per_class_f1,
            "cv": None if self.cv is None else self.cv.to_dict(),
            "bundle": self.bundle,
        }


@dataclass(frozen=True)
class TrainingReport:
    """What :func:`train` did and measured.

    Attributes
    ----------
    bundle
        The written bundle directory.
    model
        Model name (``"mlp"``, ``"rf"`` ...).
    targets
        One :class:`TargetReport` per target.
    split_sizes
        Samples in (train, validation, test).
    groups
        Coordinate used to group samples in the split (``None``: ungrouped).
    confidence
        Nominal coverage of the conformal intervals/sets.
    ood_threshold
        OOD score threshold (calibrated on validation spectra).
    ood_test_flagged
        Fraction of test spectra flagged OOD (expected ≈ ``1 - ood_quantile``
        when test and training data come from one distribution).
    seconds
        Wall-clock time of the whole run.
    """

    bundle: Path
    model: str
    targets: tuple[TargetReport, ...]
    split_sizes: tuple[int, int, int]
    groups: str | None
    confidence: float
    ood_threshold: float
    ood_test_flagged: float
    seconds: float
    extra: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, name: str) -> TargetReport:
        for t in self.targets:
            if t.name == name:
                return t
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "bundle": str(self.bundle),
            "model": self.model,
            "targets": [t.to_dict() for t in self.targets],
            "split_sizes": list(self.split_sizes),
            "groups": self.groups,
            "confidence": self.confidence,
            "ood_threshold": self.ood_threshold,
            "ood_test_flagged": self.ood_test_flagged,
            "seconds": self.seconds,
            **self.extra,
        }
