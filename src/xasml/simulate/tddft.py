"""Molecular K-edge sticks from core-valence-separated TDDFT (engine: :mod:`.tddft_engine`).

Method: restricted Kohn-Sham ground state (default B3LYP/def2-SVP with density
fitting) and CVS Tamm-Dancoff excitations out of one absorbing 1s orbital at a
time into all virtual orbitals (see :mod:`xasml.simulate._cvs`), as used for
the QM9 O/N K-edge dataset of Carbone, Topsakal, Lu & Yoo (*Phys. Rev. Lett.*
124, 156401, 2020). Every site gives ``n_virtual`` sticks (energy, oscillator
strength); the molecular spectrum is their sum over the sites of the element.

Absolute energies: TDDFT core excitations lie too low by a functional- and
basis-dependent amount (self-interaction error). :data:`SHIFTS` holds constant
shifts per (functional, basis, element) fitted with :func:`fit_shift` (run
``python -m benchmarks.tddft_speed --calibrate``) as the mean of
``E_exp − E_calc`` for the first bright excitation of anchor molecules (QM9
geometries):

* O: H2O O 1s→4a1 534.0 eV, H2CO O 1s→π* 530.8 eV
  (Hitchcock & Brion, *J. Electron Spectrosc.* 18, 1, 1980; Schirmer et al.,
  *Phys. Rev. A* 47, 1136, 1993).
* N: NH3 N 1s→4a1 400.8 eV, HCN N 1s→π* 399.7 eV
  (Schirmer et al. 1993; Hitchcock & Brion, *J. Electron Spectrosc.* 15, 201, 1979).

Gaussian basis sets give a discrete pseudo-continuum above the ionisation
threshold, so spectra keep only ``window`` eV (default 10) above each site's
first excitation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from scipy.constants import physical_constants

from ..errors import ParameterError
from . import _cvs, _siteprops
from .molecules import Molecule, qm9_molecule

__all__ = [
    "SHIFTS",
    "ANCHORS",
    "GRIDS",
    "CoreExcitations",
    "broaden",
    "core_excitations",
    "fit_shift",
]

HARTREE_EV = physical_constants["Hartree energy in eV"][0]

# (xc, basis, element) -> shift in eV added to computed excitation energies;
# fitted with fit_shift() on ANCHORS, grid level 2, conv_tol 1e-8, density fitting; the
# defaults (grid level 1, conv_tol 1e-6) move first excitations by < 0.006 eV
# (benchmarks/tddft_speed.py), far below the 0.1-0.3 eV anchor residuals.
# Residuals (exp - calc - shift): B3LYP O H2O +0.29, H2CO -0.29; N NH3 +0.10, HCN -0.10.
SHIFTS: dict[tuple[str, str, str], float] = {
    ("b3lyp", "def2-svp", "O"): 14.13,
    ("b3lyp", "def2-svp", "N"): 11.77,
}

# element -> ((qm9 index, experimental energy eV, description), ...)
ANCHORS: dict[str, tuple[tuple[int, float, str], ...]] = {
    "O": ((3, 534.0, "H2O O1s->4a1"), (6, 530.8, "H2CO O1s->pi*")),
    "N": ((2, 400.8, "NH3 N1s->4a1"), (5, 399.7, "HCN N1s->pi*")),
}

# element -> fixed output grid (start, stop) in eV, covering onsets + window
GRIDS: dict[str, tuple[float, float]] = {"O": (525.0, 550.0), "N": (394.0, 419.0)}

Method = Literal["restricted", "pyscf"]
Shape = Literal["gaussian", "lorentzian"]
_BRIGHT = 1e-3  # oscillator strength that counts as a visible peak for calibration


@dataclass(frozen=True)
class CoreExcitations:
    """All CVS-TDA sticks of one element in one molecule.

    Attributes
    ----------
    molecule, element
        Input molecule and absorbing element symbol.
    sites
        Atom indices of the absorbing atoms, length ``n_site``.
    energies
        Excitation energies (eV) including ``shift``, shape ``(n_site, n_virtual)``,
        ascending per site.
    strengths
        Oscillator strengths (dimensionless), shape ``(n_site, n_virtual)``.
    shift
        Constant added to the computed energies (eV).
    properties
        Site descriptors (see :mod:`xasml.simulate._siteprops`) plus
        ``excitation_energy`` (first excitation, eV), each shape ``(n_site,)``.
    settings
        Functional, basis and numerical settings.
    """

    molecule: Molecule
    element: str
    sites: tuple[int, ...]
    energies: np.ndarray
    strengths: np.ndarray
    shift: float
    properties: dict[str, np.ndarray]
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def n_virtual(self) -> int:
        """Number of virtual orbitals (sticks per site)."""
        return int(self.energies.shape[1])

    def sticks(self, k: int, window: float | None = 10.0) -> tuple[np.ndarray, np.ndarray]:
        """Energies (eV) and strengths of site number ``k`` up to ``window`` eV above onset."""
        e, f = self.energies[k], self.strengths[k]
        keep = np.ones(e.size, bool) if window is None else e <= e[0] + window
        return e[keep], f[keep]


def broaden(
    energies: np.ndarray,
    strengths: np.ndarray,
    grid: np.ndarray,
    *,
    fwhm: float = 0.5,
    shape: Shape = "gaussian",
) -> np.ndarray:
    """Area-preserving broadening of sticks onto ``grid``.

    Parameters
    ----------
    energies, strengths
        Stick positions (eV) and weights, shape ``(n,)``.
    grid
        Output energies (eV), shape ``(m,)``.
    fwhm
        Full width at half maximum (eV) of the line shape.
    shape
        ``"gaussian"`` or ``"lorentzian"``.

    Returns
    -------
    numpy.ndarray
        Shape ``(m,)``, in strength per eV (integrates to ``sum(strengths)``
        when the grid covers the lines).
    """
    if not fwhm > 0:
        raise ParameterError(f"fwhm must be > 0 eV; found {fwhm}")
    x = np.asarray(grid, float)[:, None] - np.asarray(energies, float)[None]
    if shape == "gaussian":
        sigma = fwhm / (2.0 * np.sqrt(2.0 * np.log(2.0)))
        prof = np.exp(-0.5 * (x / sigma) ** 2) / (sigma * np.sqrt(2.0 * np.pi))
    elif shape == "lorentzian":
        g = 0.5 * fwhm
        prof = g / np.pi / (x**2 + g**2)
    else:
        raise ParameterError(f"shape must be 'gaussian' or 'lorentzian'; found {shape!r}")
    return np.asarray(prof @ np.asarray(strengths, float))


def default_shift(xc: str, basis: str, element: str) -> float | None:
    """The fitted shift (eV) for this functional, basis and element, or None."""
    return SHIFTS.get((xc.lower(), basis.lower(), element))


def core_excitations(
    molecule: Molecule,
    element: str,
    *,
    xc: str = "b3lyp",
    basis: str = "def2-svp",
    density_fit: bool = True,
    grid_level: int = 1,
    conv_tol: float = 1e-6,
    max_cycle: int = 100,
    method: Method = "restricted",
    xc_radius: float | None = 3.0,
    shift: float | None = None,
) -> CoreExcitations:
    """CVS-TDA K-edge sticks and site properties of every ``element`` atom.

    Parameters
    ----------
    molecule
        Closed-shell molecule.
    element
        Absorbing element symbol (``"O"``, ``"N"``, any atom with a 1s core).
    xc, basis, density_fit, grid_level, conv_tol, max_cycle
        Kohn-Sham settings passed to pyscf.
    method
        ``"restricted"``: J/K of the core density plus the xc kernel near the
        absorber (fast); ``"pyscf"``: ``pyscf.tdscf.rhf.get_ab`` with all other
        occupied orbitals frozen (reference, exact four-centre integrals).
    xc_radius
        Radius (bohr) around the absorber for the xc kernel (restricted only).
    shift
        Energy shift (eV); ``None`` takes :data:`SHIFTS` and 0 when the
        combination is not calibrated (recorded in ``settings["shift_calibrated"]``).

    Raises
    ------
    ParameterError
        The molecule has no ``element`` atom, or a setting is invalid.
    EngineError
        The SCF did not converge or pyscf is missing.
    """
    sites = molecule.sites(element)
    if not sites:
        raise ParameterError(
            f"molecule {molecule.name or molecule.symbols} has no {element!r} atom to absorb"
        )
    if method not in ("restricted", "pyscf"):
        raise ParameterError(f"method must be 'restricted' or 'pyscf'; found {method!r}")
    if molecule.n_atoms > 1 and (int(sum(_z(s) for s in molecule.symbols)) - molecule.charge) % 2:
        raise ParameterError(
            f"molecule {molecule.name!r} has an odd electron count; "
            "the restricted engine needs a closed shell"
        )
    mf = _cvs.run_scf(
        molecule,
        xc=xc,
        basis=basis,
        density_fit=density_fit,
        grid_level=grid_level,
        conv_tol=conv_tol,
        max_cycle=max_cycle,
    )
    c_loc, f_loc, core_idx = _cvs.core_orbitals(mf, sites)
    centers = mf.mol.atom_coords()
    energies, strengths = [], []
    for k, atom in enumerate(sites):
        if method == "pyscf":
            a = _cvs.a_matrix_pyscf(mf, c_loc, f_loc, core_idx, k)
        else:
            a = _cvs.a_matrix(mf, c_loc[:, k], f_loc[k, k], centers[atom], xc_radius=xc_radius)
        w, f = _cvs.solve(mf, a, c_loc[:, k])
        energies.append(w * HARTREE_EV)
        strengths.append(f)
    fitted = default_shift(xc, basis, element)
    used = shift if shift is not None else (fitted if fitted is not None else 0.0)
    e = np.array(energies) + used
    props = _siteprops.site_properties(molecule.symbols, molecule.coords, mf, sites)
    props["excitation_energy"] = e[:, 0].copy()
    settings = {
        "xc": xc,
        "basis": basis,
        "density_fit": density_fit,
        "grid_level": grid_level,
        "conv_tol": conv_tol,
        "method": method,
        "xc_radius": -1.0 if xc_radius is None else xc_radius,
        "shift_calibrated": (shift is None and fitted is not None) or shift == fitted,
        "e_tot": float(mf.e_tot),
    }
    return CoreExcitations(
        molecule, element, tuple(sites), e, np.array(strengths), used, props, settings
    )


def _z(symbol: str) -> int:
    from ._pyscf_env import prepare_pyscf_blas

    prepare_pyscf_blas()
    from pyscf.data import elements

    return int(elements.charge(symbol))


def fit_shift(
    element: str, *, anchors: Sequence[tuple[int, float, str]] | None = None, **settings: Any
) -> tuple[float, list[float]]:
    """Fit the constant energy shift of ``element`` on experimental anchors.

    The calculated energy of an anchor is its first excitation with oscillator
    strength above 1e-3 (the assigned peak). Returns the mean shift (eV) and the
    per-anchor residuals ``E_exp − (E_calc + shift)``.
    """
    table = ANCHORS[element] if anchors is None else anchors
    diffs = []
    for index, e_exp, _label in table:
        res = core_excitations(qm9_molecule(index), element, shift=0.0, **settings)
        e, f = res.energies[0], res.strengths[0]
        diffs.append(e_exp - float(e[np.argmax(f > _BRIGHT)]))
    s = float(np.mean(diffs))
    return s, [d - s for d in diffs]
