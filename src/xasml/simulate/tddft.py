"""Molecular K-edge spectra from core-valence-separated TDDFT (engine ``"tddft"``).

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

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import xarray as xr
from scipy.constants import physical_constants

from ..datamodel import concat, spectrum
from ..errors import ParameterError
from . import _cvs, _siteprops
from .molecules import Molecule, from_smiles, parse_xyz, qm9_molecule

__all__ = [
    "SHIFTS",
    "ANCHORS",
    "GRIDS",
    "CoreExcitations",
    "TDDFTEngine",
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


class TDDFTEngine:
    """Engine ``"tddft"``: molecular K-edge XAS from CVS-TDA (see module docstring).

    Parameters (``params`` of :meth:`simulate`, JSON scalars)
    ----------------------------------------------------------
    qm9_index | xyz | smiles
        The molecule: a QM9 index, xyz text (Å), or a SMILES (needs RDKit).
    charge
        Total charge (default 0; ignored for QM9).
    element
        ``"O"`` or ``"N"`` (any key of :data:`GRIDS`).
    site
        Atom index (0-based, in the molecule's atom order) of one absorbing
        atom, or ``"all"`` (default) for the sum over all atoms of ``element``.

    Settings (constructor keywords) are those of :func:`core_excitations` plus
    ``fwhm`` (eV), ``shape`` and ``window`` (eV above each site's onset) for
    broadening onto the element's grid in :data:`GRIDS` with spacing ``step``,
    and ``shifts`` (element -> eV) for functional/basis pairs not in :data:`SHIFTS`.

    Raises
    ------
    ParameterError
        (from :meth:`simulate`) bad params, or no energy shift is known for the
        functional, basis and element: the spectrum would fall off the grid.
    """

    name = "tddft"

    def __init__(
        self,
        *,
        xc: str = "b3lyp",
        basis: str = "def2-svp",
        density_fit: bool = True,
        grid_level: int = 1,
        conv_tol: float = 1e-6,
        max_cycle: int = 100,
        method: Method = "restricted",
        xc_radius: float | None = 3.0,
        fwhm: float = 0.5,
        shape: Shape = "gaussian",
        window: float = 10.0,
        step: float = 0.1,
        shifts: Mapping[str, float] | None = None,
    ) -> None:
        self.xc = xc
        self.basis = basis
        self.density_fit = density_fit
        self.grid_level = grid_level
        self.conv_tol = conv_tol
        self.max_cycle = max_cycle
        self.method = method
        self.xc_radius = xc_radius
        self.fwhm = fwhm
        self.shape = shape
        self.window = window
        self.step = step
        self.shifts = shifts
        # The last calculation, keyed by its params without "site": a campaign of
        # one parameter set per (molecule, site) then runs each molecule once.
        self._last: tuple[str, CoreExcitations] | None = None

    def provenance(self) -> dict[str, Any]:
        """Engine name, pyscf version and all settings (JSON-serialisable)."""
        from ._pyscf_env import prepare_pyscf_blas

        prepare_pyscf_blas()
        import pyscf

        settings = {
            "xc": self.xc,
            "basis": self.basis,
            "density_fit": self.density_fit,
            "grid_level": self.grid_level,
            "conv_tol": self.conv_tol,
            "max_cycle": self.max_cycle,
            "method": self.method,
            "xc_radius": self.xc_radius,
            "fwhm": self.fwhm,
            "shape": self.shape,
            "window": self.window,
            "step": self.step,
            "shifts": None if self.shifts is None else dict(self.shifts),
        }
        import os

        return {"engine": self.name, "version": f"pyscf {pyscf.__version__}", "settings": settings,
                "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE")}

    def grid(self, element: str) -> np.ndarray:
        """The fixed output energy grid (eV) of ``element``."""
        if element not in GRIDS:
            raise ParameterError(f"element must be one of {sorted(GRIDS)}; found {element!r}")
        lo, hi = GRIDS[element]
        return np.linspace(lo, hi, round((hi - lo) / self.step) + 1)

    def excitations(self, params: Mapping[str, Any]) -> CoreExcitations:
        """Run the calculation for ``params`` and return all sticks and site properties.

        The result of the last call is reused when only ``site`` differs.
        """
        rest = {k: v for k, v in params.items() if k != "site"}
        memo = json.dumps(rest, sort_keys=True, default=repr)
        if self._last is not None and self._last[0] == memo:
            return self._last[1]
        res = self._excitations(params)
        self._last = (memo, res)
        return res

    def _excitations(self, params: Mapping[str, Any]) -> CoreExcitations:
        element = str(params.get("element"))
        self.grid(element)
        shift = (self.shifts or {}).get(element, default_shift(self.xc, self.basis, element))
        if shift is None:
            raise ParameterError(
                f"no calibrated energy shift for {self.xc}/{self.basis} at the {element} K edge; "
                "pass shifts={element: eV} (fit one with xasml.simulate.tddft.fit_shift)"
            )
        return core_excitations(
            molecule_from_params(params),
            str(element),
            xc=self.xc,
            basis=self.basis,
            density_fit=self.density_fit,
            grid_level=self.grid_level,
            conv_tol=self.conv_tol,
            max_cycle=self.max_cycle,
            method=self.method,
            xc_radius=self.xc_radius,
            shift=shift,
        )

    def simulate(self, params: Mapping[str, Any]) -> xr.DataArray:
        """One broadened spectrum (oscillator strength per eV on the element's grid).

        Site properties, ``molecule``, ``smiles``, ``site`` and ``n_sites`` are
        scalar coordinates (per-sample labels); ``attrs`` hold the provenance,
        the shift and the sticks (``stick_energy`` eV, ``stick_strength``) within
        ``window``. For ``site="all"`` the spectrum is the sum over sites and each
        property the mean over sites.
        """
        res = self.excitations(params)
        site = params.get("site", "all")
        if site == "all":
            ks = list(range(len(res.sites)))
        elif (site := _as_index(site)) is not None:
            if site not in res.sites:
                raise ParameterError(
                    f"site {site} is not a {res.element} atom of {res.molecule.name!r}; "
                    f"{res.element} atoms are {list(res.sites)}"
                )
            ks = [res.sites.index(site)]
        else:
            raise ParameterError(f"site must be an atom index or 'all'; found {site!r}")
        return self._to_spectrum(res, ks, params)

    def simulate_sites(self, params: Mapping[str, Any]) -> xr.DataArray:
        """Per-site spectra ``(sample, energy)`` with site properties as coordinates."""
        res = self.excitations(params)
        spectra = [self._to_spectrum(res, [k], params) for k in range(len(res.sites))]
        labels = {
            str(name): [sp.coords[name].item() for sp in spectra]
            for name in spectra[0].coords
            if name != "energy"
        }
        return concat(spectra, labels=labels)

    def _to_spectrum(
        self, res: CoreExcitations, ks: list[int], params: Mapping[str, Any]
    ) -> xr.DataArray:
        # attrs: what one campaign shares (provenance, edge, shift) plus the sticks;
        # per-sample labels (molecule, site, site properties) are scalar coordinates.
        grid = self.grid(res.element)
        es, fs = zip(*(res.sticks(k, self.window) for k in ks), strict=True)
        y = sum(
            broaden(e, f, grid, fwhm=self.fwhm, shape=self.shape)
            for e, f in zip(es, fs, strict=True)
        )
        prov = self.provenance()
        da = spectrum(
            grid,
            np.asarray(y),
            name="intensity",
            engine=prov["engine"],
            engine_version=prov["version"],
            xc=self.xc,
            basis=self.basis,
            element=res.element,
            edge="K",
            technique="XAS",
            signal="oscillator_strength_per_eV",
            source=f"tddft:{res.molecule.name}",
            fwhm=self.fwhm,
            shift=res.shift,
            shift_calibrated=int(bool(res.settings["shift_calibrated"])),
            stick_energy=np.concatenate(es).tolist(),
            stick_strength=np.concatenate(fs).tolist(),
        )
        labels: dict[str, Any] = {
            "molecule": res.molecule.name,
            "smiles": res.molecule.smiles or "",
            "site": int(res.sites[ks[0]]) if len(ks) == 1 else -1,
            "n_sites": len(ks),
        }
        for key, val in res.properties.items():
            labels[key] = float(np.mean(val[ks]))
        return da.assign_coords(labels)


def molecule_from_params(params: Mapping[str, Any]) -> Molecule:
    """The molecule named by ``qm9_index``, ``xyz`` or ``smiles`` in ``params``."""
    given = [k for k in ("qm9_index", "xyz", "smiles") if params.get(k) is not None]
    if len(given) != 1:
        raise ParameterError(
            f"params must give exactly one of 'qm9_index', 'xyz', 'smiles'; found {given or 'none'}"
        )
    charge = params.get("charge", 0)
    if given[0] == "qm9_index":
        index = _as_index(params["qm9_index"])
        if index is None:
            raise ParameterError(f"qm9_index must be an integer; found {params['qm9_index']!r}")
        return qm9_molecule(index)
    if given[0] == "xyz":
        return parse_xyz(str(params["xyz"]), source="params['xyz']", charge=int(charge))
    mol = from_smiles(str(params["smiles"]))
    return mol


def _as_index(value: Any) -> int | None:
    """An integer parameter, or None; campaign designs store numbers as floats (3.0 -> 3)."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return int(value)
    return None
