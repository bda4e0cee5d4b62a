"""Mn L2,3 charge (class) and 10Dq (value) from crystal-field multiplet spectra: MLP vs RF.

Data: a Latin hypercube of ``--n`` multiplet spectra (:class:`xasml.simulate.multiplet.
MultipletEngine`, edrixs atomic data) over ion Mn2+/Mn3+/Mn4+ (balanced strata),
10Dq 0–2.5 eV and Gaussian FWHM 0.15–0.45 eV, run with the campaign runner
(resumable; cached outside the repository, default ``~/.cache/xasml``).

Measurement-like variation: every spectrum gets one random perturbation
(:func:`xasml.preprocess.augment`: Gaussian noise 1 % of the maximum, a rigid
shift within ±0.2 eV and extra Gaussian broadening up to 0.4 eV FWHM), so the
train, calibration and test spectra are exchangeable and independent; the
training split then gets two more noisy, shifted copies per spectrum
(:class:`xasml.learn.Augmentation`). Spectra are L1-normalised (the absolute
intensity grows with the number of 3d holes and would give the charge away).

Each model is trained by :func:`xasml.learn.train` (split 6:2:2 stratified by
charge; conformal intervals/sets at 90 % calibrated on the validation split) and
scored on the held-out test split. Acceptance: conformal coverage within 3
points of nominal.

Run: ``python -m benchmarks.mn_learn [--n 900] [--models mlp rf] [--workers 0]``
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

IONS = ("Mn2+", "Mn3+", "Mn4+")


def simulate(n: int, cache: Path, seed: int, workers: int) -> object:
    """The LHS multiplet dataset (simulated once, then reused from ``cache``)."""
    from xasml.apply.parameters import with_charge
    from xasml.io import load
    from xasml.simulate import latin_hypercube, run_campaign

    design = latin_hypercube(n, {"tendq": (0.0, 2.5), "fwhm_gauss": (0.15, 0.45)},
                             {"ion": list(IONS)}, seed=seed)
    out = cache / f"mn-multiplet-lhs{n}-seed{seed}.zarr"
    t0 = time.perf_counter()
    res = run_campaign("multiplet", design, out, scheduler="sync" if workers == 0 else None,
                       n_workers=workers or None, progress=True)
    print(f"campaign: {res.n_new} simulated now, {res.n_done} in the store, {res.n_failed} "
          f"failed, {time.perf_counter() - t0:.0f} s -> {out}")
    return with_charge(load(out))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=900)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--models", nargs="+", default=["mlp", "rf"])
    ap.add_argument("--confidence", type=float, default=0.9)
    ap.add_argument("--workers", type=int, default=0, help="0: simulate in this process")
    ap.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "xasml")
    args = ap.parse_args()

    from xasml.learn import Augmentation, train
    from xasml.preprocess import augment

    args.cache.mkdir(parents=True, exist_ok=True)
    da = simulate(args.n, args.cache, args.seed, args.workers)
    counts = {int(c): int((da["charge"].values == c).sum()) for c in (2, 3, 4)}
    print(f"{da.sizes['sample']} spectra, {da.sizes['energy']} energies "
          f"({float(da.energy[0]):.1f}-{float(da.energy[-1]):.1f} eV); charges {counts}")
    data = augment(da, copies=1, noise=0.01, shift=0.2, fwhm=0.4, random_state=args.seed)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for model in args.models:
            params = {"n_threads": 1} if model in ("mlp", "cnn") else {}
            _, rep = train(data, targets=["charge", "tendq"], out=Path(tmp) / model,
                           model=model, ratios=(0.6, 0.2, 0.2), groups=None,
                           confidence=args.confidence, normalization="l1",
                           augment=Augmentation(copies=2, noise=0.01, shift=0.1),
                           model_params=params, random_state=args.seed)
            for t in rep.targets:
                cov = t.coverage.coverage[0]
                score = (f"acc {t.metrics.accuracy:.3f}" if t.task == "classification"
                         else f"MAE {t.metrics.mae[0]:.3f} eV")
                rows.append((model, t.name, score, cov, t.coverage.mean_width[0],
                             t.coverage.n_samples, rep.seconds))
    nominal = args.confidence
    print(f"\nMn L2,3 multiplet LHS (n={args.n}), split 6:2:2, conformal at {nominal:g}; "
          "test split held out")
    print(f"{'model':6s} {'target':7s} {'test score':16s} {'coverage':>9s} {'gap (pt)':>9s} "
          f"{'width/set':>10s} {'n_test':>7s} {'within 3 pt':>12s} {'train s':>8s}")
    ok = True
    for model, name, score, cov, width, n_test, secs in rows:
        gap = 100 * (cov - nominal)
        ok &= abs(gap) <= 3
        print(f"{model:6s} {name:7s} {score:16s} {cov:9.3f} {gap:+9.1f} {width:10.3g} "
              f"{n_test:7d} {'yes' if abs(gap) <= 3 else 'NO':>12s} {secs:8.0f}")
    verdict = "PASS" if ok else "FAIL"
    print(f"acceptance (|coverage - nominal| <= 3 points for every row): {verdict}")
    print(f"(chance level for charge: {1 / 3:.3f}; 10Dq range 0-2.5 eV, "
          f"predicting the mean gives MAE ~ {2.5 / 4:.2f} eV)")


if __name__ == "__main__":
    main()
