"""Dask.distributed execution of campaign batches (imported only when used).

Each worker builds and warms the engine once, through a worker plugin, and
keeps it for every batch it runs (numba compilation of the multiplet engine
costs 10–25 s per process). Local workers are processes with one thread each
and single-threaded BLAS/OpenMP (set in the worker environment).
"""

from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import Iterator
from typing import Any

from distributed import Client, LocalCluster, WorkerPlugin, as_completed, get_worker

from ._runner import THREAD_VARS, Batch, BatchResult, EngineSpec, run_batch, warm_up

__all__ = ["iter_dask", "local_cluster"]


def local_cluster(n_workers: int) -> LocalCluster:
    """Worker processes with one thread and single-threaded BLAS/OpenMP each."""
    with warnings.catch_warnings():
        # With the dashboard off the scheduler still serves health routes on 8787 and
        # warns when a second local campaign finds it taken; it then takes another port.
        warnings.filterwarnings("ignore", message="Port 8787 is already in use")
        return LocalCluster(
            n_workers=n_workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            env={var: "1" for var in THREAD_VARS},
        )


class EnginePlugin(WorkerPlugin):
    """Builds (and warms) the engine once per worker."""

    def __init__(self, spec: EngineSpec) -> None:
        self.spec = spec
        self.engine: Any = None

    def setup(self, worker: Any) -> None:
        self.engine = self.spec.build()
        warm_up(self.engine)


def _plugin_name(provenance: dict[str, Any]) -> str:
    text = json.dumps(provenance, sort_keys=True, default=str)
    return "xasml-engine-" + hashlib.sha256(text.encode()).hexdigest()[:12]


def _task(plugin: str, batch: Batch) -> BatchResult:
    engine = get_worker().plugins[plugin].engine  # type: ignore[attr-defined]
    return run_batch(engine, batch)


def iter_dask(
    spec: EngineSpec,
    provenance: dict[str, Any],
    work: list[Batch],
    *,
    scheduler: Any = None,
    n_workers: int = 1,
) -> Iterator[BatchResult]:
    """Yield batch results as they finish, on a LocalCluster or a given scheduler.

    Parameters
    ----------
    scheduler
        ``None`` (start a LocalCluster of ``n_workers`` processes), a
        scheduler address (``"tcp://host:8786"``) or a ``distributed.Client``.
    """
    cluster = None
    own_client = not isinstance(scheduler, Client)
    if scheduler is None:
        cluster = local_cluster(n_workers)
        client = Client(cluster)
    elif isinstance(scheduler, Client):
        client = scheduler
    else:
        client = Client(scheduler)
    try:
        name = _plugin_name(provenance)
        client.register_plugin(EnginePlugin(spec), name=name)
        futures = [client.submit(_task, name, batch, pure=False) for batch in work]
        by_future = dict(zip(futures, work, strict=True))
        for future in as_completed(futures):
            batch = by_future.pop(future)
            try:
                result: BatchResult = future.result()
            # A lost worker or a failure outside run_batch fails the whole batch:
            # record it per parameter set so that a rerun retries.
            except Exception as exc:
                error = f"{type(exc).__name__}: {exc}"
                fails = [{"key": k, "params": p, "error": error} for k, p in batch]
                result = BatchResult([], [], None, None, {}, fails)
            future.release()
            yield result
    finally:
        if own_client:
            client.close()
        if cluster is not None:
            cluster.close()
