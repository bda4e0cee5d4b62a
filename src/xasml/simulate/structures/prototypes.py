"""3d transition-metal oxide structures built from prototypes.

The set covers the coordination numbers 4, 5 and 6 and oxidation states
2+ to 6+ of the Ti–Zn K-edge classification task of Carbone et al.,
*Phys. Rev. Materials* 3, 033604 (2019). Each prototype is built with
:meth:`pymatgen.core.Structure.from_spacegroup` from its Wyckoff positions
(pymatgen uses origin choice 1 for ``Fd-3m``: spinel A at 8a (0,0,0), B at
16d (5/8,5/8,5/8), O at x ≈ 0.385) and reduced to its primitive cell; the
tetrahedral oxoanions are isolated ``Molecule`` clusters with their charge.
Lattice constants are room-temperature literature values rounded to ~0.01 Å
(substituted compounds take their own measured cell where one exists; a few,
such as the ``Sr2B2O5`` square-pyramidal series, are hypothetical
decorations of a real structure type). Labels are computed from the
geometry (:mod:`.labels`), never copied from the table, so a wrong Wyckoff
position shows up as a wrong label (checked for the whole table when it was
written: every metal site has the expected CN and geometry, M–O 1.65–2.25 Å).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ...errors import ParameterError
from ._entry import StructureEntry
from .sources import entry_from_structure

if TYPE_CHECKING:
    from pymatgen.core import Molecule, Structure

__all__ = ["PROTOTYPES", "Compound", "compounds", "distort", "oxide_prototypes", "strain"]


@dataclass(frozen=True)
class Compound:
    """One prototype decoration: structure type, formula, absorbers, builder args.

    ``parent`` and ``scale`` are set on substituted compounds
    (:mod:`.substitution`): the measured compound it came from and the factor
    applied to its cell lengths.
    """

    prototype: str
    formula: str
    absorbers: tuple[str, ...]
    args: tuple[Any, ...]
    parent: str | None = None
    scale: float = 1.0


def _sg(
    sg: str, lattice: Any, species: Sequence[str], coords: Sequence[Sequence[float]]
) -> Structure:
    from pymatgen.core import Structure

    s = Structure.from_spacegroup(sg, lattice, list(species), [list(c) for c in coords])
    return s.get_primitive_structure()


def _rocksalt(m: str, a: float) -> Structure:
    from pymatgen.core import Lattice

    return _sg("Fm-3m", Lattice.cubic(a), [m, "O"], [(0, 0, 0), (0.5, 0.5, 0.5)])


def _wurtzite(m: str, a: float, c: float, u: float) -> Structure:
    from pymatgen.core import Lattice

    return _sg("P6_3mc", Lattice.hexagonal(a, c), [m, "O"], [(1 / 3, 2 / 3, 0), (1 / 3, 2 / 3, u)])


def _zincblende(m: str, a: float) -> Structure:
    from pymatgen.core import Lattice

    return _sg("F-43m", Lattice.cubic(a), [m, "O"], [(0, 0, 0), (0.25, 0.25, 0.25)])


def _spinel(a_el: str, b_el: str, a: float, x: float, inverse: bool = False) -> Structure:
    from pymatgen.core import Lattice

    s = _sg("Fd-3m", Lattice.cubic(a), [a_el, b_el, "O"], [(0, 0, 0), (5 / 8,) * 3, (x, x, x)])
    if inverse:
        # Inverse spinel B(AB)O4: B on the tetrahedral site, the octahedral
        # sites shared half/half (ordered within the primitive cell).
        s = s.copy()
        tet = [i for i, site in enumerate(s) if site.specie.symbol == a_el]
        octa = [i for i, site in enumerate(s) if site.specie.symbol == b_el]
        for i in tet:
            s.replace(i, b_el)
        for i in octa[: len(octa) // 2]:
            s.replace(i, a_el)
    return s


def _corundum(m: str, a: float, c: float, z: float, x: float) -> Structure:
    from pymatgen.core import Lattice

    return _sg("R-3c", Lattice.hexagonal(a, c), [m, "O"], [(0, 0, z), (x, 0, 0.25)])


def _rutile(m: str, a: float, c: float, x: float) -> Structure:
    from pymatgen.core import Lattice

    return _sg("P4_2/mnm", Lattice.tetragonal(a, c), [m, "O"], [(0, 0, 0), (x, x, 0)])


def _perovskite(a_el: str, b_el: str, a: float) -> Structure:
    from pymatgen.core import Lattice

    return _sg(
        "Pm-3m", Lattice.cubic(a), [a_el, b_el, "O"], [(0.5, 0.5, 0.5), (0, 0, 0), (0.5, 0, 0)]
    )


def _ilmenite(a_el: str, b_el: str, a: float, c: float) -> Structure:
    from pymatgen.core import Lattice

    # FeTiO3 (Wechsler & Prewitt 1984): Fe 6c z=0.3554, Ti 6c z=0.1464, O 18f.
    return _sg(
        "R-3",
        Lattice.hexagonal(a, c),
        [a_el, b_el, "O"],
        [(0, 0, 0.3554), (0, 0, 0.1464), (0.317, 0.020, 0.2466)],
    )


def _olivine(m: str, a: float, b: float, c: float) -> Structure:
    from pymatgen.core import Lattice

    # Forsterite positions in Pnma (M1 4a, M2 4c, Si 4c, O 4c, 4c, 8d).
    return _sg(
        "Pnma",
        Lattice.orthorhombic(a, b, c),
        [m, m, "Si", "O", "O", "O"],
        [
            (0, 0, 0),
            (0.2774, 0.25, 0.9915),
            (0.0940, 0.25, 0.4262),
            (0.0916, 0.25, 0.7657),
            (0.4474, 0.25, 0.2200),
            (0.1631, 0.0330, 0.2775),
        ],
    )


def _layered(m: str, a: float, c: float, z: float) -> Structure:
    from pymatgen.core import Lattice

    # alpha-NaFeO2 type LiMO2: M 3a (0,0,0), Li 3b (0,0,1/2), O 6c (0,0,z).
    return _sg("R-3m", Lattice.hexagonal(a, c), [m, "Li", "O"], [(0, 0, 0), (0, 0, 0.5), (0, 0, z)])


def _square_pyramidal(a_el: str, b_el: str, a: float, c: float, zb: float, zo: float) -> Structure:
    from pymatgen.core import Lattice

    # Oxygen-vacancy-ordered double perovskite (YBaCo2O5 type, P4/mmm):
    # B 2g (0,0,zb) has four basal O 4i (0,1/2,zo) and one apical O 1a.
    return _sg(
        "P4/mmm",
        Lattice.tetragonal(a, c),
        [a_el, a_el, b_el, "O", "O"],
        [(0.5, 0.5, 0), (0.5, 0.5, 0.5), (0, 0, zb), (0, 0, 0), (0, 0.5, zo)],
    )


def _tenorite(m: str, a: float, b: float, c: float, beta: float) -> Structure:
    from pymatgen.core import Lattice

    # CuO (Åsbrink & Norrby 1970, C2/c): Cu 4c (1/4,1/4,0) square planar, O 4e (0,y,1/4).
    return _sg(
        "C2/c", Lattice.monoclinic(a, b, c, beta), [m, "O"], [(0.25, 0.25, 0), (0, 0.4184, 0.25)]
    )


def _oxoanion(m: str, d: float, charge: float) -> Molecule:
    from pymatgen.core import Molecule

    t = d / math.sqrt(3.0)
    tet = [(0, 0, 0), (t, t, t), (-t, -t, t), (-t, t, -t), (t, -t, -t)]
    return Molecule([m, "O", "O", "O", "O"], tet, charge=charge)


PROTOTYPES: dict[str, Callable[..., Any]] = {
    "rocksalt": _rocksalt,
    "wurtzite": _wurtzite,
    "zincblende": _zincblende,
    "spinel_normal": _spinel,
    "spinel_inverse": lambda a_el, b_el, a, x: _spinel(a_el, b_el, a, x, inverse=True),
    "corundum": _corundum,
    "rutile": _rutile,
    "perovskite": _perovskite,
    "ilmenite": _ilmenite,
    "olivine": _olivine,
    "layered_rocksalt": _layered,
    "square_pyramidal": _square_pyramidal,
    "tenorite": _tenorite,
    "oxoanion": _oxoanion,
}

_C = Compound
_COMPOUNDS: tuple[Compound, ...] = (
    _C("rocksalt", "MnO", ("Mn",), ("Mn", 4.445)),
    _C("rocksalt", "FeO", ("Fe",), ("Fe", 4.332)),
    _C("rocksalt", "CoO", ("Co",), ("Co", 4.263)),
    _C("rocksalt", "NiO", ("Ni",), ("Ni", 4.177)),
    _C("wurtzite", "ZnO", ("Zn",), ("Zn", 3.250, 5.207, 0.3819)),
    _C("zincblende", "ZnO", ("Zn",), ("Zn", 4.580)),
    _C("spinel_normal", "Co3O4", ("Co",), ("Co", "Co", 8.084, 0.3881)),
    _C("spinel_normal", "ZnFe2O4", ("Fe", "Zn"), ("Zn", "Fe", 8.441, 0.3859)),
    _C("spinel_normal", "ZnCr2O4", ("Cr",), ("Zn", "Cr", 8.327, 0.3865)),
    _C("spinel_inverse", "NiFe2O4", ("Fe", "Ni"), ("Ni", "Fe", 8.339, 0.3823)),
    _C("corundum", "Fe2O3", ("Fe",), ("Fe", 5.035, 13.747, 0.3553, 0.3059)),
    _C("corundum", "Cr2O3", ("Cr",), ("Cr", 4.959, 13.594, 0.3475, 0.3058)),
    _C("corundum", "V2O3", ("V",), ("V", 4.952, 14.003, 0.3463, 0.3120)),
    _C("rutile", "TiO2", ("Ti",), ("Ti", 4.594, 2.959, 0.3049)),
    _C("rutile", "CrO2", ("Cr",), ("Cr", 4.421, 2.917, 0.3027)),
    _C("rutile", "MnO2", ("Mn",), ("Mn", 4.398, 2.873, 0.3046)),
    _C("rutile", "VO2", ("V",), ("V", 4.554, 2.856, 0.3001)),
    _C("perovskite", "SrTiO3", ("Ti",), ("Sr", "Ti", 3.905)),
    _C("perovskite", "SrVO3", ("V",), ("Sr", "V", 3.842)),
    _C("perovskite", "SrFeO3", ("Fe",), ("Sr", "Fe", 3.851)),
    _C("perovskite", "SrMnO3", ("Mn",), ("Sr", "Mn", 3.805)),
    _C("perovskite", "LaCrO3", ("Cr",), ("La", "Cr", 3.880)),
    _C("perovskite", "LaFeO3", ("Fe",), ("La", "Fe", 3.930)),
    _C("perovskite", "LaCoO3", ("Co",), ("La", "Co", 3.830)),
    _C("perovskite", "LaNiO3", ("Ni",), ("La", "Ni", 3.840)),
    _C("ilmenite", "FeTiO3", ("Fe", "Ti"), ("Fe", "Ti", 5.088, 14.093)),
    _C("ilmenite", "MnTiO3", ("Mn",), ("Mn", "Ti", 5.137, 14.283)),
    _C("ilmenite", "CoTiO3", ("Co",), ("Co", "Ti", 5.066, 13.918)),
    _C("ilmenite", "NiTiO3", ("Ni",), ("Ni", "Ti", 5.030, 13.791)),
    _C("olivine", "Fe2SiO4", ("Fe",), ("Fe", 10.47, 6.08, 4.82)),
    _C("olivine", "Mn2SiO4", ("Mn",), ("Mn", 10.60, 6.26, 4.90)),
    _C("olivine", "Co2SiO4", ("Co",), ("Co", 10.30, 6.00, 4.78)),
    _C("olivine", "Ni2SiO4", ("Ni",), ("Ni", 10.12, 5.91, 4.73)),
    _C("layered_rocksalt", "LiCoO2", ("Co",), ("Co", 2.816, 14.05, 0.2604)),
    _C("layered_rocksalt", "LiNiO2", ("Ni",), ("Ni", 2.878, 14.19, 0.2588)),
    _C("layered_rocksalt", "LiCrO2", ("Cr",), ("Cr", 2.900, 14.41, 0.2587)),
    _C("layered_rocksalt", "LiVO2", ("V",), ("V", 2.840, 14.76, 0.2557)),
    _C("square_pyramidal", "Sr2Fe2O5", ("Fe",), ("Sr", "Fe", 3.90, 7.60, 0.26, 0.30)),
    _C("square_pyramidal", "Sr2Mn2O5", ("Mn",), ("Sr", "Mn", 3.88, 7.56, 0.26, 0.30)),
    _C("square_pyramidal", "Sr2Co2O5", ("Co",), ("Sr", "Co", 3.86, 7.50, 0.26, 0.30)),
    _C("tenorite", "CuO", ("Cu",), ("Cu", 4.684, 3.423, 5.129, 99.54)),
    _C("oxoanion", "CrO4", ("Cr",), ("Cr", 1.65, -2.0)),
    _C("oxoanion", "MnO4", ("Mn",), ("Mn", 1.66, -2.0)),
    _C("oxoanion", "FeO4", ("Fe",), ("Fe", 1.65, -2.0)),
    _C("oxoanion", "VO4", ("V",), ("V", 1.72, -3.0)),
)


def compounds(
    *,
    elements: Iterable[str] | None = None,
    prototypes: Iterable[str] | None = None,
    substitute: bool = False,
) -> list[Compound]:
    """The built-in compound table, optionally filtered by absorber and prototype.

    With ``substitute``, the table is extended by element substitution
    (:func:`.substitution.substituted`): every requested 3d element on every
    cation role where it has a Shannon radius, after the measured compounds.
    """
    els = None if elements is None else set(elements)
    protos = None if prototypes is None else set(prototypes)
    if protos is not None and not protos <= set(PROTOTYPES):
        raise ParameterError(
            f"unknown prototype(s) {sorted(protos - set(PROTOTYPES))}; expected some of "
            f"{sorted(PROTOTYPES)}"
        )
    table: list[Compound] = list(_COMPOUNDS)
    if substitute:
        from .substitution import ELEMENTS_3D, substituted

        wanted = ELEMENTS_3D if els is None else [e for e in ELEMENTS_3D if e in els]
        table += substituted(_COMPOUNDS, wanted)
    return [
        c
        for c in table
        if (protos is None or c.prototype in protos)
        and (els is None or els.intersection(c.absorbers))
    ]


def strain(obj: Structure, fraction: float) -> Structure:
    """Isotropic strain: every lattice vector scaled by ``1 + fraction`` (new object)."""
    from pymatgen.core import Lattice

    if not -0.5 < fraction < 0.5:
        raise ParameterError(f"strain fraction must be in (-0.5, 0.5); found {fraction}")
    out = obj.copy()
    out.lattice = Lattice(obj.lattice.matrix * (1.0 + fraction))
    return out


def distort(obj: Structure | Molecule, sigma: float, rng: np.random.Generator) -> Any:
    """Random local distortion: Gaussian displacements of width ``sigma`` (Å) per axis."""
    from pymatgen.core import Molecule, Structure

    if sigma < 0:
        raise ParameterError(f"distortion sigma must be >= 0 Å; found {sigma}")
    coords = obj.cart_coords + rng.normal(0.0, sigma, size=obj.cart_coords.shape)
    if isinstance(obj, Molecule):
        return Molecule(obj.species, coords, charge=obj.charge)
    return Structure(obj.lattice, obj.species, coords, coords_are_cartesian=True)


def oxide_prototypes(
    *,
    elements: Iterable[str] | None = None,
    prototypes: Iterable[str] | None = None,
    strains: Sequence[float] = (0.0,),
    distortion: float = 0.0,
    n_distorted: int = 0,
    seed: int = 0,
    substitute: bool = False,
) -> list[StructureEntry]:
    """Generate labelled 3d-metal oxide structures.

    Parameters
    ----------
    elements
        Absorbing elements to keep (default: all of Ti, V, Cr, Mn, Fe, Co,
        Ni, Cu, Zn in the table). A compound with two 3d metals (ZnFe2O4,
        FeTiO3 ...) gives one entry per requested absorber.
    prototypes
        Structure types to keep (keys of :data:`PROTOTYPES`).
    strains
        Isotropic lattice strains (fractions, e.g. ``(-0.02, 0, 0.02)``);
        molecules get their bond lengths scaled likewise.
    distortion
        Width (Å) of random Gaussian atomic displacements.
    n_distorted
        Number of randomly distorted copies per (compound, strain), in
        addition to the undistorted one.
    seed
        Seed of the displacement generator (results are reproducible).
    substitute
        Add the substituted compounds of :func:`compounds` (hypothetical
        decorations with Shannon-radius-scaled cells; their ``settings``
        record ``parent`` and ``scale``).

    Returns
    -------
    list of StructureEntry
        Structures as JSON strings with the labels of each inequivalent
        absorber site (CN, geometry, oxidation state, distances).
    """
    from pymatgen.core import Molecule

    if n_distorted < 0 or (n_distorted > 0 and distortion <= 0):
        raise ParameterError(
            f"n_distorted must be >= 0 and needs distortion > 0; found n_distorted={n_distorted}, "
            f"distortion={distortion}"
        )
    rng = np.random.default_rng(seed)
    wanted = None if elements is None else set(elements)
    out: list[StructureEntry] = []
    for comp in compounds(elements=elements, prototypes=prototypes, substitute=substitute):
        base = PROTOTYPES[comp.prototype](*comp.args)
        for s in strains:
            strained: Any
            if isinstance(base, Molecule):
                strained = Molecule(base.species, base.cart_coords * (1 + s), charge=base.charge)
            else:
                strained = strain(base, s)
            variants = [(strained, 0)]
            variants += [(distort(strained, distortion, rng), k + 1) for k in range(n_distorted)]
            for obj, k in variants:
                for absorber in comp.absorbers:
                    if wanted is not None and absorber not in wanted:
                        continue
                    name = f"{comp.prototype}-{comp.formula}-{absorber}"
                    if s:
                        name += f"-s{s:+.3f}"
                    if k:
                        name += f"-d{k}"
                    out.append(
                        entry_from_structure(
                            obj,
                            absorber,
                            name=name,
                            prototype=comp.prototype,
                            settings={
                                "strain": s,
                                "distortion": distortion if k else 0.0,
                                "copy": k,
                                "seed": seed,
                                **({"parent": comp.parent, "scale": comp.scale}
                                   if comp.parent else {}),
                            },
                        )
                    )
    return out
