"""``xasml simulate``: grids and Latin hypercubes from the command line."""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr

from xasml.cli import main
from xasml.simulate import grid, param_key


def test_analytic_grid_then_resume(tmp_path, capsys):
    out = tmp_path / "toy.zarr"
    argv = ["simulate", "analytic", "--white-line-height", "0:1:0.25", "--fwhm", "1,2"]
    argv += ["--out", str(out), "--workers", "0", "--no-progress"]
    assert main(argv) == 0
    assert "10 new spectra, 10 in the dataset, 0 failed" in capsys.readouterr().out
    ds = xr.open_zarr(out)
    expected = grid(white_line_height="0:1:0.25", fwhm=[1, 2])
    assert sorted(ds["key"].values) == sorted(expected.keys)
    assert main(argv) == 0  # resume: nothing left to do
    assert "0 new spectra, 10 in the dataset" in capsys.readouterr().out


def test_analytic_lhs_bounds_and_categories(tmp_path, capsys):
    out = tmp_path / "lhs.zarr"
    argv = ["simulate", "analytic", "--edge", "L23", "--e0", "638:642", "--fwhm", "0.5,0.8"]
    argv += ["--split", "11", "--lhs", "8", "--seed", "4", "-o", str(out), "-j", "0"]
    assert main([*argv, "--no-progress"]) == 0
    ds = xr.open_zarr(out)
    assert ds.sizes["sample"] == 8 and ds.attrs["seed"] == 4
    e0 = ds["e0"].values
    assert np.all((e0 >= 638) & (e0 < 642))
    assert set(ds["fwhm"].values) == {0.5, 0.8} and set(ds["split"].values) == {11.0}
    assert json.loads(ds.attrs["engine_settings"])["edge"] == "L23"
    params = {n: float(ds[n].values[0]) for n in ("e0", "fwhm", "split")}
    assert ds["key"].values[0] == param_key(params)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["multiplet", "--ion", "Mn2+", "--tendq", "0:2.5:-0.1"], "step must be > 0"),
        (["analytic", "--fwhm", "3:1:0.5"], "stop must be >= start"),
        (["analytic", "--fwhm", "a:b:c"], "expected a number"),
        (["analytic", "--fwhm", "1", "--seed", "3"], "--seed applies only with --lhs"),
        (["analytic"], "at least one parameter axis"),
    ],
)
def test_bad_input_gives_one_line_error(tmp_path, capsys, argv, message):
    code = main(["simulate", *argv, "--out", str(tmp_path / "x.zarr"), "-j", "0"])
    err = capsys.readouterr().err
    assert code == 1 and message in err
    assert err.startswith("xasml: error:") and err.count("\n") == 1
    assert not (tmp_path / "x.zarr").exists()


def test_failures_exit_nonzero_but_keep_the_rest(tmp_path, capsys):
    out = tmp_path / "f.zarr"
    code = main(
        ["simulate", "analytic", "--fwhm", "1,-1", "-o", str(out), "-j", "0", "--no-progress"]
    )
    err = capsys.readouterr().err
    assert code == 1 and "1 of 2 parameter sets failed" in err and "failures.json" in err
    assert xr.open_zarr(out).sizes["sample"] == 1
