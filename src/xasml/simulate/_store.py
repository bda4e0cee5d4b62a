"""Crash-safe storage of a campaign: part files, failures, consolidation into Zarr.

See :mod:`xasml.simulate.campaign` for the layout and the crash-safety argument.
Only the campaign's parent process writes here, one call at a time.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from ..errors import EngineError, FormatError, ParameterError

__all__ = ["CampaignStore"]

PARTS = "parts"
CAMPAIGN_JSON = "campaign.json"
FAILURES_JSON = "failures.json"
_ZARR_MARKER = ".zmetadata"  # consolidated metadata: written last by to_zarr


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _atomic_write(path: Path, write: Any, *, sync_dir: bool = True) -> None:
    """Write through ``write(fileobj)`` to a temp file beside ``path``, then rename.

    The file is fsynced before the rename, so after a power cut it exists
    complete or not at all. ``sync_dir=False`` skips the directory fsync (a
    few ms): the rename may then be lost in a power cut, and the batch is
    recomputed; a SIGKILL never loses it.
    """
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    if sync_dir:
        _fsync_dir(path.parent)


def _write_json(path: Path, obj: Any) -> None:
    data = json.dumps(obj, indent=1, sort_keys=True).encode()
    _atomic_write(path, lambda f: f.write(data))


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise FormatError(path, f"not valid JSON: {exc}") from None


class CampaignStore:
    """The dataset directory ``root`` and its hidden siblings (lock, temp, old)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).absolute()
        parent, name = self.root.parent, self.root.name
        self.parts = self.root / PARTS
        self.tmp = parent / f".{name}.tmp"
        self.old = parent / f".{name}.old"
        self.lockfile = parent / f".{name}.lock"

    # -- locking and recovery -------------------------------------------------
    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold an exclusive lock (released by the kernel even on SIGKILL)."""
        import fcntl

        self.root.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.lockfile, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise EngineError(
                    f"{self.root} is being written by another campaign (lock {self.lockfile})"
                ) from None
            yield
        finally:
            os.close(fd)

    def recover(self) -> None:
        """Finish or undo a consolidation that was interrupted (see campaign docs)."""
        if not self.root.exists() and self.old.exists():
            os.replace(self.old, self.root)  # killed between the two renames
        if self.old.exists():
            shutil.rmtree(self.old)  # killed after the swap, before clean-up
        if self.tmp.exists():
            shutil.rmtree(self.tmp)  # killed while building the new store
        if self.parts.is_dir():
            for stale in self.parts.glob(".tmp-*"):
                stale.unlink()  # a part file that never got renamed

    def open(self, provenance: Mapping[str, Any]) -> dict[str, Any]:
        """Create the layout or check that it was made by the same engine set-up."""
        if self.root.exists() and not self.root.is_dir():
            raise ParameterError(f"output {self.root} exists and is not a directory")
        if self.root.is_dir() and not (self.root / CAMPAIGN_JSON).exists():
            if any(p.name != PARTS for p in self.root.iterdir()):
                raise ParameterError(
                    f"output {self.root} exists and is not a campaign dataset "
                    f"(no {CAMPAIGN_JSON}); choose another path"
                )
        self.parts.mkdir(parents=True, exist_ok=True)
        path = self.root / CAMPAIGN_JSON
        prov = json.loads(json.dumps(dict(provenance)))
        if path.exists():
            meta: dict[str, Any] = _read_json(path)
            if meta.get("provenance") != prov:
                raise ParameterError(
                    f"{self.root} was made with engine set-up {meta.get('provenance')}; "
                    f"this run uses {prov}. Use another output path."
                )
            return meta
        meta = {"provenance": prov, "created": _now(), "runs": []}
        _write_json(path, meta)
        return meta

    def update_meta(self, meta: Mapping[str, Any]) -> None:
        _write_json(self.root / CAMPAIGN_JSON, dict(meta))

    # -- contents -------------------------------------------------------------
    def has_zarr(self) -> bool:
        return (self.root / _ZARR_MARKER).exists()

    def part_files(self) -> list[Path]:
        return sorted(self.parts.glob("part-*.npz"))

    @staticmethod
    def _part_meta(path: Path) -> dict[str, Any]:
        try:
            with np.load(path, allow_pickle=False) as z:
                meta: dict[str, Any] = json.loads(str(z["meta"]))
        except (OSError, ValueError, KeyError) as exc:
            raise FormatError(path, f"unreadable campaign part file: {exc}") from None
        return meta

    def zarr_keys(self) -> list[str]:
        if not self.has_zarr():
            return []
        with xr.open_zarr(self.root) as ds:
            return [str(k) for k in ds["key"].values]

    def existing_keys(self) -> set[str]:
        """Keys stored in the Zarr data or in finished part files."""
        keys = set(self.zarr_keys())
        for part in self.part_files():
            keys.update(self._part_meta(part)["keys"])
        return keys

    def write_part(
        self,
        keys: Sequence[str],
        params: Sequence[Mapping[str, Any]],
        energy: np.ndarray,
        intensity: np.ndarray,
        attrs: Mapping[str, Any],
        labels: Sequence[Mapping[str, Any]] | None = None,
    ) -> Path:
        """Store one finished batch atomically; it is then part of the dataset.

        ``labels`` are the per-sample labels (one mapping per key) that become
        coordinates next to the parameters; NaN is written as JSON ``NaN``.
        """
        rows = [dict(lab) for lab in labels] if labels is not None else [{} for _ in keys]
        if len(rows) != len(keys):
            raise EngineError(f"{len(rows)} label sets for {len(keys)} spectra in one batch")
        meta = json.dumps(
            {"keys": list(keys), "params": list(params), "attrs": dict(attrs), "labels": rows}
        )
        digest = hashlib.sha256("\n".join(keys).encode()).hexdigest()[:16]
        path = self.parts / f"part-{digest}.npz"

        def write(f: Any) -> None:
            np.savez(f, energy=energy, intensity=intensity, meta=np.array(meta))

        _atomic_write(path, write, sync_dir=False)
        return path

    def read_failures(self) -> list[dict[str, Any]]:
        path = self.root / FAILURES_JSON
        return list(_read_json(path)) if path.exists() else []

    def write_failures(self, failures: Sequence[Mapping[str, Any]]) -> None:
        _write_json(self.root / FAILURES_JSON, [dict(f) for f in failures])

    # -- consolidation ----------------------------------------------------------
    def consolidate(self, order: Mapping[str, int], attrs: Mapping[str, Any]) -> int:
        """Merge the Zarr data and all part files into a new store, then swap it in.

        Returns the number of spectra in the dataset afterwards.
        """
        parts = self.part_files()
        if not parts:
            return len(self.zarr_keys())
        old = None
        if self.has_zarr():
            with xr.open_zarr(self.root) as ds:
                old = ds.load()
        keys: list[str] = [] if old is None else [str(k) for k in old["key"].values]
        seen = set(keys)
        rows: list[tuple[int, str, dict[str, Any], np.ndarray]] = []
        energy = None if old is None else old["energy"].values
        spec_attrs: dict[str, Any] = {}
        for part in parts:
            with np.load(part, allow_pickle=False) as z:
                meta = json.loads(str(z["meta"]))
                e, y = z["energy"], z["intensity"]
            if energy is None:
                energy = e
            elif not np.array_equal(energy, e):
                raise EngineError(f"part {part} has another energy grid than the dataset")
            spec_attrs = spec_attrs or meta["attrs"]
            # Part files written before labels existed have none.
            labels = meta.get("labels") or [{} for _ in meta["keys"]]
            for k, p, lab, row in zip(meta["keys"], meta["params"], labels, y, strict=True):
                if k not in seen:
                    seen.add(k)
                    # A label named like a parameter is dropped: the design wins.
                    rows.append((order.get(k, len(order)), k, {**lab, **p}, row))
        rows.sort(key=lambda r: r[0])  # design order (stable for equal ranks)
        if energy is None:
            raise EngineError(f"{self.root}: no energy grid found")
        new = _dataset(energy, rows, spec_attrs)
        ds = new if old is None else _concat(old, new)
        ds.attrs = {**(old.attrs if old is not None else spec_attrs), **attrs}
        ds = ds.assign_coords(sample=np.arange(ds.sizes["sample"]))
        # Commit count read by xasml.io.store.load/append: all rows are committed.
        ds.attrs["xasml_n_samples"] = int(ds.sizes["sample"])
        self._swap_in(ds)
        return int(ds.sizes["sample"])

    def _swap_in(self, ds: xr.Dataset) -> None:
        if self.tmp.exists():
            shutil.rmtree(self.tmp)
        n = ds.sizes["sample"]
        chunks = {"intensity": {"chunks": (min(n, 4096), ds.sizes["energy"])}}
        ds.to_zarr(self.tmp, mode="w", zarr_format=2, consolidated=True, encoding=chunks)
        (self.tmp / PARTS).mkdir()
        for name in (CAMPAIGN_JSON, FAILURES_JSON):
            if (self.root / name).exists():
                shutil.copy2(self.root / name, self.tmp / name)
        _fsync_dir(self.tmp)
        os.replace(self.root, self.old)
        os.replace(self.tmp, self.root)
        _fsync_dir(self.root.parent)
        shutil.rmtree(self.old)


def _dataset(
    energy: np.ndarray, rows: Sequence[tuple[int, str, dict[str, Any], np.ndarray]], attrs: Any
) -> xr.Dataset:
    y = np.stack([r[3] for r in rows]) if rows else np.zeros((0, energy.size))
    names = sorted({n for r in rows for n in r[2]})
    coords: dict[str, Any] = {
        "energy": ("energy", energy, {"units": "eV", "long_name": "energy"}),
        "key": ("sample", np.array([r[1] for r in rows], dtype=str)),
    }
    for name in names:
        values = [r[2].get(name) for r in rows]
        if any(isinstance(v, str) for v in values):
            coords[name] = ("sample", np.array(["" if v is None else str(v) for v in values]))
        else:
            coords[name] = ("sample", np.array([np.nan if v is None else v for v in values], float))
    return xr.Dataset({"intensity": (("sample", "energy"), y)}, coords=coords)


def _concat(old: xr.Dataset, new: xr.Dataset) -> xr.Dataset:
    """Append ``new`` rows; parameters missing on one side become NaN or ''."""
    for a, b in ((old, new), (new, old)):
        for name in set(b.coords) - set(a.coords) - {"sample"}:
            fill = "" if b[name].dtype.kind in "US" else np.nan
            a.coords[name] = ("sample", np.full(a.sizes["sample"], fill, dtype=b[name].dtype))
    old = old.drop_vars("sample", errors="ignore")
    new = new.drop_vars("sample", errors="ignore")
    return xr.concat(
        [old, new], dim="sample", data_vars="all", coords="different", compat="equals", join="exact"
    )
