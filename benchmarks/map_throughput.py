"""Throughput of parameter maps: 1000 x 1000 pixels x 160 energies -> maps + intervals + OOD.

Run: ``python -m benchmarks.map_throughput [--size 1000] [--threads 2]``. Trains a workflow
bundle (targets ``a``, ``c``) per model with :func:`xasml.learn.train`, then times
:func:`xasml.apply.apply_bundle`. Prints spectra/s and peak memory for an MLP and a random
forest, and the speed-up over a naive per-pixel Python loop (timed on a subset and
extrapolated — stated in the table). File reading is excluded: the map is generated in
memory before the clock starts.
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np
import xarray as xr


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _training(n_energy: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    e = np.linspace(0.0, 1.0, n_energy)
    a = rng.uniform(0.5, 1.5, 3000)
    c = rng.uniform(0.3, 0.7, 3000)
    X = a[:, None] * np.exp(-((e[None, :] - c[:, None]) / 0.08) ** 2) + 0.01 * rng.normal(
        size=(3000, n_energy))
    return X, np.column_stack([a, c]), e


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--size", type=int, default=1000)
    ap.add_argument("--energies", type=int, default=160)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--chunk", type=int, default=65536)
    ap.add_argument("--loop-pixels", type=int, default=300)
    args = ap.parse_args()

    import tempfile
    from pathlib import Path

    import torch

    torch.set_num_threads(args.threads)
    from xasml.apply import apply_bundle, load_predictor
    from xasml.datamodel import stack as make_stack
    from xasml.learn import train

    X, y, e = _training(args.energies)
    data = make_stack(e, X, labels={"a": y[:, 0], "c": y[:, 1]})
    tmp = Path(tempfile.mkdtemp(prefix="xasml-map-bench-"))
    configs = {
        "MLP (128, 64)": ("mlp", {"max_epochs": 30, "n_threads": args.threads}),
        "RF (100 trees, depth 12)": ("rf", {"n_estimators": 100, "max_depth": 12,
                                            "n_jobs": args.threads}),
    }
    rng = np.random.default_rng(1)
    n = args.size * args.size
    pick = rng.integers(0, X.shape[0], n)
    stack = (X[pick] + 0.01 * rng.normal(size=(n, args.energies))).astype(np.float32)
    stack = xr.DataArray(stack.reshape(args.size, args.size, -1), dims=("y", "x", "energy"),
                         coords={"energy": e})
    rows = []
    for name, (model, params) in configs.items():
        out, _ = train(data, targets=["a", "c"], out=tmp / model, model=model,  # type: ignore[arg-type]
                       model_params=params, ood_quantile=0.99, random_state=0)
        pred = load_predictor(out)
        base = _rss_mb()
        t0 = time.perf_counter()
        ds = apply_bundle(pred, stack, chunk_size=args.chunk)
        dt = time.perf_counter() - t0
        peak = _rss_mb() - base
        assert int(ds["mask"].sum()) == n
        # Naive loop: one pixel at a time through models, intervals and OOD score.
        sub = stack.values.reshape(n, -1)[: args.loop_pixels].astype(float)
        t1 = time.perf_counter()
        for x in sub:
            pred.predict_batch(x[None, :])
        loop = (time.perf_counter() - t1) / args.loop_pixels * n
        rows.append((name, dt, n / dt, peak, loop, loop / dt))
    print(f"\n{args.size} x {args.size} pixels x {args.energies} energies = {n:.0e} spectra, "
          f"{args.threads} threads, chunk {args.chunk} px; maps + 90 % intervals + OOD")
    print(f"{'model':26s} {'time (s)':>9s} {'spectra/s':>11s} {'peak +RSS (MB)':>15s} "
          f"{'naive loop (s)*':>16s} {'speed-up':>9s}")
    for name, dt, rate, peak, loop, ratio in rows:
        print(f"{name:26s} {dt:9.2f} {rate:11.3g} {peak:15.0f} {loop:16.3g} {ratio:9.0f}")
    print(f"* naive loop timed on {args.loop_pixels} pixels and extrapolated to {n:.0e}; "
          "peak +RSS is the rise of the process's peak resident memory during the call "
          "(the first row includes allocating the output maps).")


if __name__ == "__main__":
    main()
