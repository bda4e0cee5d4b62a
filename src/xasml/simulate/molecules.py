"""Molecular geometries for first-principles core spectra: QM9, xyz files, SMILES.

A :class:`Molecule` is an immutable list of element symbols with Cartesian
coordinates in ångström. Sources:

* QM9 (Ramakrishnan et al., *Sci. Data* 1, 140022, 2014), read offline from the
  CSV files shipped in the ``qm9pack`` wheel (130,831 molecules, B3LYP/6-31G(2df,p)
  geometries, SMILES). The files are located with :mod:`importlib.util` and read with
  pandas; ``qm9pack`` itself is not imported (its ``__init__`` needs ``pkg_resources``,
  which recent setuptools no longer ships).
* xyz files, plain or in QM9's flavour (property line 2, a fifth column of Mulliken
  charges, ``*^`` exponents, frequency/SMILES/InChI lines after the atoms).
* SMILES, embedded in 3-D with RDKit (ETKDG + MMFF) when RDKit is installed.
"""

from __future__ import annotations

import csv
import importlib.util
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import EngineError, FormatError, ParameterError

__all__ = [
    "Molecule",
    "parse_xyz",
    "read_xyz",
    "qm9_molecule",
    "qm9_molecules",
    "iter_qm9",
    "from_smiles",
    "read_smiles_file",
    "QM9_SIZE",
]

QM9_SIZE = 130_831
_ELEMENTS = (
    "H He Li Be B C N O F Ne Na Mg Al Si P S Cl Ar K Ca Sc Ti V Cr Mn Fe Co Ni Cu Zn "
    "Ga Ge As Se Br Kr"
).split()
_QM9_COLS = ["Index", "SMILES", "Elements", "XYZ_Ang"]


@dataclass(frozen=True)
class Molecule:
    """A neutral or charged molecule.

    Attributes
    ----------
    symbols
        Element symbols, length ``n_atoms``.
    coords
        Cartesian coordinates in ångström, shape ``(n_atoms, 3)``.
    charge
        Total charge (e).
    name
        Free-text identifier (``"qm9:3"``, file name ...).
    smiles
        SMILES string when known.
    """

    symbols: tuple[str, ...]
    coords: np.ndarray
    charge: int = 0
    name: str = ""
    smiles: str | None = None
    meta: dict[str, Any] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        coords = np.array(self.coords, dtype=float)
        if coords.ndim != 2 or coords.shape != (len(self.symbols), 3):
            raise ParameterError(
                f"coords must have shape ({len(self.symbols)}, 3) for {len(self.symbols)} "
                f"symbols; found {coords.shape}"
            )
        if not np.all(np.isfinite(coords)):
            raise ParameterError("coords must be finite; found NaN or inf")
        if len(self.symbols) == 0:
            raise ParameterError("a molecule needs at least one atom; found none")
        bad = [s for s in self.symbols if s not in _ELEMENTS]
        if bad:
            raise ParameterError(f"unknown element symbol(s) {sorted(set(bad))}")
        coords.setflags(write=False)
        object.__setattr__(self, "symbols", tuple(self.symbols))
        object.__setattr__(self, "coords", coords)

    @property
    def n_atoms(self) -> int:
        """Number of atoms."""
        return len(self.symbols)

    def sites(self, element: str) -> list[int]:
        """Indices of the atoms of ``element``."""
        return [i for i, s in enumerate(self.symbols) if s == element]

    def to_xyz(self) -> str:
        """The molecule as xyz text (ångström)."""
        lines = [str(self.n_atoms), self.name]
        lines += [
            f"{s:<2s} {x:15.8f} {y:15.8f} {z:15.8f}"
            for s, (x, y, z) in zip(self.symbols, self.coords, strict=True)
        ]
        return "\n".join(lines) + "\n"

    def transformed(self, rotation: np.ndarray, translation: np.ndarray) -> Molecule:
        """A copy with coordinates ``coords @ rotation.T + translation`` (Å)."""
        new = self.coords @ np.asarray(rotation, float).T + np.asarray(translation, float)
        return Molecule(self.symbols, new, self.charge, self.name, self.smiles, dict(self.meta))


def _float(token: str) -> float:
    # QM9 writes Mathematica-style exponents ("1.2*^-6")
    return float(token.replace("*^", "e"))


def parse_xyz(text: str, *, source: str | None = None, charge: int = 0) -> Molecule:
    """Parse xyz text (plain or QM9 flavour).

    Parameters
    ----------
    text
        Line 1: atom count; line 2: comment (QM9: ``gdb <index> <properties>``);
        then ``symbol x y z [charge]`` in ångström. Lines after the atoms are
        ignored, except that in QM9 files the second-to-last line's first token
        is taken as the SMILES.
    source
        File name used in error messages.
    charge
        Total charge of the molecule.

    Raises
    ------
    FormatError
        Malformed count, atom line or coordinates.
    """
    lines = text.strip("\n").splitlines()
    if not lines:
        raise FormatError(source, "empty xyz input; expected an atom count on line 1", line=1)
    try:
        n = int(lines[0].split()[0])
    except (ValueError, IndexError):
        raise FormatError(
            source, f"line 1 must be the atom count; found {lines[0]!r}", line=1
        ) from None
    if n < 1 or len(lines) < n + 2:
        raise FormatError(
            source, f"atom count {n} but only {max(len(lines) - 2, 0)} atom lines follow", line=1
        )
    symbols: list[str] = []
    coords: list[list[float]] = []
    for k in range(2, n + 2):
        parts = lines[k].split()
        if len(parts) < 4:
            raise FormatError(source, f"expected 'symbol x y z'; found {lines[k]!r}", line=k + 1)
        sym = parts[0]
        if sym.isdigit():
            z = int(sym)
            if not 1 <= z <= len(_ELEMENTS):
                raise FormatError(source, f"atomic number {z} out of range", line=k + 1)
            sym = _ELEMENTS[z - 1]
        sym = sym.capitalize()
        if sym not in _ELEMENTS:
            raise FormatError(source, f"unknown element symbol {parts[0]!r}", line=k + 1)
        try:
            coords.append([_float(t) for t in parts[1:4]])
        except ValueError:
            raise FormatError(
                source, f"coordinates must be numbers; found {parts[1:4]}", line=k + 1
            ) from None
        symbols.append(sym)
    comment = lines[1].strip()
    name = comment or (Path(source).stem if source else "")
    smiles: str | None = None
    meta: dict[str, Any] = {}
    if comment.startswith("gdb") and len(lines) >= n + 5:
        meta["qm9_index"] = int(comment.split()[1])
        name = f"qm9:{meta['qm9_index']}"
        smiles = lines[n + 3].split()[0]
    return Molecule(tuple(symbols), np.array(coords), charge, name, smiles, meta)


def read_xyz(path: str | Path, *, charge: int = 0) -> Molecule:
    """Read an xyz file (plain or QM9 flavour); see :func:`parse_xyz`."""
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as exc:
        raise FormatError(p, f"cannot read xyz file: {exc.strerror}") from None
    return parse_xyz(text, source=str(p), charge=charge)


def _qm9_files() -> list[Path]:
    spec = importlib.util.find_spec("qm9pack")
    if spec is None or not spec.submodule_search_locations:
        raise EngineError(
            "QM9 needs the 'qm9pack' package (ships the data offline): "
            "pip install 'xasml[molecules]'"
        )
    data = Path(next(iter(spec.submodule_search_locations))) / "data"
    files = sorted(data.glob("qm9_part*.csv"))
    if not files:
        raise EngineError(f"qm9pack is installed but holds no qm9_part*.csv under {data}")
    return files


def _first_index(path: Path) -> int:
    with path.open(newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        return int(next(reader)[header.index("Index")])


def _row_to_molecule(index: int, smiles: str, elements: str, xyz: str) -> Molecule:
    symbols = tuple(elements.strip("[]").replace("'", "").replace('"', "").split(","))
    # numbers may carry Mathematica exponents ("*^") and trailing dots ("0.")
    values = [_float(t) for t in xyz.replace("[", " ").replace("]", " ").split(",")]
    coords = np.array(values, dtype=float).reshape(len(symbols), 3)
    return Molecule(symbols, coords, 0, f"qm9:{index}", smiles, {"qm9_index": int(index)})


def qm9_molecule(index: int) -> Molecule:
    """One QM9 molecule by its QM9 index (1 … 133,885; 3,054 indices are absent).

    Raises
    ------
    ParameterError
        Index out of range or one of the indices QM9 left out.
    EngineError
        ``qm9pack`` is not installed.
    """
    import pandas as pd

    index = _check_qm9_index(index)
    files = _qm9_files()
    starts = [_first_index(p) for p in files]
    part = max(k for k, s in enumerate(starts) if s <= index)
    for chunk in pd.read_csv(files[part], usecols=_QM9_COLS, chunksize=5000):
        hit = chunk[chunk["Index"] == index]
        if len(hit):
            r = hit.iloc[0]
            return _row_to_molecule(int(r["Index"]), r["SMILES"], r["Elements"], r["XYZ_Ang"])
        if int(chunk["Index"].iloc[-1]) > index:
            break
    raise ParameterError(f"qm9_index {index} is one of the molecules QM9 does not contain")


def qm9_molecules(indices: Collection[int]) -> list[Molecule]:
    """Several QM9 molecules by index, in the order given, reading each data file once.

    :func:`qm9_molecule` scans a data file per call; for hundreds of indices this
    is one pass instead of hundreds.

    Raises
    ------
    ParameterError
        An index out of range or one QM9 left out (all such indices are named).
    """
    import pandas as pd

    wanted = [_check_qm9_index(i) for i in indices]
    need = set(wanted)
    found: dict[int, Molecule] = {}
    files = _qm9_files()
    starts = [_first_index(p) for p in files]
    for k, path in enumerate(files):
        hi = starts[k + 1] if k + 1 < len(files) else 133_886
        if not any(starts[k] <= i < hi for i in need):
            continue
        for chunk in pd.read_csv(path, usecols=_QM9_COLS, chunksize=5000):
            hit = chunk[chunk["Index"].isin(need)]
            for r in hit.itertuples(index=False):
                found[int(r.Index)] = _row_to_molecule(int(r.Index), r.SMILES, r.Elements,
                                                       r.XYZ_Ang)
    missing = sorted(need - set(found))
    if missing:
        raise ParameterError(f"QM9 does not contain the molecule(s) {missing[:10]}"
                             + (f" and {len(missing) - 10} more" if len(missing) > 10 else ""))
    return [found[i] for i in wanted]


def _check_qm9_index(index: Any) -> int:
    """``index`` as an int in QM9's range, or a ParameterError saying what was found."""
    if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
        raise ParameterError(f"qm9_index must be an integer; found {index!r}")
    if not 1 <= int(index) <= 133_885:
        raise ParameterError(f"qm9_index must lie in 1…133885; found {index}")
    return int(index)


def iter_qm9(
    elements: Collection[str] = ("O", "N"),
    *,
    start: int = 1,
    stop: int | None = None,
    max_heavy: int | None = None,
) -> Iterator[Molecule]:
    """Iterate QM9 molecules that contain any of ``elements``, in index order.

    Parameters
    ----------
    elements
        Keep a molecule when it contains at least one of these elements.
    start, stop
        QM9 index range ``[start, stop)``.
    max_heavy
        Keep only molecules with at most this many non-hydrogen atoms.
    """
    import pandas as pd

    wanted = set(elements)
    for path in _qm9_files():
        for chunk in pd.read_csv(path, usecols=_QM9_COLS, chunksize=5000):
            idx = chunk["Index"].to_numpy()
            if stop is not None and idx[0] >= stop:
                return
            if idx[-1] < start:
                continue
            for r in chunk.itertuples(index=False):
                if r.Index < start or (stop is not None and r.Index >= stop):
                    continue
                mol = _row_to_molecule(int(r.Index), r.SMILES, r.Elements, r.XYZ_Ang)
                if wanted.isdisjoint(mol.symbols):
                    continue
                if max_heavy is not None and sum(s != "H" for s in mol.symbols) > max_heavy:
                    continue
                yield mol


def from_smiles(smiles: str, *, seed: int = 0, name: str | None = None) -> Molecule:
    """Embed a SMILES string in 3-D with RDKit (ETKDG v3, then MMFF94 relaxation).

    Parameters
    ----------
    smiles
        The molecule; hydrogens are added.
    seed
        Seed of the embedding: the same SMILES, seed and RDKit version give the
        same geometry.
    name
        Name of the molecule (default: ``smiles``).

    Returns
    -------
    Molecule
        Heavy atoms in SMILES order, then the hydrogens; coordinates in Å;
        ``meta["geometry"]`` names the force field that relaxed it (``"mmff94"``,
        or ``"uff"`` where MMFF94 has no parameters).

    Raises
    ------
    EngineError
        RDKit is not installed.
    ParameterError
        The SMILES cannot be parsed or embedded.
    """
    try:
        from rdkit import Chem, rdBase
        from rdkit.Chem import rdDistGeom, rdForceFieldHelpers
    except ImportError:
        raise EngineError(
            "SMILES input needs RDKit, which is not installed: pip install rdkit "
            "(or 'xasml[molecules]')"
        ) from None
    text = str(smiles).strip()
    with rdBase.BlockLogs():  # RDKit's own stderr messages; ours name the input
        mol = Chem.MolFromSmiles(text) if text else None
        if mol is None:
            raise ParameterError(f"cannot parse SMILES {text!r}")
        mol = Chem.AddHs(mol)
        params: Any = rdDistGeom.ETKDGv3()  # (rdkit's stubs type its fields wrongly)
        params.randomSeed = int(seed)
        if rdDistGeom.EmbedMolecule(mol, params) != 0:
            # strained or large rings: random starting coordinates embed most of the rest
            params.useRandomCoords = True
            if rdDistGeom.EmbedMolecule(mol, params) != 0:
                raise ParameterError(f"RDKit could not embed SMILES {text!r} in 3-D")
        if rdForceFieldHelpers.MMFFHasAllMoleculeParams(mol):
            rdForceFieldHelpers.MMFFOptimizeMolecule(mol, maxIters=2000)
            field_name = "mmff94"
        else:
            rdForceFieldHelpers.UFFOptimizeMolecule(mol, maxIters=2000)
            field_name = "uff"
    pos = mol.GetConformer().GetPositions()
    symbols = tuple(a.GetSymbol() for a in mol.GetAtoms())
    return Molecule(symbols, pos, Chem.GetFormalCharge(mol), name or text, text,
                    {"geometry": field_name, "seed": int(seed)})


def read_smiles_file(path: str | Path, *, seed: int = 0) -> list[Molecule]:
    """Molecules of a SMILES file (``.smi``), each embedded with :func:`from_smiles`.

    One molecule per line: a SMILES, then optionally whitespace and a name
    (default: the SMILES). Blank lines, lines starting with ``#``
    and a header line whose first word is ``smiles`` are skipped.

    Raises
    ------
    FormatError
        The file cannot be read, holds no SMILES, or a line's SMILES cannot be
        parsed or embedded (file and line named).
    EngineError
        RDKit is not installed.
    """
    p = Path(path)
    try:
        lines = p.read_text().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise FormatError(p, f"cannot read SMILES file: {exc}") from None
    mols: list[Molecule] = []
    for k, line in enumerate(lines, start=1):
        parts = line.split(maxsplit=1)
        if not parts or parts[0].startswith("#") or (k == 1 and parts[0].lower() == "smiles"):
            continue
        name = parts[1].strip() if len(parts) > 1 else None
        try:
            mols.append(from_smiles(parts[0], seed=seed, name=name))
        except ParameterError as exc:
            raise FormatError(p, str(exc), line=k) from None
    if not mols:
        raise FormatError(p, "no SMILES found; expected one per line, 'SMILES [name]'")
    return mols
