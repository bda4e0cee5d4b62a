"""Reading user structures (CIF, POSCAR, xyz, pymatgen JSON) into the common form.

CIF and POSCAR are read with pymatgen, xyz as a pymatgen ``Molecule``, other
formats ase understands through :func:`ase.io.read`. Every reader failure is
re-raised as :class:`~xasml.errors.FormatError` naming the file.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...errors import FormatError, ParameterError
from ._entry import StructureEntry
from .labels import absorber_labels

if TYPE_CHECKING:
    from pymatgen.core import Molecule, Structure

__all__ = ["entry_from_structure", "parse_structure", "read_structure", "structure_entries"]

_POSCAR_NAMES = ("POSCAR", "CONTCAR")


def _from_dict(d: Any, path: str | Path | None) -> Structure | Molecule:
    from pymatgen.core import Molecule, Structure

    if not isinstance(d, dict):
        raise FormatError(
            path, f"expected a pymatgen Structure/Molecule JSON object; found {d!r:.60}"
        )
    cls = d.get("@class")
    try:
        if cls == "Molecule":
            return Molecule.from_dict(d)
        if cls in ("Structure", "IStructure", None):
            return Structure.from_dict(d)
    except (KeyError, ValueError, TypeError) as exc:
        raise FormatError(path, f"invalid pymatgen {cls or 'Structure'} JSON: {exc}") from None
    raise FormatError(path, f"expected @class Structure or Molecule; found {cls!r}")


def read_structure(path: str | Path, *, charge: float = 0.0) -> Structure | Molecule:
    """Read a crystal or molecule from a file.

    Parameters
    ----------
    path
        ``.cif``; ``POSCAR``/``CONTCAR``/``.vasp``/``.poscar``; ``.xyz``
        (a molecule); ``.json`` (pymatgen ``to_json`` output); anything else is
        tried with :func:`ase.io.read`.
    charge
        Total charge given to a molecule read from xyz (e.g. ``-2`` for a
        CrO4²⁻ cluster); used by the charge-balance oxidation-state rule.

    Returns
    -------
    pymatgen.core.Structure or pymatgen.core.Molecule

    Raises
    ------
    FormatError
        Missing, empty or unreadable file, or a CIF without a structure.
    """
    from pymatgen.core import Molecule, Structure

    p = Path(path)
    if not p.is_file():
        raise FormatError(p, "no such file")
    name, suffix = p.name, p.suffix.lower()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if suffix == ".json":
                return _from_dict(json.loads(p.read_text()), p)
            if suffix == ".cif":
                from pymatgen.io.cif import CifParser

                structures = CifParser(p).parse_structures(primitive=False)
                if not structures:
                    raise FormatError(p, "the CIF holds no readable structure")
                return structures[0]
            if suffix == ".xyz":
                mol = Molecule.from_file(p)
                return Molecule(mol.species, mol.cart_coords, charge=charge)
            if name.upper().startswith(_POSCAR_NAMES) or suffix in (".vasp", ".poscar"):
                return Structure.from_file(p)
            from ase.io import read as ase_read
            from pymatgen.io.ase import AseAtomsAdaptor

            atoms = ase_read(p, index=-1)
            if isinstance(atoms, list):  # ase's typing allows a list of frames
                atoms = atoms[-1]
            if any(atoms.pbc):
                return AseAtomsAdaptor.get_structure(atoms)
            return AseAtomsAdaptor.get_molecule(atoms, charge_spin_check=False)
    except FormatError:
        raise
    except json.JSONDecodeError as exc:
        raise FormatError(p, f"not valid JSON: {exc.msg}", line=exc.lineno) from None
    except Exception as exc:
        kind = "CIF" if suffix == ".cif" else "structure file"
        raise FormatError(p, f"cannot read as {kind}: {type(exc).__name__}: {exc}") from None


def parse_structure(source: str | Path) -> Structure | Molecule:
    """A structure from a JSON string (``obj.to_json()``) or a file path.

    This is the form the FEFF engine's ``structure`` parameter takes.
    """
    text = str(source)
    if text.lstrip().startswith("{"):
        try:
            d = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ParameterError(f"structure JSON string is not valid JSON: {exc.msg}") from None
        return _from_dict(d, None)
    return read_structure(text)


def entry_from_structure(
    obj: Structure | Molecule,
    absorber: str,
    *,
    name: str,
    prototype: str = "file",
    settings: dict[str, Any] | None = None,
) -> StructureEntry:
    """Wrap a structure with one absorber and its computed labels."""
    labels = absorber_labels(obj, absorber)
    return StructureEntry(
        name=name,
        prototype=prototype,
        formula=obj.composition.reduced_formula,
        absorber=absorber,
        structure=obj.to_json(),
        labels=tuple(labels),
        settings=dict(settings or {}),
    )


def structure_entries(
    paths: list[str | Path], absorber: str, *, charge: float = 0.0
) -> list[StructureEntry]:
    """Read user files into :class:`StructureEntry` objects (same form as prototypes).

    Parameters
    ----------
    paths
        Structure files (see :func:`read_structure`).
    absorber
        Absorbing element; a file without it raises ``ParameterError``.
    charge
        Charge of molecules read from xyz.
    """
    out = []
    for path in paths:
        obj = read_structure(path, charge=charge)
        try:
            entry = entry_from_structure(
                obj, absorber, name=f"{Path(path).stem}-{absorber}", settings={"source": str(path)}
            )
        except ParameterError as exc:
            raise ParameterError(f"{path}: {exc}") from None
        out.append(entry)
    return out
