"""Blocked multiplet engine vs edrixs's plain dense route, side by side.

Run: ``OPENBLAS_NUM_THREADS=1 python -m benchmarks.multiplet_speed``

For Mn2+, Mn3+, Mn4+ (Oh, 10Dq = 1.2 eV, 300 K) it times, in process CPU
seconds (robust on a shared machine):

* plain: ``model_1v1c`` → ``get_ops(backend='dense')`` → ``ed`` (all states) →
  ``xas`` (dense, isotropic) on the engine's default grid — what an edrixs
  user would write (only thermally populated states are passed to ``xas``,
  otherwise d⁵ needs 3.5 GB);
* blocked: ``MultipletEngine.simulate`` (term cache warm; the one-off cache
  build per d-count is listed separately);

and prints the ratio and the maximum relative difference of the two spectra
(both with one Lorentzian of FWHM 0.4 eV, no Gaussian). numba compilation is
done once up front (:func:`xasml.simulate.multiplet.warm_up`) and reported.
"""

from __future__ import annotations

import time

import numpy as np

from xasml.simulate._ed import plain_edrixs_xas
from xasml.simulate.multiplet import (
    MultipletEngine,
    ion_data,
    model_inputs,
    resolve_params,
    warm_up,
)

IONS = ("Mn2+", "Mn3+", "Mn4+")
REPEATS = 3


def _cpu(fn, repeats: int = 1):
    best, out = np.inf, None
    for _ in range(repeats):
        t0 = time.process_time()
        out = fn()
        best = min(best, time.process_time() - t0)
    return best, out


def _row(engine: MultipletEngine, ion: str) -> str:
    params = {"ion": ion, "tendq": 1.2, "gamma_l3": 0.4, "gamma_l2": 0.4, "fwhm_gauss": 0.0}
    data = ion_data(ion)
    t_cache, model = _cpu(lambda: engine._model(data.n_d))
    t_blocked, da = _cpu(lambda: engine.simulate(params), REPEATS)
    p = resolve_params(params)
    grid = engine.grid(ion)
    t_plain, ref = _cpu(
        lambda: plain_edrixs_xas(
            data.n_d,
            model_inputs(data, p),
            grid - data.offset,
            gamma_hwhm=0.2,
            temperature=p["temperature"],
        )
    )
    diff = float(np.max(np.abs(da.values - ref)) / np.max(ref))
    return (
        f"{ion:6} {model.dim_n:6d} {t_cache:7.2f} {t_plain:8.2f} {t_blocked:8.3f} "
        f"{t_plain / t_blocked:6.1f} {diff:13.1e}"
    )


def main() -> None:
    t_warm, _ = _cpu(warm_up)
    print(f"numba warm-up (once per process): {t_warm:.1f} CPU-s")
    engine = MultipletEngine()
    header = (
        f"{'ion':6} {'dim_n':>6} {'cache':>7} {'plain':>8} {'blocked':>8} "
        f"{'ratio':>6} {'max rel diff':>13}"
    )
    print(header)
    print("-" * len(header))
    for ion in IONS:
        print(_row(engine, ion))
    print("times: process CPU seconds, one thread; blocked = best of", REPEATS)


if __name__ == "__main__":
    main()
