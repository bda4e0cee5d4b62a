"""Does a 90 % bound hold 90 %? The peak-height flags re-calibrated on many random held-out sets.

A bundle trained with ``xasml train-forward --calibrate-fraction F`` chose its
peak-height thresholds on one set of held-out molecules. Here its predictions
for every molecule it never saw (that set plus other draws) are made once; then
``--splits`` times a calibration set of the same number of molecules is drawn
at random from them, the 95 % threshold is chosen at 90 % confidence, and the
precision of the peaks it keeps is scored on all the other molecules. A bound
that holds should leave the precision under the target in about 10 % of the
splits (a little more, since the test precision is itself an estimate from
~1,000 molecules; the precision over all the unseen molecules, calibration set
included, is printed beside it). Two rules side by side, per site and per molecule spectrum:

- ``independent``: Clopper-Pearson on the peaks as independent draws (xasml
  before 2026-12-07 session 25);
- ``grouped``: :func:`~xasml.learn.precision_lower_bounds`, the peaks of one
  molecule counted as correlated (what ``calibrate_peak_heights`` now uses).
::

    python -m benchmarks.trust_splits --bundle B.bundle --calibrate-fraction 0.2

The bundle must have been trained on ``--train`` (default O draws 0 and 1) with
``--seed 0``, as ``benchmarks.forward_cli --bundle`` does.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from benchmarks.qm9_forward import CACHE, default_datasets
from benchmarks.stored_draws import restore


def _thresholds(peaks, hit, n_true, rows: np.ndarray, groups: np.ndarray | None,
                target: float, confidence: float) -> float:
    """The height threshold chosen on spectra ``rows`` (inf when none met the target)."""
    from xasml.learn import peak_height_threshold
    from xasml.learn.peak_heights import PredictedPeaks

    sel = np.isin(peaks.spectrum, rows)
    index = np.full(peaks.n_spectra, -1)
    index[rows] = np.arange(rows.size)
    if groups is None:  # every peak on its own: the independent rule
        spectrum = np.arange(int(sel.sum()))
        n = spectrum.size
    else:
        spectrum, n = index[peaks.spectrum[sel]], rows.size
    sub = PredictedPeaks(spectrum=spectrum, energy=peaks.energy[sel],
                         relative_height=peaks.relative_height[sel], n_spectra=n,
                         prominence=peaks.prominence)
    t = peak_height_threshold(sub, hit[sel], n_true[rows] if groups is not None else
                              np.zeros(n, int), target, confidence=confidence,
                              groups=None if groups is None else groups[rows])
    return np.inf if t.threshold is None else t.threshold


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    restore()
    draws = default_datasets("O")
    ap.add_argument("--bundle", type=Path, default=CACHE / "trust-splits-o-d01-m3-cal20.bundle",
                    help="trained with train-forward --calibrate-fraction on --train, seed 0; "
                         "trained here when missing (3 members, ~4 min)")
    ap.add_argument("--calibrate-fraction", type=float, default=0.2,
                    help="the bundle's --calibrate-fraction")
    ap.add_argument("--train", type=Path, nargs="+", default=draws[:2])
    ap.add_argument("--unseen", type=Path, nargs="+", default=draws[2:],
                    help="draws the bundle never saw (default O draws 2 onwards); the first "
                         "is forward_cli's test draw")
    ap.add_argument("--splits", type=int, default=500)
    ap.add_argument("--target", type=float, default=0.95)
    ap.add_argument("--confidence", type=float, default=0.9)
    args = ap.parse_args()
    for p in [*args.train, *args.unseen]:
        if not (p / ".zmetadata").is_file():
            raise SystemExit(f"{p}: not a finished campaign (build it with xasml simulate tddft, "
                             "see benchmarks/qm9_forward)")
    if not (args.bundle / "manifest.json").is_file():
        cmd = [sys.executable, "-m", "xasml", "train-forward", *map(str, args.train),
               "--out", str(args.bundle), "--n-models", "3", "--jobs", "2",
               "--calibrate-fraction", str(args.calibrate_fraction), "--seed", "0"]
        print("$ " + " ".join(cmd[2:]), flush=True)
        subprocess.run(cmd, check=True)

    from xasml.learn import average_sites, find_predicted_peaks, peak_hits, train_val_test_split
    from xasml.learn.bundle import load_bundle
    from xasml.learn.structure_data import load_structure_datasets, molecule_of

    st, sp = load_structure_datasets(args.train)
    mol = np.array([molecule_of(s.label) for s in st])
    f = args.calibrate_fraction
    held = train_val_test_split(len(st), groups=mol, ratios=(1 - f, 0, f), random_state=0).test
    X, Y, draw = [st[i] for i in held], [sp.values[held]], [np.zeros(held.size, int)]
    for k, path in enumerate(args.unseen, start=1):
        s2, y2 = load_structure_datasets([path])
        X += list(s2)
        Y.append(y2.values)
        draw.append(np.full(len(s2), k))
    Y, draw = np.concatenate(Y), np.concatenate(draw)
    model = load_bundle(args.bundle).model
    P = np.asarray(getattr(p := model.predict(X), "values", p), dtype=np.float64)
    energy = np.asarray(model.energy_, dtype=np.float64)
    labels = [s.label for s in X]
    site_mol = np.array([molecule_of(x) for x in labels])
    mp, my = average_sites(P, labels), average_sites(Y, labels)
    manifest = json.loads((args.bundle / "manifest.json").read_text())["extras"]
    n_cal = np.unique(site_mol[draw == 0]).size
    print(f"{args.bundle.name}: {n_cal} held-out molecules (the bundle's), "
          f"{np.unique(site_mol).size - n_cal} unseen; {args.splits} random calibration sets "
          f"of {n_cal} molecules; target {100 * args.target:.0f} % at "
          f"{100 * args.confidence:.0f} % confidence")
    rng = np.random.default_rng(0)
    units = {"sites": (P, Y, site_mol, "peak_height_trust"),
             "molecules": (mp.values, my.values, np.asarray(mp.names),
                           "structure_peak_height_trust")}
    first = dict(zip(site_mol, draw, strict=True))
    for unit, (p, y, groups, key) in units.items():
        peaks = find_predicted_peaks(energy, p, prominence=0.05)
        hit, n_true = peak_hits(energy, y, peaks)
        spec_draw = np.array([first[g] for g in groups])
        own = np.flatnonzero(spec_draw == 0)
        test = np.isin(peaks.spectrum, np.flatnonzero(spec_draw == 1))
        stored = (manifest.get(key) or {}).get("threshold")
        print(f"{unit} (the bundle stored height >= "
              f"{'none' if stored is None else f'{stored:.3f}'}):")
        names = np.unique(groups)
        pool = {g: np.flatnonzero(groups == g) for g in names}
        draws_ = [rng.choice(names, n_cal, replace=False) for _ in range(args.splits)]
        for rule in ("independent", "grouped"):
            g = groups if rule == "grouped" else None
            th = _thresholds(peaks, hit, n_true, own, g, args.target, args.confidence)
            keep = test & (peaks.relative_height >= th)
            scores = []
            for chosen in draws_:
                rows = np.sort(np.concatenate([pool[c] for c in chosen]))
                t = _thresholds(peaks, hit, n_true, rows, g, args.target, args.confidence)
                rest = ~np.isin(peaks.spectrum, rows)
                k = rest & (peaks.relative_height >= t)
                whole = peaks.relative_height >= t  # every unseen molecule: no test noise
                scores.append((hit[k].mean() if k.any() else np.nan, k.sum() / rest.sum(),
                               hit[whole].mean() if whole.any() else np.nan))
            s = np.array(scores)
            met = ~np.isnan(s[:, 0])
            print(f"  {rule:11} own held-out set: height >= {th:.3f}, on "
                  f"{args.unseen[0].name} {100 * hit[keep].mean():.1f} % of "
                  f"{100 * keep.sum() / test.sum():.0f} % kept | random sets: under target "
                  f"{100 * np.mean(s[met, 0] < args.target):.0f} % (on all "
                  f"{np.unique(groups).size}: {100 * np.mean(s[met, 2] < args.target):.0f} %), "
                  f"precision "
                  f"{100 * np.nanmean(s[:, 0]):.1f} %, kept {100 * s[:, 1].mean():.0f} %, "
                  f"no threshold {100 * np.mean(~met):.0f} %", flush=True)


if __name__ == "__main__":
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    main()
