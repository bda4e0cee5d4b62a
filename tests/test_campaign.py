"""Campaigns: analytic engine physics, sync/Dask runs, SIGKILL resume, failures."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from _campaign_kill import kill_campaign_midway
from xasml.errors import EngineError, ParameterError
from xasml.simulate import (
    AnalyticEngine,
    Engine,
    get_engine,
    grid,
    latin_hypercube,
    param_key,
    run_campaign,
)
from xasml.simulate._store import CampaignStore


# -- the analytic engine ---------------------------------------------------------
def test_analytic_engine_follows_protocol_and_registry():
    eng = get_engine("analytic", edge="L23")
    assert isinstance(eng, Engine) and isinstance(eng, AnalyticEngine)
    prov = eng.provenance()
    assert prov["engine"] == "analytic" and prov["settings"]["edge"] == "L23"
    json.dumps(prov)  # JSON-serialisable
    da = eng.simulate({"e0": 641.0})
    assert da.dims == ("energy",) and da.sizes["energy"] == 351
    assert da.attrs["engine"] == "analytic" and da.attrs["parameters"] == {"e0": 641.0}


def test_analytic_k_edge_limits():
    eng = AnalyticEngine(edge="K", e_min=6400, e_max=6700, n_energy=3001)
    # Pure step (no white line): arctan is 0 far below, 1 far above, 1/2 at e0.
    y = eng.simulate({"white_line_height": 0.0, "e0": 6539.0, "edge_width": 0.5})
    e = eng.energy
    assert y.values[0] == pytest.approx(0.0, abs=1e-3)
    assert y.values[-1] == pytest.approx(1.0, abs=1e-3)
    assert float(y.interp(energy=6539.0)) == pytest.approx(0.5, abs=1e-9)
    # The white line adds a Voigt peak of the given height at e0 + offset.
    p = {"white_line_height": 0.7, "white_line_offset": 5.0, "fwhm": 2.0, "fwhm_gauss": 1.0}
    diff = eng.simulate(p).values - eng.simulate({**p, "white_line_height": 0.0}).values
    assert e[np.argmax(diff)] == pytest.approx(6544.0, abs=0.1)
    assert diff.max() == pytest.approx(0.7, rel=1e-6)


def test_analytic_l23_branching_ratio():
    eng = AnalyticEngine(edge="L23", e_min=600, e_max=700, n_energy=2001)
    y = eng.simulate({"white_line_height": 0.0, "edge_width": 0.2, "split": 11.0})
    # Statistical branching 2/3: L3 jump 1, L2 jump 1/2, total 1.5 far above.
    assert float(y.interp(energy=645.0)) == pytest.approx(1.0, abs=0.02)
    assert y.values[-1] == pytest.approx(1.5, abs=0.01)


@pytest.mark.parametrize(
    "bad", [{"fwhm": -1.0}, {"e0": 1.0}, {"split": 11.0}, {"unknown": 1.0}, {"fwhm": "x"}]
)
def test_analytic_rejects_bad_parameters(bad):
    with pytest.raises(ParameterError):
        AnalyticEngine(edge="K").simulate(bad)


# -- campaigns ---------------------------------------------------------------------
def _design():
    return grid(white_line_height="0:1.4:0.1", fwhm=[1.0, 2.5])  # 30 sets


def _by_key(path: Path) -> xr.Dataset:
    with xr.open_zarr(path) as ds:
        return ds.load().swap_dims(sample="key").drop_vars("sample").sortby("key")


def test_sync_campaign_layout_and_values(tmp_path):
    d = _design()
    res = run_campaign("analytic", d, tmp_path / "a.zarr", n_workers=0, progress=False)
    assert (res.n_done, res.n_new, res.n_failed) == (30, 30, 0)
    ds = xr.open_zarr(res.path)
    assert ds["intensity"].dims == ("sample", "energy") and ds.sizes["sample"] == 30
    assert list(ds["key"].values) == list(d.keys)  # design order
    assert ds.attrs["engine"] == "analytic" and ds.attrs["element"] == "Mn"
    assert json.loads(ds.attrs["design"])["kind"] == "grid"
    eng = AnalyticEngine()
    for i in (0, 17):
        p = {"white_line_height": float(ds["white_line_height"][i]), "fwhm": float(ds["fwhm"][i])}
        assert ds["key"].values[i] == param_key(p)
        np.testing.assert_array_equal(ds["intensity"].values[i], eng.simulate(p).values)
    again = run_campaign("analytic", d, res.path, n_workers=0, progress=False)
    assert (again.n_done, again.n_new) == (30, 0)


def test_failures_recorded_and_retried(tmp_path):
    d = grid(fwhm=[1.0, -1.0, 2.0])
    out = tmp_path / "f.zarr"
    res = run_campaign("analytic", d, out, scheduler="sync", progress=False)
    assert (res.n_new, res.n_failed) == (2, 1)
    (fail,) = res.failures
    assert fail.params == {"fwhm": -1.0} and fail.key == param_key({"fwhm": -1.0})
    assert "ParameterError" in fail.error and "'fwhm' must be > 0" in fail.error
    on_disk = json.loads((out / "failures.json").read_text())
    assert [f["key"] for f in on_disk] == [fail.key]
    # A rerun retries the failed set (and only it).
    res2 = run_campaign("analytic", d, out, scheduler="sync", progress=False)
    assert (res2.n_new, res2.n_failed, res2.n_done) == (0, 1, 2)


def test_progress_logged_as_lines_without_a_terminal(tmp_path, capsys):
    # pytest's captured stderr is not a terminal, as in a batch job's log file
    d = grid(fwhm=[1.0, -1.0, 2.0])
    run_campaign("analytic", d, tmp_path / "p.zarr", scheduler="sync", progress=True)
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("simulate (analytic): 3/3 (100 %)")  # failures count as done
    assert "min elapsed" in err[-1]
    run_campaign("analytic", d, tmp_path / "q.zarr", scheduler="sync", progress=False)
    assert capsys.readouterr().err == ""


def test_overlapping_design_computes_only_new_keys(tmp_path):
    out = tmp_path / "o.zarr"
    run_campaign("analytic", grid(fwhm="1:3:0.5"), out, n_workers=0, progress=False)
    res = run_campaign("analytic", grid(fwhm="2:4:0.5"), out, n_workers=0, progress=False)
    assert (res.n_new, res.n_done) == (2, 7)  # 3.5 and 4.0 are new
    keys = list(xr.open_zarr(out)["key"].values)
    assert len(keys) == len(set(keys)) == 7
    # A design with another parameter joins with NaN for the missing coordinate.
    lhs = latin_hypercube(3, {"e0": (6530.0, 6550.0)}, seed=1)
    res = run_campaign("analytic", lhs, out, n_workers=0, progress=False)
    ds = xr.open_zarr(out)
    assert res.n_done == 10 and int(np.isnan(ds["e0"].values).sum()) == 7
    assert ds.attrs["seed"] == 1


def test_other_engine_settings_refused(tmp_path):
    out = tmp_path / "s.zarr"
    run_campaign("analytic", grid(fwhm=[1.0]), out, n_workers=0, progress=False)
    with pytest.raises(ParameterError, match="engine set-up"):
        run_campaign(
            "analytic",
            grid(fwhm=[1.0]),
            out,
            engine_settings={"edge": "L23"},
            n_workers=0,
            progress=False,
        )


def test_concurrent_writer_refused(tmp_path):
    out = tmp_path / "l.zarr"
    with CampaignStore(out).locked(), pytest.raises(EngineError, match="another campaign"):
        run_campaign("analytic", grid(fwhm=[1.0]), out, n_workers=0, progress=False)


def test_interrupted_consolidation_recovers(tmp_path):
    """Every state a SIGKILL can leave consolidation in gives the full dataset back."""
    d = _design()
    clean = run_campaign("analytic", d, tmp_path / "clean.zarr", n_workers=0, progress=False)
    ref = _by_key(clean.path)
    out = tmp_path / "x.zarr"
    store = CampaignStore(out)
    run_campaign(
        "analytic",
        grid(white_line_height="0:0.4:0.1", fwhm=[1.0]),
        out,
        n_workers=0,
        progress=False,
    )
    # Killed between the two renames of the swap: only .old and .tmp exist.
    store.tmp.mkdir()
    (store.tmp / "junk").write_text("half-written")
    os.replace(out, store.old)
    res = run_campaign("analytic", d, out, n_workers=0, progress=False)
    assert (res.n_new, res.n_done) == (25, 30)
    xr.testing.assert_identical(_by_key(out)["intensity"], ref["intensity"])
    assert not store.old.exists() and not store.tmp.exists()


def test_resume_after_sigkill(tmp_path):
    out = tmp_path / "k.zarr"
    n_parts = kill_campaign_midway(out, 4)
    assert 4 <= n_parts < 15  # killed midway: some batches done, some not
    assert not (out / ".zmetadata").exists()  # nothing consolidated yet: no valid store

    res = run_campaign(
        "analytic",
        _design(),
        out,
        engine_settings={"delay": 0.05},
        n_workers=0,
        batch_size=2,
        progress=False,
    )
    assert res.n_done == 30 and res.n_new == 30 - 2 * n_parts and res.n_failed == 0
    got = _by_key(out)
    assert sorted(got["key"].values) == sorted(_design().keys)  # all, no duplicates
    clean = run_campaign("analytic", _design(), tmp_path / "c.zarr", n_workers=0, progress=False)
    ref = _by_key(clean.path)
    np.testing.assert_array_equal(got["intensity"].values, ref["intensity"].values)
    np.testing.assert_array_equal(got["fwhm"].values, ref["fwhm"].values)
    assert list((out / "parts").iterdir()) == []


def test_local_cluster_matches_sync(tmp_path):
    """The one LocalCluster test (a cluster start costs seconds)."""
    d = grid(white_line_height="0:1.1:0.1", fwhm=[1.5]) + grid(fwhm=[-1.0])
    par = run_campaign(
        "analytic", d, tmp_path / "p.zarr", n_workers=2, batch_size=3, progress=False
    )
    seq = run_campaign("analytic", d, tmp_path / "s.zarr", n_workers=0, progress=False)
    assert (par.n_new, par.n_failed) == (12, 1)
    assert [f.params for f in par.failures] == [{"fwhm": -1.0}]
    xr.testing.assert_identical(_by_key(par.path)["intensity"], _by_key(seq.path)["intensity"])
