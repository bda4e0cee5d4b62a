"""flexpes-nexafs HDF5 spectrum libraries."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from xasml.errors import FormatError, ParameterError
from xasml.io import _flexpes, read, sniff

LIB = Path("formats") / "flexpes-hdf5" / "library.h5"


def test_real_library_has_two_grids(shared_data: Path) -> None:
    path = shared_data / LIB
    assert sniff(path) == "flexpes"
    spectra = _flexpes.read_all(path)
    assert [s.attrs["element"] for s in spectra] == ["O", "O", "Cu", "Cu"]
    assert [s.attrs["edge"] for s in spectra] == ["K", "K", "L2,3", "L2,3"]
    assert [s.sizes["energy"] for s in spectra] == [501, 501, 451, 451]
    with h5py.File(path) as fh:
        np.testing.assert_array_equal(spectra[2].values, fh["spectra/000003/y"][()])
        np.testing.assert_array_equal(spectra[2].energy.values, fh["spectra/000003/x"][()])
    with pytest.raises(FormatError, match="index="):
        read(path)
    one = read(path, index=2)
    assert one.attrs["label"] == "Cu L2,3 (2p) in CuO"
    assert 920.0 < one.energy.values[0] < one.energy.values[-1] < 970.0  # Cu L3 933 eV
    with pytest.raises(ParameterError, match="index"):
        read(path, index=4)


def _library(path: Path, grids: list[np.ndarray]) -> None:
    with h5py.File(path, "w") as fh:
        fh.attrs["created_with"] = "flexpes_nexafs"
        for i, x in enumerate(grids, start=1):
            g = fh.create_group(f"spectra/{i:06d}")
            g["x"], g["y"] = x, np.full(x.size, float(i))
            g.attrs.update(
                {
                    "element": "O",
                    "edge": "K (1s)",
                    "compound": "CuO",
                    "label": f"scan {i}",
                    "detector": f"d{i % 2}",
                }
            )


def test_shared_grid_stacks_with_labels(tmp_path: Path) -> None:
    path = tmp_path / "lib.h5"
    x = np.linspace(525.0, 560.0, 36)
    _library(path, [x, x, x])
    da = read(path)
    assert da.dims == ("sample", "energy") and da.shape == (3, 36)
    assert list(da["label"].values) == ["scan 1", "scan 2", "scan 3"]
    assert list(da["detector"].values) == ["d1", "d0", "d1"]
    assert da.attrs["compound"] == "CuO" and da.attrs["edge"] == "K"
    np.testing.assert_array_equal(da.values[:, 0], [1.0, 2.0, 3.0])
    _library(path, [x])
    assert read(path).dims == ("energy",)


def test_bad_libraries(tmp_path: Path) -> None:
    path = tmp_path / "lib.h5"
    with h5py.File(path, "w") as fh:
        fh.attrs["created_with"] = "flexpes_nexafs"
        fh.create_group("other")
    with pytest.raises(FormatError, match="'spectra'"):
        read(path, format="flexpes")
    with h5py.File(path, "w") as fh:
        fh.create_group("spectra/000001")["x"] = np.arange(3.0)
    with pytest.raises(FormatError, match=r"000001.*'y'"):
        _flexpes.read(path)
    _library(path, [np.array([3.0, 2.0, 1.0])])
    np.testing.assert_array_equal(_flexpes.read(path).energy.values, [1.0, 2.0, 3.0])
    _library(path, [np.array([1.0, 3.0, 2.0])])
    with pytest.raises(FormatError, match="increasing"):
        _flexpes.read(path)
    raw = path.read_bytes()
    path.write_bytes(raw[:1000])
    with pytest.raises(FormatError, match=r"lib\.h5"):
        _flexpes.read(path)
