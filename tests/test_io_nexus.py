"""NeXus reader: PolLux NXstxm stack, line and image; synthetic NXxas; damaged files."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from xasml.errors import FormatError
from xasml.io import _nexus, read, sniff

NX = Path("formats") / "nxstxm"


def test_stxm_stack_is_a_map(shared_data: Path) -> None:
    path = shared_data / NX / "Sample_Stack_2021-03-16_128.hdf5"
    assert sniff(path) == "nexus"  # HDF5 superblock after a 32 KiB user block
    da = read(path)
    assert da.dims == ("y", "x", "energy")
    assert da.shape == (50, 50, 4)
    np.testing.assert_allclose(da.energy.values, [280.0, 284.5, 285.0, 320.0])
    with h5py.File(path) as fh:
        raw = fh["entry1/counter0/data"][()]  # (energy, y, x) on disk
        x = fh["entry1/counter0/sample_x"][()]
    np.testing.assert_array_equal(da.values, np.transpose(raw, (1, 2, 0)))
    np.testing.assert_allclose(da.x.values, x)
    assert da.x.attrs["units"] == "µm"
    assert np.diff(da.x.values) == pytest.approx(0.5)  # 25 µm range, 0.5 µm step
    assert da.attrs["definition"] == "NXstxm"
    assert da.attrs["scan_type"] == "sample image stack"


def test_stxm_line_spectrum_is_a_set(shared_data: Path) -> None:
    da = read(shared_data / NX / "Sample_Line_2021-03-16_096.hdf5")
    assert da.dims == ("sample", "energy")
    assert da.shape == (50, 81)
    np.testing.assert_allclose(da.energy.values[[0, 1, -1]], [280.0, 280.5, 320.0])
    np.testing.assert_allclose(da["line_position"].values[:3], [0.0, 0.3, 0.6])
    assert "x" in da.coords and "y" in da.coords


def test_single_image_is_refused(shared_data: Path) -> None:
    with pytest.raises(FormatError, match=r"single image at 350 eV"):
        read(shared_data / NX / "Sample_Image_2021-03-16_095.hdf5")


def _nxxas(path: Path, energy: np.ndarray, mu: np.ndarray, units: str = "eV") -> None:
    with h5py.File(path, "w") as fh:
        fh.attrs["NX_class"] = "NXroot"
        ent = fh.create_group("entry")
        ent.attrs["NX_class"] = "NXentry"
        ent["definition"] = np.array([b"NXxas"])
        ent["element"] = np.array([b"Cu"])
        ent["edge"] = "K"
        data = ent.create_group("data")
        data.attrs.update({"NX_class": "NXdata", "signal": "absorbed_beam", "axes": "energy"})
        data["energy"] = energy
        data["energy"].attrs["units"] = units
        data["absorbed_beam"] = mu
        data["mode"] = "Transmission"


def test_nxxas_spectrum(tmp_path: Path) -> None:
    e = np.linspace(8.97, 9.03, 61)
    mu = np.tanh((e - 8.979) * 400)
    path = tmp_path / "cu.nxs"
    _nxxas(path, e, mu, units="keV")
    assert sniff(path) == "nexus"
    da = read(path)
    assert da.dims == ("energy",)
    np.testing.assert_allclose(da.energy.values, e * 1000)
    np.testing.assert_allclose(da.values, mu)
    assert da.attrs["element"] == "Cu" and da.attrs["edge"] == "K"
    assert da.attrs["mode"] == "Transmission" and da.attrs["technique"] == "XAS"


def test_nxxas_several_spectra(tmp_path: Path) -> None:
    e = np.linspace(7100.0, 7200.0, 11)
    mu = np.arange(33.0).reshape(3, 11)
    path = tmp_path / "fe.nxs"
    _nxxas(path, e, mu)
    assert read(path).dims == ("sample", "energy")
    _nxxas(path, e, mu[:, :5])
    with pytest.raises(FormatError, match="11 values per spectrum"):
        read(path)


def test_missing_groups_and_truncation(shared_data: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty.nxs"
    with h5py.File(empty, "w") as fh:
        fh.attrs["NX_class"] = "NXroot"
        fh.create_group("stuff")
    with pytest.raises(FormatError, match="expected an NXentry"):
        _nexus.read(empty)
    with h5py.File(empty, "a") as fh:
        fh.create_group("entry").attrs["NX_class"] = "NXentry"
    with pytest.raises(FormatError, match="no NXdata group"):
        _nexus.read(empty)
    raw = (shared_data / NX / "Sample_Stack_2021-03-16_128.hdf5").read_bytes()
    cut = tmp_path / "cut.hdf5"
    cut.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(FormatError, match=r"cut\.hdf5"):
        _nexus.read(cut)
