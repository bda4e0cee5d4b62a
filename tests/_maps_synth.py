"""Shared pieces of the map tests: an instrument-faithful training set, a bundle, a stack file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

from xasml.learn import ConformalRegressor, OODDetector, make_baseline, save_bundle

COUNTS = 1e4
BACKGROUND, MAX_OD = 0.5, 1.2


def simulated_training(ref: xr.DataArray, seed: int = 1, reps: int = 20):
    """Training spectra through the same instrument model as the phantom: OD of
    random thickness, Poisson noise on the transmitted counts, L1-normalised."""
    rng = np.random.default_rng(seed)
    x0 = ref.values - ref.values.min(axis=1, keepdims=True)
    x0 = BACKGROUND + MAX_OD * x0 / x0.max()
    thick = rng.uniform(0.4, 1.6, size=(x0.shape[0] * reps, 1))
    od = -np.log(rng.poisson(COUNTS * np.exp(-np.repeat(x0, reps, axis=0) * thick)) / COUNTS)
    X = od / np.abs(od).sum(axis=1, keepdims=True)
    y = np.repeat(np.column_stack([ref["charge"].values, ref["tendq"].values]), reps, axis=0)
    return X, y.astype(float)


def fit_trusted(ref: xr.DataArray):
    """kNN regressor of (charge, 10Dq) + OOD detector + conformal calibrator."""
    X, y = simulated_training(ref)
    order = np.random.default_rng(2).permutation(len(X))
    tr, cal = order[: int(0.7 * len(X))], order[int(0.7 * len(X)):]
    model = make_baseline("knn").fit(X[tr], y[tr])
    ood = OODDetector(quantile=0.99).fit(X[tr], X_calib=X[cal])
    conf = ConformalRegressor(model).calibrate(X[cal], y[cal])
    return model, ood, conf


def write_bundle(ref: xr.DataArray, path: Path) -> Path:
    model, ood, conf = fit_trusted(ref)
    return save_bundle(model, path, energy=ref["energy"], targets=["charge", ("tendq", "eV")],
                       extras={"ood": ood, "conformal": conf, "pixel_normalization": "l1",
                               "confidence": 0.9})


def write_nxstxm(counts: xr.DataArray, path: Path) -> Path:
    """A minimal NXstxm file holding a (y, x, energy) counts stack."""
    import h5py

    c = counts.transpose("energy", "y", "x")
    with h5py.File(path, "w") as fh:
        fh.attrs["NX_class"] = "NXroot"
        ent = fh.create_group("entry1")
        ent.attrs["NX_class"] = "NXentry"
        ent["definition"] = "NXstxm"
        g = ent.create_group("counter0")
        g.attrs["NX_class"] = "NXdata"
        g.attrs["signal"] = "data"
        g.attrs["axes"] = ["energy", "sample_y", "sample_x"]
        g["data"] = c.values
        g["energy"] = c["energy"].values
        for k in ("y", "x"):
            g[f"sample_{k}"] = c[k].values
            g[f"sample_{k}"].attrs["units"] = "um"
        g["stxm_scan_type"] = "sample image stack"
    return path
