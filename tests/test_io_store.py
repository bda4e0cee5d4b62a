"""Dataset store: round trips, append, atomic writes under simulated interruption."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from xasml.datamodel import stack
from xasml.errors import FormatError, ParameterError, XasmlWarning
from xasml.io import append, load, read, save, sniff, store

SUFFIXES = ["zarr", "nc", "h5"]


def _set(n: int = 3, seed: int = 0, start: int = 0) -> xr.DataArray:
    rng = np.random.default_rng(seed)
    return stack(
        np.linspace(8980.0, 9000.0, 11),
        rng.random((n, 11)),
        labels={
            "material_id": [f"mp-{start + i}" for i in range(n)],
            "cn": np.arange(start, start + n, dtype=np.int64) % 3 + 4,
            "charge": rng.random(n).astype(np.float32),
        },
        element="Cu",
        edge="K",
        n_sites=np.int64(5),
        grid=[1.0, 2.5],
        meta={"engine": "feff", "ok": True},
        flag=False,
    )


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_round_trip(tmp_path: Path, suffix: str) -> None:
    da = _set().rename("mu")
    path = save(da, tmp_path / f"set.{suffix}")
    back = load(path)
    xr.testing.assert_identical(back, da)
    for name in ("material_id", "cn", "charge", "energy"):
        assert back[name].dtype.kind == da[name].dtype.kind, name
    assert back["charge"].dtype == np.float32
    assert back.attrs == da.attrs
    assert back.name == "mu"
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"set.{suffix}"]


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_read_dispatches_to_store(tmp_path: Path, suffix: str) -> None:
    path = save(_set(), tmp_path / f"set.{suffix}")
    assert sniff(path) == "xasml-store"
    da = read(path)
    assert da.attrs["format"] == "xasml-store"
    np.testing.assert_array_equal(da.values, _set().values)


def test_map_round_trip(tmp_path: Path) -> None:
    da = xr.DataArray(
        np.arange(24.0).reshape(2, 3, 4),
        dims=("y", "x", "energy"),
        coords={"energy": [1.0, 2.0, 3.0, 4.0], "x": [0.0, 0.5, 1.0], "y": [0.0, 0.5]},
        attrs={"technique": "STXM"},
    )
    for suffix in SUFFIXES:
        xr.testing.assert_identical(load(save(da, tmp_path / f"m.{suffix}")), da)


def test_overwrite_replaces_previous(tmp_path: Path) -> None:
    path = tmp_path / "set.zarr"
    save(_set(3), path)
    save(_set(5, seed=1), path)
    assert load(path).sizes["sample"] == 5
    assert sorted(p.name for p in tmp_path.iterdir()) == ["set.zarr"]


def test_append_adds_samples(tmp_path: Path) -> None:
    path = tmp_path / "set.zarr"
    first, second = _set(3), _set(4, seed=1, start=3)
    save(first, path, chunk_samples=2)
    append(second, path)
    back = load(path)
    assert back.sizes["sample"] == 7
    np.testing.assert_array_equal(back.values, np.vstack([first.values, second.values]))
    assert list(back["material_id"].values) == [f"mp-{i}" for i in range(7)]
    np.testing.assert_array_equal(back["sample"].values, np.arange(7))
    assert back.attrs == first.attrs


def test_append_creates_store(tmp_path: Path) -> None:
    path = tmp_path / "new.zarr"
    append(_set(2), path)
    assert load(path).sizes["sample"] == 2


def test_append_rejects_other_grid_and_labels(tmp_path: Path) -> None:
    path = save(_set(2), tmp_path / "set.zarr")
    other = _set(2).assign_coords(energy=np.linspace(0.0, 1.0, 11))
    with pytest.raises(ParameterError, match="energy grid"):
        append(other, path)
    with pytest.raises(ParameterError, match="labels"):
        append(_set(2).drop_vars("cn"), path)
    with pytest.raises(ParameterError, match=r"\.zarr"):
        append(_set(2), tmp_path / "set.nc")


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_interrupted_save_keeps_previous(
    tmp_path: Path, suffix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = save(_set(3), tmp_path / f"set.{suffix}")
    method = "to_zarr" if suffix == "zarr" else "to_netcdf"
    real = getattr(xr.Dataset, method)

    def crash(self: xr.Dataset, *args: object, **kwargs: object) -> None:
        real(self, *args, **kwargs)  # the new data is fully written ...
        raise KeyboardInterrupt  # ... and the process dies before the swap

    monkeypatch.setattr(xr.Dataset, method, crash)
    with pytest.raises(KeyboardInterrupt):
        save(_set(9, seed=4), path)
    monkeypatch.undo()
    xr.testing.assert_identical(load(path), _set(3))
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"set.{suffix}"]


def test_interrupted_append_never_reads_corrupt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = save(_set(3), tmp_path / "set.zarr", chunk_samples=2)
    real = xr.Dataset.to_zarr

    def crash(self: xr.Dataset, *args: object, **kwargs: object) -> None:
        real(self, *args, **kwargs)  # chunks written and arrays resized ...
        raise KeyboardInterrupt  # ... but the commit count never updated

    monkeypatch.setattr(xr.Dataset, "to_zarr", crash)
    with pytest.raises(KeyboardInterrupt):
        append(_set(2, seed=5, start=3), path)
    monkeypatch.undo()
    with pytest.warns(XasmlWarning, match="interrupted append"):
        back = load(path)
    xr.testing.assert_identical(back, _set(3))
    # a later append discards the uncommitted tail and continues cleanly
    append(_set(1, seed=6, start=3), path)
    back = load(path)
    assert back.sizes["sample"] == 4
    np.testing.assert_array_equal(back.values[3], _set(1, seed=6, start=3).values[0])


def test_bad_inputs(tmp_path: Path) -> None:
    with pytest.raises(ParameterError, match="suffix"):
        save(_set(), tmp_path / "set.csv")
    with pytest.raises(FormatError, match="no such dataset"):
        load(tmp_path / "nothing.nc")
    xr.Dataset({"other": ("a", [1.0, 2.0])}).to_netcdf(tmp_path / "x.nc", engine="h5netcdf")
    with pytest.raises(FormatError, match="'intensity'"):
        load(tmp_path / "x.nc")
    good = save(_set(), tmp_path / "set.h5")
    raw = good.read_bytes()
    (tmp_path / "cut.h5").write_bytes(raw[: len(raw) // 3])
    with pytest.raises(FormatError, match=r"cut\.h5"):
        load(tmp_path / "cut.h5")
    assert store.sniff(tmp_path / "cut.h5", raw[:4096]) is False
