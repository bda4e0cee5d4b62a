"""Apply a spectrum model to every pixel of a map, with per-pixel trust.

The map ``(y, x, energy)`` is reshaped to ``(n_pixels, energy)``, resampled onto
the model's grid, and predicted in chunks of ``chunk_size`` pixels, so memory is
bounded by the chunk, not by the map. A dask-backed map (chunks along ``y``) is
processed lazily with :func:`dask.array.map_blocks`; nothing is computed until
the result is saved or ``.compute()``-d. Each pixel gets:

* the prediction per target (class label and probabilities for classifiers),
* a split-conformal interval ``lo``/``hi`` (regression) or the prediction-set
  size (classification) when a calibrator is given (:mod:`xasml.learn.conformal`),
* an out-of-distribution score and flag when a detector is given
  (:class:`xasml.learn.OODDetector`),
* ``mask``: whether the pixel was predicted at all (finite spectrum, inside the
  user's mask). Masked pixels hold NaN in every map.

Bundles carry the trust state in their manifest ``extras`` under the keys in
:data:`EXTRAS_KEYS` (see :func:`trust_from_bundle`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, cast

import numpy as np
import xarray as xr

from ..datamodel import ENERGY, as_map
from ..errors import ModelError, ParameterError, SpectrumError

__all__ = [
    "EXTRAS_KEYS",
    "PixelNormalization",
    "Trust",
    "apply_bundle",
    "apply_to_map",
    "save_map_result",
    "trust_from_bundle",
]

PixelNormalization = Literal["none", "l1", "max"]

#: Bundle manifest ``extras`` keys read by :func:`trust_from_bundle`:
#: ``ood`` — :meth:`OODDetector.to_dict` state; ``conformal`` —
#: :meth:`ConformalRegressor.to_dict` / :meth:`ConformalClassifier.to_dict` state;
#: ``confidence`` — default interval confidence (float in (0, 1));
#: ``pixel_normalization`` — ``"none"``, ``"l1"`` or ``"max"``, applied to each
#: pixel spectrum before model and detector (thickness varies across a map).
EXTRAS_KEYS = {
    "ood": "ood",
    "conformal": "conformal",
    "confidence": "confidence",
    "pixel_normalization": "pixel_normalization",
}


@dataclass(frozen=True)
class Trust:
    """The trust companions of a model, as found in a bundle."""

    ood: Any = None
    conformal: Any = None
    confidence: float = 0.9
    normalization: PixelNormalization = "none"


def trust_from_bundle(bundle: Any) -> Trust:
    """Rebuild the OOD detector and conformal calibrator stored in a bundle's ``extras``."""
    from ..learn import ConformalClassifier, ConformalRegressor, OODDetector

    extras = dict(getattr(bundle.manifest, "extras", {}) or {})
    ood = conformal = None
    try:
        if extras.get(EXTRAS_KEYS["ood"]):
            ood = OODDetector.from_dict(extras[EXTRAS_KEYS["ood"]])
        state = extras.get(EXTRAS_KEYS["conformal"])
        if state:
            cls = ConformalClassifier if state.get("kind") == "ConformalClassifier" \
                else ConformalRegressor
            conformal = cls.from_dict(state, bundle.model)
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelError(
            f"{bundle.path}: malformed trust state in manifest extras: {exc}") from None
    norm = extras.get(EXTRAS_KEYS["pixel_normalization"], "none") or "none"
    if norm not in ("none", "l1", "max"):
        raise ModelError(f"{bundle.path}: extras pixel_normalization must be 'none', 'l1' "
                         f"or 'max'; found {norm!r}")
    return Trust(ood=ood, conformal=conformal,
                 confidence=float(extras.get(EXTRAS_KEYS["confidence"], 0.9)),
                 normalization=cast(PixelNormalization, norm))


def _resampler(src: np.ndarray, dst: np.ndarray, max_step_ratio: float) -> Any:
    """Linear-interpolation indices/weights from the stack grid onto the model grid."""
    tol = 1e-6 + 0.01 * float(np.median(np.diff(dst))) if dst.size > 1 else 1e-6
    if src[0] > dst[0] + tol or src[-1] < dst[-1] - tol:
        raise SpectrumError(
            f"the stack's energies ({src.size} points, {src[0]:g}..{src[-1]:g} eV) do not "
            f"cover the model's energy grid ({dst[0]:g}..{dst[-1]:g} eV, {dst.size} points); "
            "energy coverage is insufficient for this model"
        )
    if src.shape == dst.shape and np.allclose(src, dst, rtol=0, atol=1e-6):
        return None
    inside = src[(src >= dst[0] - tol) & (src <= dst[-1] + tol)]
    grid = np.concatenate([[dst[0]], inside, [dst[-1]]])
    model_step = float(np.median(np.diff(dst))) if dst.size > 1 else np.inf
    worst = float(np.max(np.diff(grid)))
    if worst > max_step_ratio * model_step:
        raise SpectrumError(
            f"the stack samples the model's range {dst[0]:g}..{dst[-1]:g} eV with only "
            f"{inside.size} energies (largest gap {worst:.3g} eV, model step "
            f"{model_step:.3g} eV); energy coverage is too sparse to resample onto the "
            f"model grid (allowed gap: {max_step_ratio:g} model steps)"
        )
    hi = np.clip(np.searchsorted(src, dst, side="right"), 1, src.size - 1)
    lo = hi - 1
    w = np.clip((dst - src[lo]) / (src[hi] - src[lo]), 0.0, 1.0)
    return lo, hi, w


class _Engine:
    """Everything needed to turn a block of pixel spectra into output columns."""

    def __init__(self, model: Any, energy: np.ndarray, stack_energy: np.ndarray,
                 targets: Sequence[str], ood: Any, conformal: Any, confidence: float,
                 normalization: str, chunk_size: int, max_step_ratio: float) -> None:
        self.model, self.ood, self.chunk = model, ood, int(chunk_size)
        self.energy = energy
        self.resample = _resampler(stack_energy, energy, max_step_ratio)
        if normalization not in ("none", "l1", "max"):
            raise ParameterError(
                f"normalization must be 'none', 'l1' or 'max'; found {normalization!r}")
        self.normalization = normalization
        classes = getattr(model, "classes_", None)
        self.classes = None if classes is None else np.asarray(classes)
        self.targets = list(targets) or (["class"] if self.classes is not None else ["value"])
        for obj, name in ((ood, "OOD detector"), (conformal, "conformal calibrator")):
            n = getattr(obj, "n_features_in_", None)
            if obj is not None and n is not None and n != energy.size:
                raise ModelError(
                    f"the {name} expects {n} energy points but the model grid has {energy.size}")
        self.halfwidth: np.ndarray | None = None
        self.cc: Any = None
        if conformal is not None:
            self._calibrate(conformal, confidence)
        self.names = self._names(conformal is not None)

    def _calibrate(self, conformal: Any, confidence: float) -> None:
        from ..learn._trust_checks import check_confidence

        if self.classes is None:
            from crepes import ConformalRegressor as _CR

            res = np.asarray(conformal.residuals_, dtype=float)
            c = check_confidence(confidence, res.shape[0])
            # Split-conformal intervals are y_hat ± q; q from crepes with y_hat = 0.
            self.halfwidth = np.array([
                _CR().fit(residuals=res[:, j]).predict_int(y_hat=np.zeros(1), confidence=c)[0, 1]
                for j in range(res.shape[1])])
        else:
            from crepes import ConformalClassifier as _CC

            c = check_confidence(confidence, conformal.scores_.size)
            self.cc, self.confidence = _CC().fit(alphas=conformal.scores_), c

    def _names(self, calibrated: bool) -> list[str]:
        names: list[str] = []
        if self.classes is None:
            names += self.targets
            if calibrated:
                names += [f"{t}_{s}" for t in self.targets for s in ("lo", "hi")]
        else:
            names += [self.targets[0]] + [f"proba_{c}" for c in self.classes.tolist()]
            if calibrated:
                names.append("set_size")
        if self.ood is not None:
            names += ["ood_score", "ood"]
        return [*names, "mask"]

    def prepare(self, X: np.ndarray) -> np.ndarray:
        if self.resample is not None:
            lo, hi, w = self.resample
            X = X[:, lo] * (1.0 - w) + X[:, hi] * w
        if self.normalization != "none":
            norm = (np.abs(X).sum(axis=1) if self.normalization == "l1"
                    else np.abs(X).max(axis=1))
            X = X / np.where(norm > 0, norm, 1.0)[:, None]
        return X

    def rows(self, X: np.ndarray) -> np.ndarray:
        """Output columns for finite spectra ``X`` (n, n_energy) on the model grid."""
        cols: list[np.ndarray] = []
        if self.classes is None:
            y = np.asarray(self.model.predict(X), dtype=float).reshape(X.shape[0], -1)
            if y.shape[1] != len(self.targets):
                raise ModelError(f"the model predicts {y.shape[1]} targets but "
                                 f"{len(self.targets)} names were given: {self.targets}")
            cols.append(y)
            if self.halfwidth is not None:
                cols.append(np.stack([y - self.halfwidth, y + self.halfwidth], axis=2)
                            .reshape(X.shape[0], -1))
        else:
            proba = np.asarray(self.model.predict_proba(X), dtype=float)
            best = np.argmax(proba, axis=1)
            label = (self.classes[best].astype(float) if self.classes.dtype.kind in "iuf"
                     else best.astype(float))
            cols += [label[:, None], proba]
            if self.cc is not None:
                sets = self.cc.predict_set(alphas=1.0 - proba, confidence=self.confidence,
                                           smoothing=False)
                cols.append(np.asarray(sets, dtype=float).sum(axis=1)[:, None])
        if self.ood is not None:
            s = np.asarray(self.ood.score_samples(X), dtype=float)
            cols.append(np.column_stack([s, (s > self.ood.threshold_).astype(float)]))
        cols.append(np.ones((X.shape[0], 1)))
        return np.concatenate(cols, axis=1)

    def block(self, values: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
        """``(ny, nx, n_energy)`` stack block → ``(ny, nx, n_outputs)``."""
        ny, nx, ne = values.shape
        X = values.reshape(-1, ne)
        valid = np.isfinite(X).all(axis=1)
        if mask is not None:
            valid &= np.asarray(mask, dtype=bool).reshape(-1)
        out = np.full((X.shape[0], len(self.names)), np.nan)
        out[:, -1] = 0.0
        idx = np.flatnonzero(valid)
        for start in range(0, idx.size, self.chunk):
            sel = idx[start:start + self.chunk]
            out[sel] = self.rows(self.prepare(np.asarray(X[sel], dtype=float)))
        return out.reshape(ny, nx, -1)


def apply_to_map(
    model: Any,
    stack: xr.DataArray,
    *,
    energy: Any,
    targets: Sequence[str] = (),
    ood: Any = None,
    conformal: Any = None,
    confidence: float = 0.9,
    mask: xr.DataArray | np.ndarray | None = None,
    normalization: PixelNormalization = "none",
    chunk_size: int = 65536,
    max_step_ratio: float = 4.0,
) -> xr.Dataset:
    """Predict every pixel of a map, with intervals and OOD flags.

    Parameters
    ----------
    model
        A fitted estimator with ``predict`` (regressor) or ``predict_proba`` and
        ``classes_`` (classifier) taking ``(n, n_energy)`` arrays.
    stack
        ``(y, x, energy)`` OD map (numpy- or dask-backed; chunk dask maps along ``y``).
    energy
        The model's energy grid, eV, shape ``(n_energy,)``. The stack is resampled
        onto it by linear interpolation; it must cover the grid densely enough.
    targets
        Names of the regression targets (one per model output) or of the class label.
    ood
        A fitted :class:`~xasml.learn.OODDetector` (same grid and normalisation).
    conformal
        A calibrated :class:`~xasml.learn.ConformalRegressor` or
        :class:`~xasml.learn.ConformalClassifier` for ``model``.
    confidence
        Coverage of the intervals / prediction sets.
    mask
        ``(y, x)`` boolean, ``True`` where pixels are predicted (e.g. a
        :class:`~xasml.apply.stack.MaskReport` mask). Non-finite pixels are always skipped.
    normalization
        Per-pixel scaling before model and detector: ``"l1"`` (sum of absolute
        values), ``"max"`` or ``"none"``.
    chunk_size
        Pixels predicted at once; bounds the working memory.
    max_step_ratio
        Refuse stacks whose energy gaps inside the model range exceed this many model steps.

    Returns
    -------
    xarray.Dataset
        ``(y, x)`` variables: one per target (``<t>_lo``/``<t>_hi`` with a regressor
        calibrator; ``proba_<class>`` and ``set_size`` for classifiers), ``ood_score``
        and ``ood`` (1.0 flagged / 0.0 passed) with a detector, and ``mask``. Coordinates
        ``y``/``x`` from the stack; attrs record the grid, confidence and the OOD threshold.
    """
    m = as_map(stack)
    e_model = np.asarray(getattr(energy, "values", energy), dtype=float).reshape(-1)
    if chunk_size < 1:
        raise ParameterError(f"chunk_size must be >= 1; found {chunk_size}")
    eng = _Engine(model, e_model, np.asarray(m[ENERGY].values, dtype=float), targets, ood,
                  conformal, confidence, normalization, chunk_size, max_step_ratio)
    mask_arr = None
    if mask is not None:
        mask_arr = np.asarray(getattr(mask, "values", mask), dtype=bool)
        if mask_arr.shape != (m.sizes["y"], m.sizes["x"]):
            raise ParameterError(f"mask must have the map's (y, x) shape "
                                 f"{(m.sizes['y'], m.sizes['x'])}; found {mask_arr.shape}")
    n_out = len(eng.names)
    if m.chunks is not None:
        import dask.array as dsk

        data = m.data.rechunk({1: -1, 2: -1})
        mk = None if mask_arr is None else dsk.from_array(
            mask_arr[:, :, None], chunks=(data.chunks[0], -1, -1))
        args = [data] if mk is None else [data, mk]

        def fn(v: np.ndarray, mm: np.ndarray | None = None) -> np.ndarray:
            return eng.block(v, mm)

        out: Any = dsk.map_blocks(fn, *args, dtype=float,
                                  chunks=(data.chunks[0], data.chunks[1], (n_out,)))
    else:
        out = eng.block(m.values, mask_arr)
    coords = {d: m[d] for d in ("y", "x")}
    ds = xr.Dataset({name: (("y", "x"), out[:, :, k]) for k, name in enumerate(eng.names)},
                    coords=coords)
    ds["mask"] = ds["mask"] > 0.5
    attrs: dict[str, Any] = {
        "model_energy_min": float(e_model[0]), "model_energy_max": float(e_model[-1]),
        "model_energy_points": int(e_model.size), "normalization": normalization,
        "source": str(m.attrs.get("source", "")), "targets": ",".join(eng.targets),
    }
    if conformal is not None:
        attrs["confidence"] = float(confidence)
    if ood is not None:
        attrs["ood_threshold"] = float(ood.threshold_)
    if eng.classes is not None:
        attrs["classes"] = ",".join(map(str, eng.classes.tolist()))
    ds.attrs = attrs
    return ds


def apply_bundle(bundle: Any, stack: xr.DataArray, **kwargs: Any) -> xr.Dataset:
    """:func:`apply_to_map` with the model, grid, targets and trust state of a bundle.

    ``bundle`` is a :class:`xasml.learn.Bundle` or a bundle directory; keyword
    arguments override the bundle's defaults (``confidence``, ``normalization`` ...).
    """
    if isinstance(bundle, str | Path):
        from ..learn import load_bundle

        bundle = load_bundle(bundle)
    trust = trust_from_bundle(bundle)
    names = [t.name for t in bundle.manifest.targets]
    kw: dict[str, Any] = {"targets": names, "ood": trust.ood, "conformal": trust.conformal,
                          "confidence": trust.confidence, "normalization": trust.normalization}
    kw.update(kwargs)
    ds = apply_to_map(bundle.model, stack, energy=bundle.energy, **kw)
    ds.attrs["model"] = str(bundle.path)
    return ds


def save_map_result(ds: xr.Dataset, path: str | Path) -> Path:
    """Write a map result atomically as NetCDF (``.nc``) or Zarr (``.zarr``).

    A dask-backed result is computed chunk by chunk while writing.
    """
    import os
    import shutil
    import tempfile

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".nc", ".zarr"):
        raise ParameterError(f"result path must end in .nc or .zarr; found {path.name!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    out = ds.copy()
    for name in out.data_vars:
        if out[name].dtype == bool:
            out[name] = out[name].astype("u1")
            out[name].attrs["dtype"] = "bool"
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.tmp-", dir=path.parent)) / path.name
    try:
        if suffix == ".nc":
            out.to_netcdf(tmp, engine="h5netcdf")
        else:
            out.to_zarr(tmp, mode="w", consolidated=False)
        if path.is_dir():
            shutil.rmtree(path)
        os.replace(tmp, path)
    finally:
        shutil.rmtree(tmp.parent, ignore_errors=True)
    return path


def load_map_result(path: str | Path) -> xr.Dataset:
    """Read a result written by :func:`save_map_result` (boolean maps restored)."""
    from ..errors import FormatError

    path = Path(path)
    try:
        if path.suffix.lower() == ".zarr":
            ds = xr.open_zarr(path, consolidated=False).load()
        else:
            with xr.open_dataset(path, engine="h5netcdf") as fh:
                ds = fh.load()
    except (OSError, ValueError, KeyError) as exc:
        raise FormatError(path, f"cannot read a map result: {exc}") from None
    for name in ds.data_vars:
        if ds[name].attrs.get("dtype") == "bool":
            ds[name] = ds[name].astype(bool)
    return ds
