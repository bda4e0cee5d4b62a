"""FEFF inputs, ``xmu.dat`` outputs and run trees as written by pymatgen/Lightshow.

A run tree looks like ``<material_id>/FEFF-XANES/<site>_<El>/{feff.inp,xmu.dat}``
(plus the crystal's ``POSCAR``); the folder index ``<site>`` is the 0-based
POSCAR site index of the absorber. A folder of such material folders is read
as one set.

``xmu.dat`` columns are ``omega e k mu mu0 chi``. ``omega`` is the absolute
photon energy (eV); ``e`` is *not* relative to the Fermi level: the header's
``Mu=`` value is, so E − E_F = ``e`` − ``Mu``. The Fermi level on the absolute
scale is therefore ``omega − e + Mu``. FEFF's ``mu`` is already edge-step
normalised.

Reference: J. J. Rehr et al., "Parameter-free calculations of X-ray spectra
with FEFF9", Phys. Chem. Chem. Phys. 12, 5503 (2010).
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from ..datamodel import ENERGY, concat, spectrum
from ..errors import FormatError, ParameterError, SpectrumError, XasmlWarning

__all__ = [
    "FeffInput",
    "Potential",
    "Shell",
    "read_feff_inp",
    "neighbour_shell",
    "coordination_number",
    "read_xmu",
    "read_all",
    "read",
    "sniff",
]

_SITE_RE = re.compile(r"^(\d+)_([A-Z][a-z]?)$")
_MU_RE = re.compile(r"\bMu=\s*([-+]?\d+\.?\d*(?:[Ee][-+]?\d+)?)")
_ABS_RE = re.compile(r"\bAbs\s+Z=\s*(\d+).*?\b([KLMN][1-5]?)\s+shell")
_HOLE_EDGES = {1: "K", 2: "L1", 3: "L2", 4: "L3", 5: "M1", 6: "M2", 7: "M3", 8: "M4", 9: "M5"}
_XMU_COLUMNS = ("omega", "e", "k", "mu", "mu0", "chi")


@dataclass(frozen=True)
class Potential:
    """One row of the POTENTIALS card."""

    ipot: int
    z: int
    tag: str


@dataclass(frozen=True, eq=False)
class FeffInput:
    """Content of a ``feff.inp`` file.

    Attributes
    ----------
    absorber
        Element symbol of the absorbing atom (potential 0).
    edge
        Edge from the ``EDGE`` (or ``HOLE``) card, e.g. ``"K"``; ``""`` if absent.
    potentials
        The POTENTIALS table.
    xyz
        Cartesian positions of the cluster, shape ``(n_atoms, 3)``, Å, absorber first.
    ipot
        Potential index of each atom, shape ``(n_atoms,)``.
    tags
        Atom tags (element symbols as pymatgen writes them), length ``n_atoms``.
    distance
        Distance of each atom from the absorber, shape ``(n_atoms,)``, Å
        (computed from ``xyz``, not copied from the file's rounded column).
    cards
        Other cards by keyword (upper case) → arguments; repeated cards
        (``TITLE``) joined by newlines.
    """

    absorber: str
    edge: str
    potentials: tuple[Potential, ...]
    xyz: np.ndarray
    ipot: np.ndarray
    tags: tuple[str, ...]
    distance: np.ndarray
    cards: dict[str, str] = field(default_factory=dict)

    def elements(self) -> tuple[str, ...]:
        """Element symbol of each atom of the cluster (from its potential's tag)."""
        by_ipot = {p.ipot: _symbol(p.tag) for p in self.potentials}
        return tuple(by_ipot.get(int(i), "") for i in self.ipot)


@dataclass(frozen=True)
class Shell:
    """Neighbours of the absorber in its first shell (see :func:`neighbour_shell`)."""

    element: str | None
    count: int
    distances: tuple[float, ...]
    radius: float


def _symbol(tag: str) -> str:
    m = re.match(r"[A-Za-z]{1,2}", tag.strip())
    if m is None:
        return ""
    sym = m.group(0).capitalize()
    return sym


def _is_number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def read_feff_inp(path: str | Path) -> FeffInput:
    """Parse a FEFF ``feff.inp`` file (FEFF 8/9/10 card syntax).

    Parameters
    ----------
    path
        The ``feff.inp`` file.

    Returns
    -------
    FeffInput

    Raises
    ------
    FormatError
        If the file cannot be read, lacks POTENTIALS or ATOMS, a table row is
        malformed (with its line number), or no atom uses potential 0.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise FormatError(p, f"cannot read feff.inp: {exc.strerror}") from None
    cards: dict[str, str] = {}
    potentials: list[Potential] = []
    atoms: list[tuple[float, float, float, int, str]] = []
    section = ""
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("*", 1)[0].strip() if not raw.lstrip().startswith("*") else ""
        if not line:
            continue
        tokens = line.split()
        if not _is_number(tokens[0]):
            key = tokens[0].upper()
            if key == "END":
                break
            section = key if key in ("POTENTIALS", "ATOMS") else ""
            if not section:
                args = line[len(tokens[0]) :].strip()
                cards[key] = f"{cards[key]}\n{args}" if key in cards else args
            continue
        try:
            if section == "POTENTIALS":
                potentials.append(Potential(int(tokens[0]), int(tokens[1]), tokens[2]))
            elif section == "ATOMS":
                x, y, z = (float(t) for t in tokens[:3])
                tag = tokens[4] if len(tokens) > 4 else ""
                atoms.append((x, y, z, int(tokens[3]), tag))
        except (IndexError, ValueError):
            raise FormatError(
                p, f"malformed {section} row: expected numbers then a tag; found {line!r}", lineno
            ) from None
    if not potentials:
        raise FormatError(p, "no POTENTIALS table found (expected a FEFF input file)")
    if not atoms:
        raise FormatError(p, "no ATOMS table found (expected a cluster of atoms)")
    ipot = np.array([a[3] for a in atoms], dtype=int)
    xyz = np.array([a[:3] for a in atoms], dtype=float)
    absorbers = np.flatnonzero(ipot == 0)
    if absorbers.size != 1:
        raise FormatError(
            p, f"ATOMS must hold exactly one absorber (ipot 0); found {absorbers.size}"
        )
    abs_pot = [pt for pt in potentials if pt.ipot == 0]
    if not abs_pot:
        raise FormatError(p, "POTENTIALS has no row for ipot 0 (the absorber)")
    edge = cards.get("EDGE", "").split()[0] if cards.get("EDGE", "").split() else ""
    if not edge and cards.get("HOLE", "").split():
        try:
            edge = _HOLE_EDGES.get(int(float(cards["HOLE"].split()[0])), "")
        except ValueError:
            edge = ""
    return FeffInput(
        absorber=_symbol(abs_pot[0].tag),
        edge=edge.upper() if len(edge) == 1 else edge,
        potentials=tuple(potentials),
        xyz=xyz,
        ipot=ipot,
        tags=tuple(a[4] for a in atoms),
        distance=np.linalg.norm(xyz - xyz[absorbers[0]], axis=1),
        cards=cards,
    )


def neighbour_shell(
    inp: FeffInput,
    element: str | None = None,
    *,
    cutoff: float | None = None,
    gap: float = 0.5,
) -> Shell:
    """The absorber's first shell of neighbours.

    Parameters
    ----------
    inp
        A parsed ``feff.inp``.
    element
        Count only neighbours of this element (e.g. ``"O"``); all atoms if ``None``.
    cutoff
        Radius in Å: count every (matching) neighbour within it. When ``None``,
        the shell ends at the first gap wider than ``gap`` between sorted
        neighbour distances.
    gap
        Gap (Å) that separates the first shell from the next.

    Returns
    -------
    Shell
        ``count`` is the coordination number used as a label (a simple
        distance-based proxy for the CrystalNN labels of Torrisi et al.,
        npj Comput. Mater. 6, 109 (2020)).
    """
    if cutoff is not None and not cutoff > 0:
        raise ParameterError(f"cutoff must be a positive distance in Å; found {cutoff}")
    if not gap > 0:
        raise ParameterError(f"gap must be a positive distance in Å; found {gap}")
    elements = np.array(inp.elements())
    mask = inp.distance > 1e-6
    if element is not None:
        mask &= elements == element
    d = np.sort(inp.distance[mask])
    if d.size == 0:
        return Shell(element, 0, (), 0.0)
    if cutoff is None:
        jumps = np.flatnonzero(np.diff(d) > gap)
        n = int(jumps[0]) + 1 if jumps.size else int(d.size)
    else:
        n = int(np.searchsorted(d, cutoff, side="right"))
    shell = d[:n]
    return Shell(element, n, tuple(float(x) for x in shell), float(shell[-1]) if n else 0.0)


def coordination_number(
    inp: FeffInput, element: str | None = None, *, cutoff: float | None = None, gap: float = 0.5
) -> int:
    """Number of first-shell neighbours; see :func:`neighbour_shell`."""
    return neighbour_shell(inp, element, cutoff=cutoff, gap=gap).count


# ---------------------------------------------------------------- xmu.dat


def read_xmu(path: str | Path, *, element: str | None = None) -> xr.DataArray:
    """Read a FEFF ``xmu.dat`` as a spectrum of ``mu`` on the absolute ``omega`` grid.

    Returns
    -------
    xarray.DataArray
        Dim ``energy`` (``omega``, eV); values ``mu``; coords ``k`` (Å⁻¹),
        ``mu0`` and ``chi`` on ``energy``; attrs ``e_fermi`` (absolute eV,
        ``omega − e + Mu``), ``feff_mu`` (the header's ``Mu``), ``edge``,
        ``absorber_z``, ``element`` (when known), ``technique="XAS"``,
        ``signal="mu"``, ``source``, ``format="feff"``.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise FormatError(p, f"cannot read xmu.dat: {exc.strerror}") from None
    header = [ln for ln in text.splitlines() if ln.startswith("#")]
    head = "\n".join(header)
    m = _MU_RE.search(head)
    if m is None:
        raise FormatError(p, "no 'Mu=' (Fermi level) in the header; expected a FEFF xmu.dat")
    try:
        mu_f = float(m.group(1))
    except ValueError:
        raise FormatError(p, f"cannot read the Fermi level 'Mu={m.group(1)}'") from None
    rows: list[list[float]] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        try:
            values = [float(t) for t in line.split()]
        except ValueError:
            raise FormatError(p, f"expected 6 numbers; found {line.strip()!r}", lineno) from None
        if len(values) != len(_XMU_COLUMNS):
            raise FormatError(
                p, f"expected 6 columns ({' '.join(_XMU_COLUMNS)}); found {len(values)}", lineno
            )
        rows.append(values)
    if len(rows) < 2:
        raise FormatError(p, f"expected at least 2 data rows; found {len(rows)}")
    data = np.array(rows)
    omega, e, k, mu, mu0, chi = data.T
    attrs: dict[str, Any] = {
        "technique": "XAS",
        "signal": "mu",
        "e_fermi": float(np.median(omega - e) + mu_f),
        "feff_mu": mu_f,
        "source": str(p),
        "format": "feff",
    }
    a = _ABS_RE.search(head)
    if a is not None:
        attrs["absorber_z"] = int(a.group(1))
        attrs["edge"] = a.group(2)
    if element is None:
        element = _element_near(p)
    if element:
        attrs["element"] = element
    try:
        da = spectrum(omega, mu, **attrs)
    except SpectrumError as exc:
        raise FormatError(p, str(exc)) from None
    return da.assign_coords(k=(ENERGY, k), mu0=(ENERGY, mu0), chi=(ENERGY, chi))


def _element_near(xmu: Path) -> str:
    m = _SITE_RE.match(xmu.parent.name)
    if m:
        return m.group(2)
    inp = xmu.parent / "feff.inp"
    if inp.is_file():
        try:
            return read_feff_inp(inp).absorber
        except FormatError:
            return ""
    return ""


# ---------------------------------------------------------------- run trees


@dataclass(frozen=True)
class _Site:
    material_id: str
    index: int
    absorber: str
    folder: Path


def _material_sites(material: Path) -> list[_Site]:
    sites = []
    for d in sorted((material / "FEFF-XANES").iterdir()):
        m = _SITE_RE.match(d.name)
        if d.is_dir() and m:
            sites.append(_Site(material.name, int(m.group(1)), m.group(2), d))
    return sites


def _find_sites(root: Path) -> list[_Site]:
    try:
        m = _SITE_RE.match(root.name)
        if m and (root / "feff.inp").is_file():
            return [_Site(root.parent.parent.name, int(m.group(1)), m.group(2), root)]
        if root.name == "FEFF-XANES":
            return _material_sites(root.parent)
        if (root / "FEFF-XANES").is_dir():
            return _material_sites(root)
        sites: list[_Site] = []
        for child in sorted(root.iterdir()):
            if (child / "FEFF-XANES").is_dir():
                sites.extend(_material_sites(child))
        return sites
    except OSError as exc:
        raise FormatError(root, f"cannot list the FEFF run tree: {exc.strerror}") from None


def read_all(path: str | Path) -> list[xr.DataArray]:
    """Read every site spectrum of a FEFF run tree (or a folder of them).

    Each spectrum carries attrs ``material_id``, ``site`` (0-based POSCAR
    index), ``absorber``. Sites with ``feff.inp`` but no ``xmu.dat`` are
    reported in an :class:`~xasml.errors.XasmlWarning` and in the attr
    ``missing_sites`` of every returned spectrum.

    Raises
    ------
    FormatError
        If no ``FEFF-XANES/<site>_<El>/`` folder is found, or none has an ``xmu.dat``.
    """
    root = Path(path)
    if not root.is_dir():
        if root.is_file():
            return [read_xmu(root)]
        raise FormatError(root, "no such FEFF run tree")
    sites = _find_sites(root)
    if not sites:
        raise FormatError(
            root,
            "expected a FEFF run tree (<material>/FEFF-XANES/<site>_<El>/xmu.dat); found "
            + (", ".join(sorted(c.name for c in islice(root.iterdir(), 10))) or "an empty folder"),
        )
    spectra: list[xr.DataArray] = []
    missing: list[str] = []
    for s in sites:
        xmu = s.folder / "xmu.dat"
        if not xmu.is_file():
            missing.append(f"{s.material_id}/{s.folder.name}")
            continue
        sp = read_xmu(xmu, element=s.absorber)
        spectra.append(
            sp.assign_attrs(material_id=s.material_id, site=s.index, absorber=s.absorber)
        )
    if not spectra:
        raise FormatError(
            root, f"no xmu.dat found in any of {len(sites)} site folder(s) (FEFF not run?)"
        )
    if missing:
        warnings.warn(
            f"{root}: {len(missing)} site(s) have no xmu.dat and are left out: "
            + ", ".join(missing),
            XasmlWarning,
            stacklevel=2,
        )
        spectra = [sp.assign_attrs(missing_sites=list(missing)) for sp in spectra]
    return spectra


def read(path: Path, **kwargs: Any) -> xr.DataArray:
    """Read an ``xmu.dat`` (spectrum) or a run tree (``(sample, energy)`` set).

    A tree is stacked only when all sites share one ``omega`` grid (FEFF
    grids usually differ per site); otherwise a :class:`FormatError` points
    to :func:`read_all`. Labels: ``material_id``, ``site``, ``absorber``,
    ``e_fermi``.
    """
    if kwargs:
        raise ParameterError(f"the FEFF reader takes no options; found {sorted(kwargs)}")
    if path.is_file():
        return read_xmu(path)
    spectra = read_all(path)
    if len(spectra) == 1:
        return spectra[0]
    e0 = spectra[0][ENERGY].values
    for sp in spectra[1:]:
        e = sp[ENERGY].values
        if e.shape != e0.shape or not np.allclose(e, e0, rtol=0, atol=1e-9):
            raise FormatError(
                path,
                f"the {len(spectra)} site spectra are on different energy grids; use "
                "xasml.io.read_all(path) for a list, then resample onto one grid",
            )
    label_keys = ("material_id", "site", "absorber", "e_fermi", "feff_mu")
    labels = {k: [sp.attrs[k] for sp in spectra] for k in label_keys}
    bare = [
        sp.drop_vars(["k", "mu0", "chi"])
        .drop_attrs(deep=False)
        .assign_attrs({k: v for k, v in sp.attrs.items() if k not in label_keys})
        for sp in spectra
    ]
    da = concat(bare, labels=labels)
    da.attrs.update(source=str(path), format="feff")
    return da


def sniff(path: Path, head: bytes) -> bool:
    """An ``xmu.dat`` (FEFF header with ``Mu=`` and the omega/e/k columns) or a run tree."""
    if head:
        return b"FEFF" in head[:200] and b"Mu=" in head and b"omega" in head
    try:
        if _SITE_RE.match(path.name) and (path / "feff.inp").is_file():
            return True
        if path.name == "FEFF-XANES" or (path / "FEFF-XANES").is_dir():
            return True
        return any((c / "FEFF-XANES").is_dir() for c in islice(path.iterdir(), 20))
    except OSError:
        return False
