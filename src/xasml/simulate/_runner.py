"""Executing batches of parameter sets: in-process or on Dask workers.

A batch is a list of ``(key, params)``. :func:`run_batch` simulates each set
and turns every per-set exception into a failure record, so one bad parameter
set never loses its batch. The executors yield :class:`BatchResult` as batches
finish; only the caller (the campaign's parent process) writes to disk.

Per-sample labels
-----------------
Besides its parameters, each sample keeps the *labels* its engine computed
(:func:`sample_labels`): every scalar non-dimension coordinate of the returned
spectrum (numbers or strings; e.g. the TDDFT site properties), and the numeric
attrs the engine names in an optional class attribute ``sample_attrs`` (e.g.
FEFF's per-site ``fermi_energy``). The campaign stores them as coordinates on
``sample``, NaN (or ``""``) where a sample lacks one; a label with the name of
a parameter is dropped (the parameter is kept). Declared ``sample_attrs`` are
left out of the dataset attrs, which hold what the whole campaign shares.
"""

from __future__ import annotations

import importlib
import math
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import xarray as xr

from ..errors import EngineError

__all__ = ["BatchResult", "EngineSpec", "iter_sync", "run_batch", "sample_labels", "warm_up"]

Batch = list[tuple[str, dict[str, Any]]]
THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


@dataclass(frozen=True)
class EngineSpec:
    """How to build the engine in a worker: by registry name or as a pickled instance."""

    name: str | None = None
    settings: Mapping[str, Any] = field(default_factory=dict)
    instance: Any = None

    def build(self) -> Any:
        if self.instance is not None:
            return self.instance
        from .base import get_engine

        return get_engine(str(self.name), **dict(self.settings))


@dataclass
class BatchResult:
    """Finished part of a batch: the spectra that worked and the failures."""

    keys: list[str]
    params: list[dict[str, Any]]
    energy: np.ndarray | None
    intensity: np.ndarray | None  # (len(keys), n_energy)
    attrs: dict[str, Any]
    failures: list[dict[str, Any]]
    labels: list[dict[str, Any]] = field(default_factory=list)  # one per key


def warm_up(engine: Any) -> None:
    """Call the engine module's optional ``warm_up()`` (e.g. numba compilation) once."""
    module = importlib.import_module(type(engine).__module__)
    hook = getattr(module, "warm_up", None)
    if callable(hook):
        hook()


def _json_attrs(attrs: Mapping[str, Any], skip: Sequence[str] = ()) -> dict[str, Any]:
    return {
        k: v
        for k, v in attrs.items()
        if isinstance(v, (str, int, float)) and k != "source" and k not in skip
    }


def _scalar(value: Any, *, strings: bool) -> int | float | str | None:
    """A JSON scalar for a label value, or None when it is not one."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int | float):
        return value
    if strings and isinstance(value, str):
        return value
    return None


def sample_labels(engine: Any, da: xr.DataArray) -> dict[str, int | float | str]:
    """Per-sample labels of one simulated spectrum (see module docstring).

    Returns
    -------
    dict
        Scalar non-dimension coordinates (numbers and strings) and the numeric
        attrs listed in ``engine.sample_attrs``; other values are ignored.
    """
    labels: dict[str, int | float | str] = {}
    for name, coord in da.coords.items():
        if name in da.dims or coord.ndim != 0:
            continue
        value = _scalar(coord.values[()], strings=True)
        if value is not None:
            labels[str(name)] = value
    for name in getattr(engine, "sample_attrs", ()):
        value = _scalar(da.attrs.get(name), strings=False)
        if value is not None:
            labels[str(name)] = value
    return labels


def run_batch(engine: Any, batch: Batch) -> BatchResult:
    """Simulate every parameter set of ``batch``; failures are recorded, not raised."""
    keys: list[str] = []
    params: list[dict[str, Any]] = []
    rows: list[np.ndarray] = []
    failures: list[dict[str, Any]] = []
    labels: list[dict[str, Any]] = []
    energy: np.ndarray | None = None
    attrs: dict[str, Any] = {}
    per_sample = tuple(getattr(engine, "sample_attrs", ()))
    for key, p in batch:
        try:
            da = engine.simulate(p)
            if da.dims != ("energy",):
                raise EngineError(f"engine returned dims {da.dims}; expected ('energy',)")
            e = np.asarray(da["energy"].values, dtype=float)
            if energy is None:
                energy, attrs = e, _json_attrs(da.attrs, per_sample)
            elif not np.array_equal(e, energy):
                raise EngineError("engine returned another energy grid within one campaign")
            y = np.asarray(da.values, dtype=float)
            if not np.all(np.isfinite(y)):
                raise EngineError("engine returned non-finite intensities")
            label = sample_labels(engine, da)
        # A campaign must survive any per-set failure of a third-party engine
        # (numpy LinAlgError, numba errors ...): record it and go on.
        except Exception as exc:
            failures.append({"key": key, "params": p, "error": f"{type(exc).__name__}: {exc}"})
            continue
        keys.append(key)
        params.append(p)
        rows.append(y)
        labels.append(label)
    intensity = np.stack(rows) if rows else None
    return BatchResult(keys, params, energy, intensity, attrs, failures, labels)


def batches(items: Sequence[tuple[str, dict[str, Any]]], size: int) -> list[Batch]:
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


def auto_batch_size(n_items: int, n_workers: int) -> int:
    """About four batches per worker (load balance), between 1 and 64 sets each."""
    return max(1, min(64, math.ceil(n_items / (4 * max(1, n_workers)))))


def default_workers() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def iter_sync(spec: EngineSpec, work: list[Batch]) -> Iterator[BatchResult]:
    """Run batches one after another in this process, with single-threaded BLAS.

    Engines diagonalise many small matrices; multi-threaded BLAS on them is
    several times slower (ENGINES.md), so BLAS/OpenMP pools are limited to one
    thread for the duration of the run only (threadpoolctl, no global change).
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        engine = spec.build()
        warm_up(engine)
        for batch in work:
            yield run_batch(engine, batch)
