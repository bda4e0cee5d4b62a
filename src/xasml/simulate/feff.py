"""FEFF10 engine: K-edge XANES of one absorbing site of a crystal or molecule.

Real-space full-multiple-scattering XANES with FEFF10 (Rehr et al., *Phys.
Chem. Chem. Phys.* 12, 5503 (2010); Kas et al., *Phys. Chem. Chem. Phys.* 23,
13734 (2021)) through the ``feff10-rs`` Python package. This is the spectrum
source of Carbone et al., *Phys. Rev. Materials* 3, 033604 (2019) (FEFF9
K-edge XANES of 3d transition-metal oxides).

One call of :meth:`FeffEngine.simulate` = one absorbing site, run in its own
temporary directory (see :mod:`._feff_run`). A campaign over
``(structure, site)`` pairs (e.g. :func:`~xasml.simulate.structures.campaign_params`)
gives one spectrum per symmetry-inequivalent site; the material average is
the multiplicity-weighted mean (:meth:`FeffEngine.simulate_material`).

Energy axis
-----------
FEFF reports the absolute photon energy ``omega`` with its own computed
core level; spectra start just below the computed Fermi level E_F. The
output grid is fixed by the engine settings ``e_min``, ``e_max``,
``n_energy`` (eV) and ``energy_reference``:

* ``"edge"`` (default): ``omega − E_K``, E_K the tabulated K-edge energy of
  the absorber (xraydb, Elam tables). Keeps FEFF's chemical shift between
  oxidation states and puts all elements on one grid.
* ``"fermi"``: E − E_F of each site (drops the chemical shift).
* ``"absolute"``: ``omega`` itself, the grid being ``E_K(element) + [e_min,
  e_max]`` for the ``element`` setting (one absorbing element per engine).

A grid that starts above E_F (the edge outside it) raises: O in molecules has
E_F about 13 eV under its tabulated K edge, so it needs ``e_min`` ≈ −20 eV.
Below FEFF's first point (≈ 4–8 eV under E_F) the spectrum is continued by
its first value (FEFF's mu there is the small core-hole tail, < 5 % of the
step); a grid reaching above FEFF's last point raises (raise ``xanes_kmax``).
FEFF spectra lie 2–6 eV above experiment and lack the quadrupole pre-edge
(ENGINES.md): compare with measurements only after alignment.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import math
import shutil
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import xarray as xr

from ..datamodel import spectrum
from ..errors import EngineError, ParameterError
from ._feff_input import Corehole, FeffInputSpec, build_input, cards_dict
from ._feff_run import FEFF_ENV, FeffRun, read_xmu, run_feff

if TYPE_CHECKING:
    from pymatgen.core import Molecule, Structure

__all__ = ["FeffEngine", "k_edge_energy"]

EnergyReference = Literal["edge", "fermi", "absolute"]
_PASSTHROUGH = "label_"


def k_edge_energy(element: str) -> float:
    """Tabulated K-edge energy (eV) of ``element`` (xraydb, Elam et al. 2002)."""
    import xraydb

    try:
        return float(xraydb.xray_edge(element, "K").energy)
    except (ValueError, KeyError, AttributeError, TypeError):
        raise ParameterError(f"no tabulated K edge for element {element!r}") from None


class FeffEngine:
    """FEFF10 K-edge XANES of one absorbing site per call.

    Parameters
    ----------
    scf_radius
        Self-consistent potential radius in Å (default 5; ``None`` skips SCF:
        overlapped-atom potentials, ~10× cheaper, for tests and screening).
    fms_radius
        Full multiple scattering radius in Å (default 7). SCF 5 / FMS 7 Å
        keeps the normalised-mu RMS error below ~0.02 (ENGINES.md).
    cluster_radius
        Radius of the cut cluster (default ``fms_radius + 1``).
    corehole
        ``"RPA"`` (default), ``"FSR"`` or ``"NONE"``.
    exchange
        FEFF ``EXCHANGE`` index (0 = Hedin–Lundqvist, default).
    s02
        Amplitude reduction factor (default 1).
    scf_ca
        SCF convergence factors tried in turn: when SCF fails or does not
        converge, the site is rerun with the next, smaller one (default
        ``(0.2, 0.05)``; MnO needs 0.05).
    xanes_kmax
        Upper XANES wavenumber in Å⁻¹ above E_F (default 4.5 ≈ 77 eV).
    e_min, e_max, n_energy
        Output grid in eV relative to ``energy_reference`` (default −10 to
        60 eV, 281 points, 0.25 eV).
    energy_reference
        ``"edge"``, ``"fermi"`` or ``"absolute"`` (module docstring).
    element
        Absorbing element, required with ``energy_reference="absolute"``.
    timeout
        Seconds allowed per FEFF run (default 3600; ``None`` for no limit).
    max_atoms
        Largest cluster accepted (default 1000).
    work_root
        Folder for the temporary run directories (default: system temp).
    keep
        Keep each run directory (its path goes into the attrs).
    """

    name = "feff"
    version = "1.0"
    # Per-spectrum attrs that a campaign keeps as per-sample coordinates.
    sample_attrs = ("site", "fermi_energy", "edge_energy", "n_atoms", "padded_points", "seconds")

    def __init__(
        self,
        *,
        scf_radius: float | None = 5.0,
        fms_radius: float = 7.0,
        cluster_radius: float | None = None,
        corehole: Corehole = "RPA",
        exchange: int = 0,
        s02: float = 1.0,
        scf_ca: Sequence[float] = (0.2, 0.05),
        xanes_kmax: float = 4.5,
        e_min: float = -10.0,
        e_max: float = 60.0,
        n_energy: int = 281,
        energy_reference: EnergyReference = "edge",
        element: str | None = None,
        timeout: float | None = 3600.0,
        max_atoms: int = 1000,
        work_root: str | None = None,
        keep: bool = False,
    ) -> None:
        self.scf_radius = scf_radius
        self.fms_radius = fms_radius
        self.cluster_radius = cluster_radius
        self.corehole = corehole
        self.exchange = exchange
        self.s02 = s02
        self.scf_ca = tuple(scf_ca)
        self.xanes_kmax = xanes_kmax
        self.e_min = e_min
        self.e_max = e_max
        self.n_energy = n_energy
        self.energy_reference = energy_reference
        self.element = element
        self.timeout = timeout
        self.max_atoms = max_atoms
        self.work_root = work_root
        self.keep = keep
        self._check()

    def _check(self) -> None:
        if self.energy_reference not in ("edge", "fermi", "absolute"):
            raise ParameterError(
                "FeffEngine: energy_reference must be 'edge', 'fermi' or 'absolute'; "
                f"found {self.energy_reference!r}"
            )
        if self.energy_reference == "absolute" and not self.element:
            raise ParameterError("FeffEngine: energy_reference='absolute' needs element=")
        if not (self.e_max > self.e_min and self.n_energy >= 2):
            raise ParameterError(
                f"FeffEngine: need e_max > e_min and n_energy >= 2; found e_min={self.e_min}, "
                f"e_max={self.e_max}, n_energy={self.n_energy}"
            )
        if not self.scf_ca or not all(0 < c <= 1 for c in self.scf_ca):
            raise ParameterError(
                f"FeffEngine: scf_ca must be values in (0, 1]; found {self.scf_ca}"
            )

    # -- protocol -----------------------------------------------------------------
    def settings(self) -> dict[str, Any]:
        """Constructor settings, JSON-serialisable."""
        return {
            "scf_radius": self.scf_radius,
            "fms_radius": self.fms_radius,
            "cluster_radius": self.cluster_radius,
            "corehole": self.corehole,
            "exchange": self.exchange,
            "s02": self.s02,
            "scf_ca": list(self.scf_ca),
            "xanes_kmax": self.xanes_kmax,
            "e_min": self.e_min,
            "e_max": self.e_max,
            "n_energy": self.n_energy,
            "energy_reference": self.energy_reference,
            "element": self.element,
            "timeout": self.timeout,
            "max_atoms": self.max_atoms,
        }

    def provenance(self) -> dict[str, Any]:
        """Engine name and version, feff10-rs version, settings and FEFF environment."""
        try:
            feff_version = importlib.metadata.version("feff10-rs")
        except importlib.metadata.PackageNotFoundError:
            feff_version = "not installed"
        return {
            "engine": self.name,
            "version": self.version,
            "feff10_rs_version": feff_version,
            "settings": self.settings(),
            "feff_env": dict(FEFF_ENV),
        }

    @property
    def energy(self) -> np.ndarray:
        """Grid offsets in eV, shape ``(n_energy,)`` (absolute: add ``E_K(element)``)."""
        return np.linspace(self.e_min, self.e_max, self.n_energy)

    def grid(self, element: str) -> np.ndarray:
        """The output energy coordinate (eV) for absorber ``element``."""
        if self.energy_reference == "absolute":
            if element != self.element:
                raise ParameterError(
                    f"FeffEngine(energy_reference='absolute', element={self.element!r}) "
                    f"cannot simulate a {element!r} absorber on its fixed grid"
                )
            return k_edge_energy(element) + self.energy
        return self.energy

    # -- parameters ---------------------------------------------------------------
    def _resolve(self, params: Mapping[str, Any]) -> tuple[Structure | Molecule, int, str]:
        from .structures.sources import parse_structure

        allowed = {"structure", "site", "absorber"}
        unknown = sorted(k for k in params if k not in allowed and not k.startswith(_PASSTHROUGH))
        if unknown:
            raise ParameterError(
                f"feff engine: unknown parameter(s) {unknown}; expected 'structure' with 'site' "
                f"and/or 'absorber' (keys starting with {_PASSTHROUGH!r} are passed through)"
            )
        if "structure" not in params:
            raise ParameterError("feff engine: parameter 'structure' (JSON string or path) missing")
        obj = parse_structure(params["structure"])
        absorber = params.get("absorber")
        elements = sorted({s.specie.symbol for s in obj})
        if absorber is not None and absorber not in elements:
            raise ParameterError(
                f"feff engine: absorber {absorber!r} is not in {obj.composition.reduced_formula} "
                f"(elements {elements})"
            )
        if "site" in params:
            try:
                site = int(params["site"])
            except (TypeError, ValueError):
                raise ParameterError(
                    f"feff engine: 'site' must be an integer; found {params['site']!r}"
                ) from None
            if not 0 <= site < len(obj):
                raise ParameterError(
                    f"feff engine: site {site} out of range; "
                    f"{obj.composition.reduced_formula} has {len(obj)} sites"
                )
            symbol = obj[site].specie.symbol
            if absorber is not None and symbol != absorber:
                raise ParameterError(
                    f"feff engine: site {site} is {symbol}, not the requested absorber {absorber!r}"
                )
        elif absorber is not None:
            site = next(i for i, s in enumerate(obj) if s.specie.symbol == absorber)
        else:
            raise ParameterError("feff engine: give 'site' (index) or 'absorber' (element)")
        return obj, site, obj[site].specie.symbol

    def input_for(self, obj: Structure | Molecule, site: int, scf_ca: float) -> FeffInputSpec:
        """The ``feff.inp`` this engine writes for ``site`` (no FEFF run)."""
        return build_input(
            obj,
            site,
            scf_radius=self.scf_radius,
            fms_radius=self.fms_radius,
            cluster_radius=self.cluster_radius,
            corehole=self.corehole,
            exchange=self.exchange,
            s02=self.s02,
            scf_ca=scf_ca,
            xanes_kmax=self.xanes_kmax,
            max_atoms=self.max_atoms,
        )

    # -- running ------------------------------------------------------------------
    def _run_site(
        self, obj: Structure | Molecule, site: int
    ) -> tuple[np.ndarray, np.ndarray, float, FeffInputSpec, FeffRun, list[str], str]:
        attempts: list[str] = []
        label = f"site {site} ({obj[site].specie.symbol}) of {obj.composition.reduced_formula}"
        tries = self.scf_ca if self.scf_radius is not None else self.scf_ca[:1]
        for ca in tries:
            spec = self.input_for(obj, site, ca)
            work = Path(tempfile.mkdtemp(prefix="xasml-feff-", dir=self.work_root))
            try:
                (work / "feff.inp").write_text(spec.text)
                run = run_feff(work, self.timeout)
                scf_failed = self.scf_radius is not None and (
                    (not run.ok and run.stage == "pot") or (run.ok and not run.scf_converged)
                )
                if scf_failed:
                    why = run.message if not run.ok else "SCF did not converge in 30 iterations"
                    attempts.append(f"ca={ca:g}: {why}")
                    continue
                if not run.ok:
                    raise EngineError(
                        f"FEFF failed for {label} in stage {run.stage or '?'}: {run.error}; "
                        f"FEFF says: {run.message}"
                    )
                omega, mu, fermi = read_xmu(work / "xmu.dat")
                attempts.append(f"ca={ca:g}: ok" if self.scf_radius is not None else "no SCF")
                return omega, mu, fermi, spec, run, attempts, str(work) if self.keep else ""
            finally:
                if not self.keep:
                    shutil.rmtree(work, ignore_errors=True)
        raise EngineError(
            f"FEFF SCF failed for {label} with every convergence factor (stage pot): "
            + "; ".join(attempts)
        )

    def simulate(self, params: Mapping[str, Any]) -> xr.DataArray:
        """Compute the K-edge XANES of one absorbing site.

        Parameters
        ----------
        params
            ``structure``: pymatgen JSON string or a path (CIF, POSCAR, xyz,
            JSON); ``site``: index of the absorbing site, and/or
            ``absorber``: element (its first site when no ``site``). Keys
            starting with ``label_`` are ignored (they carry labels into a
            campaign's coordinates).

        Returns
        -------
        xarray.DataArray
            ``mu`` (FEFF's edge-step-normalised absorption), dimension
            ``energy`` on :meth:`grid`; attrs: element, edge, technique,
            signal, source, engine, engine_version, site, formula,
            structure_sha256, fermi_energy and edge_energy (absolute eV),
            energy_reference, feff_cards (JSON), scf_attempts, stage_seconds
            (JSON), n_atoms, padded_points.

        Raises
        ------
        ParameterError
            Bad parameters, an absorber missing from the structure, or a
            cluster too large.
        EngineError
            FEFF failed (message names site, stage and FEFF's own words).
        """
        import json

        obj, site, element = self._resolve(params)
        grid = self.grid(element)
        t0 = time.perf_counter()
        omega, mu, fermi, spec, run, attempts, kept = self._run_site(obj, site)
        e_k = k_edge_energy(element)
        if self.energy_reference == "edge":
            x = omega - e_k
        elif self.energy_reference == "fermi":
            x = omega - fermi
        else:
            x = omega
        if grid[-1] > x[-1] + 1e-9:
            raise EngineError(
                f"FEFF spectrum of site {site} ({element}) ends at {x[-1]:.1f} eV "
                f"({self.energy_reference} scale), below the grid end {grid[-1]:.1f} eV; "
                f"raise xanes_kmax (now {self.xanes_kmax})"
            )
        x_fermi = {"edge": fermi - e_k, "fermi": 0.0}.get(self.energy_reference, fermi)
        if grid[0] > x_fermi:
            # the whole grid is post-edge: light elements in molecules (O: E_F ~13 eV
            # under its tabulated K edge) would otherwise come back as a featureless tail
            raise EngineError(
                f"FEFF's Fermi level for site {site} ({element}) is at {x_fermi:.1f} eV "
                f"({self.energy_reference} scale), below the grid start {grid[0]:.1f} eV: "
                f"the edge is outside the grid; lower e_min (CLI: --e-min) to "
                f"{math.floor(x_fermi - 5):.0f} or less"
            )
        values = np.interp(grid, x, mu)  # constant continuation below FEFF's first point
        sha = hashlib.sha256(obj.to_json().encode()).hexdigest()
        return spectrum(
            grid,
            values,
            name="intensity",
            element=element,
            edge="K",
            technique="XAS",
            signal="mu",
            source=f"xasml.simulate.feff {self.version} (FEFF10)",
            engine=self.name,
            engine_version=self.version,
            site=site,
            formula=obj.composition.reduced_formula,
            structure_sha256=sha,
            fermi_energy=fermi,
            edge_energy=e_k,
            energy_reference=self.energy_reference,
            feff_cards=json.dumps(cards_dict(spec)),
            scf_attempts="; ".join(attempts),
            stage_seconds=json.dumps(run.stages),
            seconds=time.perf_counter() - t0,
            n_atoms=spec.n_atoms,
            padded_points=int(np.sum(grid < x[0])),
            work_dir=kept,
        )

    def simulate_material(
        self, structure: str | Structure | Molecule, absorber: str
    ) -> xr.DataArray:
        """Multiplicity-weighted mean over the inequivalent ``absorber`` sites.

        Sites are run one after the other; a campaign over
        :func:`~xasml.simulate.structures.campaign_params` runs them in
        parallel and gives the same mean with its ``label_weight``. Average
        on the ``"edge"`` or ``"absolute"`` scale: with ``"fermi"`` each site
        has its own zero and the chemical shift between sites is lost.

        Returns
        -------
        xarray.DataArray
            Dimension ``energy``; attrs as :meth:`simulate` plus ``sites`` and
            ``weights`` (JSON lists).
        """
        import json

        from .structures.labels import equivalent_sites
        from .structures.sources import parse_structure

        obj = parse_structure(structure) if isinstance(structure, str | Path) else structure
        sites = equivalent_sites(obj, absorber)
        if not sites:
            raise ParameterError(
                f"absorber {absorber!r} is not in {obj.composition.reduced_formula}"
            )
        text = obj.to_json()
        spectra = [self.simulate({"structure": text, "site": s}) for s in sites]
        w = np.array(list(sites.values()), dtype=float)
        w /= w.sum()
        mean = np.tensordot(w, np.stack([s.values for s in spectra]), axes=1)
        attrs = dict(spectra[0].attrs)
        attrs.update(sites=json.dumps(list(sites)), weights=json.dumps(w.tolist()))
        attrs["seconds"] = math.fsum(s.attrs["seconds"] for s in spectra)
        return spectrum(spectra[0]["energy"].values, mean, name="intensity", **attrs)
