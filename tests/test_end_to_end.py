"""One bundle format end to end: ``xasml train`` → ``xasml map`` / ``xasml watch``."""

from __future__ import annotations

import json
import os
import shutil
import time

import numpy as np
from scipy import ndimage

from _maps_synth import BACKGROUND, COUNTS, MAX_OD, simulated_training, write_nxstxm
from _synthetic_mn import training_stack
from xasml.apply import load_map_result, phantom_stack
from xasml.cli import main
from xasml.io import save


def test_train_then_map_and_watch_through_the_cli(tmp_path, capsys):
    ref = training_stack()
    data = save(simulated_training(ref, reps=10), tmp_path / "mn.nc")
    bundle = tmp_path / "mn.bundle"
    assert main(["train", str(data), "-t", "charge", "-t", "tendq", "--model", "knn",
                 "--normalization", "l1", "--out", str(bundle)]) == 0
    doc = json.loads((bundle / "workflow.json").read_text())
    assert doc["preprocessing"]["normalization"] == "l1"
    assert [t["task"] for t in doc["targets"]] == ["classification", "regression"]

    ph = phantom_stack(ref, shape=(32, 32), counts=COUNTS, drift=0.5, background_od=BACKGROUND,
                       max_od=MAX_OD, seed=7)
    stack_file = write_nxstxm(ph.counts, tmp_path / "phantom.hdf5")
    out = tmp_path / "maps"
    capsys.readouterr()
    assert main(["map", str(stack_file), "--model", str(bundle), "--out", str(out),
                 "--no-figure"]) == 0
    assert "maps of charge,tendq" in capsys.readouterr().out
    ds = load_map_result(out / "phantom.hdf5.nc")
    for name in ("charge", "charge_set_size", "tendq", "tendq_lo", "tendq_hi", "ood",
                 "ood_score", "mask"):
        assert ds[name].dims == ("y", "x"), name
    used = ds["mask"].values
    assert used.sum() > 0.5 * used.size
    assert np.isnan(ds["tendq"].values[~used]).all()
    # Known truth: interior pixels of each domain get its charge; the foreign domain is OOD.
    region = ph.truth["region"].values
    for r, charge in enumerate((2.0, 3.0, 4.0)):
        inner = ndimage.binary_erosion(region == r, iterations=2) & used
        assert np.mean(ds["charge"].values[inner] == charge) > 0.9, r
    assert np.mean(ds["ood"].values[ph.foreign & used]) > 0.9
    assert (ds["tendq_lo"].values[used] <= ds["tendq_hi"].values[used]).all()

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copy(stack_file, inbox / "scan1.hdf5")
    t = time.time() - 10
    os.utime(inbox / "scan1.hdf5", (t, t))
    rc = main(["watch", str(inbox), "--model", str(bundle), "--out", str(tmp_path / "w"),
               "--once", "--settle", "0.2", "--interval", "0.2"])
    assert rc == 0 and "processed 1" in capsys.readouterr().out
    watched = load_map_result(tmp_path / "w" / "scan1.hdf5.nc")
    np.testing.assert_array_equal(watched["charge"].values, ds["charge"].values)
