"""Plain HDF5 image stacks (a 3-D dataset + an energy list): layouts, ambiguity, bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from xasml.errors import FormatError, ParameterError
from xasml.io import read, sniff

h5py = pytest.importorskip("h5py")

E = np.array([640.0, 642.0, 641.0, 645.0, 650.0])  # stored unsorted on purpose


def _cube() -> np.ndarray:
    """(energy, y, x) with value 1000 + 100*k + 10*row + column."""
    k, y, x = np.meshgrid(np.arange(E.size), np.arange(4), np.arange(6), indexing="ij")
    return (1000 + 100 * k + 10 * y + x).astype(np.float32)


def _write(path: Path, **datasets: np.ndarray) -> Path:
    with h5py.File(path, "w") as fh:
        for name, value in datasets.items():
            fh.create_dataset(name.replace("__", "/"), data=value)
    return path


def _expected() -> np.ndarray:
    order = np.argsort(E)
    return np.moveaxis(_cube(), 0, -1)[..., order]


def test_energy_first_layout_by_content(tmp_path: Path) -> None:
    f = _write(tmp_path / "txm.h5", exchange__data=_cube(), exchange__energy=E)
    assert sniff(f) == "h5-stack"
    da = read(f)
    assert da.dims == ("y", "x", "energy") and da.shape == (4, 6, 5)
    np.testing.assert_array_equal(da.energy.values, np.sort(E))
    np.testing.assert_array_equal(da.values, _expected())
    assert da.attrs["data_path"] == "exchange/data" and da.attrs["format"] == "h5-stack"


def test_energy_last_layout(tmp_path: Path) -> None:
    f = _write(tmp_path / "s.h5", images=np.moveaxis(_cube(), 0, -1), photon_energy=E)
    np.testing.assert_array_equal(read(f).values, _expected())


def test_ambiguous_file_names_the_candidates(tmp_path: Path) -> None:
    f = _write(tmp_path / "two.h5", raw=_cube(), dark=_cube(), energy=E)
    with pytest.raises(FormatError, match=r"images \(found: dark, raw\); pass data="):
        read(f, format="h5-stack")
    np.testing.assert_array_equal(read(f, format="h5-stack", data="raw").values, _expected())


def test_energies_from_a_text_list(tmp_path: Path) -> None:
    f = _write(tmp_path / "noe.h5", cube=_cube())
    with pytest.raises(FormatError, match="not a recognised"):
        sniff(f)  # nothing says which axis is energy: not taken for a stack by content
    with pytest.raises(FormatError, match=r"energies \(found: none\); pass energy="):
        read(f, format="h5-stack")
    lst = tmp_path / "e.txt"
    lst.write_text("\n".join(map(str, E)))
    np.testing.assert_array_equal(read(f, format="h5-stack", energy_file=lst).values,
                                  _expected())
    with pytest.raises(ParameterError, match="finite"):  # not reworded as a file error
        read(f, format="h5-stack", energies=[1.0, np.nan, 3.0, 4.0, 5.0])


def test_shape_mismatch_and_double_match(tmp_path: Path) -> None:
    f = _write(tmp_path / "m.h5", cube=_cube(), energy=E[:3])
    with pytest.raises(FormatError, match=r"shape \(5, 4, 6\) but there are 3 energies"):
        read(f, format="h5-stack")
    sq = _write(tmp_path / "sq.h5", cube=np.zeros((4, 4, 6), np.float32), energy=E[:4])
    with pytest.raises(FormatError, match=r"axes \[0, 1\] both match"):
        read(sq, format="h5-stack")


def test_truncated_file_is_a_format_error(tmp_path: Path) -> None:
    f = _write(tmp_path / "t.h5", cube=_cube(), energy=E)
    raw = f.read_bytes()
    cut = tmp_path / "cut.h5"
    cut.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(FormatError, match=r"cut\.h5"):
        read(cut, format="h5-stack")
