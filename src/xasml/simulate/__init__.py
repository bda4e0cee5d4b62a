"""xasml.simulate: physics engines behind one protocol, and molecular inputs."""

from .base import ENGINES, Engine, get_engine
from .molecules import Molecule, from_smiles, iter_qm9, parse_xyz, qm9_molecule, read_xyz
from .tddft import CoreExcitations, TDDFTEngine, broaden, core_excitations, fit_shift

__all__ = [
    "ENGINES",
    "Engine",
    "get_engine",
    "Molecule",
    "from_smiles",
    "iter_qm9",
    "parse_xyz",
    "qm9_molecule",
    "read_xyz",
    "CoreExcitations",
    "TDDFTEngine",
    "broaden",
    "core_excitations",
    "fit_shift",
]
