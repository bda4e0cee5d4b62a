"""Writing FEFF10 XANES inputs (``feff.inp``) for one absorbing site.

Written here rather than with pymatgen's ``MPXANESSet`` because that puts the
finite cluster's atom counts in the POTENTIALS stoichiometry column; FEFF
uses the column for charge neutrality and the Fermi level, so it must hold
the compound's formula ratios (here: the reduced composition of the crystal
or of the molecule).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from ..errors import ParameterError

if TYPE_CHECKING:
    from pymatgen.core import Molecule, Structure

__all__ = ["FeffInputSpec", "build_input"]

Corehole = Literal["RPA", "FSR", "NONE"]
_ABSORBER_XNAT = 0.0001  # FEFF convention: the absorber's own weight is negligible


@dataclass(frozen=True)
class FeffInputSpec:
    """A generated ``feff.inp`` and what went into it.

    Attributes
    ----------
    text
        The input file.
    cards
        Control cards as ``{name: value string}`` (for provenance).
    potentials
        ``(ipot, Z, symbol, stoichiometry)`` rows.
    n_atoms
        Atoms in the cluster, absorber included.
    cluster_radius
        Radius of the cut cluster in Å.
    """

    text: str
    cards: dict[str, str]
    potentials: list[tuple[int, int, str, float]]
    n_atoms: int
    cluster_radius: float
    coords: np.ndarray = field(repr=False)


def _cluster(
    obj: Structure | Molecule, site: int, radius: float
) -> tuple[list[str], np.ndarray]:
    """Symbols and absorber-centred Cartesian coordinates (Å), sorted by distance."""
    from pymatgen.core import Molecule

    centre = obj[site].coords
    if isinstance(obj, Molecule):
        symbols = [s.specie.symbol for s in obj]
        coords = obj.cart_coords - centre
    else:
        sites = obj.get_sites_in_sphere(centre, radius, include_index=True)
        symbols = [s.specie.symbol for s in sites]
        coords = np.array([s.coords for s in sites]) - centre
    dist = np.linalg.norm(coords, axis=1)
    keep = dist <= radius + 1e-6
    order = np.argsort(dist[keep], kind="stable")
    sym = [symbols[i] for i in np.flatnonzero(keep)[order]]
    xyz = coords[keep][order]
    if dist[keep][order][0] > 1e-6 or sym[0] != obj[site].specie.symbol:
        raise ParameterError(f"site {site}: the absorber is not at the centre of its cluster")
    return sym, xyz


def build_input(
    obj: Structure | Molecule,
    site: int,
    *,
    scf_radius: float | None = 5.0,
    fms_radius: float = 7.0,
    cluster_radius: float | None = None,
    corehole: Corehole = "RPA",
    exchange: int = 0,
    s02: float = 1.0,
    scf_ca: float = 0.2,
    xanes_kmax: float = 4.5,
    max_atoms: int = 1000,
    title: str = "",
) -> FeffInputSpec:
    """Build the K-edge XANES input for absorbing site ``site``.

    Parameters
    ----------
    obj
        Crystal (the cluster is cut from the periodic lattice, images
        included) or molecule (the whole molecule is the cluster).
    site
        Index of the absorbing site.
    scf_radius
        Radius (Å) of the self-consistent potential cluster; ``None`` for
        non-self-consistent (overlapped atom) potentials.
    fms_radius
        Full-multiple-scattering radius (Å).
    cluster_radius
        Radius (Å) of the cut cluster; default ``fms_radius + 1``.
    corehole
        ``"RPA"`` (screened), ``"FSR"`` (final-state rule) or ``"NONE"``.
    exchange
        FEFF EXCHANGE ``ixc`` (0 Hedin–Lundqvist, 2 Dirac–Hara, 5 partially
        nonlocal).
    s02, scf_ca, xanes_kmax
        Amplitude reduction factor, SCF convergence (mixing) factor, XANES
        upper wavenumber (Å⁻¹ above E_F).
    max_atoms
        Largest cluster accepted (FEFF's arrays are bounded; FMS cost grows
        as atoms^2.2).

    Raises
    ------
    ParameterError
        Bad radius or site, or a cluster with more than ``max_atoms`` atoms.
    """
    from pymatgen.core import Element

    if not 0 <= site < len(obj):
        raise ParameterError(f"site index {site} out of range; the structure has {len(obj)} sites")
    if corehole not in ("RPA", "FSR", "NONE"):
        raise ParameterError(f"corehole must be 'RPA', 'FSR' or 'NONE'; found {corehole!r}")
    radius = fms_radius + 1.0 if cluster_radius is None else float(cluster_radius)
    for name, value in (("fms_radius", fms_radius), ("cluster_radius", radius)):
        if not (math.isfinite(value) and value > 0):
            raise ParameterError(f"{name} must be a positive number of Å; found {value!r}")
    if scf_radius is not None and not (math.isfinite(scf_radius) and scf_radius > 0):
        raise ParameterError(f"scf_radius must be a positive number of Å; found {scf_radius!r}")
    if fms_radius > radius:
        raise ParameterError(
            f"fms_radius {fms_radius} Å exceeds the cluster radius {radius} Å: "
            "FEFF would treat a truncated cluster"
        )
    symbols, xyz = _cluster(obj, site, radius)
    if len(symbols) > max_atoms:
        raise ParameterError(
            f"site {site} ({symbols[0]}): a {radius:g} Å cluster holds {len(symbols)} atoms, more "
            f"than max_atoms={max_atoms}; use a smaller cluster_radius/fms_radius"
        )
    if len(symbols) < 2:
        raise ParameterError(f"site {site}: no neighbours within {radius:g} Å")
    absorber = symbols[0]
    amounts = obj.composition.reduced_composition.get_el_amt_dict()
    # One potential per element present around the absorber; the absorber's own
    # element only if other atoms of it are in the cluster (FEFF stops on an
    # unused potential: "No atoms or overlap cards for unique pot").
    elements = sorted(set(symbols[1:]), key=lambda el: (el != absorber, -Element(el).Z, el))
    ipot = {el: i + 1 for i, el in enumerate(elements)}
    pots = [(0, Element(absorber).Z, absorber, _ABSORBER_XNAT)]
    pots += [(ipot[el], Element(el).Z, el, float(amounts[el])) for el in elements]

    cards: dict[str, str] = {
        "EDGE": "K",
        "S02": f"{s02:g}",
        "CONTROL": "1 1 1 1 1 1",
        "PRINT": "0 0 0 0 0 0",
        "EXCHANGE": f"{exchange:d} 0.0 0.0 0",
    }
    if corehole != "NONE":
        cards["COREHOLE"] = corehole
    else:
        cards["NOHOLE"] = ""
    if scf_radius is not None:
        cards["SCF"] = f"{scf_radius:g} 0 30 {scf_ca:g} 1"
    cards["FMS"] = f"{fms_radius:g} 0"
    cards["XANES"] = f"{xanes_kmax:g} 0.07 0.0"

    lines = [f"TITLE {title or obj.composition.reduced_formula} site {site} {absorber} K"]
    lines += [f"{k} {v}".rstrip() for k, v in cards.items()]
    lines += ["", "POTENTIALS", "*  ipot   Z  tag  lmax1  lmax2  stoichiometry"]
    lines += [f"   {i:4d} {z:3d}  {el:<4s}  -1  -1  {x:.6g}" for i, z, el, x in pots]
    lines += ["", "ATOMS", "*        x            y            z     ipot  tag   distance"]
    for k, (el, r) in enumerate(zip(symbols, xyz, strict=True)):
        p = 0 if k == 0 else ipot[el]
        lines.append(
            f"  {r[0]:12.6f} {r[1]:12.6f} {r[2]:12.6f} {p:4d}  {el:<4s} {np.linalg.norm(r):9.5f}"
        )
    lines += ["END", ""]
    return FeffInputSpec(
        text="\n".join(lines),
        cards=cards,
        potentials=pots,
        n_atoms=len(symbols),
        cluster_radius=radius,
        coords=xyz,
    )


def cards_dict(spec: FeffInputSpec) -> dict[str, Any]:
    """JSON-friendly summary of an input for provenance."""
    return {
        "cards": dict(spec.cards),
        "potentials": [list(p) for p in spec.potentials],
        "n_atoms": spec.n_atoms,
        "cluster_radius": spec.cluster_radius,
    }
