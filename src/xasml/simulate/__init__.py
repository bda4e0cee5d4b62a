"""xasml.simulate: physics engines behind one protocol, and campaigns over designs.

Engines (imported lazily through :func:`get_engine`): ``multiplet`` (edrixs
crystal-field multiplets, L2,3 edges), ``tddft`` (pyscf CVS-TDA, molecular K
edges), ``analytic`` (toy model for tests and teaching).
"""

from ._design import Design, grid, latin_hypercube, param_key
from .analytic import AnalyticEngine
from .base import ENGINES, Engine, get_engine
from .campaign import CampaignResult, Failure, run_campaign
from .molecules import Molecule, from_smiles, iter_qm9, parse_xyz, qm9_molecule, read_xyz
from .tddft import CoreExcitations, TDDFTEngine, core_excitations, fit_shift

__all__ = [
    "ENGINES",
    "AnalyticEngine",
    "CampaignResult",
    "CoreExcitations",
    "Design",
    "Engine",
    "Failure",
    "Molecule",
    "TDDFTEngine",
    "core_excitations",
    "fit_shift",
    "from_smiles",
    "get_engine",
    "grid",
    "iter_qm9",
    "latin_hypercube",
    "param_key",
    "parse_xyz",
    "qm9_molecule",
    "read_xyz",
    "run_campaign",
]
