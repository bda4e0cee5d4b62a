"""Apply a trained workflow bundle to every pixel of a map, with per-pixel trust.

The map ``(y, x, energy)`` is reshaped to ``(n_pixels, energy)``, resampled onto
the bundle's grid (vectorised linear interpolation, set up once per stack),
normalised as in training, and passed in chunks of ``chunk_size`` pixels to
:meth:`xasml.apply.Predictor.predict_batch` — the same code that serves
:func:`xasml.apply.predict` — so memory is bounded by the chunk, not by the map.
A dask-backed map (chunks along ``y``) is processed lazily with
:func:`dask.array.map_blocks`; nothing is computed until the result is saved or
``.compute()``-d. Each pixel gets, per target ``t`` of the bundle:

* ``t``: the value, or the most probable class (the label itself for numeric
  classes, its index into the ``<t>_classes`` attr otherwise);
* regression: the split-conformal interval ``t_lo``/``t_hi``; classification:
  ``t_p_<class>`` probabilities and ``t_set_size`` (size of the conformal set);

and ``ood_score``/``ood`` (1.0 flagged / 0.0 passed) from the bundle's detector,
and ``mask``: whether the pixel was predicted at all (finite spectrum, inside the
user's mask). Masked pixels hold NaN in every map.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from ..datamodel import ENERGY, as_map
from ..errors import ParameterError, SpectrumError
from .predict import Predictor, as_real

__all__ = ["apply_bundle", "load_map_result", "save_map_result"]


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


@contextlib.contextmanager
def _thread_limit(n_threads: int | None) -> Iterator[None]:
    """Cap BLAS/OpenMP and (if loaded) torch at ``n_threads`` for the block, then restore."""
    if n_threads is None:
        yield
        return
    import sys

    from threadpoolctl import threadpool_limits

    torch = sys.modules.get("torch")
    old = torch.get_num_threads() if torch is not None else None
    try:
        with threadpool_limits(limits=int(n_threads)):
            if torch is not None:
                torch.set_num_threads(int(n_threads))
            yield
    finally:
        if torch is not None and old is not None:
            torch.set_num_threads(old)


class _Engine:
    """Turns blocks of pixel spectra into output columns through one Predictor."""

    def __init__(self, predictor: Predictor, stack_energy: np.ndarray, confidence: float,
                 trust: bool, chunk_size: int, max_step_ratio: float) -> None:
        self.pred, self.chunk = predictor, int(chunk_size)
        self.confidence, self.trust = confidence, trust
        self.resample = _resampler(stack_energy, predictor.energy, max_step_ratio)
        self.names: list[str] = []
        self.classes: dict[str, np.ndarray] = {}
        for t in predictor.targets:
            self.names.append(t.name)
            if t.task == "classification":
                classes = np.asarray(t.model.classes_)
                self.classes[t.name] = classes
                self.names += [f"{t.name}_p_{c}" for c in classes.tolist()]
                if trust:
                    self.names.append(f"{t.name}_set_size")
            elif trust:
                self.names += [f"{t.name}_lo", f"{t.name}_hi"]
        if trust:
            self.names += ["ood_score", "ood"]
        self.names.append("mask")

    def prepare(self, X: np.ndarray) -> np.ndarray:
        if self.resample is not None:
            lo, hi, w = self.resample
            w = w.astype(X.dtype, copy=False)
            X = X[:, lo] * (1 - w) + X[:, hi] * w
        from ..learn.workflow import normalize_rows

        return normalize_rows(X, self.pred.normalization)

    def rows(self, X: np.ndarray) -> np.ndarray:
        """Output columns for finite spectra ``X`` (n, n_energy) on the model grid."""
        b = self.pred.predict_batch(X, confidence=self.confidence, trust=self.trust)
        cols: list[np.ndarray] = []
        for t in self.pred.targets:
            v = b.values[t.name]
            if t.name in self.classes:
                classes = self.classes[t.name]
                # Numeric classes are stored as themselves, others as their index.
                label = (v.astype(float) if classes.dtype.kind in "iuf"
                         else np.argmax(b.proba[t.name], axis=1).astype(float))
                cols += [label[:, None], b.proba[t.name]]
                if self.trust:
                    cols.append(b.sets[t.name].sum(axis=1, dtype=float)[:, None])
            else:
                cols.append(np.asarray(v, dtype=float)[:, None])
                if self.trust:
                    cols.append(b.intervals[t.name])
        if self.trust and b.ood_score is not None and b.ood is not None:
            cols.append(np.column_stack([b.ood_score, b.ood.astype(float)]))
        cols.append(np.ones((X.shape[0], 1)))
        return np.concatenate(cols, axis=1)

    def block(self, values: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
        """``(ny, nx, n_energy)`` stack block → ``(ny, nx, n_outputs)``."""
        ny, nx, ne = values.shape
        X = values.reshape(-1, ne)
        keep = None if mask is None else np.asarray(mask, dtype=bool).reshape(-1)
        out = np.full((X.shape[0], len(self.names)), np.nan)
        out[:, -1] = 0.0
        # Validity is checked chunk by chunk so no (n_pixels, n_energy) temporary is made.
        for start in range(0, X.shape[0], self.chunk):
            stop = min(start + self.chunk, X.shape[0])
            block = X[start:stop]
            valid = np.isfinite(block).all(axis=1)
            if keep is not None:
                valid &= keep[start:stop]
            if valid.all():
                out[start:stop] = self.rows(self.prepare(as_real(block)))
            elif valid.any():
                sel = np.flatnonzero(valid)
                out[start + sel] = self.rows(self.prepare(as_real(block[sel])))
        return out.reshape(ny, nx, -1)


def apply_bundle(
    bundle: str | Path | Predictor,
    stack: xr.DataArray,
    *,
    mask: xr.DataArray | np.ndarray | None = None,
    confidence: float | None = None,
    trust: bool = True,
    chunk_size: int = 65536,
    max_step_ratio: float = 4.0,
    device: str | None = None,
    n_threads: int | None = None,
) -> xr.Dataset:
    """Predict every pixel of a map with a workflow bundle, with intervals and OOD flags.

    Parameters
    ----------
    bundle
        A bundle directory written by :func:`xasml.learn.train` (``xasml train``) or
        a loaded :class:`~xasml.apply.Predictor`. Its per-target models, conformal
        states, OOD detector, energy grid and normalisation are used.
    stack
        ``(y, x, energy)`` OD map (numpy- or dask-backed; chunk dask maps along ``y``).
        It is resampled onto the bundle's grid by linear interpolation and must
        cover it densely enough.
    mask
        ``(y, x)`` boolean, ``True`` where pixels are predicted (e.g. a
        :class:`~xasml.apply.stack.MaskReport` mask). Non-finite pixels are always skipped.
    confidence
        Coverage of the intervals / prediction sets; default: the bundle's.
    trust
        ``False`` gives bare predictions (no intervals, sets or OOD maps).
    chunk_size
        Pixels predicted at once; bounds the working memory.
    max_step_ratio
        Refuse stacks whose energy gaps inside the model range exceed this many model steps.
    device
        Device for the networks when ``bundle`` is a path (e.g. ``"cpu"``).
    n_threads
        CPU threads for the numerical libraries (BLAS/OpenMP via threadpoolctl, and
        torch) while a numpy-backed map is computed; ``None`` leaves them as they
        are. A network's own ``n_threads`` still applies inside its forward pass.
        Dask-backed maps are computed later by dask's scheduler and ignore it.

    Returns
    -------
    xarray.Dataset
        ``(y, x)`` variables as listed in the module docs, coordinates ``y``/``x``
        from the stack; attrs record the bundle, grid, normalisation, targets,
        confidence, the OOD threshold and each class target's ``<t>_classes``.

    Raises
    ------
    SpectrumError
        The stack does not cover the bundle's grid (or too sparsely), or its
        element/edge differs from the bundle's.
    ModelError
        The bundle is missing, incomplete or modified.
    """
    pred = bundle if isinstance(bundle, Predictor) else Predictor(bundle, device=device)
    m = as_map(stack)
    if chunk_size < 1:
        raise ParameterError(f"chunk_size must be >= 1; found {chunk_size}")
    if n_threads is not None and (isinstance(n_threads, bool) or not isinstance(
            n_threads, int | np.integer) or n_threads < 1):
        raise ParameterError(f"n_threads must be None or an int >= 1; found {n_threads!r}")
    pred.check_identity(m)
    c = pred.confidence if confidence is None else float(confidence)
    eng = _Engine(pred, np.asarray(m[ENERGY].values, dtype=float), c, trust, chunk_size,
                  max_step_ratio)
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
        jobs = pred.ood.n_jobs
        try:
            if n_threads is not None:
                pred.ood.n_jobs = int(n_threads)  # the neighbour search's own threads
            with _thread_limit(n_threads):
                out = eng.block(m.values, mask_arr)
        finally:
            pred.ood.n_jobs = jobs
    coords = {d: m[d] for d in ("y", "x")}
    ds = xr.Dataset({name: (("y", "x"), out[:, :, k]) for k, name in enumerate(eng.names)},
                    coords=coords)
    ds["mask"] = ds["mask"] > 0.5
    e = pred.energy
    attrs: dict[str, Any] = {
        "model": str(pred.path),
        "model_energy_min": float(e[0]), "model_energy_max": float(e[-1]),
        "model_energy_points": int(e.size), "normalization": pred.normalization,
        "source": str(m.attrs.get("source", "")),
        "targets": ",".join(t.name for t in pred.targets),
    }
    if trust:
        attrs["confidence"] = c
        attrs["ood_threshold"] = float(pred.ood.threshold_)
    for name, classes in eng.classes.items():
        attrs[f"{name}_classes"] = ",".join(map(str, classes.tolist()))
    ds.attrs = attrs
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
