"""Training wall time of the graph-network ensemble: members in turn vs in worker processes.

Run: ``python -m benchmarks.gnn_train_jobs [--n 3000] [--members 4] [--epochs 10] [--cpus 2]``

* structures: the first ``--n`` O sites of O-containing QM9 molecules (``qm9pack``,
  offline), with random smooth targets on a 241-point grid: the cost of an
  epoch does not depend on the targets;
* model: :class:`xasml.learn.StructureSpectrumRegressor` with its default
  architecture, ``--members`` members, exactly ``--epochs`` epochs each (no
  validation split, so no early stopping: every setting does the same work);
* baseline: ``n_jobs=1`` with ``--cpus`` torch threads (members one after the
  other); compared: ``n_jobs=k`` for each ``--jobs`` value, ``--cpus // k``
  threads per worker. Printed: member-epochs per second and the ratio to the
  baseline, side by side; the time includes starting the workers.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from .gnn_throughput import qm9_sites


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=3000, help="O sites to train on")
    ap.add_argument("--members", type=int, default=4, help="ensemble members")
    ap.add_argument("--epochs", type=int, default=10, help="epochs per member")
    ap.add_argument("--cpus", type=int, default=2, help="cores to use in every setting")
    ap.add_argument("--jobs", type=int, nargs="+", default=[2], help="worker counts to time")
    ap.add_argument("--json", type=Path, default=None, help="also write the numbers here")
    args = ap.parse_args()

    from scipy.ndimage import gaussian_filter1d

    from xasml.learn import StructureSpectrumRegressor

    structures = qm9_sites(args.n)
    rng = np.random.default_rng(0)
    y = gaussian_filter1d(rng.random((len(structures), 241)), 5.0, axis=1)
    params = dict(n_models=args.members, max_epochs=args.epochs, validation_fraction=0.0,
                  random_state=0, device="cpu")
    graphs = StructureSpectrumRegressor(**params).graphs(structures)
    print(f"{len(graphs)} O sites, {args.members} members x {args.epochs} epochs, "
          f"{args.cpus} cores in every setting")
    rates: dict[str, float] = {}
    for jobs in [1, *args.jobs]:
        threads = max(1, args.cpus // jobs)
        model = StructureSpectrumRegressor(n_jobs=jobs, n_threads=threads, **params)
        t0 = time.perf_counter()
        model.fit(graphs, y)
        wall = time.perf_counter() - t0
        key = f"{jobs} job{'s' if jobs > 1 else ''} x {threads} thread{'s' if threads > 1 else ''}"
        rates[key] = args.members * args.epochs / wall
        base = next(iter(rates.values()))
        print(f"{key:22s} {wall:7.1f} s  {rates[key]:6.2f} member-epochs/s  "
              f"{rates[key] / base:4.2f}x the baseline", flush=True)
    if args.json is not None:
        args.json.write_text(json.dumps({"n_sites": len(graphs), "members": args.members,
                                         "epochs": args.epochs, "cpus": args.cpus,
                                         "member_epochs_per_s": rates}, indent=2))


if __name__ == "__main__":
    main()
