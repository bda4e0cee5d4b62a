"""Labels of an absorbing site computed from its structure.

For each absorbing site: coordination number (CN), local geometry, oxidation
state and mean nearest-neighbour distance — the three targets of
Carbone et al., *Phys. Rev. Materials* 3, 033604 (2019) ("Classification of
local chemical environments from x-ray absorption spectra using supervised
machine learning") plus a bond length.

Methods
-------
* Neighbours: pymatgen :class:`~pymatgen.analysis.local_env.CrystalNN`
  (Pan et al., *Inorg. Chem.* 60, 1590 (2021)), on the structure decorated
  with the oxidation states below so that it uses ionic radii.
  Molecules whose atoms near the site all have tabulated bond lengths
  (organic molecules: H, C, N, O, F ...) take pymatgen's covalent bonds
  instead (ionic radii give water's O no H neighbours); molecular ions with
  a metal (CrO4 2-) keep CrystalNN.
* Geometry: pymatgen :class:`~pymatgen.analysis.local_env.LocalStructOrderParams`
  (Zimmermann et al., *Front. Mater.* 4, 34 (2017)), scores in [0, 1] for the
  ideal polyhedra; the label is the best-scoring polyhedron among those with
  the site's CN (e.g. CN 4: tetrahedral vs square planar).
* Oxidation state: pymatgen :class:`~pymatgen.analysis.bond_valence.BVAnalyzer`
  (bond valence sums, O'Keeffe & Brese 1991) for crystals. When it fails (and
  always for molecules) the rule is charge balance:
  :meth:`pymatgen.core.Composition.oxi_state_guesses` with the molecule's
  charge, taking the most probable assignment — for crystals with an
  :class:`~xasml.errors.XasmlWarning`.

Molecules are placed in a large empty box so that the crystal methods apply.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ...errors import ParameterError, XasmlWarning

if TYPE_CHECKING:
    from pymatgen.core import Molecule, Structure

__all__ = [
    "GEOMETRIES",
    "SiteLabels",
    "absorber_labels",
    "equivalent_sites",
    "oxidation_states",
    "site_labels",
]

# LocalStructOrderParams type -> label, grouped by coordination number.
GEOMETRIES: dict[int, dict[str, str]] = {
    3: {"tri_plan": "trigonal_planar", "tri_pyr": "trigonal_pyramidal", "T": "t_shaped"},
    4: {"tet": "tetrahedral", "sq_plan": "square_planar", "see_saw_rect": "see_saw"},
    5: {"sq_pyr": "square_pyramidal", "tri_bipyr": "trigonal_bipyramidal"},
    6: {"oct": "octahedral"},  # trigonal prism has no order parameter in pymatgen
}
_BOX_PAD = 20.0  # Å of vacuum around a molecule: far beyond any CrystalNN cutoff


@dataclass(frozen=True)
class SiteLabels:
    """Labels of one absorbing site.

    Attributes
    ----------
    site
        Index of the site in the structure.
    element
        Element symbol of the site.
    cn
        Coordination number (CrystalNN).
    geometry
        Best-scoring ideal polyhedron for this CN (``"octahedral"`` ...) or
        ``"other"`` when none is defined for the CN.
    geometry_score
        Its order-parameter score in [0, 1] (1 = ideal).
    scores
        All polyhedron scores for this CN, ``{label: score}``.
    oxidation_state
        Formal oxidation state of the site (may be fractional for the
        charge-balance rule on mixed-valence compounds).
    oxidation_method
        ``"bv"`` (bond valence) or ``"charge_balance"``.
    mean_nn_distance
        Mean absorber–neighbour distance in Å.
    neighbours
        Element symbols of the neighbours, sorted by distance.
    multiplicity
        Number of symmetry-equivalent sites this one stands for (1 unless
        computed by :func:`absorber_labels`).
    """

    site: int
    element: str
    cn: int
    geometry: str
    geometry_score: float
    scores: dict[str, float]
    oxidation_state: float
    oxidation_method: str
    mean_nn_distance: float
    neighbours: tuple[str, ...]
    multiplicity: int = 1
    provenance: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON-serialisable dictionary of all fields."""
        out = asdict(self)
        out["neighbours"] = list(self.neighbours)
        return out


def _periodic(obj: Structure | Molecule) -> Structure:
    """The structure itself, or a molecule boxed in vacuum."""
    from pymatgen.core import Molecule, Structure

    if not isinstance(obj, Molecule):
        return obj
    a, b, c = (float(x) for x in np.ptp(obj.cart_coords, axis=0) + _BOX_PAD)
    boxed = obj.get_boxed_structure(a, b, c)  # type: ignore[arg-type]
    return Structure.from_sites(boxed.sites)


_COVALENT = "pymatgen CovalentBond (tabulated bond lengths, tol 0.2)"


def _covalent_neighbours(obj: Structure | Molecule, site: int) -> list[Any] | None:
    """Covalently bonded neighbours of a site of a molecule; ``None`` to use CrystalNN.

    CrystalNN with ionic radii suits oxides and ions (CrO4 2-), not organic
    molecules: it gave water's O one neighbour and no H. Molecules whose every
    pair has tabulated bond lengths (H, C, N, O, F ...) take pymatgen's
    covalent bonds instead; a pair without data (Cr–O) keeps CrystalNN.
    """
    from pymatgen.core import Molecule
    from pymatgen.core.bonds import CovalentBond

    if not isinstance(obj, Molecule):
        return None
    out = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for other in obj.get_neighbors(obj[site], 3.0):
            try:
                if CovalentBond.is_bonded(obj[site], other, tol=0.2):
                    out.append(other)
            except ValueError:  # no bond data for this pair
                return None
    return out


def oxidation_states(obj: Structure | Molecule) -> tuple[list[float], str]:
    """Oxidation state of every site and the method that gave them.

    Parameters
    ----------
    obj
        pymatgen ``Structure`` (bond valence, charge balance as fallback) or
        ``Molecule`` (charge balance with ``obj.charge``).

    Returns
    -------
    states, method
        One value per site; ``"bv"`` or ``"charge_balance"``.

    Raises
    ------
    ParameterError
        No charge-balanced assignment exists.
    """
    from pymatgen.core import Molecule

    if not isinstance(obj, Molecule):
        from pymatgen.analysis.bond_valence import BVAnalyzer

        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return [float(v) for v in BVAnalyzer().get_valences(obj)], "bv"
        except ValueError as exc:
            warnings.warn(
                f"bond-valence analysis failed for {obj.composition.reduced_formula} ({exc}); "
                "using the charge-balance rule (Composition.oxi_state_guesses)",
                XasmlWarning,
                stacklevel=3,
            )
    charge = float(getattr(obj, "charge", 0.0))
    guesses = obj.composition.oxi_state_guesses(target_charge=charge, all_oxi_states=False)
    if not guesses:
        guesses = obj.composition.oxi_state_guesses(target_charge=charge, all_oxi_states=True)
    if not guesses:
        raise ParameterError(
            f"no charge-balanced oxidation states for {obj.composition.formula} "
            f"with total charge {charge:g}"
        )
    best = guesses[0]
    return [float(best[site.specie.symbol]) for site in obj], "charge_balance"


def equivalent_sites(obj: Structure | Molecule, element: str | None = None) -> dict[int, int]:
    """Symmetry-inequivalent sites and their multiplicities.

    Parameters
    ----------
    obj
        ``Structure`` (space group, :class:`SpacegroupAnalyzer`, symprec 0.01 Å)
        or ``Molecule`` (point group, :class:`PointGroupAnalyzer`).
    element
        Keep only sites of this element.

    Returns
    -------
    dict
        ``{representative site index: multiplicity}``, ordered by index.
    """
    from pymatgen.core import Molecule

    if isinstance(obj, Molecule):
        from pymatgen.symmetry.analyzer import PointGroupAnalyzer

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            eq = PointGroupAnalyzer(obj).get_equivalent_atoms()["eq_sets"]
        groups = [sorted({int(k), *(int(j) for j in v)}) for k, v in eq.items()]
    else:
        from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

        with warnings.catch_warnings():  # spglib DeprecationWarnings
            warnings.simplefilter("ignore")
            sym = SpacegroupAnalyzer(obj, symprec=0.01).get_symmetrized_structure()
        groups = [sorted(int(i) for i in g) for g in sym.equivalent_indices]
    out = {
        g[0]: len(g)
        for g in groups
        if element is None or obj[g[0]].specie.symbol == element
    }
    return dict(sorted(out.items()))


def _geometry(neigh_coords: np.ndarray, centre: np.ndarray, cn: int) -> dict[str, float]:
    from pymatgen.analysis.local_env import LocalStructOrderParams
    from pymatgen.core import Lattice, Structure

    types = GEOMETRIES.get(cn)
    if not types:
        return {}
    # A local cluster in a big box: order parameters read neighbours by index,
    # which would ignore periodic images in the crystal itself.
    coords = np.vstack([centre, neigh_coords]) - centre + 15.0
    cluster = Structure(Lattice.cubic(30.0), ["X0+"] * (cn + 1), coords, coords_are_cartesian=True)
    lsop = LocalStructOrderParams(list(types))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        values = lsop.get_order_parameters(cluster, 0, indices_neighs=list(range(1, cn + 1)))
    pairs = zip(types, values, strict=True)
    return {types[t]: float(v) if v is not None else 0.0 for t, v in pairs}


def site_labels(
    obj: Structure | Molecule,
    site: int,
    *,
    states: Sequence[float] | None = None,
    method: str | None = None,
) -> SiteLabels:
    """Labels of one site.

    Parameters
    ----------
    obj
        pymatgen ``Structure`` or ``Molecule``.
    site
        Site index.
    states, method
        Precomputed :func:`oxidation_states` (computed when omitted).

    Returns
    -------
    SiteLabels
    """
    from pymatgen.analysis.local_env import CrystalNN

    if not 0 <= site < len(obj):
        raise ParameterError(f"site index {site} out of range; the structure has {len(obj)} sites")
    if states is None or method is None:
        states, method = oxidation_states(obj)
    covalent = _covalent_neighbours(obj, site)
    if covalent is not None:
        info, centre, how = [{"site": n} for n in covalent], obj[site].coords, _COVALENT
    else:
        periodic = _periodic(obj).copy()
        periodic.add_oxidation_state_by_site(list(states))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            info = CrystalNN().get_nn_info(periodic, site)
        centre, how = periodic[site].coords, "pymatgen CrystalNN (defaults)"
    dist = np.array([np.linalg.norm(n["site"].coords - centre) for n in info])
    order = np.argsort(dist)
    coords = np.array([info[i]["site"].coords for i in order]).reshape(-1, 3)
    cn = len(info)
    scores = _geometry(coords, centre, cn)
    geometry, score = ("other", 0.0)
    if scores:
        geometry = max(scores, key=lambda k: scores[k])
        score = scores[geometry]
    return SiteLabels(
        site=site,
        element=obj[site].specie.symbol,
        cn=cn,
        geometry=geometry,
        geometry_score=score,
        scores=scores,
        oxidation_state=float(states[site]),
        oxidation_method=method,
        mean_nn_distance=float(dist.mean()) if cn else float("nan"),
        neighbours=tuple(info[i]["site"].specie.symbol for i in order),
        provenance={
            "neighbours": how,
            "geometry": "pymatgen LocalStructOrderParams",
            "oxidation_state": method,
        },
    )


def absorber_labels(obj: Structure | Molecule, element: str) -> list[SiteLabels]:
    """Labels of every symmetry-inequivalent site of ``element``.

    Returns
    -------
    list of SiteLabels
        One per inequivalent site, with ``multiplicity`` set.

    Raises
    ------
    ParameterError
        The structure holds no ``element``.
    """
    sites = equivalent_sites(obj, element)
    if not sites:
        raise ParameterError(
            f"absorber {element!r} is not in {obj.composition.reduced_formula}; "
            f"elements present: {sorted(e.symbol for e in obj.composition.elements)}"
        )
    states, method = oxidation_states(obj)
    out = []
    for site, mult in sites.items():
        lab = site_labels(obj, site, states=states, method=method)
        fields = {**asdict(lab), "neighbours": lab.neighbours, "multiplicity": mult}
        out.append(SiteLabels(**fields))
    return out
