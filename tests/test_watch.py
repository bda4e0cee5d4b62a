"""On-the-fly processing: new files, partial files, restart without redoing or losing work."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from _maps_synth import BACKGROUND, COUNTS, MAX_OD, write_bundle, write_nxstxm
from _synthetic_mn import training_stack
from xasml.apply import load_map_result, phantom_stack
from xasml.apply.watch import INDEX, watch
from xasml.cli import main


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    return write_bundle(training_stack(), tmp_path_factory.mktemp("b") / "bundle")


@pytest.fixture(scope="module")
def stack_file(tmp_path_factory) -> Path:
    ph = phantom_stack(training_stack(), shape=(40, 40), counts=COUNTS, drift=0.8,
                       background_od=BACKGROUND, max_od=MAX_OD, seed=4)
    return write_nxstxm(ph.counts, tmp_path_factory.mktemp("s") / "phantom.hdf5")


def _age(path: Path, seconds: float = 10.0) -> None:
    t = time.time() - seconds
    os.utime(path, (t, t))


def test_watch_once_processes_and_restart_skips(tmp_path, bundle, stack_file):
    inbox, out = tmp_path / "in", tmp_path / "out"
    inbox.mkdir()
    shutil.copy(stack_file, inbox / "a.hdf5")
    _age(inbox / "a.hdf5")
    rep = watch(inbox, bundle, out, once=True, settle=0.5, max_cycles=5)
    assert rep.processed == ["a.hdf5"] and not rep.failed
    ds = load_map_result(out / "a.hdf5.nc")
    assert {"charge", "tendq_lo", "ood_score", "mask", "shift_y"} <= set(ds.variables)
    index = json.loads((out / INDEX).read_text())
    assert index["entries"]["a.hdf5"]["status"] == "done"
    before = (out / "a.hdf5.nc").stat().st_mtime_ns
    # Restart: nothing redone, the new file done.
    shutil.copy(stack_file, inbox / "b.hdf5")
    _age(inbox / "b.hdf5")
    rep2 = watch(inbox, bundle, out, once=True, settle=0.5, max_cycles=5)
    assert rep2.processed == ["b.hdf5"] and rep2.skipped == ["a.hdf5"]
    assert (out / "a.hdf5.nc").stat().st_mtime_ns == before
    assert set(json.loads((out / INDEX).read_text())["entries"]) == {"a.hdf5", "b.hdf5"}


def test_partial_file_is_retried_when_complete(tmp_path, bundle, stack_file):
    inbox, out = tmp_path / "in", tmp_path / "out"
    inbox.mkdir()
    data = stack_file.read_bytes()
    (inbox / "c.hdf5").write_bytes(data[: len(data) // 2])  # writer stalled mid-file
    _age(inbox / "c.hdf5")
    rep = watch(inbox, bundle, out, once=True, settle=0.5, max_cycles=5)
    assert "c.hdf5" in rep.failed and "c.hdf5" in rep.failed["c.hdf5"]
    # A fresh, still-growing file is left for later rather than failed.
    (inbox / "d.hdf5").write_bytes(data[:1000])
    rep = watch(inbox, bundle, out, max_cycles=1, settle=30.0)
    assert rep.pending == ["d.hdf5"] and not rep.processed and "c.hdf5" in rep.skipped
    # The writer finishes: the file changed, so it is processed now.
    (inbox / "c.hdf5").write_bytes(data)
    _age(inbox / "c.hdf5", 5.0)
    (inbox / "d.hdf5").unlink()
    rep = watch(inbox, bundle, out, once=True, settle=0.5, max_cycles=5)
    assert rep.processed == ["c.hdf5"]
    assert json.loads((out / INDEX).read_text())["entries"]["c.hdf5"]["status"] == "done"


def test_cli_map_and_watch(tmp_path, bundle, stack_file, capsys):
    out = tmp_path / "maps"
    assert main(["map", str(stack_file), "--model", str(bundle), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "pixels used" in text and "out-of-distribution pixels" in text
    assert (out / "phantom.hdf5.nc").is_file() and (out / "phantom.hdf5.png").is_file()
    ds = load_map_result(out / "phantom.hdf5.nc")
    assert np.isfinite(ds["charge"].values[ds["mask"].values]).all()
    inbox = tmp_path / "in"
    inbox.mkdir()
    shutil.copy(stack_file, inbox / "e.hdf5")
    _age(inbox / "e.hdf5")
    rc = main(["watch", str(inbox), "--model", str(bundle), "--out", str(tmp_path / "w"),
               "--once", "--settle", "0.2", "--interval", "0.2"])
    assert rc == 0 and "processed 1" in capsys.readouterr().out


def test_cli_map_bad_input_is_one_line_error(tmp_path, bundle, capsys):
    bad = tmp_path / "broken.hdf5"
    bad.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 100)
    assert main(["map", str(bad), "--model", str(bundle), "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("xasml: error:") and "broken.hdf5" in err and err.count("\n") == 1


def test_tiff_stack_waits_for_its_energy_list(tmp_path, bundle):
    """A TIFF stack that lands before its energy list is kept pending (not failed), the
    list is not taken for a spectrum, and the stack is mapped once the list is there."""
    tifffile = pytest.importorskip("tifffile")
    ph = phantom_stack(training_stack(), shape=(24, 24), counts=COUNTS, drift=0.5,
                       background_od=BACKGROUND, max_od=MAX_OD, seed=5)
    inbox, out = tmp_path / "in", tmp_path / "out"
    inbox.mkdir()
    tif = inbox / "scan.tif"
    tifffile.imwrite(tif, np.moveaxis(ph.counts.values, -1, 0).astype(np.float32),
                     photometric="minisblack")
    _age(tif)
    rep = watch(inbox, bundle, out, max_cycles=1, settle=0.5)
    assert rep.pending == ["scan.tif"] and not rep.failed
    energies = inbox / "scan.txt"
    energies.write_text("\n".join(f"{e:.4f}" for e in ph.counts.energy.values))
    _age(energies)
    rep = watch(inbox, bundle, out, once=True, settle=0.5, max_cycles=5)
    assert rep.processed == ["scan.tif"] and not rep.failed
    ds = load_map_result(out / "scan.tif.nc")
    assert ds["charge"].shape == (24, 24) and int(ds["mask"].sum()) > 0
