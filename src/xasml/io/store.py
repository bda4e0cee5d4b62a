"""On-disk dataset store: spectra sets as Zarr or NetCDF/HDF5 files.

Layout (both back ends): an :class:`xarray.Dataset` whose data variable
``intensity`` holds the spectra (``(sample, energy)``, or any dims of the data
model), labels as coordinates, and the DataArray ``attrs`` as Dataset attrs.
Attributes that are not plain strings or numbers are JSON-encoded and their
names listed in the attribute ``xasml_json_attrs``.

Writes are atomic: the new file (or Zarr directory) is written beside the
target under a temporary name and moved into place with :func:`os.replace`,
so an interrupted write leaves the previous version untouched. :func:`append`
(Zarr only) adds samples in place; the number of samples that belong to the
store is committed in the root attribute ``xasml_n_samples`` *after* the new
chunks are written and verified, and readers ignore anything beyond it, so an
interrupted append never reads as valid-but-corrupt data.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from ..datamodel import ENERGY, SAMPLE
from ..errors import FormatError, ParameterError, XasmlWarning
from ._hdf5 import H5_ERRORS, open_h5, peek_h5

__all__ = ["save", "load", "append", "sniff", "read"]

VAR = "intensity"
_JSON_KEY = "xasml_json_attrs"
_NAME_KEY = "xasml_name"
_COMMIT_KEY = "xasml_n_samples"
_RESERVED = (_JSON_KEY, _NAME_KEY, _COMMIT_KEY)
_NC_SUFFIXES = (".nc", ".h5", ".hdf5", ".nc4")
_DEFAULT_CHUNK = 256


def _kind(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix == ".zarr":
        return "zarr"
    if suffix in _NC_SUFFIXES:
        return "netcdf"
    raise ParameterError(
        f"dataset path {str(path)!r} must end in .zarr, .nc or .h5; found suffix {suffix!r}"
    )


# ---------------------------------------------------------------- encoding


def _encode_attrs(attrs: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    as_json: list[str] = []
    for key, value in attrs.items():
        if key in _RESERVED:
            continue
        if isinstance(value, np.generic):
            value = value.item()
        # netCDF has no bool or None; everything but str/int/float goes through JSON.
        if isinstance(value, str) or (
            isinstance(value, int | float) and not isinstance(value, bool)
        ):
            out[key] = value
            continue
        try:
            out[key] = json.dumps(value.tolist() if isinstance(value, np.ndarray) else value)
        except TypeError as exc:
            raise ParameterError(
                f"attribute {key!r} cannot be stored: expected str, number or a "
                f"JSON-serialisable value; found {type(value).__name__} ({exc})"
            ) from None
        as_json.append(key)
    if as_json:
        out[_JSON_KEY] = json.dumps(as_json)
    return out


def _decode_attrs(attrs: Mapping[str, Any], path: Path) -> dict[str, Any]:
    out = {k: v for k, v in attrs.items() if k not in _RESERVED}
    try:
        names = json.loads(attrs.get(_JSON_KEY, "[]"))
        for key in names:
            if key in out:
                out[key] = json.loads(out[key])
    except (TypeError, json.JSONDecodeError) as exc:
        raise FormatError(
            path, f"attribute {_JSON_KEY} or a JSON attribute is damaged: {exc}"
        ) from None
    for key, value in out.items():
        if isinstance(value, np.generic):
            out[key] = value.item()
    return out


def _to_dataset(da: xr.DataArray) -> xr.Dataset:
    if not isinstance(da, xr.DataArray):
        raise ParameterError(f"save expects an xarray.DataArray; found {type(da).__name__}")
    if ENERGY not in da.dims:
        raise ParameterError(f"save expects a DataArray with an 'energy' dim; found {da.dims}")
    ds = da.rename(VAR).drop_attrs(deep=False).to_dataset()
    ds.attrs = _encode_attrs(da.attrs)
    if da.name is not None:
        ds.attrs[_NAME_KEY] = str(da.name)
    # Strings as variable-length so that appended labels may be longer than the first ones.
    for name, coord in ds.coords.items():
        if coord.dtype.kind in "USO":
            ds = ds.assign_coords({name: coord.astype(object)})
    return ds


def _to_dataarray(ds: xr.Dataset, path: Path) -> xr.DataArray:
    if VAR not in ds.data_vars:
        raise FormatError(
            path,
            f"expected a dataset with data variable {VAR!r}; found variables "
            f"{sorted(map(str, ds.data_vars)) or 'none'}",
        )
    da = ds[VAR]
    # Labels were written as variable-length strings; hand back numpy unicode arrays.
    for cname, coord in da.coords.items():
        if coord.dtype.kind == "T" or (
            coord.dtype == object and all(isinstance(v, str) for v in coord.values.ravel())
        ):
            values = np.array([str(v) for v in coord.values.ravel()]).reshape(coord.shape)
            da = da.assign_coords({cname: (coord.dims, values, coord.attrs)})
    da.attrs = _decode_attrs(ds.attrs, path)
    name = ds.attrs.get(_NAME_KEY)
    return da.rename(None if name is None else str(name))


# ---------------------------------------------------------------- atomic helpers


def _temp_sibling(path: Path, suffix: str) -> Path:
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    os.unlink(name)
    return Path(name)


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists():
        path.unlink()


def save(da: xr.DataArray, path: str | Path, *, chunk_samples: int = _DEFAULT_CHUNK) -> Path:
    """Write a spectrum, set of spectra or map to a Zarr or NetCDF/HDF5 file, atomically.

    Parameters
    ----------
    da
        Data to store, e.g. ``(sample, energy)`` with labels as ``sample`` coords.
    path
        Target ending in ``.zarr`` (directory store, chunked along ``sample``,
        appendable) or ``.nc`` / ``.h5`` (single HDF5 file through h5netcdf).
        An existing target is replaced only once the new one is complete.
    chunk_samples
        Zarr chunk length along ``sample``.

    Returns
    -------
    pathlib.Path
        The written path.
    """
    target = Path(path)
    kind = _kind(target)
    if not target.parent.is_dir():
        raise ParameterError(f"cannot write {str(target)!r}: folder {str(target.parent)!r} missing")
    if chunk_samples < 1:
        raise ParameterError(f"chunk_samples must be >= 1; found {chunk_samples}")
    ds = _to_dataset(da)
    tmp = _temp_sibling(target, ".tmp")
    try:
        if kind == "zarr":
            _write_zarr(ds, tmp, chunk_samples)
            _swap_dir(tmp, target)
        else:
            ds.to_netcdf(tmp, engine="h5netcdf", invalid_netcdf=True)
            os.replace(tmp, target)
    finally:
        _remove(tmp)
    return target


def _write_zarr(ds: xr.Dataset, tmp: Path, chunk_samples: int) -> None:
    encoding: dict[str, Any] = {}
    if SAMPLE in ds.dims:
        chunks = tuple(
            min(chunk_samples, ds.sizes[d]) if d == SAMPLE else ds.sizes[d] for d in ds[VAR].dims
        )
        encoding[VAR] = {"chunks": chunks}
        ds = ds.assign_attrs({_COMMIT_KEY: int(ds.sizes[SAMPLE])})
    ds.to_zarr(tmp, mode="w", encoding=encoding, consolidated=False)


def _swap_dir(new: Path, target: Path) -> None:
    # Directories cannot be replaced in one os.replace when the target exists:
    # move the old store aside, move the new one in, then delete the old one.
    old = None
    if target.exists():
        old = _temp_sibling(target, ".old")
        os.replace(target, old)
    try:
        os.replace(new, target)
    except OSError:
        if old is not None:
            os.replace(old, target)
        raise
    if old is not None:
        _remove(old)


# ---------------------------------------------------------------- reading


def load(path: str | Path) -> xr.DataArray:
    """Read a dataset written by :func:`save` (or any Dataset with an ``intensity`` variable).

    Returns
    -------
    xarray.DataArray
        The stored data with coords and attrs restored (JSON attrs decoded).

    Raises
    ------
    FormatError
        If the file is missing, unreadable, or has no ``intensity`` variable.
    """
    p = Path(path)
    if not p.exists():
        raise FormatError(p, "no such dataset (expected a .zarr directory or .nc/.h5 file)")
    if p.is_dir():
        return _load_zarr(p)
    # Check with h5py first: h5netcdf fails noisily (in __del__) on foreign files.
    with open_h5(p, "a NetCDF/HDF5 dataset") as fh:
        try:
            found = sorted(fh.keys())
        except H5_ERRORS as exc:
            raise FormatError(p, f"damaged HDF5 file: {exc}") from None
    if VAR not in found:
        raise FormatError(
            p, f"expected a dataset with data variable {VAR!r}; found {found or 'nothing'}"
        )
    try:
        with xr.open_dataset(p, engine="h5netcdf") as ds:
            ds.load()
    except H5_ERRORS as exc:
        raise FormatError(p, f"cannot read as a NetCDF/HDF5 dataset: {exc}") from None
    return _to_dataarray(ds, p)


def _load_zarr(p: Path) -> xr.DataArray:
    try:
        # campaign datasets keep bookkeeping files (parts/, campaign.json) beside
        # the arrays; zarr warns about them on every open, which is noise here
        with warnings.catch_warnings():
            warnings.filterwarnings(
                "ignore", message=".*not recognized as a component of a Zarr hierarchy"
            )
            with xr.open_zarr(p, consolidated=False) as ds:
                ds.load()
    except Exception as exc:  # zarr raises many unrelated types on damaged stores
        raise FormatError(p, f"cannot read as a Zarr dataset: {exc}") from None
    committed = ds.attrs.get(_COMMIT_KEY)
    if committed is not None and SAMPLE in ds.dims:
        n = int(ds.sizes[SAMPLE])
        if n > committed:
            warnings.warn(
                f"{p}: {n - committed} sample(s) beyond the committed {committed} come from "
                "an interrupted append and are ignored",
                XasmlWarning,
                stacklevel=3,
            )
            ds = ds.isel({SAMPLE: slice(0, committed)})
        elif n < committed:
            raise FormatError(
                p, f"store is damaged: {_COMMIT_KEY} = {committed} but only {n} samples found"
            )
    return _to_dataarray(ds, p)


def append(da: xr.DataArray, path: str | Path) -> Path:
    """Add samples to a Zarr dataset (creating it when it does not exist).

    ``da`` must be ``(sample, energy)`` on the store's energy grid with the
    same label coordinates. The new chunks are written first; the committed
    sample count is updated last, after checking the written sizes.
    """
    import zarr

    p = Path(path)
    if _kind(p) != "zarr":
        raise ParameterError(f"append works on .zarr stores only; found {str(p)!r}")
    if not p.exists():
        return save(da, p)
    if not isinstance(da, xr.DataArray) or da.dims != (SAMPLE, ENERGY):
        found = da.dims if isinstance(da, xr.DataArray) else type(da).__name__
        raise ParameterError(f"append expects a (sample, energy) DataArray; found {found}")
    try:
        with xr.open_zarr(p, consolidated=False) as old:
            committed = int(old.attrs.get(_COMMIT_KEY, old.sizes.get(SAMPLE, 0)))
            energy = old[ENERGY].values
            old_labels = {str(k) for k, c in old.coords.items() if c.dims == (SAMPLE,)}
    except Exception as exc:
        raise FormatError(p, f"cannot open Zarr store to append: {exc}") from None
    new_e = da[ENERGY].values
    if new_e.shape != energy.shape or not np.allclose(new_e, energy, rtol=0, atol=1e-9):
        raise ParameterError(
            f"appended spectra must be on the store's energy grid ({energy.size} points "
            f"{energy[0]:g}..{energy[-1]:g} eV); found {new_e.size} points"
        )
    new_labels = {str(k) for k, c in da.coords.items() if c.dims == (SAMPLE,)}
    if new_labels != old_labels:
        raise ParameterError(
            f"appended spectra must carry the store's labels {sorted(old_labels)}; "
            f"found {sorted(new_labels)}"
        )
    ds = _to_dataset(da)
    n_new = int(ds.sizes[SAMPLE])
    ds = ds.assign_coords({SAMPLE: np.arange(committed, committed + n_new)})
    group = zarr.open_group(p, mode="r+")
    # Drop the tail of an earlier interrupted append before writing.
    for _, arr in group.arrays():
        if _dims_of(arr)[:1] == (SAMPLE,) and arr.shape[0] != committed:
            arr.resize((committed, *arr.shape[1:]))
    # Write the stored attrs back unchanged (commit count included) in case
    # xarray rewrites the group attrs; the count moves only after verification.
    ds.attrs = dict(group.attrs.asdict())
    ds.drop_vars(ENERGY).to_zarr(p, mode="a", append_dim=SAMPLE, consolidated=False)
    group = zarr.open_group(p, mode="r+")
    sizes = {name: arr.shape[0] for name, arr in group.arrays() if name != ENERGY}
    if any(s != committed + n_new for s in sizes.values()):
        raise FormatError(p, f"append did not complete; array lengths {sizes}")
    group.attrs.update({_COMMIT_KEY: committed + n_new})
    return p


def _dims_of(arr: Any) -> tuple[str, ...]:
    # Zarr v3 records dimension names in the metadata, v2 (via xarray) in an attribute.
    names = getattr(arr.metadata, "dimension_names", None) or arr.attrs.get("_ARRAY_DIMENSIONS")
    return tuple(str(n) for n in names) if names else ()


# ---------------------------------------------------------------- dispatch hooks


def sniff(path: Path, head: bytes) -> bool:
    """A Zarr directory or an HDF5 file holding an ``intensity`` variable at the root."""
    try:
        if path.is_dir():
            return (path / VAR).is_dir() and (
                (path / "zarr.json").is_file() or (path / ".zgroup").is_file()
            )
    except OSError:
        return False
    return peek_h5(path, head, lambda fh: VAR in fh and ENERGY in fh, False)


def read(path: Path, **kwargs: Any) -> xr.DataArray:
    """Dispatch hook for :func:`xasml.io.read`: :func:`load` plus provenance attrs."""
    if kwargs:
        raise ParameterError(f"the dataset store reader takes no options; found {sorted(kwargs)}")
    da = load(path)
    da.attrs.setdefault("source", str(path))
    da.attrs["format"] = "xasml-store"
    return da
