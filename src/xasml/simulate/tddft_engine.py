"""The ``"tddft"`` engine: CVS-TDA sticks (:mod:`xasml.simulate.tddft`) as broadened spectra.

Adapts :func:`~xasml.simulate.tddft.core_excitations` to the engine protocol of
:mod:`xasml.simulate.base`: a campaign's ``params`` name a molecule (QM9 index,
xyz text or SMILES), an element and a site, and come back as one spectrum on the
element's fixed grid with the site properties as coordinates.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import numpy as np
import xarray as xr

from ..datamodel import concat, spectrum
from ..errors import ParameterError
from .molecules import Molecule, from_smiles, parse_xyz, qm9_molecule
from .tddft import GRIDS, CoreExcitations, Method, Shape, broaden, core_excitations, default_shift

__all__ = ["TDDFTEngine", "molecule_from_params"]


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
