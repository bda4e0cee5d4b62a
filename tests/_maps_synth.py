"""Shared pieces of the map tests: an instrument-faithful training set, a bundle, a stack file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

from xasml.datamodel import stack
from xasml.learn import train

COUNTS = 1e4
BACKGROUND, MAX_OD = 0.5, 1.2


def simulated_training(ref: xr.DataArray, seed: int = 1, reps: int = 20) -> xr.DataArray:
    """Training spectra through the same instrument model as the phantom: OD of
    random thickness with Poisson noise on the transmitted counts, as a labelled
    ``(sample, energy)`` stack (the bundle L1-normalises each spectrum)."""
    rng = np.random.default_rng(seed)
    x0 = ref.values - ref.values.min(axis=1, keepdims=True)
    x0 = BACKGROUND + MAX_OD * x0 / x0.max()
    thick = rng.uniform(0.4, 1.6, size=(x0.shape[0] * reps, 1))
    od = -np.log(rng.poisson(COUNTS * np.exp(-np.repeat(x0, reps, axis=0) * thick)) / COUNTS)
    labels = {"charge": np.repeat(ref["charge"].values, reps),
              "tendq": np.repeat(ref["tendq"].values, reps)}
    return stack(ref["energy"].values, od, labels=labels, element="Mn", edge="L2,3",
                 technique="XAS")


def write_bundle(ref: xr.DataArray, path: Path, model: str = "knn") -> Path:
    """A workflow bundle (charge class, 10Dq value, OOD, conformal) trained by xasml.learn.train."""
    out, _ = train(simulated_training(ref), targets=["charge", "tendq"], out=path, model=model,
                   normalization="l1", ood_quantile=0.99, random_state=0)
    return out


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
