"""Campaigns keep per-sample labels: scalar coordinates and declared per-spectrum attrs."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import numpy as np
import xarray as xr

from xasml.simulate import AnalyticEngine, grid, run_campaign
from xasml.simulate._runner import sample_labels
from xasml.simulate._store import CampaignStore


class LabelledEngine(AnalyticEngine):
    """Analytic spectra plus labels known in closed form from the parameters."""

    sample_attrs = ("peak_height", "note")

    def simulate(self, params: Mapping[str, Any]) -> xr.DataArray:
        da = super().simulate(params)
        fwhm = float(params["fwhm"])
        coords: dict[str, Any] = {"half_width": fwhm / 2, "kind": f"w{fwhm:g}"}
        if fwhm > 1.5:
            coords["broad_only"] = np.float32(fwhm * 10)  # absent for narrow samples
        # A vector coordinate is not a per-sample label and is ignored.
        da = da.assign_coords(coords).assign_coords(extra=("energy", da["energy"].values))
        # A declared numeric attr (kept per sample), a declared string (ignored),
        # and a varying undeclared attr (not a label).
        return da.assign_attrs(peak_height=2 * fwhm, note="text", undeclared=fwhm)


def test_sample_labels_of_one_spectrum():
    eng = LabelledEngine()
    labels = sample_labels(eng, eng.simulate({"fwhm": 2.0}))
    assert labels == {"half_width": 1.0, "kind": "w2", "broad_only": 20.0, "peak_height": 4.0}
    assert isinstance(labels["broad_only"], float)  # numpy scalars become JSON numbers


def test_campaign_stores_labels_nan_filled(tmp_path):
    d = grid(fwhm=[1.0, 2.0, 3.0])
    res = run_campaign(LabelledEngine(), d, tmp_path / "l.zarr", n_workers=0, progress=False)
    ds = xr.open_zarr(res.path).load()
    np.testing.assert_array_equal(ds["half_width"].values, [0.5, 1.0, 1.5])
    np.testing.assert_array_equal(ds["peak_height"].values, [2.0, 4.0, 6.0])
    assert list(ds["kind"].values) == ["w1", "w2", "w3"]
    np.testing.assert_array_equal(ds["broad_only"].values, [np.nan, 20.0, 30.0])
    assert all(ds[n].dims == ("sample",) for n in ("half_width", "peak_height", "kind"))
    # Declared per-sample attrs leave the shared attrs; undeclared ones stay (from one part).
    assert "peak_height" not in ds.attrs and ds.attrs["undeclared"] in (1.0, 2.0, 3.0)
    assert "extra" not in ds.coords


def test_labels_survive_resume_and_old_parts(tmp_path):
    """Labels join across runs; a part file without labels (older layout) gives NaN."""
    out = tmp_path / "r.zarr"
    eng = LabelledEngine()
    run_campaign(eng, grid(fwhm=[1.0, 2.0]), out, n_workers=0, progress=False)
    # An older-layout part file: no "labels" entry in its metadata.
    store = CampaignStore(out)
    p = {"fwhm": 4.0}
    y = eng.simulate(p).values[None]
    path = store.write_part(["oldkey"], [p], eng.energy, y, {})
    with np.load(path) as z:
        meta = json.loads(str(z["meta"]))
        del meta["labels"]
        np.savez(
            path.with_suffix(".tmp.npz"),
            energy=z["energy"],
            intensity=z["intensity"],
            meta=np.array(json.dumps(meta)),
        )
    path.with_suffix(".tmp.npz").replace(path)
    res = run_campaign(eng, grid(fwhm=[1.0, 2.0, 3.0]), out, n_workers=0, progress=False)
    assert (res.n_new, res.n_done) == (1, 4)
    ds = xr.open_zarr(out).load().swap_dims(sample="key")
    assert np.isnan(float(ds["peak_height"].sel(key="oldkey")))
    by_fwhm = dict(zip(ds["fwhm"].values, ds["peak_height"].values, strict=True))
    assert by_fwhm[1.0] == 2.0 and by_fwhm[3.0] == 6.0
