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
from ..learn.workflow import TRAINING_FILE, WORKFLOW_FILE, WORKFLOW_VERSION, _sha256, resample

__all__ = ["Predictor", "TargetModel", "load_predictor", "predict"]


@dataclass(frozen=True)
class TargetModel:
    """One target of a workflow bundle: its name, task, loaded model and conformal state."""

    name: str
    task: str
    model: Any
    conformal: dict[str, Any]


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
            self._check_identity(da)
            da = resample(da, self.energy, what=_describe(da, i))
            arr = np.asarray(da.values, dtype=float).reshape(-1, self.energy.size)
            if not np.all(np.isfinite(arr)):
                raise SpectrumError(f"{_describe(da, i)} contain NaN/inf on the model's grid")
            blocks.append(arr)
            ids.extend(_ids(da, i, len(items)))
        return np.concatenate(blocks), ids

    def _check_identity(self, da: xr.DataArray) -> None:
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
        from ..learn.conformal import ConformalClassifier, ConformalRegressor

        c = self.confidence if confidence is None else float(confidence)
        if not isinstance(n_neighbors, int) or n_neighbors < 0:
            raise ParameterError(f"n_neighbors must be an int >= 0; found {n_neighbors!r}")
        X, ids = self.prepare(spectra)
        cols: dict[str, Any] = {}
        for t in self.targets:
            if t.task == "classification":
                proba = np.asarray(t.model.predict_proba(X), dtype=float)
                classes = np.asarray(t.model.classes_)
                cols[t.name] = classes[np.argmax(proba, axis=1)]
                if trust:
                    cc = ConformalClassifier.from_dict(t.conformal, _Precomputed(proba=proba))
                    sets = cc.predict_set(X, c)
                    cols[f"{t.name}_set"] = [classes[row].tolist() for row in sets]
                    cols[f"{t.name}_set_size"] = sets.sum(axis=1)
                for j, cls in enumerate(classes):
                    cols[f"{t.name}_p_{cls}"] = proba[:, j]
            else:
                y_hat = np.asarray(t.model.predict(X), dtype=float).reshape(-1)
                cols[t.name] = y_hat
                if trust:
                    cr = ConformalRegressor.from_dict(t.conformal, _Precomputed(y_hat=y_hat))
                    iv = cr.predict_interval(X, c)
                    cols[f"{t.name}_lo"], cols[f"{t.name}_hi"] = iv[:, 0], iv[:, 1]
        if trust:
            score = self.ood.score_samples(X)
            cols["ood_score"] = score
            cols["ood"] = score > self.ood.threshold_
            if n_neighbors:
                dist, idx = self._neighbours(X, n_neighbors)
                for i in range(dist.shape[1]):
                    cols[f"nearest_{i + 1}_id"] = [self.training_ids[j] for j in idx[:, i]]
                    cols[f"nearest_{i + 1}_distance"] = dist[:, i]
        return pd.DataFrame(cols, index=pd.Index(ids, name="sample"))

    def _neighbours(self, X: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        from sklearn.neighbors import NearestNeighbors

        if self._index is None:
            self._index = NearestNeighbors().fit(self.X_train)
        k = min(k, self.X_train.shape[0])
        dist, idx = self._index.kneighbors(X, n_neighbors=k)
        return dist, idx


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
