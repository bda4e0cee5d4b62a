"""Core-valence-separated TDA for one absorbing 1s orbital (private to tddft).

Ground state: restricted Kohn-Sham with pyscf. Excited states: the CVS
approximation (Cederbaum, Domcke & Schirmer, *Phys. Rev. A* 22, 206, 1980;
for TDDFT Stener, Fronzoni & de Simone, *Chem. Phys. Lett.* 373, 115, 2003)
keeps only excitations out of the absorber's 1s orbital into all virtuals, so
the TDA matrix is ``n_vir × n_vir`` per site and is diagonalised densely.

Per-site orbitals: the occupied 1s orbitals of the absorbing element span a
small subspace of the canonical occupied space; in it, each site's core
orbital is the eigenvector of that atom's Mulliken projector with the largest
eigenvalue, and the set is Löwdin-orthonormalised. For a single atom of the
element this is the canonical 1s orbital. A rotation inside the occupied space
leaves the ground-state density unchanged, so each site is a CVS-TDA problem
with one active occupied orbital ``i`` whose orbital energy is ``F_ii``.

Restricted singlet TDA matrix (atomic units), with ``c_x`` the exact-exchange
fraction and ``f_xc`` the xc kernel of the total density::

    A_ab = δ_ab (ε_a − F_ii) + 2 (ia|ib) − c_x (ii|ab) + 2 ∫ ρ_ia f_xc ρ_ib

``(ia|ib)`` and ``(ii|ab)`` are the virtual blocks of K and J built from the
density ``c_i c_iᵀ`` (one J/K build per site, density-fitted when the SCF is).
Because ``ρ_ia = φ_i φ_a`` vanishes where the 1s orbital does, the xc integral
only needs grid points within ``xc_radius`` bohr of the absorber.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.linalg

from ..errors import EngineError, ParameterError
from .molecules import Molecule

__all__: list[str] = []


def run_scf(
    mol: Molecule,
    *,
    xc: str,
    basis: str,
    density_fit: bool,
    grid_level: int,
    conv_tol: float,
    max_cycle: int,
) -> Any:
    """Converged restricted Kohn-Sham object; EngineError when it does not converge."""
    from ._pyscf_env import prepare_pyscf_blas

    prepare_pyscf_blas()
    from pyscf import dft, gto

    atoms = [
        (s, tuple(float(v) for v in xyz)) for s, xyz in zip(mol.symbols, mol.coords, strict=True)
    ]
    try:
        pmol = gto.M(atom=atoms, basis=basis, charge=mol.charge, spin=0, unit="Angstrom", verbose=0)
    except (RuntimeError, KeyError, ValueError) as exc:
        raise ParameterError(
            f"cannot build molecule {mol.name!r} with basis {basis!r}: {exc}"
        ) from None
    mf = dft.RKS(pmol)
    mf.xc = xc
    if density_fit:
        mf = mf.density_fit()
    mf.grids.level = grid_level
    mf.conv_tol = conv_tol
    mf.max_cycle = max_cycle
    mf.verbose = 0
    try:
        mf.kernel()
    except (KeyError, ValueError) as exc:
        raise ParameterError(f"xc functional {xc!r} not understood by pyscf: {exc}") from None
    if not mf.converged:
        raise EngineError(
            f"SCF of {mol.name or 'molecule'} ({xc}/{basis}) did not converge in "
            f"{max_cycle} cycles to conv_tol={conv_tol:g}; last energy {mf.e_tot:.8f} Ha"
        )
    return mf


def _atom_slices(pmol: Any) -> np.ndarray:
    return np.asarray(pmol.aoslice_by_atom()[:, 2:4])


def core_orbitals(mf: Any, sites: list[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Localised 1s orbitals of ``sites`` (all atoms of one element).

    Returns
    -------
    c_loc : (n_ao, n_site) localised core orbitals, one column per site
    f_loc : (n_site, n_site) Fock matrix in that basis (Ha)
    core_idx : (n_site,) indices of the canonical core MOs they span
    """
    pmol = mf.mol
    s = mf.get_ovlp()
    occ = np.flatnonzero(mf.mo_occ > 0)
    c_occ = mf.mo_coeff[:, occ]
    sc = s @ c_occ
    sl = _atom_slices(pmol)
    # Mulliken population of each occupied MO on the absorbing atoms
    pop = np.zeros(occ.size)
    for a in sites:
        p0, p1 = sl[a]
        pop += np.einsum("mk,mk->k", c_occ[p0:p1], sc[p0:p1])
    order = np.argsort(mf.mo_energy[occ])
    core_local = [k for k in order if pop[k] > 0.5][: len(sites)]
    if len(core_local) < len(sites):
        raise EngineError(
            f"found {len(core_local)} core orbitals on the {len(sites)} absorbing atoms; "
            "expected one 1s orbital per atom"
        )
    core_idx = occ[np.array(core_local)]
    cc = mf.mo_coeff[:, core_idx]
    vecs = []
    for a in sites:
        p0, p1 = sl[a]
        proj = cc[p0:p1].T @ (s @ cc)[p0:p1]
        w, v = np.linalg.eigh(0.5 * (proj + proj.T))
        vecs.append(v[:, -1])
    u = np.array(vecs).T
    ovl = u.T @ u
    w, v = np.linalg.eigh(ovl)
    u = u @ (v / np.sqrt(w)) @ v.T  # Löwdin orthonormalisation
    c_loc = cc @ u
    f_loc = u.T @ np.diag(mf.mo_energy[core_idx]) @ u
    return c_loc, f_loc, core_idx


def _xc_coeffs(mf: Any) -> tuple[str, float, float]:
    ni = mf._numint
    omega, _alpha, hyb = ni.rsh_and_hybrid_coeff(mf.xc, mf.mol.spin)
    return ni._xc_type(mf.xc), float(omega), float(hyb)


def a_matrix(
    mf: Any,
    c_i: np.ndarray,
    f_ii: float,
    center: np.ndarray,
    *,
    exact_eri: bool = False,
    xc_radius: float | None = 3.0,
) -> np.ndarray:
    """Restricted CVS-TDA matrix for one core orbital, shape ``(n_vir, n_vir)`` (Ha).

    Parameters
    ----------
    c_i
        Core orbital coefficients, shape ``(n_ao,)``.
    f_ii
        Its Fock expectation value (Ha).
    center
        Absorber position (bohr), shape ``(3,)``.
    exact_eri
        Use four-centre integrals for J/K (as pyscf's ``get_ab``) instead of
        the SCF's density fitting.
    xc_radius
        Evaluate the xc kernel only on grid points within this distance (bohr)
        of ``center``; ``None`` uses the whole grid.
    """
    from ._pyscf_env import prepare_pyscf_blas

    prepare_pyscf_blas()
    from pyscf import scf

    xctype, omega, hyb = _xc_coeffs(mf)
    if omega != 0 or xctype not in ("LDA", "GGA", "HF"):
        raise ParameterError(
            f"the restricted A-matrix build supports LDA/GGA (hybrid) functionals; "
            f"{mf.xc!r} is {xctype} with omega={omega}: use method='pyscf'"
        )
    pmol = mf.mol
    vir = mf.mo_occ == 0
    cv = mf.mo_coeff[:, vir]
    ev = mf.mo_energy[vir]
    if exact_eri or not hasattr(mf, "with_df"):
        vj, vk = scf.hf.get_jk(pmol, np.outer(c_i, c_i), hermi=1)
        j_vv, k_vv = cv.T @ vj @ cv, cv.T @ vk @ cv
    else:
        j_vv, k_vv = _df_jk_rank1(mf.with_df, c_i, cv)
    a = np.diag(ev - f_ii) + 2.0 * k_vv - hyb * j_vv
    if xctype != "HF":
        a += _xc_block(mf, c_i, cv, center, xctype, xc_radius)
    return 0.5 * (a + a.T)


def _df_jk_rank1(with_df: Any, c_i: np.ndarray, cv: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(a|J|b)`` and ``(a|K|b)`` over virtuals for the density ``c_i c_iᵀ``, by density fitting.

    With the fitted factors L^P: K = Σ_P (L^P c_i)(L^P c_i)ᵀ and J = Σ_P (c_iᵀ L^P c_i) L^P,
    so only ``(naux, n_ao)`` products are formed: pyscf's generic ``get_jk`` treats the
    rank-1 density as a full matrix and was 2/3 of the A-matrix cost.
    """
    from pyscf import lib

    nao = c_i.size
    bv = []
    j_ao = np.zeros((nao, nao))
    for blk in with_df.loop():
        lp = lib.unpack_tril(blk).reshape(-1, nao, nao)  # (naux_blk, nao, nao)
        b = lp @ c_i  # (naux_blk, nao)
        r = b @ c_i
        j_ao += np.tensordot(r, lp, axes=1)
        bv.append(b @ cv)
    b_v = np.concatenate(bv)  # (naux, n_vir)
    return cv.T @ j_ao @ cv, b_v.T @ b_v


def _xc_block(
    mf: Any,
    c_i: np.ndarray,
    cv: np.ndarray,
    center: np.ndarray,
    xctype: str,
    radius: float | None,
) -> np.ndarray:
    ni = mf._numint
    coords = mf.grids.coords
    weights = mf.grids.weights
    if radius is not None:
        near = np.einsum("gx,gx->g", coords - center, coords - center) < radius**2
        coords, weights = coords[near], weights[near]
    dm0 = mf.make_rdm1()
    deriv = 1 if xctype == "GGA" else 0
    out = np.zeros((cv.shape[1], cv.shape[1]))
    for g0 in range(0, len(weights), 4000):
        sl = slice(g0, g0 + 4000)
        ao = ni.eval_ao(mf.mol, coords[sl], deriv=deriv)
        rho = ni.eval_rho(mf.mol, ao, dm0, xctype=xctype)
        fxc = ni.eval_xc_eff(mf.xc, rho, deriv=2, xctype=xctype)[2]
        if xctype == "LDA":
            phi_i = ao @ c_i
            rho_ia = phi_i[:, None] * (ao @ cv)
            out += 2.0 * rho_ia.T @ (rho_ia * (fxc[0, 0] * weights[sl])[:, None])
        else:
            phi_i = ao @ c_i  # (4, g)
            phi_v = ao @ cv  # (4, g, a), BLAS (einsum here was 1/3 of the cost)
            rho_ia = phi_i[0][None, :, None] * phi_v
            rho_ia[1:4] += phi_i[1:4, :, None] * phi_v[0][None]
            kern = fxc * weights[sl]
            w_ia = np.zeros_like(rho_ia)
            for x in range(4):
                for y in range(4):
                    w_ia[y] += kern[x, y][:, None] * rho_ia[x]
            nv = cv.shape[1]  # contraction over (x, g) as one BLAS product
            out += 2.0 * w_ia.reshape(-1, nv).T @ rho_ia.reshape(-1, nv)
    return out


def a_matrix_pyscf(
    mf: Any, c_loc: np.ndarray, f_loc: np.ndarray, core_idx: np.ndarray, site: int
) -> np.ndarray:
    """The same matrix from pyscf's ``get_ab`` with every other occupied orbital frozen."""
    from ._pyscf_env import prepare_pyscf_blas

    prepare_pyscf_blas()
    from pyscf.tdscf import rhf as tdrhf

    mo = mf.mo_coeff.copy()
    e = mf.mo_energy.copy()
    mo[:, core_idx] = c_loc
    e[core_idx] = np.diag(f_loc)
    active = core_idx[site]
    frozen = [k for k in np.flatnonzero(mf.mo_occ > 0) if k != active]
    a, _ = tdrhf.get_ab(mf, frozen=frozen, mo_energy=e, mo_coeff=mo, mo_occ=mf.mo_occ)
    nv = a.shape[1]
    return np.asarray(a).reshape(nv, nv)


def solve(mf: Any, a: np.ndarray, c_i: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Excitation energies (Ha) and oscillator strengths of one CVS-TDA block.

    Oscillator strength of a singlet ``f_n = 2/3 ω_n |√2 Σ_a X_an ⟨i|r|a⟩|²``
    with ``X`` normalised to one (length gauge).
    """
    w, x = scipy.linalg.eigh(a)
    cv = mf.mo_coeff[:, mf.mo_occ == 0]
    dip = mf.mol.intor_symmetric("int1e_r", comp=3)
    mu = np.einsum("xpq,p,qa->xa", dip, c_i, cv)
    tdip = np.sqrt(2.0) * (mu @ x)  # (3, n_state)
    f = 2.0 / 3.0 * w * np.einsum("xn,xn->n", tdip, tdip)
    return w, f
