"""Simulation campaigns: one engine mapped over a design, resumable, into Zarr.

:func:`run_campaign` simulates every parameter set of a :class:`Design` that
the output dataset does not hold yet, in parallel (Dask, local processes by
default) or in-process, and stores the spectra as an xarray Dataset in Zarr:
data variable ``intensity (sample, energy)``, one coordinate per parameter
and per engine-computed label (scalar coordinates of the spectra and declared
``sample_attrs``, see :mod:`xasml.simulate._runner`) on ``sample``, a
``key`` coordinate (hash of the canonical parameter set) and provenance in
the attrs (engine name, version and settings, design, seed, xasml version,
created/updated times, a log of runs).

Layout and crash safety
-----------------------
::

    DATASET.zarr/            a Zarr (v2, consolidated) store: xr.open_zarr works
        .zmetadata ...       the consolidated spectra
        campaign.json        engine provenance and run log (written atomically)
        failures.json        parameter sets that raised, with the error (atomic)
        parts/part-*.npz     finished batches not yet consolidated
    .DATASET.zarr.lock       flock held while a campaign writes (freed on kill)
    .DATASET.zarr.tmp/.old   exist only during a consolidation

1. Each finished batch is written to a temp file in ``parts/``, fsynced and
   renamed (``os.replace``) to ``part-<hash of its keys>.npz``: a part either
   exists complete or not at all. Killed before the rename, the batch is
   recomputed; stray ``.tmp-*`` files are deleted on the next run.
2. The set of existing spectra is the keys in the Zarr store plus the keys in
   the part files; a rerun computes only the rest (failed sets included).
3. At the end of a run the Zarr store and all parts are merged into a new
   store built in ``.DATASET.zarr.tmp`` (the old store is never modified);
   then ``DATASET.zarr`` is renamed to ``.DATASET.zarr.old``, the new store
   renamed to ``DATASET.zarr`` and the old one deleted. At start, under the
   lock, an interrupted consolidation is resolved: no ``DATASET.zarr`` but an
   ``.old`` → rename it back (it still holds its parts, so nothing is lost);
   both present → the swap finished, delete ``.old``; any ``.tmp`` → delete.
   Duplicate keys are dropped when merging, so no spectrum is counted twice.

Hence, killed at any instant, the store that ``xr.open_zarr`` reads is
always a complete earlier or later consolidation (never a half-written
batch), and a rerun finishes the work with each spectrum exactly once.
Readers see spectra of an unfinished run only after its consolidation.
The whole dataset is rebuilt in memory at consolidation, which suits
campaigns up to a few GB.
"""

from __future__ import annotations

import datetime as _dt
import json
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ParameterError
from ._design import Design
from ._runner import BatchResult, EngineSpec, auto_batch_size, batches, default_workers, iter_sync
from ._store import CampaignStore
from .base import Engine

__all__ = ["CampaignResult", "Failure", "run_campaign"]


@dataclass(frozen=True)
class Failure:
    """A parameter set whose simulation raised."""

    key: str
    params: dict[str, Any]
    error: str


@dataclass(frozen=True)
class CampaignResult:
    """Outcome of :func:`run_campaign`.

    Attributes
    ----------
    path
        The Zarr dataset.
    n_done
        Spectra in the dataset after this run (all designs so far).
    n_new
        Spectra computed by this run.
    n_failed
        Parameter sets of this design that failed (see ``failures``).
    failures
        One :class:`Failure` per failed set, with the error message.
    wall_time
        Seconds from start to the end of consolidation.
    """

    path: Path
    n_done: int
    n_new: int
    n_failed: int
    failures: tuple[Failure, ...]
    wall_time: float


def _engine_spec(
    engine: str | Engine, settings: Mapping[str, Any] | None
) -> tuple[EngineSpec, Any]:
    from .base import get_engine

    if isinstance(engine, str):
        local = get_engine(engine, **dict(settings or {}))  # validates name and settings now
        return EngineSpec(name=engine, settings=dict(settings or {})), local
    if settings:
        raise ParameterError("engine_settings is only for an engine given by name")
    if not isinstance(engine, Engine):
        raise ParameterError(
            f"engine must be a registered name or an Engine; found {type(engine).__name__}"
        )
    return EngineSpec(instance=engine), engine


def _iter_results(
    spec: EngineSpec,
    provenance: dict[str, Any],
    work: list[list[tuple[str, dict[str, Any]]]],
    scheduler: Any,
    n_workers: int,
) -> Iterator[BatchResult]:
    if scheduler == "sync" or (scheduler is None and n_workers == 0):
        return iter_sync(spec, work)
    from ._dask import iter_dask

    return iter_dask(spec, provenance, work, scheduler=scheduler, n_workers=max(1, n_workers))


def run_campaign(
    engine: str | Engine,
    design: Design,
    out: str | Path,
    *,
    engine_settings: Mapping[str, Any] | None = None,
    scheduler: Any = None,
    n_workers: int | None = None,
    batch_size: int | None = None,
    progress: bool = True,
) -> CampaignResult:
    """Simulate every parameter set of ``design`` missing from ``out``.

    Parameters
    ----------
    engine
        Registered engine name (see :data:`~xasml.simulate.base.ENGINES`) or
        an engine instance (it is pickled to the workers).
    design
        Parameter sets, e.g. from :func:`grid` or :func:`latin_hypercube`.
    out
        Dataset directory (``*.zarr``); created, or resumed when it exists.
        Its engine set-up must equal this run's.
    engine_settings
        Keyword settings of the engine, when ``engine`` is a name.
    scheduler
        ``None``: a local Dask cluster of ``n_workers`` processes (one thread
        each, single-threaded BLAS); ``"sync"``: in this process; a scheduler
        address (``"tcp://host:8786"``) or a ``distributed.Client``; remote
        workers must be able to import xasml and the engine's dependencies.
        Each worker builds the engine and calls its module's ``warm_up()``
        (when there is one) once, then keeps it for all its batches.
    n_workers
        Local worker processes (default: the usable cores); ``0`` runs in
        this process like ``"sync"``.
    batch_size
        Parameter sets per task and per part file; default about four
        batches per worker, at most 64 sets.
    progress
        Show a rich progress bar.

    Returns
    -------
    CampaignResult

    Raises
    ------
    ParameterError
        Unknown engine or settings, or ``out`` made with another engine set-up.
    EngineError
        Another campaign is writing ``out``.
    """
    from .. import __version__

    t0 = time.perf_counter()
    if not isinstance(design, Design):
        raise ParameterError(f"design must be a Design; found {type(design).__name__}")
    if batch_size is not None and (not isinstance(batch_size, int) or batch_size < 1):
        raise ParameterError(f"batch_size must be an integer >= 1; found {batch_size!r}")
    if n_workers is not None and (not isinstance(n_workers, int) or n_workers < 0):
        raise ParameterError(f"n_workers must be an integer >= 0; found {n_workers!r}")
    spec, local_engine = _engine_spec(engine, engine_settings)
    provenance = local_engine.provenance()
    workers = default_workers() if n_workers is None else n_workers
    store = CampaignStore(out)
    started = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    with store.locked():
        store.recover()
        meta = store.open(provenance)
        existing = store.existing_keys()
        pairs = zip(design.keys, design.params, strict=True)
        todo = [(k, p) for k, p in pairs if k not in existing]
        retried = {k for k, _ in todo}
        failures = [f for f in store.read_failures() if f["key"] not in retried]
        size = batch_size or auto_batch_size(len(todo), workers)
        work = batches(todo, size)
        new_failures: list[dict[str, Any]] = []
        n_new = 0
        with _progress(progress, len(todo), provenance.get("engine", "campaign")) as advance:
            for res in _iter_results(spec, provenance, work, scheduler, workers):
                if res.keys and res.energy is not None and res.intensity is not None:
                    store.write_part(
                        res.keys, res.params, res.energy, res.intensity, res.attrs, res.labels
                    )
                    n_new += len(res.keys)
                if res.failures:
                    new_failures.extend(res.failures)
                    store.write_failures(failures + new_failures)
                advance(len(res.keys) + len(res.failures))
        store.write_failures(failures + new_failures)
        run = {
            "design": design.description,
            "n_design": len(design),
            "n_new": n_new,
            "n_failed": len(new_failures),
            "started": started,
            "finished": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        }
        meta = {**meta, "runs": [*meta.get("runs", []), run]}
        store.update_meta(meta)
        attrs = {
            "engine": str(provenance.get("engine", "")),
            "engine_version": str(provenance.get("version", "")),
            "engine_settings": json.dumps(provenance.get("settings", {}), sort_keys=True),
            "design": json.dumps(design.description, sort_keys=True),
            "seed": -1 if design.seed is None else design.seed,
            "xasml_version": __version__,
            "created": meta["created"],
            "updated": run["finished"],
            "runs": json.dumps(meta["runs"]),
        }
        order = {k: i for i, k in enumerate(design.keys)}
        n_done = store.consolidate(order, attrs)
    fails = tuple(Failure(f["key"], dict(f["params"]), f["error"]) for f in new_failures)
    return CampaignResult(
        path=store.root,
        n_done=n_done,
        n_new=n_new,
        n_failed=len(fails),
        failures=fails,
        wall_time=time.perf_counter() - t0,
    )


class _progress:
    """Progress as a context manager returning ``advance(n)``.

    A rich bar on a terminal; otherwise (batch jobs, ``nohup``, cluster logs, where a
    live bar prints nothing) a plain line on stderr at most once a minute and at the end.
    """

    def __init__(self, enabled: bool, total: int, label: str, every: float = 60.0) -> None:
        self.enabled, self.total, self.label, self.every = enabled, total, label, every
        self.bar: Any = None
        self.done = 0
        self.t0 = self.last = 0.0

    def __enter__(self) -> Any:
        if not self.enabled:
            return lambda n: None
        from rich.console import Console

        if not Console(stderr=True).is_terminal:
            self.t0 = self.last = time.perf_counter()
            return self._log
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.bar = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
        )
        self.bar.start()
        task = self.bar.add_task(f"simulate ({self.label})", total=self.total)
        return lambda n: self.bar.advance(task, n)

    def _log(self, n: int) -> None:
        self.done += n
        now = time.perf_counter()
        if now - self.last < self.every and self.done < self.total:
            return
        self.last = now
        elapsed = now - self.t0
        left = elapsed / self.done * (self.total - self.done) if self.done else float("nan")
        print(
            f"simulate ({self.label}): {self.done}/{self.total} "
            f"({100 * self.done / max(self.total, 1):.0f} %), {elapsed / 60:.1f} min elapsed, "
            f"~{left / 60:.0f} min left",
            file=sys.stderr,
            flush=True,
        )

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()
