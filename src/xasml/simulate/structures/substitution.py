"""Element substitution on the oxide prototype table.

A classifier that is scored on unseen *materials* needs each (element, CN)
class in several materials. The measured compound table has, for Mn, one
square-pyramidal and one tetrahedral compound, so a material-grouped split
cannot put that class on both sides. Substitution puts every 3d element on
every cation role of every prototype where the element has a Shannon ionic
radius at that role's oxidation state and coordination (Shannon, *Acta
Cryst.* A32, 751 (1976); pymatgen's table), the way high-throughput
databases fill prototype families.

The substituted cell keeps the parent's fractional coordinates; its lengths
are scaled by a Vegard-like estimate::

    scale = 1 + w · ((r_X + r_O) / (r_M + r_O) − 1)

with r_X, r_M the Shannon radii of the new and the parent cation at the
role's oxidation state and coordination, r_O = 1.40 Å, and w the role's
share of the formula unit's cation–oxygen bonds (1 for a single cation, 0.25
for the tetrahedral site of a normal spinel ...). High-spin radii are taken
where the table has both spins; five-fold and square-planar radii missing
from the table are replaced, for both cations, by six- and four-fold ones.
Against the table's own measured cells (every pair of measured compounds of
one prototype that differ by one cation, 176 cell lengths) the estimate's
median error is 0.6 % and its largest 4.3 % (LiVO2 and VO2, whose V–V
bonding the ionic model ignores; ``tests/test_substitution.py``). The oxidation
state and coordination of the role are fixed by the prototype; the labels of
the result are recomputed from its geometry as for every other entry.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from ...errors import ParameterError

__all__ = ["ELEMENTS_3D", "FORMULAS", "LENGTHS", "ROLES", "Role", "formula", "shannon_radius",
           "substitute", "substituted"]

ELEMENTS_3D = ("Ti", "V", "Cr", "Mn", "Fe", "Co", "Ni", "Cu", "Zn")
_R_OXYGEN = 1.40  # Å, O2- in (II-)VI coordination (Shannon 1976)
_A_SITE_CHARGE = {"Sr": 2, "Ca": 2, "Ba": 2, "La": 3, "Y": 3}


@dataclass(frozen=True)
class Role:
    """A cation role of a prototype that substitution may fill.

    Attributes
    ----------
    arg
        Index of the role's element in :attr:`Compound.args`.
    oxidation
        Oxidation state of the role, from the compound's builder arguments.
    cn
        Shannon coordination keys of the role's sites (``"VI"``, ``"IV"``,
        ``"IVSQ"`` ...); a role spread over two site kinds (inverse spinel B)
        lists both and uses the mean radius ratio.
    weight
        The role's share of the cation–oxygen bonds per formula unit.
    """

    arg: int
    oxidation: Callable[[tuple[Any, ...]], int]
    cn: tuple[str, ...]
    weight: float


def _fixed(n: int) -> Callable[[tuple[Any, ...]], int]:
    return lambda args: n


# Builder argument indices that are lengths (Å); angles and fractional
# coordinates stay as they are.
LENGTHS: dict[str, tuple[int, ...]] = {
    "rocksalt": (1,),
    "wurtzite": (1, 2),
    "zincblende": (1,),
    "spinel_normal": (2,),
    "spinel_inverse": (2,),
    "corundum": (1, 2),
    "rutile": (1, 2),
    "perovskite": (2,),
    "ilmenite": (2, 3),
    "olivine": (1, 2, 3),
    "layered_rocksalt": (1, 2),
    "square_pyramidal": (2, 3),
    "tenorite": (1, 2, 3),
    "oxoanion": (1,),
}

ROLES: dict[str, tuple[Role, ...]] = {
    "rocksalt": (Role(0, _fixed(2), ("VI",), 1.0),),
    "wurtzite": (Role(0, _fixed(2), ("IV",), 1.0),),
    "zincblende": (Role(0, _fixed(2), ("IV",), 1.0),),
    "spinel_normal": (Role(0, _fixed(2), ("IV",), 0.25), Role(1, _fixed(3), ("VI",), 0.75)),
    "spinel_inverse": (
        Role(0, _fixed(2), ("VI",), 0.375),
        Role(1, _fixed(3), ("IV", "VI"), 0.625),
    ),
    "corundum": (Role(0, _fixed(3), ("VI",), 1.0),),
    "rutile": (Role(0, _fixed(4), ("VI",), 1.0),),
    # a ≈ 2 d(B–O): the B site sets the cell; its charge balances the A cation.
    "perovskite": (Role(1, lambda args: 6 - _A_SITE_CHARGE[args[0]], ("VI",), 1.0),),
    "ilmenite": (Role(0, _fixed(2), ("VI",), 0.5), Role(1, _fixed(4), ("VI",), 0.5)),
    "olivine": (Role(0, _fixed(2), ("VI",), 0.75),),
    "layered_rocksalt": (Role(0, _fixed(3), ("VI",), 0.5),),
    # A2B2O5: 2 q_A + 2 q_B = 10.
    "square_pyramidal": (Role(1, lambda args: 5 - _A_SITE_CHARGE[args[0]], ("V",), 1.0),),
    "tenorite": (Role(0, _fixed(2), ("IVSQ",), 1.0),),
    "oxoanion": (Role(0, lambda args: round(8 + args[2]), ("IV",), 1.0),),
}


# A coordination the table lacks for one of the two cations is replaced, for
# both, by the nearest one it has: the scale only needs a consistent ratio.
_FALLBACK: dict[str, tuple[str, ...]] = {"V": ("V", "VI", "IV"), "IVSQ": ("IVSQ", "IV", "VI")}


def shannon_radius(element: str, oxidation: int, cn: str) -> float | None:
    """Shannon ionic radius (Å) of ``element`` at ``oxidation`` and coordination ``cn``.

    ``cn`` is a Shannon key (``"IV"``, ``"IVSQ"``, ``"V"``, ``"VI"`` ...). High
    spin where the table lists both spins; ``None`` where it has no entry.
    """
    import warnings

    from pymatgen.core import Species

    try:
        sp = Species(element, oxidation)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "only one spin available" notices
            return float(sp.get_shannon_radius(cn, "High Spin"))
    except (KeyError, ValueError, TypeError):
        return None


def substitute(comp: Any, role: Role, element: str) -> tuple[tuple[Any, ...], float] | None:
    """Builder arguments of ``comp`` with ``element`` on ``role``, and the length scale.

    Returns ``None`` when the Shannon table has no radius for the parent or the
    new cation at the role's oxidation state (five-fold and square-planar
    coordinations fall back to six- and four-fold ones, for both cations).
    """
    parent = comp.args[role.arg]
    ox = role.oxidation(comp.args)
    ratios = []
    for cn in role.cn:
        for key in _FALLBACK.get(cn, (cn,)):
            r_new, r_old = shannon_radius(element, ox, key), shannon_radius(parent, ox, key)
            if r_new is not None and r_old is not None:
                ratios.append((r_new + _R_OXYGEN) / (r_old + _R_OXYGEN))
                break
        else:
            return None
    scale = 1.0 + role.weight * (sum(ratios) / len(ratios) - 1.0)
    args = list(comp.args)
    args[role.arg] = element
    for i in LENGTHS[comp.prototype]:
        args[i] = round(float(args[i]) * scale, 4)
    return tuple(args), scale


# Formula unit of each prototype from its builder arguments (no structure built).
FORMULAS: dict[str, Callable[[tuple[Any, ...]], str]] = {
    "rocksalt": lambda a: f"{a[0]}O",
    "wurtzite": lambda a: f"{a[0]}O",
    "zincblende": lambda a: f"{a[0]}O",
    "spinel_normal": lambda a: f"{a[0]}{a[1]}2O4",
    "spinel_inverse": lambda a: f"{a[0]}{a[1]}2O4",
    "corundum": lambda a: f"{a[0]}2O3",
    "rutile": lambda a: f"{a[0]}O2",
    "perovskite": lambda a: f"{a[0]}{a[1]}O3",
    "ilmenite": lambda a: f"{a[0]}{a[1]}O3",
    "olivine": lambda a: f"{a[0]}2SiO4",
    "layered_rocksalt": lambda a: f"Li{a[0]}O2",
    "square_pyramidal": lambda a: f"{a[0]}2{a[1]}2O5",
    "tenorite": lambda a: f"{a[0]}O",
    "oxoanion": lambda a: f"{a[0]}O4",
}


def formula(prototype: str, args: tuple[Any, ...]) -> str:
    """Formula of a prototype decoration, written as its type (``"ZnMn2O4"``)."""
    return FORMULAS[prototype](args)


def _key(prototype: str, args: tuple[Any, ...]) -> tuple[str, str]:
    from pymatgen.core import Composition

    reduced = Composition(formula(prototype, args)).reduced_composition
    return prototype, str(reduced.alphabetical_formula)


def substituted(table: Iterable[Any], elements: Iterable[str]) -> list[Any]:
    """Substituted compounds of ``table`` with the 3d ``elements`` as absorbers.

    Each compound × cation role × element gives one new compound (absorber: the
    new element) unless the element is already in the compound, the result's
    formula is already in the table for that prototype (the measured cell wins),
    or a Shannon radius is missing. Ordered as the table, then by element.
    """
    from .prototypes import Compound

    els = list(elements)
    bad = sorted(set(els) - set(ELEMENTS_3D))
    if bad:
        raise ParameterError(f"substitution takes 3d elements {ELEMENTS_3D}; found {bad}")
    table = list(table)
    seen = {_key(c.prototype, c.args) for c in table}
    out = []
    for comp in table:
        present = {a for a in comp.args if isinstance(a, str)}
        for role in ROLES[comp.prototype]:
            for el in els:
                if el in present:
                    continue
                sub = substitute(comp, role, el)
                if sub is None:
                    continue
                args, scale = sub
                key = _key(comp.prototype, args)
                if key in seen:
                    continue
                seen.add(key)
                out.append(Compound(comp.prototype, formula(comp.prototype, args), (el,), args,
                                    parent=comp.formula, scale=round(scale, 4)))
    return out
