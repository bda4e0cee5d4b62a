"""The SMILES check of :mod:`benchmarks.qm9_forward`: what a SMILES input costs.

``xasml forward --smiles`` embeds a molecule with RDKit (ETKDG + MMFF94); the QM9
spectra belong to B3LYP geometries. Scored on the test molecules with one absorbing
site (no atom mapping between the two geometries needed).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import numpy as np


def single_site_molecules(molecule: np.ndarray, te: np.ndarray) -> tuple[list[int], list]:
    """Positions in ``te`` of the test molecules with one absorbing site, and their QM9 records.

    One site needs no atom mapping between the QM9 geometry and a SMILES embedding.
    """
    from collections import Counter

    from xasml.simulate.molecules import qm9_molecules

    n_sites = Counter(molecule[te])
    single = [k for k, i in enumerate(te) if n_sites[molecule[i]] == 1]
    return single, qm9_molecules([int(molecule[te[k]].split(":")[1]) for k in single])


def _heavy_rmsd(a, b) -> float:
    """Heavy-atom RMSD (Å) of two geometries of one molecule after the best alignment.

    Atom order may differ (RDKit matches the bond graphs) and so may the handedness
    (mirror images have the same spectrum); NaN where the bond graphs found from the
    coordinates do not match.
    """
    from rdkit import Chem, rdBase
    from rdkit.Chem import rdDetermineBonds, rdMolAlign

    def rd(symbols, coords):
        block = f"{len(symbols)}\n\n" + "".join(
            f"{s} {x:.6f} {y:.6f} {z:.6f}\n" for s, (x, y, z) in zip(symbols, coords, strict=True))
        mol = Chem.MolFromXYZBlock(block)
        rdDetermineBonds.DetermineConnectivity(mol)
        return Chem.RemoveHs(mol, sanitize=False)

    with rdBase.BlockLogs():
        ref = rd(a.symbols, a.coords)
        try:
            return min(rdMolAlign.GetBestRMS(rd(b.symbols, c), ref)
                       for c in (b.coords, b.coords * [-1.0, 1.0, 1.0]))
        except RuntimeError:  # RDKit: no substructure match between the two bond graphs
            return float("nan")


def smiles_check(model, structures: list, energy: np.ndarray, Y: np.ndarray,
                 molecule: np.ndarray, te: np.ndarray, pred: np.ndarray,
                 args: argparse.Namespace, prepare: Callable) -> None:
    """What a SMILES input costs: MMFF94 geometries instead of QM9's B3LYP ones.

    Only test molecules with a single absorbing site are used. Without
    ``--smiles-truth`` the truth is the spectrum of the QM9 geometry in both rows; with
    it (a CVS-TDDFT campaign of the ``--write-smiles`` file, same engine settings) the
    SMILES predictions are also scored against the spectrum of the geometry they were
    made from, and the two truths against each other (how far the geometry alone moves
    the spectrum); ``prepare(spectra, args)`` treats that campaign as the training
    targets were (re-broadening).
    """
    from xasml.errors import ParameterError
    from xasml.learn import spectral_metrics
    from xasml.learn.structure_data import (
        load_structure_datasets,
        molecule_of,
        molecule_structures,
    )
    from xasml.simulate.molecules import from_smiles

    def first_shell(st) -> float:  # the absorber's nearest-neighbour distance, Å
        d = np.linalg.norm(st.positions - st.positions[st.absorber], axis=1)
        return float(np.delete(d, st.absorber).min())

    element, truth_path = args.element, args.smiles_truth
    single, mols = single_site_molecules(molecule, te)
    keep, embedded, failed, rmsd = [], [], [], []
    for k, mol in zip(single, mols, strict=True):
        try:
            smi = from_smiles(mol.smiles or "", name=mol.name)
            sites = molecule_structures(smi, element)
        except ParameterError as exc:
            failed.append(f"{mol.name} {mol.smiles}: {exc}")
            continue
        if len(sites) != 1:  # cannot happen for a QM9 SMILES of a one-site molecule
            failed.append(f"{mol.name} {mol.smiles}: {len(sites)} {element} sites")
            continue
        keep.append(k)
        embedded.append(sites[0])
        rmsd.append(_heavy_rmsd(mol, smi))
    rows = te[keep]
    from_qm9, from_smi = pred[keep], model.predict(embedded)
    shell = np.array([first_shell(structures[i]) - first_shell(s)
                      for i, s in zip(rows, embedded, strict=True)])
    print(f"\nSMILES check: {len(keep)} test molecules with one {element} site re-embedded "
          f"from their QM9 SMILES ({len(failed)} failed"
          + (f": {failed[:3]}" if failed else "") + "); first-shell distance B3LYP - "
          f"MMFF94: mean {shell.mean():+.3f} Å, mean |.| {np.abs(shell).mean():.3f} Å")
    rmsd_ok = np.array(rmsd)[np.isfinite(rmsd)]
    print(f"  heavy-atom RMSD after the best alignment (mirror image allowed; {len(rmsd_ok)} "
          f"matched): median {np.median(rmsd_ok):.2f} Å, above 0.3 Å for "
          f"{np.sum(rmsd_ok > 0.3)}: ETKDG often picks another conformer than QM9's")
    print(f"  MSE between the two predictions {np.mean((from_qm9 - from_smi) ** 2):.2e} "
          f"(model vs truth on the QM9 geometry: {np.mean((from_qm9 - Y[rows]) ** 2):.2e})")

    def score(name: str, truth: np.ndarray, p: np.ndarray) -> None:
        m = spectral_metrics(energy, truth, p, tolerance=1.0, prominence=0.05)
        print(f"  {name:40} MSE {m.mse:.2e}, peaks<=1eV {100 * m.fraction_within:.1f}%, "
              f"precision {100 * m.precision:.1f}%, edge peak within 1 eV "
              f"{100 * m.first_peak_within:.1f}%")

    score("QM9 geometry vs its truth", Y[rows], from_qm9)
    score("SMILES (MMFF94) vs QM9 geometry's truth", Y[rows], from_smi)
    if truth_path is None:
        return
    sites, spectra = load_structure_datasets([truth_path])
    spectra = prepare(spectra, args)  # as the training targets
    if not np.allclose(spectra["energy"].values, energy):
        raise SystemExit(f"{truth_path}: energy grid differs from the training campaigns'")
    by_name = {molecule_of(s.label): j for j, s in enumerate(sites)}
    have = [j for j, st in enumerate(embedded) if molecule_of(st.label) in by_name]
    idx = [by_name[molecule_of(embedded[j].label)] for j in have]
    # the campaign embedded the same SMILES with the same seed: the same geometry
    moved = max(float(np.abs(sites[i].positions - embedded[j].positions).max())
                for i, j in zip(idx, have, strict=True)) if have else 0.0
    own = np.asarray(spectra.values, dtype=float)[idx] / args.scale
    print(f"  with the TDDFT truth of the MMFF94 geometries ({truth_path.name}: {len(have)} of "
          f"{len(keep)} molecules; largest coordinate difference to this embedding "
          f"{moved:.1e} Å):")
    score("QM9 geometry vs its truth", Y[rows[have]], from_qm9[have])
    score("SMILES (MMFF94) vs its own truth", own, from_smi[have])
    score("truth of MMFF94 vs truth of QM9 geometry", Y[rows[have]], own)
    # the same conformer or another: what bond lengths alone do to the truth
    r = np.asarray(rmsd)[have]
    for name, m in (("same conformer (RMSD < 0.3 Å)", r < 0.3),
                    ("other conformer (RMSD >= 0.3 Å)", r >= 0.3)):
        if m.any():
            score(f"  {name}, {m.sum()}", Y[rows[have]][m], own[m])
