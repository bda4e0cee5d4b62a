"""Structure → spectrum inference throughput of the graph network: CPU, and GPU when present.

Run: ``python -m benchmarks.gnn_throughput [--n 20000] [--threads 2] [--json OUT]``

* structures: every O site of the first QM9 molecules that contain O (``qm9pack``,
  offline) until ``--n`` sites, as :class:`xasml.learn.Structure`;
* model: :class:`xasml.learn.StructureSpectrumRegressor` with the architecture of
  ``benchmarks.qm9_forward`` (cutoff 4 Å, 32 radial functions, 64 channels,
  3 interactions, 3 models, 241-point grid), fitted for one epoch on 256 sites
  with random targets: the cost of a forward pass does not depend on the weights;
* timed: graph construction (CPU, once) and ``predict_members`` on each device
  (``cpu``; ``cuda`` when torch sees a GPU), best of ``--repeats`` after one
  warm-up pass, as structures per second per model; the last column is the
  ratio to the CPU.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np


def qm9_sites(n: int) -> list:
    """The first ``n`` O sites of O-containing QM9 molecules, as Structures."""
    from xasml.learn import Structure
    from xasml.simulate import iter_qm9

    out: list = []
    for mol in iter_qm9(("O",)):
        for site in mol.sites("O"):
            out.append(Structure.from_symbols(mol.symbols, mol.coords, site,
                                              label=f"{mol.name}#{site}"))
            if len(out) == n:
                return out
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=20000, help="O sites to predict")
    ap.add_argument("--threads", type=int, default=2, help="CPU threads")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json", type=Path, default=None, help="also write the numbers here")
    args = ap.parse_args()

    import torch

    from xasml.learn import StructureSpectrumRegressor

    t0 = time.perf_counter()
    structures = qm9_sites(args.n)
    print(f"{len(structures)} O sites read in {time.perf_counter() - t0:.1f} s", flush=True)
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    # the default architecture (qm9_forward's and train-forward's); one epoch: speed only
    params = dict(n_models=3, max_epochs=1, random_state=0, n_threads=args.threads)
    model = StructureSpectrumRegressor(device="cpu", **params)
    t0 = time.perf_counter()
    graphs = model.graphs(structures)
    t_graph = time.perf_counter() - t0
    print(f"graphs: {len(graphs) / t_graph:.0f} structures/s (CPU, one process)")
    y = np.random.default_rng(0).random((256, 241))
    results: dict[str, float] = {}
    for dev in devices:
        model = StructureSpectrumRegressor(device=dev, **params).fit(graphs[:256], y)
        model.predict_members(graphs[:1024])  # warm-up (CUDA context, kernels)
        best = np.inf
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            model.predict_members(graphs)
            best = min(best, time.perf_counter() - t0)
        results[dev] = len(graphs) * model.n_models / best
        name = torch.cuda.get_device_name(0) if dev == "cuda" else f"{args.threads} threads"
        print(f"{dev:5} ({name}): {results[dev]:,.0f} structures/s per model, "
              f"{results[dev] / results['cpu']:.1f}x the CPU", flush=True)
    if "cuda" not in results:
        print("no GPU visible to torch: CPU only")
    if args.json is not None:
        args.json.write_text(json.dumps({"n": len(graphs), "graphs_per_s": len(graphs) / t_graph,
                                         "structures_per_s_per_model": results}))


if __name__ == "__main__":
    main()
