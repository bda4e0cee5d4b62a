"""CVS-TDA cost per molecule: pyscf ``get_ab`` route vs the restricted A-matrix build.

Run: ``OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 python -m benchmarks.tddft_speed``
(``--index N`` another QM9 molecule, ``--calibrate`` refits the energy shifts).

Default molecule: QM9 89016, CC1CC1CNC(C)=O (C7H13NO, 9 heavy atoms, one O and one
N). All times are process CPU seconds (single BLAS thread), robust on a shared
machine. Rows:

* SCF with the engine defaults (B3LYP/def2-SVP, density fitting, grid level 2,
  conv_tol 1e-8) and a cheaper setting (grid level 1, conv_tol 1e-6) with the
  change it causes in the first O/N excitation energies;
* per absorbing site, the A matrix from ``pyscf.tdscf.rhf.get_ab`` (four-centre
  integrals, xc kernel on the whole grid, all other occupied orbitals frozen)
  vs :func:`xasml.simulate._cvs.a_matrix` (density-fitted J/K of the core
  density, xc kernel within 3 bohr of the absorber), and the largest
  eigenvalue difference between the two;
* dense ``eigh`` + oscillator strengths, site properties, and the totals.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np

from xasml.simulate import _cvs, _siteprops
from xasml.simulate.molecules import qm9_molecule
from xasml.simulate.tddft import ANCHORS, HARTREE_EV, SHIFTS, fit_shift


def _cpu(fn: Any) -> tuple[float, Any]:
    t = time.process_time()
    out = fn()
    return time.process_time() - t, out


def _scf(mol: Any, grid_level: int, conv_tol: float) -> Any:
    return _cvs.run_scf(
        mol,
        xc="b3lyp",
        basis="def2-svp",
        density_fit=True,
        grid_level=grid_level,
        conv_tol=conv_tol,
        max_cycle=100,
    )


def speed(index: int) -> None:
    mol = qm9_molecule(index)
    heavy = sum(s != "H" for s in mol.symbols)
    print(f"QM9 {index} {mol.smiles}: {mol.n_atoms} atoms, {heavy} heavy, B3LYP/def2-SVP")
    t_scf, mf = _cpu(lambda: _scf(mol, 2, 1e-8))
    t_fast, mf_fast = _cpu(lambda: _scf(mol, 1, 1e-6))
    nvir = int((mf.mo_occ == 0).sum())
    print(f"n_ao={mf.mol.nao}, n_virtual={nvir}")
    rows = [("SCF grid 2, conv 1e-8", t_scf, ""), ("SCF grid 1, conv 1e-6", t_fast, "")]
    tot = {"pyscf": t_scf, "restricted": t_scf, "restricted+fast SCF": t_fast}
    for element in ("O", "N"):
        sites = mol.sites(element)
        if not sites:
            continue
        c, f, idx = _cvs.core_orbitals(mf, sites)
        cf, ff, _ = _cvs.core_orbitals(mf_fast, sites)
        for k, atom in enumerate(sites):
            ctr = mf.mol.atom_coords()[atom]
            t_ref, a_ref = _cpu(lambda: _cvs.a_matrix_pyscf(mf, c, f, idx, k))  # noqa: B023
            t_res, a_res = _cpu(lambda: _cvs.a_matrix(mf, c[:, k], f[k, k], ctr))  # noqa: B023
            t_eig, (w, _) = _cpu(lambda: _cvs.solve(mf, a_res, c[:, k]))  # noqa: B023
            t_fres, a_fast = _cpu(
                lambda: _cvs.a_matrix(mf_fast, cf[:, k], ff[k, k], ctr)  # noqa: B023
            )
            w_fast, _ = _cvs.solve(mf_fast, a_fast, cf[:, k])
            dw = np.abs(np.linalg.eigvalsh(a_ref) - w).max() * HARTREE_EV
            first = abs(w_fast[0] - w[0]) * HARTREE_EV
            tag = f"{element}{atom}"
            rows += [
                (f"{tag} A via pyscf get_ab", t_ref, ""),
                (f"{tag} A restricted build", t_res, f"max |dE| vs get_ab {dw:.1e} eV"),
                (f"{tag} eigh + osc. strengths", t_eig, f"{nvir} sticks"),
                (f"{tag} fast SCF: first excitation shift", t_fres, f"{first:.4f} eV"),
            ]
            tot["pyscf"] += t_ref + t_eig
            tot["restricted"] += t_res + t_eig
            tot["restricted+fast SCF"] += t_fres + t_eig
    t_prop, _ = _cpu(
        lambda: _siteprops.site_properties(
            mol.symbols, mol.coords, mf, mol.sites("O") + mol.sites("N")
        )
    )
    rows.append(("site properties (all O, N)", t_prop, ""))
    for key in tot:
        tot[key] += t_prop
    width = max(len(r[0]) for r in rows) + 2
    print(f"{'step':<{width}}{'CPU-s':>8}  note")
    for name, t, note in rows:
        print(f"{name:<{width}}{t:>8.2f}  {note}")
    print("per molecule (O and N spectra, one SCF):")
    for key, t in tot.items():
        verdict = "meets" if t <= 15 else "misses"
        print(f"  {key:<22}{t:>8.2f} CPU-s  ({verdict} the 15 CPU-s goal)")


def calibrate() -> None:
    print("element  fitted shift (eV)  table  residuals (eV) per anchor")
    for element in ANCHORS:
        s, res = fit_shift(element, grid_level=2, conv_tol=1e-8)
        labels = [a[2] for a in ANCHORS[element]]
        table = SHIFTS.get(("b3lyp", "def2-svp", element))
        pairs = ", ".join(f"{lab} {r:+.2f}" for lab, r in zip(labels, res, strict=True))
        print(f"{element:<9}{s:>17.2f}  {table}  {pairs}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=int, default=89016, help="QM9 index")
    parser.add_argument("--calibrate", action="store_true", help="refit the energy shifts")
    args = parser.parse_args()
    if args.calibrate:
        calibrate()
    else:
        speed(args.index)


if __name__ == "__main__":
    main()
