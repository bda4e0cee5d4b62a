"""The product path end to end: ``xasml train-forward``, then ``xasml forward`` on unseen molecules.

Trains a bundle through the command line on some campaign draws (with
``--calibrate-fraction``: whole molecules held out to set the trust flags), writes
every molecule of another, disjoint draw as an xyz file of the geometry its
CVS-TDDFT spectrum was computed on, predicts them with ``xasml forward`` and scores
what the netCDF file holds against the draw's own spectra:

- per site (``intensity``) and per molecule (``structure_intensity``, the mean of
  its sites'): MSE, true peaks found within 1 eV and the precision of the predicted
  peaks, with a 95 % bootstrap interval over molecules;
- the peaks ``forward`` flags as trusted (``peak_energy_trusted``,
  ``structure_peak_energy_trusted``): their precision on the test draw beside the
  precision the calibration promised (the manifest's extras);
- baseline: the mean training spectrum, predicted for every site and molecule.

The predicted peaks are found again here at the bundle's prominence and checked
against the energies the file holds, so the scores are those of what a user reads.
::

    python -m benchmarks.forward_cli                      # O draws 0+1 -> draw 2 (3 models)
    python -m benchmarks.forward_cli --train A.zarr B.zarr --test C.zarr --bundle b.bundle

Build the draws with ``xasml simulate tddft`` (see ``benchmarks/qm9_forward``).
``--bundle`` keeps the bundle (reused when it exists; delete it to retrain).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks._trust import kept_peak_precision
from benchmarks.qm9_forward import default_datasets
from benchmarks.stored_draws import restore


def _xyz(structure) -> str:
    """The xyz text of a campaign site's molecule (all atoms, the campaign's geometry)."""
    from xasml.learn.graph import _SYMBOLS
    from xasml.simulate.molecules import Molecule

    return Molecule(symbols=tuple(_SYMBOLS[z - 1] for z in structure.numbers),
                    coords=structure.positions, name=structure.label.split("#")[0]).to_xyz()


def _run(cmd: list[str]) -> float:
    """Run an xasml command (this interpreter's), echo it, return its wall time in s."""
    files = [c for c in cmd if c.endswith(".xyz")]
    shown = [c for c in cmd if not c.endswith(".xyz")]
    if files:
        shown.insert(2, f"<{len(files)} xyz files>")
    print("$ xasml " + " ".join(shown), flush=True)
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "xasml", *cmd], check=True)
    return time.perf_counter() - t0


def _score(name: str, energy: np.ndarray, truth: np.ndarray, pred: np.ndarray,
           groups: np.ndarray, peak_energy: np.ndarray, trusted: np.ndarray | None,
           prominence: float, promised: dict | None) -> dict:
    """Print and return the scores of one kind of spectrum (sites or molecules)."""
    from xasml.learn import (
        find_predicted_peaks,
        peak_error_breakdown,
        peak_hits,
        peak_score_interval,
        spectral_metrics,
    )

    m = spectral_metrics(energy, truth, pred, tolerance=1.0, prominence=prominence)
    lo, hi = peak_score_interval(m, groups)["precision"]
    pk = find_predicted_peaks(energy, pred, prominence=prominence)
    written = peak_energy[~np.isnan(peak_energy)]
    if not np.allclose(np.sort(pk.energy), np.sort(written)):
        raise SystemExit(f"{name}: the peaks found here are not the {written.size} the file "
                         f"holds ({pk.energy.size})")
    hit, n_true = peak_hits(energy, truth, pk)
    out = {"n": len(truth), "mse": m.mse, "found": m.fraction_within, "precision": m.precision,
           "precision_interval": [lo, hi], "n_true_peaks": int(n_true.sum()),
           "n_predicted_peaks": int(pk.energy.size)}
    print(f"{name} ({len(truth)}, {len(set(groups))} molecules): MSE {m.mse:.2e}, "
          f"{100 * m.fraction_within:.1f} % of {int(n_true.sum())} true peaks within 1 eV at "
          f"{100 * m.precision:.1f} % precision [{100 * lo:.1f}-{100 * hi:.1f} %]")
    miss = peak_error_breakdown(energy, truth, pred, prominence=prominence)
    print(f"  what the predicted peaks are: {miss.summary()}")
    out["peak_errors"] = miss.fractions()
    if trusted is None:
        return out
    # padded (spectrum, peak) flags in the order of the peaks, NaN-padded like peak_energy
    keep = trusted[~np.isnan(peak_energy)].astype(bool)
    n_keep = int(keep.sum())
    if not n_keep:
        print(f"  trusted peaks: none of {pk.energy.size} (the calibration met no threshold)")
        return out
    prec, tlo, thi = kept_peak_precision(m, pk, hit, n_true, keep, groups)
    promise = ""
    if promised and promised.get("threshold") is not None:
        promise = (f" (promised on {promised['n_calibration']} held-out: "
                   f"{100 * promised['precision']:.1f} % at {100 * promised['coverage']:.0f} %"
                   f" kept, height >= {promised['threshold']:.3f})")
    print(f"  trusted peaks: {n_keep} of {pk.energy.size} "
          f"({100 * n_keep / max(pk.energy.size, 1):.0f} %) at {100 * prec:.1f} % precision "
          f"[{100 * tlo:.1f}-{100 * thi:.1f} %], {100 * hit[keep].sum() / max(n_true.sum(), 1):.1f}"
          f" % of true peaks found{promise}")
    out.update(trusted_fraction=n_keep / max(pk.energy.size, 1), trusted_precision=prec,
               trusted_interval=[tlo, thi])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    restore()
    draws = default_datasets("O")
    ap.add_argument("--train", type=Path, nargs="+", default=draws[:2],
                    help="campaign datasets to train on (default: O draws 0 and 1)")
    ap.add_argument("--test", type=Path, default=draws[2],
                    help="a campaign dataset of other molecules (default: O draw 2)")
    ap.add_argument("--bundle", type=Path, default=None,
                    help="keep the bundle here; reused when it exists (default: temporary)")
    ap.add_argument("--n-models", type=int, default=3)
    ap.add_argument("--max-epochs", type=int, default=None,
                    help="train-forward's --max-epochs (default: its own)")
    ap.add_argument("--patience", type=int, default=None,
                    help="train-forward's --patience (default: its own)")
    ap.add_argument("--jobs", type=int, default=1, help="train-forward's --jobs")
    ap.add_argument("--calibrate-fraction", type=float, default=0.1)
    ap.add_argument("--confidence", type=float, default=None,
                    help="train-forward's --confidence (default: the precision itself)")
    ap.add_argument("--limit", type=int, default=None,
                    help="predict only the first N test molecules (a quick check)")
    ap.add_argument("--json", type=Path, default=None, help="also write the scores here")
    args = ap.parse_args()
    for p in [*args.train, args.test]:
        if not (p / ".zmetadata").is_file():
            raise SystemExit(f"{p}: not a finished campaign (build it with xasml simulate tddft)")

    from xasml.learn import average_sites
    from xasml.learn.structure_data import load_structure_datasets, molecule_of

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        bundle = args.bundle or work / "forward.bundle"
        t_train = None
        if not (bundle / "manifest.json").is_file():
            cmd = ["train-forward", *map(str, args.train), "--out", str(bundle),
                   "--n-models", str(args.n_models),
                   "--calibrate-fraction", str(args.calibrate_fraction)]
            if args.max_epochs is not None:
                cmd += ["--max-epochs", str(args.max_epochs)]
            if args.patience is not None:
                cmd += ["--patience", str(args.patience)]
            if args.jobs != 1:
                cmd += ["--jobs", str(args.jobs)]
            if args.confidence is not None:
                cmd += ["--confidence", str(args.confidence)]
            t_train = _run(cmd)
        manifest = json.loads((bundle / "manifest.json").read_text())
        extras = manifest.get("extras", {})

        structures, spectra = load_structure_datasets([args.test])
        molecules = list(dict.fromkeys(molecule_of(s.label) for s in structures))
        if args.limit:
            molecules = molecules[:args.limit]
        first = {}
        for s in structures:
            first.setdefault(molecule_of(s.label), s)
        xyz = work / "xyz"
        xyz.mkdir()
        files = []
        for name in molecules:
            files.append(xyz / f"{name}.xyz")
            files[-1].write_text(_xyz(first[name]))
        out = work / "pred.nc"
        t_fwd = _run(["forward", str(bundle), *map(str, files), "--out", str(out)])

        import xarray as xr

        with xr.open_dataset(out) as f:
            ds = f.load()
        from xasml.learn.bundle import load_bundle

        # the baseline: one spectrum for all, the training sites' mean (the bundle's library)
        mean = load_bundle(bundle).model.library_.mean(axis=0)
    energy = ds["energy"].values
    if not np.allclose(energy, spectra["energy"].values):
        raise SystemExit("the bundle's energy grid is not the test draw's")
    row = {s.label: i for i, s in enumerate(structures)}
    labels = [str(x) for x in ds["label"].values]
    missing = [x for x in labels if x not in row]
    if missing:
        raise SystemExit(f"forward wrote sites the test draw lacks: {missing[:5]}")
    idx = np.array([row[x] for x in labels])
    truth = np.asarray(spectra.values, dtype=float)[idx]
    site_groups = np.array([molecule_of(x) for x in labels])
    n_sites = sum(1 for s in structures if molecule_of(s.label) in set(molecules))
    print(f"\ntest: {args.test.name}, {len(molecules)} molecules, {len(labels)} sites "
          f"predicted of {n_sites}; forward {t_fwd:.0f} s "
          f"({len(labels) / t_fwd:.0f} sites/s with start-up and xyz reading)"
          + (f"; train-forward {t_train / 60:.1f} min" if t_train else ""))
    print(f"bundle: {bundle}, {extras.get('n_train')} training sites")
    avg = average_sites(truth[None], labels)
    true_mol = dict(zip(avg.names, avg.values[0], strict=True))
    names = [str(x) for x in ds["structure"].values]
    mol_truth = np.stack([true_mol[n] for n in names])
    heights = extras.get("peak_height_trust") or {}
    prominence = float(heights.get("prominence", 0.05))

    def flags(var: str) -> np.ndarray | None:
        return ds[var].values if var in ds else None

    scores = {
        "sites": _score("sites", energy, truth, ds["intensity"].values, site_groups,
                        ds["peak_energy"].values, flags("peak_energy_trusted"), prominence,
                        heights or None),
        "molecules": _score("molecules", energy, mol_truth, ds["structure_intensity"].values,
                            np.array(names), ds["structure_peak_energy"].values,
                            flags("structure_peak_energy_trusted"), prominence,
                            extras.get("structure_peak_height_trust")),
    }
    from xasml.learn import spectral_metrics

    print("baseline, the mean training spectrum:")

    for name, t in (("sites", truth), ("molecules", mol_truth)):
        b = spectral_metrics(energy, t, np.broadcast_to(mean, t.shape), tolerance=1.0,
                             prominence=prominence)
        scores[name]["baseline"] = {"mse": b.mse, "found": b.fraction_within,
                                    "precision": b.precision}
        print(f"  {name}: MSE {b.mse:.2e} ({b.mse / scores[name]['mse']:.1f}x the model's), "
              f"{100 * b.fraction_within:.1f} % found at {100 * b.precision:.1f} % precision")
    if args.json:
        args.json.write_text(json.dumps(scores, indent=2, default=float))


if __name__ == "__main__":
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    main()
