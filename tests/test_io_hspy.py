"""HyperSpy/DM reader: real Cr L2,3 file, synthetic maps written with RosettaSciIO, bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from xasml.errors import FormatError, XasmlError
from xasml.io import _hspy, read, sniff

pytest.importorskip("rsciio")


def _write_hspy(path: Path, data: np.ndarray, axes: list[dict], elements: list[str]) -> None:
    from rsciio.hspy import file_writer

    file_writer(
        str(path),
        {
            "data": data,
            "axes": axes,
            "metadata": {
                "General": {"title": ""},
                "Signal": {"signal_type": "EELS"},
                "Sample": {"elements": elements},
            },
            "original_metadata": {},
            "attributes": {"_lazy": False},
            "tmp_parameters": {},
            "models": {},
            "learning_results": {},
            "package_info": {"name": "xasml-test", "version": "0"},
        },
    )


def test_cr_l_core_loss(shared_data: Path) -> None:
    path = shared_data / "formats" / "hspy" / "Cr_L_cl.hspy"
    assert sniff(path) == "hspy"
    da = read(path)
    assert da.dims == ("energy",)
    # offset 560 eV, scale 0.1 eV, 400 channels (from the file's axis attributes)
    np.testing.assert_allclose(da.energy.values[[0, 1, -1]], [560.0, 560.1, 599.9])
    assert da.attrs["technique"] == "EELS"
    assert da.attrs["element"] == "Cr"
    assert da.attrs["format"] == "hspy"
    assert da.attrs["beam_energy"] == 200.0
    if pytest.importorskip("xraydb"):
        assert da.attrs["edge"] == "L2,3"  # Cr L3 574 eV, L2 584 eV inside 560-600 eV
    # Cr L3 white line is the maximum of the spectrum, near 577 eV
    assert 574.0 < float(da.energy[int(np.argmax(da.values))]) < 580.0


def test_spectrum_image_kev_axis(tmp_path: Path) -> None:
    data = np.arange(2 * 3 * 5, dtype="float32").reshape(2, 3, 5)
    axes = [
        {"name": "y", "size": 2, "scale": 0.5, "offset": 1.0, "units": "nm", "navigate": True},
        {"name": "x", "size": 3, "scale": 0.25, "offset": 0.0, "units": "nm", "navigate": True},
        {"name": "E", "size": 5, "scale": 0.001, "offset": 0.53, "units": "keV", "navigate": False},
    ]
    path = tmp_path / "map.hspy"
    _write_hspy(path, data, axes, ["O"])
    da = read(path)
    assert da.dims == ("y", "x", "energy")
    np.testing.assert_allclose(da.energy.values, [530.0, 531.0, 532.0, 533.0, 534.0])
    np.testing.assert_allclose(da.y.values, [1.0, 1.5])
    np.testing.assert_allclose(da.x.values, [0.0, 0.25, 0.5])
    np.testing.assert_array_equal(da.values, data)
    assert da.attrs["element"] == "O"


def test_line_of_spectra_is_a_set(tmp_path: Path) -> None:
    data = np.random.default_rng(0).random((4, 6))
    axes = [
        {"name": "x", "size": 4, "scale": 1.0, "offset": 0.0, "units": "nm", "navigate": True},
        {"name": "E", "size": 6, "scale": 0.5, "offset": 700.0, "units": "eV", "navigate": False},
    ]
    path = tmp_path / "line.hspy"
    _write_hspy(path, data, axes, ["Fe", "O"])
    da = read(path)
    assert da.dims == ("sample", "energy")
    np.testing.assert_allclose(da.values, data)
    assert da.attrs["elements"] == ["Fe", "O"]
    assert "element" not in da.attrs


def test_truncated_hspy_is_a_format_error(shared_data: Path, tmp_path: Path) -> None:
    raw = (shared_data / "formats" / "hspy" / "Cr_L_cl.hspy").read_bytes()
    cut = tmp_path / "cut.hspy"
    cut.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(FormatError, match=r"cut\.hspy"):
        _hspy.read(cut)


@pytest.mark.parametrize("payload", [b"", b"\x00\x00\x00\x03garbage" * 10, b"\x89HDF\r\n\x1a\n"])
def test_garbage_dm_and_hdf5(tmp_path: Path, payload: bytes) -> None:
    path = tmp_path / "bad.dm3"
    path.write_bytes(payload)
    assert _hspy.sniff(tmp_path / "missing.hspy", payload) is False
    with pytest.raises(XasmlError):
        _hspy.read(path)
