"""ALS STXM .hdr + .xim stacks."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from xasml.errors import FormatError
from xasml.io import _als_stxm, read, sniff

ALS = Path("formats") / "als-stxm"


def test_stack(shared_data: Path) -> None:
    path = shared_data / ALS / "stxm-scan.hdr"
    assert sniff(path) == "als-stxm"
    da = read(path)
    assert da.dims == ("y", "x", "energy") and da.shape == (120, 120, 2)
    np.testing.assert_allclose(da.energy.values, [853.0, 857.75])
    np.testing.assert_allclose(da.x.values[[0, -1]], [-0.618, 2.6163])
    np.testing.assert_allclose(da.y.values[[0, -1]], [7.2496, 10.4840])
    first = np.loadtxt(shared_data / ALS / "stxm-scan_a003.xim")
    np.testing.assert_array_equal(da.values[..., 0], first)
    assert da.attrs["xim_files"] == ["stxm-scan_a003.xim", "stxm-scan_a019.xim"]


def _copy(shared_data: Path, dest: Path, images: list[str]) -> Path:
    shutil.copy(shared_data / ALS / "stxm-scan.hdr", dest / "scan.hdr")
    for i, name in enumerate(images):
        shutil.copy(shared_data / ALS / name, dest / f"scan_a{i:03d}.xim")
    return dest / "scan.hdr"


def test_standard_numbering(shared_data: Path, tmp_path: Path) -> None:
    path = _copy(shared_data, tmp_path, ["stxm-scan_a019.xim", "stxm-scan_a003.xim"])
    da = read(path)
    np.testing.assert_array_equal(
        da.values[..., 0], np.loadtxt(shared_data / ALS / "stxm-scan_a019.xim")
    )


def test_missing_xim_is_named(shared_data: Path, tmp_path: Path) -> None:
    path = _copy(shared_data, tmp_path, ["stxm-scan_a003.xim"])
    with pytest.raises(FormatError, match=r"scan_a001\.xim"):
        _als_stxm.read(path)


def test_bad_image_and_header(shared_data: Path, tmp_path: Path) -> None:
    path = _copy(shared_data, tmp_path, ["stxm-scan_a003.xim", "stxm-scan_a019.xim"])
    (tmp_path / "scan_a001.xim").write_text("1\t2\n3\t4\n")
    with pytest.raises(FormatError, match=r"120 x 120"):
        _als_stxm.read(path)
    (tmp_path / "scan_a001.xim").write_text("1\tx\n")
    with pytest.raises(FormatError, match=r"scan_a001\.xim"):
        _als_stxm.read(path)
    hdr = tmp_path / "bad.hdr"
    hdr.write_text('ScanDefinition = { Label = "x"; Points = (3, 1, 2); };')
    assert sniff(hdr) == "als-stxm"
    with pytest.raises(FormatError, match="PAxis"):
        _als_stxm.read(hdr)
