"""How all-peak precision grows with the ensemble: sub-ensembles of one trained ensemble.

Reads the test predictions that ``python -m benchmarks.qm9_forward --save-predictions
P.npz`` wrote (every member's spectra, the truth, each site's molecule) and scores
the mean of random subsets of the members, per site and per molecule (the mean of
its sites' spectra), with the metric of the issue: the fraction of predicted peaks
within 1 eV of a true one (prominence 5 %). Each size is the mean over ``--draws``
random subsets (one for the full ensemble); the first ``k`` members alone are
printed too, since members are seeded in order (a 40-member run's first 20 are a
20-member run of the same split). No training: seconds.

``--smooth`` also scores the full ensemble's mean blurred by Gaussians of the
given standard deviations (eV), on the test and the val molecules: fewer
predicted peaks, so a higher precision, paid for in true peaks found and MSE.
::

    python -m benchmarks.qm9_forward --n-models 40 --save-predictions P.npz ...
    python -m benchmarks.ensemble_size P.npz --sizes 1 3 5 10 20 30 40 --smooth 0.1 0.2
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np


def subensemble_precision(energy: np.ndarray, truth: np.ndarray, members: np.ndarray,
                          molecule: np.ndarray, sizes: Sequence[int], draws: int = 8,
                          seed: int = 0) -> dict[int, dict[str, list[float]]]:
    """All-peak precision of the mean of random member subsets.

    Parameters
    ----------
    energy
        Energy grid in eV, shape ``(n_energy,)``.
    truth
        True site spectra, shape ``(n_sites, n_energy)``.
    members
        Each member's predicted site spectra, shape ``(n_members, n_sites, n_energy)``.
    molecule
        Each site's molecule, shape ``(n_sites,)``.
    sizes
        Subset sizes, each in ``1..n_members``.
    draws
        Random subsets per size (one for the full ensemble).

    Returns
    -------
    dict
        Per size, ``{"site": [...], "molecule": [...]}``: the precision (0–1) of each draw.
    """
    from xasml.errors import InputError
    from xasml.learn import spectral_metrics
    from xasml.learn.site_average import average_sites

    n = len(members)
    bad = [s for s in sizes if not 1 <= s <= n]
    if bad:
        raise InputError(f"--sizes must lie in 1..{n} (the saved members); found {bad}")
    mol_truth = average_sites(truth, molecule).values
    mol_members = average_sites(members, molecule).values
    rng = np.random.default_rng(seed)
    out: dict[int, dict[str, list[float]]] = {}
    for s in sizes:
        out[s] = {"site": [], "molecule": []}
        for _ in range(1 if s == n else draws):
            k = rng.choice(n, s, replace=False)
            for what, t, m in (("site", truth, members), ("molecule", mol_truth, mol_members)):
                out[s][what].append(spectral_metrics(energy, t, m[k].mean(0), tolerance=1.0,
                                                     prominence=0.05).precision)
    return out


def smoothed_scores(energy: np.ndarray, truth: np.ndarray, pred: np.ndarray,
                    sigmas: Sequence[float]) -> list[tuple[float, float, float, float]]:
    """Peak scores of predictions blurred by Gaussians along the energy axis.

    Parameters
    ----------
    energy
        Uniform energy grid in eV, shape ``(n_energy,)``.
    truth, pred
        True and predicted spectra, shape ``(n_spectra, n_energy)``.
    sigmas
        Gaussian standard deviations in eV (0: unchanged).

    Returns
    -------
    list
        Per sigma ``(sigma, precision, fraction of true peaks found, MSE)``.
    """
    from scipy.ndimage import gaussian_filter1d

    from xasml.learn import spectral_metrics

    step = float(energy[1] - energy[0])
    out = []
    for s in sigmas:
        p = gaussian_filter1d(pred, s / step, axis=-1, mode="nearest") if s > 0 else pred
        m = spectral_metrics(energy, truth, p, tolerance=1.0, prominence=0.05)
        out.append((float(s), m.precision, m.fraction_within, m.mse))
    return out


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("predictions", type=Path, help="an .npz of qm9_forward --save-predictions")
    ap.add_argument("--sizes", type=int, nargs="+", default=[1, 3, 5, 10, 20, 30, 40])
    ap.add_argument("--draws", type=int, default=8)
    ap.add_argument("--smooth", type=float, nargs="*", default=[], metavar="EV",
                    help="also score the full ensemble's mean blurred by these Gaussian sigmas")
    args = ap.parse_args(argv)
    d = np.load(args.predictions, allow_pickle=False)
    members = d["members"]
    sizes = [s for s in args.sizes if s <= len(members)]
    res = subensemble_precision(d["energy"], d["truth"], members, d["molecule"], sizes,
                                draws=args.draws)
    print(f"{args.predictions}: {len(members)} members, {len(d['truth'])} test sites of "
          f"{len(set(d['molecule'].tolist()))} molecules; all-peak precision (predicted peaks "
          f"within 1 eV), mean [min-max] over {args.draws} random subsets")
    print(f"{'members':>7} {'per molecule':>22} {'per site':>22}")
    for s, r in res.items():
        cells = [f"{100 * np.mean(v):5.1f} % [{100 * min(v):.1f}-{100 * max(v):.1f}]"
                 for v in (r["molecule"], r["site"])]
        print(f"{s:7d} {cells[0]:>22} {cells[1]:>22}")
    for s in sorted(set(sizes) - {len(members)}):
        # members are seeded in order: the first s are an s-member run of the same split
        r = subensemble_precision(d["energy"], d["truth"], members[:s], d["molecule"], [s])[s]
        print(f"first {s:3d}: per molecule {100 * r['molecule'][0]:.1f} %, "
              f"per site {100 * r['site'][0]:.1f} %")
    if args.smooth:
        from xasml.learn.site_average import average_sites

        sets = [("test", d["truth"], members, d["molecule"])]
        if "cal_members" in d:
            sets.append(("val", d["cal_truth"], d["cal_members"], d["cal_molecule"]))
        print("all members' mean blurred by a Gaussian, per molecule: sigma / precision / "
              "true peaks found / MSE")
        for name, truth, mem, mol in sets:
            t, p = average_sites(np.stack([truth, mem.mean(0)]), mol).values
            print(f"  {name}: " + ", ".join(
                f"{s:g} eV {100 * q:.1f} % / {100 * f:.1f} % / {e:.2e}"
                for s, q, f, e in smoothed_scores(d["energy"], t, p, [0.0, *args.smooth])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
