"""On-the-fly processing: apply a workflow bundle to stacks and spectra as they appear.

:func:`watch` polls a folder. A file is taken up once it has not changed for
``settle`` seconds *and* reads completely (instruments that write in place leave
partial HDF5 files; those that write to a temporary name and rename are the easy
case — hidden and ``.tmp``/``.part`` names are ignored). Each input gets one result
file in the output folder, and ``index.json`` records every input's size, mtime
and outcome; it is replaced atomically after each file, so a restart neither
redoes finished work nor loses it. An input that changes after it was processed
is processed again. Failures are recorded with their message and retried only
when the file changes.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from ..errors import XasmlError
from ..io._imagestack import EnergyListMissing

__all__ = ["INDEX", "WatchReport", "process_file", "watch"]

logger = logging.getLogger(__name__)

INDEX = "index.json"
_IGNORED_SUFFIXES = (".tmp", ".part", ".partial", ".xim", ".lock", ".png", ".json")
_TIFF_SUFFIXES = (".tif", ".tiff")


@dataclass
class WatchReport:
    """What one call of :func:`watch` did."""

    processed: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)
    cycles: int = 0


def _auto_i0_region(counts: xr.DataArray, fraction: float = 0.05) -> np.ndarray:
    """The brightest ``fraction`` of pixels (by mean counts) as the sample-free I0 region."""
    mean = np.nanmean(counts.transpose("y", "x", "energy").values, axis=2)
    return mean >= np.nanquantile(mean, 1.0 - fraction)


def process_file(
    path: str | Path,
    bundle: Any,
    out_dir: str | Path,
    *,
    i0_region: Any = "auto",
    align: bool = True,
    figure: bool = False,
) -> Path:
    """Read one stack or spectrum file, apply ``bundle``, write ``<name>.nc`` to ``out_dir``.

    Parameters
    ----------
    path
        Any file :func:`xasml.io.read` understands: a ``(y, x, energy)`` stack (counts
        are converted to OD with ``i0_region``; ``"auto"`` takes the brightest 5 % of
        pixels as sample-free), a spectrum or a ``(sample, energy)`` set.
    bundle
        A workflow bundle directory (:func:`xasml.learn.train`) or a loaded
        :class:`~xasml.apply.Predictor` (load once when processing many files).
    out_dir
        Output folder.
    i0_region
        ``"auto"``, ``{"y": slice, "x": slice}`` or a boolean ``(y, x)`` mask.
    align
        Register the frames of stacks.
    figure
        Also write ``<name>.png`` (:func:`~xasml.apply.map_figures.map_figure`).

    Returns
    -------
    pathlib.Path
        The result file.
    """
    from ..datamodel import ENERGY
    from ..io import read
    from .maps import apply_bundle, save_map_result
    from .predict import Predictor
    from .stack import prepare_stack

    path, out_dir = Path(path), Path(out_dir)
    if not isinstance(bundle, Predictor):
        bundle = Predictor(bundle)
    da = read(path)
    if set(da.dims) == {"y", "x", ENERGY}:
        region = i0_region
        if isinstance(region, str) and region == "auto":
            region = (None if da.attrs.get("signal") in ("od", "mu", "norm")
                      else _auto_i0_region(da))
        prep = prepare_stack(da, i0_region=region, align=align)
        ds = apply_bundle(bundle, prep.od, mask=prep.mask.mask)
        ds.attrs.update({f"mask_{k}": v for k, v in prep.mask.to_dict().items()})
        if prep.alignment is not None:
            ds["shift_y"] = (ENERGY, prep.alignment.shifts[:, 0])
            ds["shift_x"] = (ENERGY, prep.alignment.shifts[:, 1])
            ds = ds.assign_coords({ENERGY: prep.od[ENERGY].values})
    else:
        sp = da.expand_dims("sample") if da.dims == (ENERGY,) else da.transpose("sample", ENERGY)
        grid = sp.rename(sample="x").expand_dims("y").transpose("y", "x", ENERGY)
        grid = grid.drop_vars([c for c in grid.coords if c not in (ENERGY,)])
        ds = apply_bundle(bundle, grid).isel(y=0).rename(x="sample")
    ds.attrs["source"] = str(path)
    name = path.name.replace(" ", "_")
    result = save_map_result(ds, out_dir / f"{name}.nc")
    if figure and "y" in ds.dims:
        from .map_figures import map_figure

        map_figure(ds, out_dir / f"{name}.png")
    return result


def _read_index(out_dir: Path) -> dict[str, Any]:
    p = out_dir / INDEX
    if not p.is_file():
        return {"version": 1, "entries": {}}
    try:
        data = json.loads(p.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise XasmlError(f"{p} is not a valid watch index ({exc}); move it away to start over"
                         ) from None
    if not isinstance(data, dict) or not isinstance(data.get("entries"), dict):
        raise XasmlError(f"{p} is not a watch index (no 'entries')")
    return data


def _write_index(out_dir: Path, index: dict[str, Any]) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{INDEX}.", dir=out_dir)
    with os.fdopen(fd, "w") as fh:
        json.dump(index, fh, indent=1, sort_keys=True)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, out_dir / INDEX)


def _energy_sidecars(files: list[Path]) -> set[str]:
    """Names of the energy lists that belong to TIFF stacks in the folder (not spectra)."""
    from ..io._tiff import _SIDECARS

    tiffs = [p for p in files if p.suffix.lower() in _TIFF_SUFFIXES]
    return {pat.format(stem=t.stem) for t in tiffs for pat in _SIDECARS}


def _candidates(directory: Path, out_dir: Path) -> list[Path]:
    out = []
    files = sorted(directory.iterdir())
    sidecars = _energy_sidecars(files)
    for p in files:
        if p.name.startswith(".") or p.name.lower().endswith(_IGNORED_SUFFIXES):
            continue
        if p.name in sidecars:
            continue
        if p.resolve() == out_dir.resolve() or not p.is_file():
            continue
        out.append(p)
    return out


def watch(
    directory: str | Path,
    bundle: Any,
    out: str | Path,
    *,
    once: bool = False,
    interval: float = 2.0,
    settle: float = 1.0,
    max_cycles: int | None = None,
    i0_region: Any = "auto",
    align: bool = True,
    figures: bool = False,
) -> WatchReport:
    """Process stacks/spectra in ``directory`` as they appear.

    Parameters
    ----------
    directory
        Folder the instrument writes to.
    bundle
        A workflow bundle directory (:func:`xasml.learn.train`) or a loaded
        :class:`~xasml.apply.Predictor`.
    out
        Results folder (one ``.nc`` per input plus ``index.json``).
    once
        Process what is there (waiting for files still being written to settle) and
        return, instead of polling forever.
    interval
        Seconds between polls.
    settle
        A file must be unchanged for this many seconds before it is read.
    max_cycles
        Stop after this many polls (a bound for tests and scripts).
    i0_region, align, figures
        Passed to :func:`process_file`.

    Returns
    -------
    WatchReport
    """
    from .predict import Predictor

    directory, out_dir = Path(directory), Path(out)
    if not directory.is_dir():
        raise XasmlError(f"watch folder {directory} does not exist")
    if not isinstance(bundle, Predictor):
        bundle = Predictor(bundle)
    out_dir.mkdir(parents=True, exist_ok=True)
    index = _read_index(out_dir)
    entries: dict[str, Any] = index["entries"]
    report = WatchReport()
    while True:
        report.cycles += 1
        pending: list[str] = []
        for p in _candidates(directory, out_dir):
            st = p.stat()
            key = p.name
            known = entries.get(key)
            if known and known["size"] == st.st_size and known["mtime_ns"] == st.st_mtime_ns:
                if key not in report.skipped and key not in report.processed \
                        and key not in report.failed:
                    report.skipped.append(key)
                continue
            if time.time() - st.st_mtime < settle:
                pending.append(key)
                continue
            entry: dict[str, Any] = {"size": st.st_size, "mtime_ns": st.st_mtime_ns}
            try:
                result = process_file(p, bundle, out_dir, i0_region=i0_region, align=align,
                                      figure=figures)
            except XasmlError as exc:
                st2 = p.stat()
                # A stack whose energy list has not arrived yet is retried, not failed.
                if (st2.st_size, st2.st_mtime_ns) != (st.st_size, st.st_mtime_ns) \
                        or isinstance(exc, EnergyListMissing):
                    pending.append(key)  # still being written: try again next poll
                    continue
                entry.update(status="failed", message=str(exc))
                report.failed[key] = str(exc)
                logger.warning("%s: %s", key, exc)
            else:
                entry.update(status="done", result=result.name)
                report.processed.append(key)
            entries[key] = entry
            _write_index(out_dir, index)
        report.pending = pending
        if max_cycles is not None and report.cycles >= max_cycles:
            break
        if once and not pending:
            break
        time.sleep(min(interval, settle) if once else interval)
    return report
