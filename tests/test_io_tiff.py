"""TIFF image stacks with an energy list: round trips, energy sources, bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from xasml.errors import FormatError, ParameterError
from xasml.io import read, sniff
from xasml.io._imagestack import read_energy_list

tifffile = pytest.importorskip("tifffile")

E = np.array([640.0, 641.0, 642.5, 644.0, 650.0])


def _cube(dtype: type = np.uint16) -> np.ndarray:
    """Pages (energy, y, x) whose value encodes (page, row, column)."""
    k, y, x = np.meshgrid(np.arange(E.size), np.arange(4), np.arange(6), indexing="ij")
    return (1000 + 100 * k + 10 * y + x).astype(dtype)


def _write(path: Path, cube: np.ndarray, energies: np.ndarray | None = E) -> Path:
    tifffile.imwrite(path, cube, photometric="minisblack")
    if energies is not None:
        lines = ["# energies of the stack (eV), second column: dwell (ms)"]
        lines += [f"{e:.2f}  1.0" for e in energies]
        path.with_suffix(".txt").write_text("\n".join(lines) + "\n")
    return path


def test_round_trip_through_content_dispatch(tmp_path: Path) -> None:
    f = _write(tmp_path / "stack.tif", _cube())
    assert sniff(f) == "tiff-stack"
    da = read(f)
    assert da.dims == ("y", "x", "energy") and da.shape == (4, 6, 5)
    np.testing.assert_array_equal(da.energy.values, E)
    # pixel (row 2, column 3) at page 4 was written as 1000 + 400 + 20 + 3
    assert da.values[2, 3, 4] == 1423.0
    np.testing.assert_array_equal(da.values, np.moveaxis(_cube(), 0, -1))
    assert da.attrs["format"] == "tiff-stack" and da.attrs["signal"] == "counts"
    assert da.attrs["energy_source"].endswith("stack.txt")


def test_energy_sources_in_order(tmp_path: Path) -> None:
    f = _write(tmp_path / "s.tiff", _cube(np.float32), energies=None)
    (tmp_path / "energies.txt").write_text("\n".join(str(e) for e in E))
    np.testing.assert_array_equal(read(f).energy.values, E)  # shared sidecar name
    other = tmp_path / "other.dat"
    other.write_text("\n".join(str(e + 1) for e in E))
    np.testing.assert_array_equal(read(f, energy_file=other).energy.values, E + 1)
    np.testing.assert_array_equal(read(f, energies=E + 2).energy.values, E + 2)


def test_decreasing_energies_are_reordered_with_their_pages(tmp_path: Path) -> None:
    f = _write(tmp_path / "down.tif", _cube()[::-1], energies=E[::-1])
    da = read(f)
    np.testing.assert_array_equal(da.energy.values, E)
    np.testing.assert_array_equal(da.values, np.moveaxis(_cube(), 0, -1))


def test_missing_energy_list_says_what_was_tried(tmp_path: Path) -> None:
    f = _write(tmp_path / "lonely.tif", _cube(), energies=None)
    with pytest.raises(FormatError, match=r"lonely\.tif.*needs its energies.*lonely\.txt"):
        read(f)


def test_page_count_mismatch_names_both_counts(tmp_path: Path) -> None:
    f = _write(tmp_path / "m.tif", _cube(), energies=E[:4])
    with pytest.raises(FormatError, match=r"5 pages but the energy list .* has 4 energies"):
        read(f)


def test_bad_energy_line_is_named(tmp_path: Path) -> None:
    f = tmp_path / "e.txt"
    f.write_text("# header\n640.0\n641,5\n642.0 eV\nabc\n")
    with pytest.raises(FormatError, match=r"e\.txt, line 5: expected an energy in eV; found 'abc'"):
        read_energy_list(f)
    f.write_text("# only a comment\n")
    with pytest.raises(FormatError, match="no numbers"):
        read_energy_list(f)


def test_duplicate_energies_and_bad_arguments(tmp_path: Path) -> None:
    f = _write(tmp_path / "d.tif", _cube(), energies=np.array([640.0, 641, 641, 642, 643]))
    with pytest.raises(FormatError, match="641 eV occurs twice"):
        read(f)
    with pytest.raises(ParameterError, match="finite"):
        read(f, energies=[1.0, 2.0, np.nan, 4.0, 5.0])
    with pytest.raises(ParameterError, match="takes energies= and energy_file="):
        read(f, columns=[0, 1])


def test_single_image_and_truncated_file_are_refused(tmp_path: Path) -> None:
    one = tmp_path / "one.tif"
    tifffile.imwrite(one, _cube()[0])
    with pytest.raises(FormatError, match="single 4 x 6 image"):
        read(one, energies=[640.0])
    rgb = tmp_path / "rgb.tif"
    tifffile.imwrite(rgb, _cube(np.uint8)[:3], photometric="rgb", planarconfig="separate")
    with pytest.raises(FormatError, match="colour"):
        read(rgb, energies=E[:3])
    big = _write(tmp_path / "big.tif", _cube())
    raw = big.read_bytes()
    cut = tmp_path / "cut.tif"
    cut.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(FormatError, match=r"cut\.tif: not a readable TIFF stack"):
        read(cut, energies=E)


def test_stack_runs_into_optical_density(tmp_path: Path) -> None:
    """Counts written as I0·exp(−OD) come back as that OD (the map pipeline's first step)."""
    from xasml.apply.stack import optical_density

    rng = np.random.default_rng(0)
    od = rng.uniform(0.1, 1.5, (4, 6, E.size))
    od[:, :2] = 0.0  # sample-free columns give I0
    i0 = np.linspace(2e4, 3e4, E.size)
    counts = (i0 * np.exp(-od)).astype(np.float32)
    f = _write(tmp_path / "od.tif", np.moveaxis(counts, -1, 0))
    out = optical_density(read(f), region={"x": slice(0, 1)})
    np.testing.assert_allclose(out.values, od, atol=1e-5)
