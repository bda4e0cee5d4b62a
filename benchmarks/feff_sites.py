"""Seconds per absorbing site of the FEFF10 engine for a few prototype oxides.

Run from the repository root::

    python -m benchmarks.feff_sites                     # default radii SCF 5 / FMS 7 Å
    python -m benchmarks.feff_sites --scf 4 --fms 5 --cases CrO4 ZnO

One site per case (the first inequivalent absorber site), run one after the
other in this process's single FEFF child (FEFF is serial: parallelise a
campaign with one process per core). Prints a table with cluster size, wall
time, the ``pot`` (SCF) and ``fms`` stage times, SCF attempts, FEFF's Fermi
level and half-step energy relative to the tabulated K edge.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

CASES = {
    "CrO4": ("oxoanion", "Cr"),
    "ZnO": ("wurtzite", "Zn"),
    "MnO": ("rocksalt", "Mn"),
    "Fe2O3": ("corundum", "Fe"),
    "TiO2": ("rutile", "Ti"),
    "LiCoO2": ("layered_rocksalt", "Co"),
}


def main(argv: list[str] | None = None) -> None:
    from xasml.simulate import FeffEngine
    from xasml.simulate.structures import oxide_prototypes

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", nargs="+", default=["CrO4", "ZnO"], choices=sorted(CASES))
    ap.add_argument("--scf", type=float, default=5.0, help="SCF radius in Å (0: no SCF)")
    ap.add_argument("--fms", type=float, default=7.0, help="FMS radius in Å")
    args = ap.parse_args(argv)
    eng = FeffEngine(scf_radius=args.scf or None, fms_radius=args.fms)
    print(f"FEFF10 per-site cost, SCF {args.scf:g} Å / FMS {args.fms:g} Å, COREHOLE RPA")
    head = f"{'case':8s} {'site':>4s} {'atoms':>5s} {'wall s':>7s} {'pot s':>6s} {'fms s':>6s}"
    print(head + f" {'E_F-E_K':>8s} {'half':>6s}  SCF")
    for case in args.cases:
        proto, el = CASES[case]
        entry = next(e for e in oxide_prototypes(prototypes=[proto], elements=[el])
                     if e.formula == case or proto == "oxoanion")
        site = entry.labels[0].site
        t = time.perf_counter()
        sp = eng.simulate({"structure": entry.structure, "site": site})
        wall = time.perf_counter() - t
        stages = json.loads(sp.attrs["stage_seconds"])
        e, mu = sp["energy"].values, sp.values
        post = mu[(e > 30) & (e < 60)].mean()
        half = e[np.argmax(mu > 0.5 * post)]
        ef = sp.attrs["fermi_energy"] - sp.attrs["edge_energy"]
        print(
            f"{case:8s} {site:4d} {sp.attrs['n_atoms']:5d} {wall:7.1f} {stages['POT']:6.1f} "
            f"{stages['FMS']:6.1f} {ef:8.2f} {half:6.2f}  {sp.attrs['scf_attempts']}",
            flush=True,
        )


if __name__ == "__main__":
    main()
