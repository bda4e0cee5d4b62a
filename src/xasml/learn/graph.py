"""Absorber-centred atomic graphs for structure → spectrum networks.

A :class:`Structure` is the typed input of :class:`~xasml.learn.StructureSpectrumRegressor`:
atomic numbers, Cartesian positions (Å) and the index of the absorbing atom.
:func:`build_graph` turns it into a ``torch_geometric.data.Data`` graph:

* nodes: the absorber and every atom within ``cluster_radius`` of it, the
  absorber always node 0 (the readout reads it there); node features are a
  one-hot over :data:`ELEMENTS` (plus an "other" slot), the period and group
  of the element (scaled to [0, 1]), ``Z / 100`` and an absorber flag
  (:func:`node_features`);
* edges: every ordered pair of distinct atoms closer than ``cutoff``, found
  with ``torch.cdist`` (no torch-cluster needed); edge features are a
  Gaussian radial basis of the distance times a cosine envelope that takes
  them smoothly to zero at the cutoff (:func:`gaussian_rbf`), as in SchNet.

With ``bonds=True`` the graph also carries the covalent bonds that Carbone et
al.'s network read from the molecular graph, here derived from the geometry
alone (A–B bonded when ``d_AB < 1.2 (r_A + r_B)``, the Cordero covalent radii
of ``ase.data``; the TDDFT site labels use the same factor with pyscf's copy of
that table, which takes sp2 rather than sp3 carbon, 0.73 Å not 0.76 Å, and
high-spin Mn/Fe/Co): a bonded flag on each edge and, per node, the
number of bonded atoms and of bonded hydrogens (:func:`bond_features`). Bonds
are found in the whole structure before the cluster is cut, so an atom near
the cluster's edge keeps its true coordination.

The graph depends on the positions only through interatomic distances, so any
network built on it is invariant to rotations and translations; permuting the
non-absorber atoms permutes nodes and edges, which sum/mean aggregation does
not see.

References
----------
K. T. Schütt et al., "SchNet – A deep learning architecture for molecules and
materials", J. Chem. Phys. 148, 241722 (2018).
M. R. Carbone, M. Topsakal, D. Lu, S. Yoo, "Machine-learning X-ray absorption
spectra to quantitative accuracy", Phys. Rev. Lett. 124, 156401 (2020).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import InputError, ParameterError

if TYPE_CHECKING:
    from ..io import FeffInput

__all__ = [
    "ELEMENTS",
    "Structure",
    "build_graph",
    "bond_features",
    "build_graphs",
    "gaussian_rbf",
    "node_features",
    "n_node_features",
]

#: Atomic numbers with their own one-hot slot (H to Bi); heavier atoms share an "other" slot.
ELEMENTS: tuple[int, ...] = tuple(range(1, 84))

_SYMBOLS = (
    "H He Li Be B C N O F Ne Na Mg Al Si P S Cl Ar K Ca Sc Ti V Cr Mn Fe Co Ni Cu Zn Ga Ge "
    "As Se Br Kr Rb Sr Y Zr Nb Mo Tc Ru Rh Pd Ag Cd In Sn Sb Te I Xe Cs Ba La Ce Pr Nd Pm Sm "
    "Eu Gd Tb Dy Ho Er Tm Yb Lu Hf Ta W Re Os Ir Pt Au Hg Tl Pb Bi Po At Rn Fr Ra Ac Th Pa U "
    "Np Pu Am Cm Bk Cf Es Fm Md No Lr Rf Db Sg Bh Hs Mt Ds Rg Cn Nh Fl Mc Lv Ts Og"
).split()
_Z_OF = {s: i + 1 for i, s in enumerate(_SYMBOLS)}

# Last atomic number of each period (noble gases), used for period and group.
_PERIOD_END = (2, 10, 18, 36, 54, 86, 118)


def _import_pyg() -> Any:
    try:
        import torch_geometric
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ImportError(
            "the graph networks need torch-geometric; install it with "
            "`pip install torch-geometric` (or `xasml[molecules]`)"
        ) from exc
    return torch_geometric


@dataclass(frozen=True, eq=False)
class Structure:
    """Atoms around one absorbing site.

    Attributes
    ----------
    numbers
        Atomic numbers, shape ``(n_atoms,)``, int.
    positions
        Cartesian coordinates, shape ``(n_atoms, 3)``, Å.
    absorber
        Index of the absorbing atom in ``numbers``/``positions``.
    label
        Optional name (e.g. ``"mp-1234_005"``), carried into the graph.
    weight
        Atoms this site stands for (its multiplicity in a crystal), the weight of
        its spectrum when sites are averaged into their structure's
        (:func:`~xasml.learn.site_average.average_sites`); positive, default 1.
    """

    numbers: np.ndarray
    positions: np.ndarray
    absorber: int = 0
    label: str = ""
    weight: float = 1.0

    def __post_init__(self) -> None:
        z = np.asarray(self.numbers)
        xyz = np.asarray(self.positions, dtype=np.float64)
        if z.ndim != 1 or z.size < 1 or not np.issubdtype(z.dtype, np.integer):
            raise InputError(
                f"Structure.numbers must be a non-empty 1-D integer array; found dtype "
                f"{z.dtype} and shape {z.shape}"
            )
        if np.any(z < 1) or np.any(z > 118):
            raise InputError(f"Structure.numbers must lie in 1..118; found {z.min()}..{z.max()}")
        if xyz.shape != (z.size, 3):
            raise InputError(
                f"Structure.positions must have shape ({z.size}, 3) to match numbers; "
                f"found {xyz.shape}"
            )
        if not np.all(np.isfinite(xyz)):
            raise InputError("Structure.positions contain NaN or infinite values")
        if not isinstance(self.absorber, int | np.integer) or not 0 <= self.absorber < z.size:
            raise InputError(
                f"Structure.absorber must be an atom index in 0..{z.size - 1}; "
                f"found {self.absorber!r}"
            )
        try:
            w = float(self.weight)
        except (TypeError, ValueError):
            w = math.nan
        if not (math.isfinite(w) and w > 0):
            raise InputError(f"Structure.weight must be a positive number; found {self.weight!r}")
        object.__setattr__(self, "numbers", z.astype(np.int64))
        object.__setattr__(self, "positions", xyz)
        object.__setattr__(self, "absorber", int(self.absorber))
        object.__setattr__(self, "weight", w)

    @classmethod
    def from_symbols(
        cls, symbols: Sequence[str], positions: Any, absorber: int = 0, label: str = "",
        weight: float = 1.0,
    ) -> Structure:
        """Build from element symbols (``"Cu"``, ``"O"``) and positions in Å."""
        try:
            z = np.array([_Z_OF[s.strip().capitalize()] for s in symbols],
                         dtype=np.int64)
        except KeyError as exc:
            raise InputError(f"unknown element symbol {exc.args[0]!r}") from None
        return cls(z, np.asarray(positions, dtype=np.float64), absorber, label, weight)

    @classmethod
    def from_feff_input(cls, inp: FeffInput, label: str = "") -> Structure:
        """Build from a parsed ``feff.inp`` (:func:`xasml.io.read_feff_inp`).

        The absorber is the atom with potential index 0.
        """
        by_ipot = {p.ipot: p.z for p in inp.potentials}
        try:
            z = np.array([by_ipot[int(i)] for i in inp.ipot], dtype=np.int64)
        except KeyError as exc:
            raise InputError(
                f"feff.inp atom refers to potential {exc.args[0]}, which the POTENTIALS "
                "card does not define"
            ) from None
        absorbers = np.flatnonzero(np.asarray(inp.ipot) == 0)
        if absorbers.size != 1:
            raise InputError(
                f"feff.inp must hold exactly one absorber (ipot 0); found {absorbers.size}"
            )
        return cls(z, inp.xyz, int(absorbers[0]), label)


def _period_group(z: int) -> tuple[int, int]:
    """Period (1–7) and IUPAC group (1–18; lanthanides/actinides count as 3)."""
    period = next(i + 1 for i, end in enumerate(_PERIOD_END) if z <= end)
    start = 0 if period == 1 else _PERIOD_END[period - 2]
    pos = z - start  # 1-based position within the period
    if period == 1:
        return period, 1 if pos == 1 else 18
    if period <= 3:
        return period, pos if pos <= 2 else pos + 10
    if period <= 5:
        return period, pos
    # periods 6 and 7: 14 f-block elements after group 2
    if pos <= 2:
        return period, pos
    if pos <= 17:
        return period, 3
    return period, pos - 14


def n_node_features(bonds: bool = False) -> int:
    """Width of the node feature rows of a graph.

    One-hot (+ other) + period, group, Z, absorber (:func:`node_features`), and
    with ``bonds=True`` the two columns of :func:`bond_features`.
    """
    return len(ELEMENTS) + 1 + 4 + (_N_BOND_NODE if bonds else 0)


# Cordero et al., Dalton Trans. 2008, 2832 (the table of ase.data) times this factor;
# ase rather than pyscf's table (used by the TDDFT site labels) so that learn needs no pyscf.
BOND_FACTOR = 1.2
_N_BOND_NODE = 2
# A node's bond counts are divided by this so typical values (0-4) lie in [0, 1].
_BOND_COUNT_SCALE = 4.0


def _covalent_radii(numbers: np.ndarray) -> np.ndarray:
    try:
        from ase.data import covalent_radii
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ImportError(
            "bond-aware graphs need ase for covalent radii; install it with "
            "`pip install ase` (or `xasml[learn]`)"
        ) from exc
    return np.asarray(covalent_radii, dtype=np.float64)[numbers]


def bond_features(numbers: Any, positions: Any) -> tuple[np.ndarray, np.ndarray]:
    """Covalent bonds of a structure from its geometry.

    Parameters
    ----------
    numbers
        Atomic numbers, shape ``(n_atoms,)``.
    positions
        Cartesian coordinates, shape ``(n_atoms, 3)``, Å.

    Returns
    -------
    adjacency
        Boolean, shape ``(n_atoms, n_atoms)``: ``d_ij < 1.2 (r_i + r_j)``, no self bonds.
    counts
        Shape ``(n_atoms, 2)``, float32: number of bonded atoms and of bonded
        hydrogens, each divided by 4.
    """
    z = np.asarray(numbers, dtype=np.int64)
    xyz = np.asarray(positions, dtype=np.float64)
    r = _covalent_radii(z)
    d = np.linalg.norm(xyz[:, None] - xyz[None], axis=-1)
    adj = d < BOND_FACTOR * (r[:, None] + r[None])
    np.fill_diagonal(adj, False)
    counts = np.stack([adj.sum(1), adj[:, z == 1].sum(1)], axis=1) / _BOND_COUNT_SCALE
    return adj, counts.astype(np.float32)


def node_features(numbers: Any, absorber: int) -> np.ndarray:
    """Node feature matrix, shape ``(n_atoms, n_node_features())``, float32.

    Columns: one-hot over :data:`ELEMENTS` then an "other element" slot;
    ``period / 7``; ``group / 18``; ``Z / 100``; 1 for the absorber, else 0.
    """
    z = np.asarray(numbers, dtype=np.int64)
    n_el = len(ELEMENTS)
    out = np.zeros((z.size, n_node_features()), dtype=np.float32)
    slot = {e: i for i, e in enumerate(ELEMENTS)}
    for i, zi in enumerate(z):
        out[i, slot.get(int(zi), n_el)] = 1.0
        period, group = _period_group(int(zi))
        out[i, n_el + 1] = period / 7.0
        out[i, n_el + 2] = group / 18.0
        out[i, n_el + 3] = zi / 100.0
    out[absorber, n_el + 4] = 1.0
    return out


def gaussian_rbf(distance: Any, cutoff: float, n_rbf: int) -> Any:
    """Gaussian radial basis of distances with a smooth cosine cutoff envelope.

    ``phi_k(d) = exp(-(d - mu_k)^2 / (2 sigma^2)) * f(d)`` with ``n_rbf``
    centres ``mu_k`` evenly spaced on ``[0, cutoff]``, ``sigma`` their spacing,
    and ``f(d) = (cos(pi d / cutoff) + 1) / 2`` for ``d < cutoff`` (0 beyond),
    so edge features go continuously to zero as an atom crosses the cutoff.

    Parameters
    ----------
    distance
        Torch tensor of distances, shape ``(n_edges,)``, Å.
    cutoff
        Cutoff radius, Å.
    n_rbf
        Number of basis functions.

    Returns
    -------
    torch.Tensor
        Shape ``(n_edges, n_rbf)``, same dtype as ``distance``.
    """
    import torch

    mu = torch.linspace(0.0, float(cutoff), int(n_rbf), dtype=distance.dtype,
                        device=distance.device)
    sigma = float(cutoff) / max(int(n_rbf) - 1, 1)
    d = distance.unsqueeze(-1)
    env = 0.5 * (torch.cos(torch.pi * d / float(cutoff)) + 1.0) * (d < float(cutoff))
    return torch.exp(-((d - mu) ** 2) / (2.0 * sigma**2)) * env


def _check_graph_params(cutoff: float, cluster_radius: float | None, n_rbf: int,
                        bonds: bool = False) -> None:
    if not isinstance(cutoff, int | float) or isinstance(cutoff, bool) or not cutoff > 0:
        raise ParameterError(f"cutoff must be a distance > 0 in Å; found {cutoff!r}")
    if cluster_radius is not None and not (
        isinstance(cluster_radius, int | float) and cluster_radius > 0
    ):
        raise ParameterError(
            f"cluster_radius must be None or a distance > 0 in Å; found {cluster_radius!r}"
        )
    if not isinstance(n_rbf, int | np.integer) or isinstance(n_rbf, bool) or n_rbf < 1:
        raise ParameterError(f"n_rbf must be a positive int; found {n_rbf!r}")
    if not isinstance(bonds, bool | np.bool_):
        raise ParameterError(f"bonds must be True or False; found {bonds!r}")


def build_graph(
    structure: Structure,
    *,
    cutoff: float = 5.0,
    cluster_radius: float | None = 6.0,
    n_rbf: int = 32,
    bonds: bool = False,
) -> Any:
    """Absorber-centred graph of one structure.

    Parameters
    ----------
    structure
        Atoms and absorber index.
    cutoff
        Edge cutoff, Å: atoms ``i != j`` closer than this are joined both ways.
    cluster_radius
        Keep only atoms within this distance of the absorber (Å, inclusive);
        None keeps every atom.
    n_rbf
        Number of Gaussian radial basis functions on the edges.
    bonds
        Add the covalent-bond features (:func:`bond_features`): two node
        columns (bond and hydrogen counts) and a last edge column, 1 for a
        bonded pair, else 0.

    Returns
    -------
    torch_geometric.data.Data
        ``x`` ``(n_nodes, n_node_features(bonds))`` float32; ``edge_index``
        ``(2, n_edges)`` int64 (row 0 source ``j``, row 1 target ``i``);
        ``edge_attr`` ``(n_edges, n_rbf + bonds)`` float32; ``edge_length``
        ``(n_edges,)`` Å; ``pos`` ``(n_nodes, 3)`` Å relative to the absorber;
        ``atom_index`` ``(n_nodes,)`` positions of the nodes in the input
        structure. Node 0 is the absorber.
    """
    import torch

    _check_graph_params(cutoff, cluster_radius, n_rbf, bonds)
    Data = _import_pyg().data.Data
    rel = structure.positions - structure.positions[structure.absorber]
    r0 = np.linalg.norm(rel, axis=1)
    keep = np.ones(r0.size, dtype=bool) if cluster_radius is None else r0 <= cluster_radius
    keep[structure.absorber] = True
    others = np.flatnonzero(keep)
    others = others[others != structure.absorber]
    order = np.concatenate([[structure.absorber], others]).astype(np.int64)
    pos = torch.as_tensor(rel[order], dtype=torch.float64)
    dist = torch.cdist(pos, pos)
    n = len(order)
    mask = (dist < float(cutoff)) & ~torch.eye(n, dtype=torch.bool)
    tgt, src = mask.nonzero(as_tuple=True)
    length = dist[tgt, src]
    x = node_features(structure.numbers[order], 0)
    edge_attr = gaussian_rbf(length, cutoff, n_rbf).to(torch.float32)
    if bonds:
        adj, counts = bond_features(structure.numbers, structure.positions)
        adj = adj[np.ix_(order, order)]
        x = np.concatenate([x, counts[order]], axis=1)
        flag = torch.as_tensor(adj[tgt.numpy(), src.numpy()], dtype=torch.float32)
        edge_attr = torch.cat([edge_attr, flag[:, None]], dim=1)
    return Data(
        x=torch.as_tensor(x),
        edge_index=torch.stack([src, tgt]).to(torch.int64),
        edge_attr=edge_attr,
        edge_length=length.to(torch.float32),
        pos=pos.to(torch.float32),
        atom_index=torch.as_tensor(order),
        num_nodes=n,
    )


def build_graphs(
    structures: Sequence[Structure],
    *,
    cutoff: float = 5.0,
    cluster_radius: float | None = 6.0,
    n_rbf: int = 32,
    bonds: bool = False,
) -> list[Any]:
    """:func:`build_graph` for each structure (same keyword arguments)."""
    out = []
    for i, s in enumerate(structures):
        if not isinstance(s, Structure):
            raise InputError(
                f"structures[{i}] must be an xasml.learn.Structure; found {type(s).__name__}"
            )
        out.append(build_graph(s, cutoff=cutoff, cluster_radius=cluster_radius, n_rbf=n_rbf,
                               bonds=bonds))
    return out
