"""Predict properties and classes from spectra with a trained bundle, with trust outputs.

Every prediction comes with what is needed to judge it: a split-conformal
interval (values) or prediction set (classes) at the bundle's confidence, the
class probabilities, an out-of-distribution score and flag, and the nearest
training spectra (ids and Euclidean distances on the model's energy grid), the
look-up Kiyohara et al. (2019, J. Phys.: Mater. 2, 024003) use to explain a
prediction. Bundles are written by :func:`xasml.learn.workflow.train`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from ..errors import ModelError, ParameterError, SpectrumError
from ..learn.bundle import _sha256
from ..learn.workflow import (
    NORMALIZATIONS,
    TRAINING_FILE,
    WORKFLOW_FILE,
    WORKFLOW_VERSION,
    normalize_rows,
    resample,
)

__all__ = ["BatchPrediction", "Predictor", "TargetModel", "load_predictor", "predict"]


@dataclass(frozen=True)
class TargetModel:
    """One target of a workflow bundle: its name, task, loaded model and conformal state."""

    name: str
    task: str
    model: Any
    conformal: dict[str, Any]


@dataclass(frozen=True)
class BatchPrediction:
    """Predictions and trust outputs for a batch of ``n`` prepared spectra.

    Attributes
    ----------
    values : dict of str to ndarray, shape (n,)
        Prediction per target: the value (regression) or the most probable class.
    classes : dict of str to ndarray, shape (n_classes,)
        Class labels per classification target (columns of ``proba`` and ``sets``).
    proba : dict of str to ndarray, shape (n, n_classes)
        Class probabilities per classification target.
    intervals : dict of str to ndarray, shape (n, 2)
        Conformal ``[lo, hi]`` per regression target (empty without trust).
    sets : dict of str to ndarray of bool, shape (n, n_classes)
        Conformal prediction sets per classification target (empty without trust).
    ood_score, ood : ndarray, shape (n,), or None
        Out-of-distribution score and flag (``None`` without trust).
    confidence : float
        Nominal coverage of the intervals and sets.
    """

    values: dict[str, np.ndarray]
    classes: dict[str, np.ndarray]
    proba: dict[str, np.ndarray]
    intervals: dict[str, np.ndarray]
    sets: dict[str, np.ndarray]
    ood_score: np.ndarray | None
    ood: np.ndarray | None
    confidence: float


class _Precomputed:
    """Stands in for a model whose outputs are already computed (no second forward pass)."""

    def __init__(self, y_hat: Any = None, proba: Any = None, classes: Any = None) -> None:
        self.y_hat, self.proba, self.classes_ = y_hat, proba, classes

    def predict(self, X: Any) -> Any:
        return self.y_hat

    def predict_proba(self, X: Any) -> Any:
        return self.proba


class Predictor:
    """A loaded workflow bundle, ready to predict many batches.

    Parameters
    ----------
    path
        Bundle directory written by :func:`xasml.learn.workflow.train`.
    device
        Override the networks' device (e.g. ``"cpu"``).

    Attributes
    ----------
    energy : ndarray, shape (n_energy,)
        The models' energy grid (eV).
    element, edge : str or None
        Absorber and edge of the training spectra.
    targets : tuple of TargetModel
    confidence : float
        Nominal coverage of the intervals and sets.
    normalization : {"none", "l1", "max"}
        Per-spectrum scaling applied by :meth:`prepare` (as in training).
    X_train : ndarray, shape (n_train, n_energy)
        Training spectra, for the nearest-sample look-up.
    training_ids : list of str
    """

    def __init__(self, path: str | Path, *, device: str | None = None) -> None:
        from safetensors.numpy import load_file

        from ..learn.bundle import load_bundle
        from ..learn.ood import OODDetector

        self.path = Path(path)
        doc = _read_workflow(self.path)
        for name, digest in doc["files"].items():
            fpath = self.path / name
            if not fpath.is_file() or _sha256(fpath) != digest:
                raise ModelError(f"bundle file {fpath} is missing or does not match its "
                                 f"sha256 in {WORKFLOW_FILE}; refusing to load it")
        self.energy = np.asarray(doc["energy"], dtype=float)
        self.element: str | None = doc.get("element")
        self.edge: str | None = doc.get("edge")
        self.confidence = float(doc["confidence"])
        self.report: dict[str, Any] = doc.get("report", {})
        norm = (doc.get("preprocessing") or {}).get("normalization", "none")
        if norm not in NORMALIZATIONS:
            raise ModelError(f"{self.path / WORKFLOW_FILE}: preprocessing.normalization must "
                             f"be one of {NORMALIZATIONS}; found {norm!r}")
        self.normalization: str = norm
        self.ood = OODDetector.from_dict(doc["ood"])
        self.X_train = np.asarray(load_file(str(self.path / TRAINING_FILE))["X"], dtype=float)
        self.training_ids = [str(v) for v in doc["training_ids"]]
        targets = []
        for t in doc["targets"]:
            b = load_bundle(self.path / t["bundle"], device=device)
            targets.append(TargetModel(t["name"], t["task"], b.model,
                                       b.manifest.extras["conformal"]))
        self.targets = tuple(targets)
        self._index: Any = None

    def __repr__(self) -> str:
        names = ", ".join(f"{t.name} ({t.task})" for t in self.targets)
        return f"Predictor({str(self.path)!r}: {self.element} {self.edge}; {names})"

    # ------------------------------------------------------------------ inputs
    def prepare(self, spectra: Any) -> tuple[np.ndarray, list[str]]:
        """Check and resample spectra onto the bundle grid.

        Parameters
        ----------
        spectra
            A spectrum ``(energy,)``, a stack ``(sample, energy)`` or a list of them.

        Returns
        -------
        (ndarray of shape (n_samples, n_energy), list of sample ids)
            Spectra on the bundle grid, normalised as in training, ready for
            :meth:`predict_batch`.
        """
        items = list(spectra) if isinstance(spectra, Sequence) else [spectra]
        if not items:
            raise ParameterError("no spectra given")
        blocks, ids = [], []
        for i, da in enumerate(items):
            if not isinstance(da, xr.DataArray) or "energy" not in da.dims or da.ndim > 2:
                raise SpectrumError(
                    f"spectra must be (energy,) or (sample, energy) DataArrays; item {i} is "
                    f"{getattr(da, 'dims', type(da).__name__)}")
            self.check_identity(da)
            da = resample(da, self.energy, what=_describe(da, i))
            arr = np.asarray(da.values, dtype=float).reshape(-1, self.energy.size)
            if not np.all(np.isfinite(arr)):
                raise SpectrumError(f"{_describe(da, i)} contain NaN/inf on the model's grid")
            blocks.append(arr)
            ids.extend(_ids(da, i, len(items)))
        return normalize_rows(np.concatenate(blocks), self.normalization), ids

    def check_identity(self, da: xr.DataArray) -> None:
        """Refuse spectra whose ``element``/``edge`` attrs differ from the bundle's."""
        for key, want in (("element", self.element), ("edge", self.edge)):
            have = da.attrs.get(key)
            if want and have and str(have).strip().lower() != str(want).strip().lower():
                raise SpectrumError(
                    f"{_describe(da, 0)} are {key} {have!r} but the model in {self.path} was "
                    f"trained on {self.element} {self.edge or ''} spectra ({key} {want!r})")

    # ------------------------------------------------------------------ predict
    def predict(
        self,
        spectra: Any,
        *,
        confidence: float | None = None,
        n_neighbors: int = 3,
        trust: bool = True,
    ) -> pd.DataFrame:
        """Predict every target, with intervals/sets, OOD flags and nearest training samples.

        Parameters
        ----------
        spectra
            A spectrum, a ``(sample, energy)`` stack, or a list of them; any grid
            that covers the bundle's energy range (linearly resampled).
        confidence
            Coverage of intervals and sets; default: the bundle's.
        n_neighbors
            Nearest training samples reported per spectrum (0: none).
        trust
            ``False`` returns bare predictions (no intervals, OOD or neighbours).

        Returns
        -------
        pandas.DataFrame
            One row per spectrum (index: sample id). Per target ``t``: ``t`` (the
            prediction); for values ``t_lo``, ``t_hi``; for classes ``t_set`` (list
            of labels), ``t_set_size`` and ``t_p_<class>``. Then ``ood_score``,
            ``ood`` (bool) and ``nearest_<i>_id`` / ``nearest_<i>_distance``.
        """
        if not isinstance(n_neighbors, int) or n_neighbors < 0:
            raise ParameterError(f"n_neighbors must be an int >= 0; found {n_neighbors!r}")
        X, ids = self.prepare(spectra)
        b = self.predict_batch(X, confidence=confidence, trust=trust)
        cols: dict[str, Any] = {}
        for t in self.targets:
            cols[t.name] = b.values[t.name]
            if t.name in b.sets:
                sets, classes = b.sets[t.name], b.classes[t.name]
                cols[f"{t.name}_set"] = [classes[row].tolist() for row in sets]
                cols[f"{t.name}_set_size"] = sets.sum(axis=1)
            if t.name in b.intervals:
                cols[f"{t.name}_lo"], cols[f"{t.name}_hi"] = b.intervals[t.name].T
            for j, cls in enumerate(b.classes.get(t.name, ())):
                cols[f"{t.name}_p_{cls}"] = b.proba[t.name][:, j]
        if trust:
            cols["ood_score"], cols["ood"] = b.ood_score, b.ood
            if n_neighbors:
                dist, idx = self._neighbours(X, n_neighbors)
                for i in range(dist.shape[1]):
                    cols[f"nearest_{i + 1}_id"] = [self.training_ids[j] for j in idx[:, i]]
                    cols[f"nearest_{i + 1}_distance"] = dist[:, i]
        return pd.DataFrame(cols, index=pd.Index(ids, name="sample"))

    def predict_batch(
        self, X: np.ndarray, *, confidence: float | None = None, trust: bool = True
    ) -> BatchPrediction:
        """Predict every target of prepared spectra, with intervals, sets and OOD scores.

        The one place where model outputs become trust outputs: :meth:`predict`
        (spectra) and :func:`xasml.apply.apply_bundle` (map pixels, in chunks) both
        call it. Every model runs once per batch; intervals and sets reuse its outputs.

        Parameters
        ----------
        X
            Spectra on the bundle grid, normalised as in training (from
            :meth:`prepare`), shape ``(n, n_energy)``.
        confidence
            Coverage of intervals and sets; default: the bundle's.
        trust
            ``False`` skips intervals, sets and the OOD check.

        Returns
        -------
        BatchPrediction
        """
        from ..learn.conformal import ConformalClassifier, ConformalRegressor

        c = self.confidence if confidence is None else float(confidence)
        X = as_real(X)
        if X.ndim != 2 or X.shape[1] != self.energy.size:
            raise SpectrumError(f"X must have shape (n, {self.energy.size}) on the bundle "
                                f"grid; found {X.shape}")
        values, classes_, probas, intervals, sets = {}, {}, {}, {}, {}
        for t in self.targets:
            if t.task == "classification":
                proba = np.asarray(t.model.predict_proba(X), dtype=float)
                classes = np.asarray(t.model.classes_)
                values[t.name] = classes[np.argmax(proba, axis=1)]
                classes_[t.name], probas[t.name] = classes, proba
                if trust:
                    cc = ConformalClassifier.from_dict(t.conformal, _Precomputed(proba=proba))
                    sets[t.name] = cc.predict_set(X, c)
            else:
                y_hat = np.asarray(t.model.predict(X), dtype=float).reshape(-1)
                values[t.name] = y_hat
                if trust:
                    cr = ConformalRegressor.from_dict(t.conformal, _Precomputed(y_hat=y_hat))
                    intervals[t.name] = cr.predict_interval(X, c).reshape(-1, 2)
        score = flag = None
        if trust:
            score = np.asarray(self.ood.score_samples(X), dtype=float)
            flag = score > self.ood.threshold_
        return BatchPrediction(values, classes_, probas, intervals, sets, score, flag, c)

    def _neighbours(self, X: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        from sklearn.neighbors import NearestNeighbors

        if self._index is None:
            self._index = NearestNeighbors().fit(self.X_train)
        k = min(k, self.X_train.shape[0])
        dist, idx = self._index.kneighbors(X, n_neighbors=k)
        return dist, idx


def as_real(X: Any) -> np.ndarray:
    """float32 stays float32 (maps: half the memory traffic, and the networks and the
    OOD score run in float32 anyway); every other input becomes float64."""
    X = np.asarray(X)
    return X if X.dtype == np.float32 else X.astype(float, copy=False)


def _read_workflow(path: Path) -> dict[str, Any]:
    f = path / WORKFLOW_FILE
    if not f.is_file():
        raise ModelError(f"{path} is not a trained workflow bundle: {WORKFLOW_FILE} is missing")
    try:
        doc = json.loads(f.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelError(f"{f} is not valid JSON: {exc}") from None
    if not isinstance(doc, dict) or doc.get("kind") != "xasml-workflow":
        raise ModelError(f"{f} is not an xasml workflow file (kind != 'xasml-workflow')")
    version = doc.get("format_version")
    if not isinstance(version, int) or version > WORKFLOW_VERSION:
        raise ModelError(f"{f} has format version {version!r}; this xasml reads up to "
                         f"{WORKFLOW_VERSION}")
    missing = [k for k in ("energy", "confidence", "ood", "targets", "training_ids", "files")
               if k not in doc]
    if missing:
        raise ModelError(f"{f} lacks the field(s) {missing}")
    return doc


def _describe(da: xr.DataArray, i: int) -> str:
    src = da.attrs.get("source")
    return f"the spectra of {Path(str(src)).name}" if src else f"spectra item {i}"


def _ids(da: xr.DataArray, i: int, n_items: int) -> list[str]:
    if da.ndim == 1:
        src = da.attrs.get("source")
        return [Path(str(src)).name if src else str(i)]
    if "sample" in da.coords:
        base = [str(v) for v in da["sample"].values]
    else:
        base = [str(j) for j in range(da.sizes["sample"])]
    return base if n_items == 1 else [f"{i}:{b}" for b in base]


def load_predictor(path: str | Path, *, device: str | None = None) -> Predictor:
    """Load a workflow bundle for repeated prediction (see :class:`Predictor`)."""
    return Predictor(path, device=device)


def predict(
    bundle: str | Path | Predictor,
    spectra: Any,
    *,
    confidence: float | None = None,
    n_neighbors: int = 3,
    trust: bool = True,
) -> pd.DataFrame:
    """Predict with trust outputs; see :meth:`Predictor.predict`.

    Parameters
    ----------
    bundle
        A bundle directory or a loaded :class:`Predictor`.
    spectra
        A spectrum, a ``(sample, energy)`` stack, or a list of them.
    confidence, n_neighbors, trust
        As in :meth:`Predictor.predict`.

    Raises
    ------
    SpectrumError
        A spectrum does not cover the model's energy grid (both ranges named), or
        its element/edge differs from the bundle's.
    ModelError
        The bundle is missing, incomplete or modified.
    """
    pred = bundle if isinstance(bundle, Predictor) else Predictor(bundle)
    return pred.predict(spectra, confidence=confidence, n_neighbors=n_neighbors, trust=trust)
