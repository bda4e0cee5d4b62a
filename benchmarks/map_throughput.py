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
import json
import resource
import time
from pathlib import Path

import numpy as np
import xarray as xr


def _status_mb(field: str) -> float | None:
    """``VmRSS`` / ``VmHWM`` of this process from /proc (Linux), in MB."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return float(line.split()[1]) / 1024.0
    except OSError:
        pass
    return None


def _reset_peak() -> bool:
    """Reset the kernel's peak-RSS mark (``VmHWM``); False where that is unsupported."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _spectra(n: int, e: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``n`` noisy Gaussian-peak spectra (amplitude ``a``, centre ``c``) and their labels."""
    a = rng.uniform(0.5, 1.5, n)
    c = rng.uniform(0.3, 0.7, n)
    X = a[:, None] * np.exp(-((e[None, :] - c[:, None]) / 0.08) ** 2)
    X += 0.01 * rng.normal(size=X.shape)
    return X, np.column_stack([a, c])


def _training(n_energy: int, seed: int = 0):
    e = np.linspace(0.0, 1.0, n_energy)
    X, y = _spectra(3000, e, np.random.default_rng(seed))
    return X, y, e


def _make_stack(e: np.ndarray, size: int) -> xr.DataArray:
    """The benchmark map: fresh spectra from the training distribution (same noise),
    float32, generated in row blocks (no float64 full-size temporary)."""
    rng = np.random.default_rng(1)
    n = size * size
    out = np.empty((n, e.size), dtype=np.float32)
    for s in range(0, n, 65536):
        m = min(65536, n - s)
        out[s:s + m] = _spectra(m, e, rng)[0]
    return xr.DataArray(out.reshape(size, size, -1), dims=("y", "x", "energy"),
                        coords={"energy": e})


def _child(args: argparse.Namespace) -> None:
    """Time one bundle on the map in this (fresh) process; print one JSON line."""
    import torch

    torch.set_num_threads(args.threads)
    from xasml.apply import apply_bundle, load_predictor

    _, _, e = _training(args.energies)
    stack = _make_stack(e, args.size)
    n = args.size * args.size
    pred = load_predictor(args.child)
    apply_bundle(pred, stack[:4], chunk_size=args.chunk, n_threads=args.threads)  # warm-up
    times, peaks = [], []
    for _ in range(args.repeat):
        base = _status_mb("VmRSS")
        exact = _reset_peak() and base is not None
        base_max = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
        t0 = time.perf_counter()
        ds = apply_bundle(pred, stack, chunk_size=args.chunk, n_threads=args.threads)
        times.append(time.perf_counter() - t0)
        if exact:
            peaks.append((_status_mb("VmHWM") or 0.0) - (base or 0.0))
        else:  # rise of the lifetime peak: a lower bound
            peaks.append(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0 - base_max)
        if int(ds["mask"].sum()) != n:
            raise RuntimeError("not every pixel was predicted")
        ood_rate = float(ds["ood"].mean())
        del ds
    # Naive loop: one pixel at a time through models, intervals and OOD score.
    sub = stack.values.reshape(n, -1)[: args.loop_pixels].astype(float)
    t1 = time.perf_counter()
    for x in sub:
        pred.predict_batch(x[None, :])
    loop = (time.perf_counter() - t1) / args.loop_pixels * n
    print(json.dumps({"times": times, "peak_mb": peaks, "exact_peak": exact,
                      "stack_mb": stack.nbytes / 2**20, "loop": loop, "ood_rate": ood_rate}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--size", type=int, default=1000)
    ap.add_argument("--energies", type=int, default=160)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--chunk", type=int, default=65536)
    ap.add_argument("--loop-pixels", type=int, default=300)
    ap.add_argument("--repeat", type=int, default=2, help="timed runs per model (best kept)")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        _child(args)
        return

    import subprocess
    import sys
    import tempfile

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
    n = args.size * args.size
    rows = []
    for name, (model, params) in configs.items():
        out, _ = train(data, targets=["a", "c"], out=tmp / model, model=model,  # type: ignore[arg-type]
                       model_params=params, ood_quantile=0.99, random_state=0)
        # A fresh process per model, so its peak memory is not hidden by training's.
        cmd = [sys.executable, "-m", "benchmarks.map_throughput", "--child", str(out)]
        for opt in ("size", "energies", "threads", "chunk", "loop_pixels", "repeat"):
            cmd += [f"--{opt.replace('_', '-')}", str(getattr(args, opt))]
        res = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if res.returncode != 0:
            raise RuntimeError(f"benchmark child failed:\n{res.stderr}")
        r = json.loads(res.stdout.strip().splitlines()[-1])
        dt = min(r["times"])
        rows.append((name, dt, n / dt, max(r["peak_mb"]), r["loop"], r["loop"] / dt,
                     r["ood_rate"]))
        stack_mb, exact = r["stack_mb"], r["exact_peak"]
    print(f"\n{args.size} x {args.size} pixels x {args.energies} energies = {n:.0e} spectra, "
          f"{args.threads} threads, chunk {args.chunk} px; maps + 90 % intervals + OOD")
    print(f"{'model':26s} {'time (s)':>9s} {'spectra/s':>11s} {'peak +RSS (MB)':>15s} "
          f"{'naive loop (s)*':>16s} {'speed-up':>9s} {'OOD flagged':>12s}")
    for name, dt, rate, peak, loop, ratio, ood in rows:
        print(f"{name:26s} {dt:9.2f} {rate:11.3g} {peak:15.0f} {loop:16.3g} {ratio:9.0f} "
              f"{ood:12.3%}")
    how = ("VmHWM after resetting it" if exact else
           "rise of ru_maxrss (a lower bound: /proc/self/clear_refs unavailable)")
    print(f"* naive loop timed on {args.loop_pixels} pixels and extrapolated to {n:.0e}. "
          f"Time: best of {args.repeat} runs in a fresh process per model. Peak +RSS: "
          f"peak resident memory during the call above the resident memory before it "
          f"({how}); it includes the output maps; the {stack_mb:.0f} MB input stack is not "
          "counted. OOD flagged: fraction of the (in-distribution) map flagged, nominal 1 %.")


if __name__ == "__main__":
    main()
