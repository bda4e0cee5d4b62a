"""Cu K-edge coordination number from FEFF XANES: MLP classifier vs random forest.

Data: the OmniXAS Cu FEFF set (``../shared/data/feff-cu-omnixas.tar.gz``; 5,299 site
spectra, FEFF 9.9.1). It is extracted once into a cache folder (default
``~/.cache/xasml``, never the repository) and read with the FEFF run-tree reader.

Labels: the number of O atoms within ``--cutoff`` (default 2.6 Å) of the absorber
in its ``feff.inp`` cluster (:func:`xasml.io.coordination_number`). 2.6 Å takes the
four short Cu–O bonds of a Jahn–Teller-distorted Cu(II) site and the apical bonds
up to 2.6 Å; sites with CN outside 2–6 (no O neighbour: sulfides, intermetallics;
and a handful of 7/8/12) are left out. Torrisi et al. used CrystalNN labels over
all neighbours, so the numbers are comparable in kind, not identical.

Spectra: FEFF ``mu`` on E − E_F (``omega`` − ``e_fermi``, where the reader's
``e_fermi`` is ``omega − e + Mu``), resampled to 160 points from −3.5 to 60 eV.

Split: the OmniXAS material split in ``splits/`` (train/val/test; no material in
two splits); sites not listed there are left out.

Published reference: random forest, CN accuracy 84.9 % for Cu (Torrisi et al.,
npj Comput. Mater. 6, 109 (2020)).

Run: ``python -m benchmarks.cu_cn [--cache DIR] [--cutoff 2.6]``
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from benchmarks import _omnixas
from benchmarks._omnixas import ARCHIVE, GRID, extract

__all__ = ["ARCHIVE", "CLASSES", "GRID", "extract", "load_sites", "main"]

CLASSES = (2, 3, 4, 5, 6)
PUBLISHED_RF = 0.849


def load_sites(root: Path, *, cutoff: float = 2.6, classes: tuple[int, ...] = CLASSES,
               grid: np.ndarray = GRID) -> xr.DataArray:
    """Read every site, label its O coordination number and put it on ``grid`` (E − E_F).

    Returns
    -------
    xarray.DataArray
        ``(sample, energy)`` with coords ``cn``, ``material_id``, ``site``, ``split``
        (``train``/``val``/``test`` or ``none``); sample ids ``<mp-id>_<site:03d>``.
    """
    from xasml.io import coordination_number

    def label(sp: xr.DataArray, inp: Any) -> dict[str, Any] | None:
        cn = coordination_number(inp, "O", cutoff=cutoff)
        return {"cn": cn} if cn in classes else None

    return _omnixas.load_sites(root, label, grid=grid)


def main(argv: list[str] | None = None) -> None:
    from xasml.learn.workflow import train

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "xasml")
    ap.add_argument("--archive", type=Path, default=ARCHIVE)
    ap.add_argument("--cutoff", type=float, default=2.6)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--models", default="mlp,rf")
    args = ap.parse_args(argv)

    from xasml.io import load, save

    t0 = time.perf_counter()
    root = extract(args.archive, args.cache)
    cached = args.cache / f"cu_cn_cutoff{args.cutoff:g}.nc"
    if cached.is_file():
        da = load(cached)
    else:
        da = load_sites(root, cutoff=args.cutoff)
        save(da, cached)
    counts = dict(sorted(Counter(da["cn"].values.tolist()).items()))
    print(f"read {da.sizes['sample']} sites with CN in {CLASSES} in "
          f"{time.perf_counter() - t0:.0f} s; CN counts {counts}")
    da = da.isel(sample=np.flatnonzero(da["split"].values != "none"))
    sizes = Counter(da["split"].values.tolist())
    test_cn = da["cn"].values[da["split"].values == "test"]
    majority = np.unique(test_cn, return_counts=True)[1].max() / test_cn.size
    print(f"OmniXAS split: train {sizes['train']}, val {sizes['val']}, test {sizes['test']}; "
          f"majority-class rate on test {majority:.3f}")
    params = {"mlp": {"hidden_layer_sizes": (256, 128), "dropout": 0.2, "max_epochs": 300,
                      "patience": 30, "n_threads": 2},
              "rf": {"n_estimators": 300, "n_jobs": 2}}
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for m in args.models.split(","):
            t1 = time.perf_counter()
            _, rep = train(da, targets=["cn"], out=Path(tmp) / m, model=m, split="split",
                           model_params=params.get(m), random_state=args.seed)
            results.append((m, rep["cn"], time.perf_counter() - t1))
    print(f"\n{'model':<6} {'acc':>6} {'bal.acc':>7} {'macroF1':>7}  "
          + " ".join(f"F1[{c}]" for c in CLASSES) + f"  {'cov@0.9':>7} {'set':>5} {'s':>5}")
    for m, r, sec in results:
        f1 = " ".join(f"{r.per_class_f1.get(str(c), float('nan')):5.2f}" for c in CLASSES)
        print(f"{m:<6} {r.metrics.accuracy:6.3f} {r.metrics.balanced_accuracy:7.3f} "
              f"{r.metrics.macro_f1:7.3f}  {f1}  {r.coverage.coverage[0]:7.3f} "
              f"{r.coverage.mean_width[0]:5.2f} {sec:5.0f}")
    print(f"published RF (Torrisi et al. 2020, Cu, CrystalNN CN): {PUBLISHED_RF:.3f}")


if __name__ == "__main__":
    main()
