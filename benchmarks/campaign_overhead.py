"""Per-task overhead of the campaign runner: in-process vs Dask LocalCluster.

Run from the repository root: ``python -m benchmarks.campaign_overhead [N] [WORKERS]``.
Uses the analytic engine (tens of µs a spectrum), so the times are the runner's
own cost: scheduling, transfer, part files (write + fsync) and consolidation.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path


def main(n: int = 1000, workers: int = 2) -> None:
    from xasml.simulate import AnalyticEngine, grid, run_campaign
    from xasml.simulate._dask import local_cluster

    design = grid(white_line_height=f"0:{(n - 1) / 1000}:0.001")
    assert len(design) == n
    eng = AnalyticEngine()
    t_engine = float("inf")
    for _ in range(2):  # best of two: the machine is shared
        t = time.perf_counter()
        for p in design:
            eng.simulate(p)
        t_engine = min(t_engine, (time.perf_counter() - t) / n)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:

        def timed(label: str, tasks: int, n_par: int, **kw: object) -> None:
            wall = float("inf")
            for rep in range(2):  # best of two
                out = Path(tmp) / f"{len(rows)}-{rep}.zarr"
                t0 = time.perf_counter()
                res = run_campaign("analytic", design, out, progress=False, **kw)  # type: ignore[arg-type]
                wall = min(wall, time.perf_counter() - t0)
                assert res.n_new == n, res
            per_task = (wall - n * t_engine / n_par) / tasks
            rows.append((label, wall, 1e3 * wall / n, 1e3 * per_task))

        # Imports and first-call costs, not counted.
        run_campaign(
            "analytic", grid(fwhm=[1.0]), Path(tmp) / "w.zarr", n_workers=0, progress=False
        )
        for b in (1, 64):
            timed(f"sync, batch {b}", -(-n // b), 1, n_workers=0, batch_size=b)
        t0 = time.perf_counter()
        cluster = local_cluster(workers)
        from distributed import Client

        client = Client(cluster)
        start = time.perf_counter() - t0
        env = client.run(
            lambda: (os.environ.get("OMP_NUM_THREADS"), os.environ.get("OPENBLAS_NUM_THREADS"))
        )
        try:
            for b in (1, 10, 64):
                timed(
                    f"dask {workers} workers (warm), batch {b}",
                    -(-n // b),
                    workers,
                    scheduler=client,
                    batch_size=b,
                )
        finally:
            client.close()
            cluster.close()
        timed(
            f"dask {workers} workers incl. start/stop, auto batch",
            4 * workers,
            workers,
            n_workers=workers,
        )
    print(
        f"engine alone: {1e6 * t_engine:.0f} µs/spectrum; {n} spectra; "
        f"LocalCluster start {start:.1f} s; worker thread env {sorted(set(env.values()))}"
    )
    print(f"{'mode':48s} {'wall s':>8s} {'ms/spectrum':>12s} {'overhead ms/task':>17s}")
    for label, wall, per_spec, per_task in rows:
        print(f"{label:48s} {wall:8.2f} {per_spec:12.2f} {per_task:17.2f}")


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:]]
    main(*args)
