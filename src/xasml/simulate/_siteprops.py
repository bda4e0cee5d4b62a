"""Per-site descriptors of an absorbing atom (private to tddft).

The site properties follow Kiyohara, Miyata & Mizoguchi (*Sci. Rep.* 8, 13548,
2018; and Kiyohara et al., *J. Phys. Mater.* 3, 024003, 2020), which relate
core-loss spectra to average bond length, average bond angle, Voronoi volume,
bond overlap population, Mulliken charge and excitation energy. Molecular
analogues used here:

* **bonds** — atoms A and B are bonded when ``d_AB < 1.2 (r_A + r_B)`` with the
  covalent radii of Cordero et al. (*Dalton Trans.* 2008, 2832) as tabulated in
  :mod:`pyscf.data.radii`.
* **bond_length** — mean distance (Å) to the bonded neighbours.
* **bond_angle** — mean angle (degrees) neighbour–site–neighbour over all pairs
  of neighbours; for a site with one neighbour (a carbonyl O, a nitrile N) the
  mean angle site–neighbour–X over the neighbour's other neighbours X; NaN when
  neither exists (a diatomic), which is the only case without a defined angle.
* **voronoi_volume** — volume (Å³) of the site's Voronoi cell among all atoms,
  clipped by a sphere of the site's van der Waals radius (Bondi, via pyscf).
  The cell is star-shaped about the site, so the volume is
  ``∫ min(t(û), R)³/3 dΩ`` with ``t(û)`` the distance to the nearest bisector
  plane along ``û``, integrated with a 5810-point Lebedev rule.
* **bond_overlap_population** — mean Mulliken overlap population
  ``2 Σ_{μ∈A, ν∈B} P_μν S_μν`` over the bonded neighbours B (e).
* **mulliken_charge** — ``Z_A − Σ_{μ∈A} (PS)_μμ`` (e); the charges sum to the
  molecular charge.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__: list[str] = []

BOND_FACTOR = 1.2
_LEBEDEV_POINTS = 5810


def _radii(symbols: tuple[str, ...], table: str) -> np.ndarray:
    from ._pyscf_env import prepare_pyscf_blas

    prepare_pyscf_blas()
    from pyscf.data import elements, radii

    bohr = radii.BOHR
    tab = getattr(radii, table)
    return np.array([tab[elements.charge(s)] * bohr for s in symbols])


def bonded(symbols: tuple[str, ...], coords: np.ndarray) -> np.ndarray:
    """Boolean adjacency matrix, shape ``(n_atoms, n_atoms)``."""
    r = _radii(symbols, "COVALENT")
    d = np.linalg.norm(coords[:, None] - coords[None], axis=-1)
    adj = d < BOND_FACTOR * (r[:, None] + r[None])
    np.fill_diagonal(adj, False)
    return adj


def _angle(a: np.ndarray, o: np.ndarray, b: np.ndarray) -> float:
    u, v = a - o, b - o
    c = float(u @ v / (np.linalg.norm(u) * np.linalg.norm(v)))
    return float(np.degrees(np.arccos(np.clip(c, -1.0, 1.0))))


def geometry(symbols: tuple[str, ...], coords: np.ndarray, site: int) -> dict[str, float]:
    """Bond count, mean bond length (Å), mean bond angle (deg) and clipped Voronoi volume (Å³)."""
    adj = bonded(symbols, coords)
    nb = np.flatnonzero(adj[site])
    x = coords
    length = float(np.mean(np.linalg.norm(x[nb] - x[site], axis=1))) if nb.size else np.nan
    angles = [_angle(x[p], x[site], x[q]) for k, p in enumerate(nb) for q in nb[k + 1 :]]
    if not angles and nb.size == 1:
        j = nb[0]
        angles = [_angle(x[site], x[j], x[k]) for k in np.flatnonzero(adj[j]) if k != site]
    angle = float(np.mean(angles)) if angles else np.nan
    return {
        "n_bonds": float(nb.size),
        "bond_length": length,
        "bond_angle": angle,
        "voronoi_volume": voronoi_volume(symbols, coords, site),
    }


def voronoi_volume(symbols: tuple[str, ...], coords: np.ndarray, site: int) -> float:
    """Voronoi cell of ``site`` clipped by its van der Waals sphere, in Å³."""
    from ._pyscf_env import prepare_pyscf_blas

    prepare_pyscf_blas()
    from pyscf.dft import gen_grid

    radius = _radii((symbols[site],), "VDW")[0]
    grid = gen_grid.MakeAngularGrid(_LEBEDEV_POINTS)
    u = grid[:, :3]
    w = grid[:, 3] * (4.0 * np.pi / grid[:, 3].sum())  # pyscf's weights sum to 1
    d = np.delete(coords - coords[site], site, axis=0)
    if d.size == 0:
        return float(4.0 / 3.0 * np.pi * radius**3)
    proj = u @ d.T  # (n_dir, n_other)
    with np.errstate(divide="ignore"):
        t = np.where(proj > 0, 0.5 * np.einsum("jx,jx->j", d, d)[None] / proj, np.inf)
    r = np.minimum(t.min(axis=1), radius)
    return float(np.sum(w * r**3) / 3.0)


def mulliken(mf: Any) -> tuple[np.ndarray, np.ndarray]:
    """Mulliken charges ``(n_atoms,)`` and overlap populations ``(n_atoms, n_atoms)`` (e)."""
    pmol = mf.mol
    p = mf.make_rdm1()
    s = mf.get_ovlp()
    ps = p * s  # elementwise: P_μν S_μν
    sl = pmol.aoslice_by_atom()[:, 2:4]
    n = pmol.natm
    block = np.array([[ps[a0:a1, b0:b1].sum() for (b0, b1) in sl] for (a0, a1) in sl]).reshape(n, n)
    charges = pmol.atom_charges() - block.sum(axis=1)
    return charges, 2.0 * block


def site_properties(
    symbols: tuple[str, ...], coords: np.ndarray, mf: Any, sites: list[int]
) -> dict[str, np.ndarray]:
    """All descriptors for ``sites``; each value has shape ``(n_site,)``."""
    charges, overlap = mulliken(mf)
    adj = bonded(symbols, coords)
    rows = []
    for a in sites:
        g = geometry(symbols, coords, a)
        nb = np.flatnonzero(adj[a])
        g["bond_overlap_population"] = float(overlap[a, nb].mean()) if nb.size else 0.0
        g["mulliken_charge"] = float(charges[a])
        rows.append(g)
    return {k: np.array([r[k] for r in rows]) for k in rows[0]}
