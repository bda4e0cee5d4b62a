"""Cu oxidation state of measured K-edge spectra from a model trained only on FEFF.

Training: the OmniXAS Cu FEFF set (5,299 sites, FEFF 9.9.1; see
``benchmarks/_omnixas.py``), each site labelled with its Cu oxidation state by
the project's label code (:func:`xasml.simulate.structures.oxidation_states`:
pymatgen BVAnalyzer on the POSCAR, charge balance when it fails). Sites whose
state is not an integer (charge-balance averages of mixed valence) are left
out; classes with fewer than 20 sites are left out.

Test: the measured Cu references of ``real-dev/xasdatalibrary/Cu`` with
integer labels in ``real-dev/labels.csv``; ``mixed``/``ambiguous`` labels
(CuS covellite) are excluded. Accuracy is taken over the spectra whose label
is one the training set has; others (Cu metal: no Cu(0) in a set where every
material contains O) are listed with their predictions but not scored.

The gap, step by step (each row adds one step; the table shows its effect):

1. ``raw``: FEFF ``mu`` on its absolute ``omega`` scale; measured mu as read
   (ln(i0/it), not normalised); common absolute grid 8970–9040 eV.
2. ``+norm``: measured spectra edge-step normalised (larch-style pre/post
   lines; FEFF mu is already normalised).
3. ``+align``: two variants. ``E0``: each spectrum on its own half-step
   energy (grid −10…50 eV; drops the chemical shift). ``shift``: absolute
   scale kept, simulations moved by one global shift fitted without labels.
4. ``+broad``: simulations broadened by an extra Gaussian whose FWHM is
   chosen without labels by edge-slope matching
   (:func:`xasml.preprocess.edge_slope_fwhm`: the median steepest slope of
   the normalised edges of simulations and measurements made equal). The
   other label-free criterion, the FWHM minimising the distance of the
   measured spectra to their nearest simulation
   (:func:`xasml.preprocess.fit_domain_gap`), keeps preferring wider
   Gaussians (smoother spectra are closer to everything); it is shown as
   ``alt: NN-crit`` for comparison. The global shift of step 3 is fitted by
   the same nearest-simulation criterion (a shift has no such bias).
5. ``+augment``: training also on 3 perturbed copies per site (shift ±1 eV, extra
   FWHM 0–1.5 eV, noise 1 %).

Models: random forest (100 trees; ``p(true)``: its mean probability of the
true class over the scored spectra) on the harmonised spectra, and the
nearest-reference baseline: each measured spectrum takes the label of its
nearest *simulated* spectrum (Euclidean, same preprocessing). A second
baseline, leave-one-compound-out 1-NN among the measured references
themselves, shows what the few measured references alone can do (repeated
scans of one compound are one group).

Result (seed 0, 85 s once the caches exist): OmniXAS labels 1: 849, 2: 3491,
3: 582, 4: 60 sites (BV 4,775, charge balance 318, none 206 sites, incl. 21 materials
over the 30 s labelling limit; 111 non-integer left out); in-domain RF accuracy
0.80–0.82 (majority 0.745). Edge-slope FWHM 2.14 eV; global shift −7.5 eV. On
the 3 scored measured spectra RF accuracy 0.67 for every step until
augmentation (1.00 with either alignment); mean p(true) 0.42 raw → 0.44 norm
→ 0.59 E0 → 0.60 broadened → 0.81 augmented (E0). The nearest-simulation
baseline moves between 0.33 and 1.00 with no trend. Cu metal (three files) is
called Cu(I)/Cu(II): the training set has no Cu(0). With n = 3 one spectrum
is 33 points of accuracy: read the table as per-spectrum evidence, not as a
rate.

Run: ``python -m benchmarks.real_oxidation [--cache DIR]``
"""

from __future__ import annotations

import argparse
import csv
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from benchmarks._omnixas import ARCHIVE, extract, load_sites, oxidation_labels

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "real-dev"
ABS_GRID = np.arange(8970.0, 9040.01, 0.5)
REL_GRID = np.arange(-10.0, 50.01, 0.5)
OMEGA_GRID = np.arange(8965.0, 9080.01, 0.25)
MIN_CLASS = 20


def load_simulated(cache: Path) -> xr.DataArray:
    """FEFF sites on absolute omega with integer oxidation-state labels ``ox``."""
    from xasml.io import load, save

    root = extract(ARCHIVE, cache)
    f = cache / "cu_sites_omega.nc"
    if f.is_file():
        da = load(f)
    else:
        da = load_sites(root, lambda sp, inp: {}, grid=OMEGA_GRID, absolute=True)
        save(da, f)
    labels = oxidation_labels(root, cache / "cu_oxidation_bv.json")
    ids = [str(s) for s in da["sample"].values]
    ox = np.array([labels.get(s, {}).get("oxidation_state", np.nan) for s in ids], float)
    method = np.array([labels.get(s, {}).get("method", "none") for s in ids])
    whole = np.isfinite(ox) & (np.abs(ox - np.round(ox)) < 1e-6)
    n_bv, n_cb = int((method == "bv").sum()), int((method == "charge_balance").sum())
    print(f"simulated: {len(ids)} sites; oxidation state by bond valence {n_bv}, "
          f"by charge balance {n_cb}, none {int((method == 'none').sum())}; non-integer (left out) "
          f"{int((np.isfinite(ox) & ~whole).sum())}")
    da = da.assign_coords(ox=("sample", np.where(whole, np.round(ox), -99).astype(int)),
                          ox_method=("sample", method))
    da = da.isel(sample=np.flatnonzero(whole))
    counts = Counter(da["ox"].values.tolist())
    keep = sorted(c for c, k in counts.items() if k >= MIN_CLASS)
    print(f"  integer states {dict(sorted(counts.items()))}; classes kept (>= {MIN_CLASS} "
          f"sites): {keep}")
    return da.isel(sample=np.flatnonzero(np.isin(da["ox"].values, keep)))


def load_measured() -> tuple[xr.DataArray | list[xr.DataArray], list[dict[str, Any]]]:
    """Measured Cu spectra (raw mu) with their label rows; mixed/ambiguous excluded."""
    from xasml.io import read

    rows, spectra = [], []
    with open(DATA / "labels.csv", newline="") as fh:
        for r in csv.DictReader(fh):
            if r["element"] != "Cu":
                continue
            if r["oxidation_state"] in ("mixed", "ambiguous"):
                print(f"measured: excluded {r['file']} ({r['compound_formula']}: "
                      f"{r['oxidation_state']})")
                continue
            spectra.append(read(DATA / r["file"]))
            rows.append(r)
    return spectra, rows


def measured_stack(spectra: list[xr.DataArray], grid: np.ndarray, *, normalize: bool,
                   align: str) -> np.ndarray:
    from xasml.preprocess import harmonize

    mode: Any = align
    return np.vstack([harmonize(s, grid, normalize=normalize, align=mode).values
                      for s in spectra])


def _nn(train_x: np.ndarray, train_y: np.ndarray, x: np.ndarray) -> np.ndarray:
    d2 = (x**2).sum(1)[:, None] - 2 * x @ train_x.T + (train_x**2).sum(1)[None, :]
    return train_y[np.argmin(d2, axis=1)]


def main(argv: list[str] | None = None) -> None:
    from sklearn.ensemble import RandomForestClassifier

    from xasml.datamodel import stack
    from xasml.preprocess import augment, broaden, edge_slope_fwhm, fit_domain_gap, harmonize

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "xasml")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    t0 = time.perf_counter()

    sim = load_simulated(args.cache)
    y_sim = sim["ox"].values
    classes = sorted(set(y_sim.tolist()))
    spectra, rows = load_measured()
    y_meas = np.array([int(r["oxidation_state"]) for r in rows])
    names = [Path(r["file"]).stem for r in rows]
    scored = np.isin(y_meas, classes)
    print(f"measured: {len(rows)} spectra; scored (label among training classes {classes}): "
          f"{[n for n, s in zip(names, scored, strict=True) if s]}; not scored "
          f"{[n for n, s in zip(names, scored, strict=True) if not s]} (no such class in training)")
    test = sim["split"].values == "test"
    print(f"  ({time.perf_counter() - t0:.0f} s to load)\n")

    # label-free fits of the broadening (both alignments) and of the global shift
    sub = sim.isel(sample=np.random.default_rng(args.seed).choice(sim.sizes["sample"], 1500,
                                                                   replace=False))
    meas_set = [harmonize(s, ABS_GRID, normalize=True, align="none") for s in spectra]
    meas_abs = stack(ABS_GRID, np.vstack([m.values for m in meas_set]), element="Cu")
    fwhms = (0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0)
    fw = edge_slope_fwhm(sub, meas_abs, normalize_measured=False)
    gap_e0 = fit_domain_gap(sub, meas_abs, REL_GRID, fwhms=fwhms, normalize_measured=False)
    shifts = np.arange(-12.0, 12.01, 0.5)
    gap_s0 = fit_domain_gap(sub, meas_abs, ABS_GRID, align="none", shifts=shifts,
                            normalize_measured=False)
    gap_sb = fit_domain_gap(broaden(sub, fw), meas_abs, ABS_GRID, align="none", shifts=shifts,
                            normalize_measured=False)
    print("label-free gap fits:")
    print(f"  broadening by edge-slope matching (edge_slope_fwhm): {fw:.2f} eV FWHM")
    print("  broadening by nearest-simulation distance (E0-aligned; median RMS per FWHM): "
          + ", ".join(f"{w:g}:{sc:.3f}" for w, sc in
                      zip(gap_e0.fwhms, gap_e0.score[:, 0], strict=True))
          + f" -> {gap_e0.fwhm:g} eV")
    print(f"  global shift of the simulations (absolute scale, nearest-simulation distance): "
          f"{gap_s0.shift:+.1f} eV unbroadened, {gap_sb.shift:+.1f} eV after {fw:.2f} eV\n")

    configs: list[tuple[str, dict[str, Any]]] = [
        ("raw", dict(norm=False, align="none", shift=0.0, fwhm=0.0, aug=False)),
        ("+norm", dict(norm=True, align="none", shift=0.0, fwhm=0.0, aug=False)),
        ("+align E0", dict(norm=True, align="edge", shift=0.0, fwhm=0.0, aug=False)),
        ("+align shift", dict(norm=True, align="none", shift=gap_s0.shift, fwhm=0.0, aug=False)),
        ("+broad (E0)", dict(norm=True, align="edge", shift=0.0, fwhm=fw, aug=False)),
        ("+broad (shift)", dict(norm=True, align="none", shift=gap_sb.shift, fwhm=fw,
                                aug=False)),
        ("+augment (E0)", dict(norm=True, align="edge", shift=0.0, fwhm=fw, aug=True)),
        ("+augment (shift)", dict(norm=True, align="none", shift=gap_sb.shift, fwhm=fw,
                                  aug=True)),
        ("alt: NN-crit E0", dict(norm=True, align="edge", shift=0.0, fwhm=gap_e0.fwhm,
                                 aug=True)),
    ]
    header = (f"{'pipeline':<17} {'sim-test':>8} {'RF acc':>6} {'p(true)':>7} {'NN acc':>6}  "
              + " ".join(f"{n[:12]:>12}" for n in names))
    print("accuracy on the scored measured spectra (n = " f"{int(scored.sum())}); "
          "per-spectrum predictions RF/NN (true label in the header row below)")
    print(header)
    print(f"{'true':<17} {'':>8} {'':>6} {'':>7} {'':>6}  " + " ".join(f"{y:>12d}" for y in y_meas))
    final: dict[str, np.ndarray] = {}
    for name, c in configs:
        grid = REL_GRID if c["align"] == "edge" else ABS_GRID
        base = broaden(sim, c["fwhm"]) if c["fwhm"] > 0 else sim
        xs_da = harmonize(base, grid, align=c["align"], shift=c["shift"])
        xs = xs_da.values
        xm = measured_stack(spectra, grid, normalize=c["norm"], align=c["align"])
        train_x, train_y = xs[~test], y_sim[~test]
        if c["aug"]:
            aug = augment(xs_da.isel(sample=np.flatnonzero(~test)), copies=3, noise=0.01,
                          shift=1.0, fwhm=1.5, random_state=args.seed)
            train_x = np.vstack([train_x, aug.values])
            train_y = np.concatenate([train_y, y_sim[~test][aug["source_sample"].values]])
        rf = RandomForestClassifier(n_estimators=100, n_jobs=2, random_state=args.seed)
        rf.fit(train_x, train_y)
        sim_acc = float((rf.predict(xs[test]) == y_sim[test]).mean())
        p_rf, p_nn = rf.predict(xm), _nn(xs, y_sim, xm)
        acc_rf = float((p_rf == y_meas)[scored].mean())
        proba = rf.predict_proba(xm)[scored]
        col = np.searchsorted(rf.classes_, y_meas[scored])
        p_true = float(proba[np.arange(col.size), col].mean())
        acc_nn = float((p_nn == y_meas)[scored].mean())
        print(f"{name:<17} {sim_acc:8.3f} {acc_rf:6.2f} {p_true:7.2f} {acc_nn:6.2f}  "
              + " ".join(f"{f'{a}/{b}':>12}" for a, b in zip(p_rf, p_nn, strict=True)),
              flush=True)
        final[name] = p_rf
    print(f"\nsim-test: RF accuracy on the OmniXAS test split (simulated, in-domain); "
          f"majority class there {np.bincount(y_sim[test] - min(classes)).max() / test.sum():.3f}")

    # confusion matrices of the last two pipelines over all (scored + unscored) spectra
    from sklearn.metrics import confusion_matrix

    labels = sorted(set(classes) | set(y_meas.tolist()))
    for name in ("+augment (E0)", "+augment (shift)"):
        cm = confusion_matrix(y_meas, final[name], labels=labels)
        print(f"\nconfusion matrix, RF {name} (rows true, columns predicted: {labels})")
        for lab, row in zip(labels, cm, strict=True):
            print(f"  {lab:>3}: " + " ".join(f"{v:3d}" for v in row))

    # baseline 2: leave-one-compound-out 1-NN among the measured references themselves
    comp = np.array([r["compound_formula"] for r in rows])
    xm = measured_stack(spectra, REL_GRID, normalize=True, align="edge")
    hits = []
    for k in range(len(rows)):
        other = comp != comp[k]
        hits.append(_nn(xm[other], y_meas[other], xm[k : k + 1])[0] == y_meas[k])
    print(f"\nleave-one-compound-out 1-NN among measured references (E0-aligned): "
          f"{np.mean(hits):.2f} ({int(np.sum(hits))}/{len(hits)}; a label seen in no other "
          "compound cannot be right)")
    print(f"total {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
