"""Prediction throughput (spectra per second) of trained bundles, bare vs with trust outputs.

A regression model (MLP and random forest) is trained with
:func:`xasml.learn.workflow.train` on 5,000 synthetic K-edge spectra of 160 points,
then :class:`xasml.apply.Predictor` predicts 100,000 spectra

* ``bare``: predictions only (``trust=False``);
* ``trust``: + conformal interval + OOD score and flag (``n_neighbors=0``);
* ``trust+nn``: + the 3 nearest training spectra (ids, distances).

Torch and the forest use 2 threads. Run: ``python -m benchmarks.inference_throughput``.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

N_POINTS = 160


def synthetic(n: int, seed: int) -> object:
    """``n`` edge + white-line spectra on 160 points; label ``wl`` (white-line height)."""
    from xasml.datamodel import stack

    rng = np.random.default_rng(seed)
    e = np.linspace(8970.0, 9050.0, N_POINTS)
    shift = rng.uniform(-3.0, 3.0, n)[:, None]
    wl = rng.uniform(0.3, 1.5, n)
    mu = 1 / (1 + np.exp(-(e[None] - 8985.0 - shift) / 1.5))
    mu = mu + wl[:, None] * np.exp(-0.5 * ((e[None] - 8990.0 - shift) / 3.0) ** 2)
    mu = mu + rng.normal(0.0, 0.01, mu.shape)
    return stack(e, mu, labels={"wl": wl}, element="Cu", edge="K")


def _rate(fn: object, n: int, repeat: int = 2) -> float:
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()  # type: ignore[operator]
        best = min(best, time.perf_counter() - t0)
    return n / best


def main(argv: list[str] | None = None) -> None:
    from xasml.apply import load_predictor
    from xasml.learn.workflow import train

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--n-train", type=int, default=5_000)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))

    train_set = synthetic(args.n_train, 0)
    new = synthetic(args.n, 1)
    params = {"mlp": {"n_threads": args.threads, "max_epochs": 30, "device": "cpu"},
              "rf": {"n_estimators": 100, "n_jobs": args.threads}}
    print(f"{args.n} spectra x {N_POINTS} points, {args.threads} threads; spectra/s")
    print(f"{'model':<6} {'bare':>10} {'trust':>10} {'trust+nn':>10}  overhead")
    with tempfile.TemporaryDirectory() as tmp:
        for m in ("mlp", "rf"):
            path, _ = train(train_set, targets=["wl"], out=Path(tmp) / m, model=m,
                            groups=None, model_params=params[m], random_state=0)
            pred = load_predictor(path, device="cpu" if m == "mlp" else None)
            pred.predict(new[:100])  # warm-up (index build, lazy imports)
            bare = _rate(lambda p=pred: p.predict(new, trust=False), args.n)
            trust = _rate(lambda p=pred: p.predict(new, n_neighbors=0), args.n)
            nn = _rate(lambda p=pred: p.predict(new, n_neighbors=3), args.n, repeat=1)
            print(f"{m:<6} {bare:10.0f} {trust:10.0f} {nn:10.0f}  x{bare / trust:.1f}")


if __name__ == "__main__":
    main()
