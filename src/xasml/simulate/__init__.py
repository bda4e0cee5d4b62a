"""xasml.simulate: physics engines behind one protocol, and campaigns over designs.

Engines (imported lazily through :func:`get_engine`): ``multiplet`` (edrixs
crystal-field multiplets, L2,3 edges), ``tddft`` (pyscf CVS-TDA, molecular K
edges), ``feff`` (FEFF10 full multiple scattering, K edges of
crystals and clusters), ``analytic`` (toy model for tests and teaching).
"""

from ._design import Design, grid, latin_hypercube, param_key
from ._molecule_design import molecule_design, molecule_params
from .analytic import AnalyticEngine
from .base import ENGINES, Engine, get_engine
from .campaign import CampaignResult, Failure, run_campaign
from .feff import FeffEngine
from .molecules import (
    Molecule,
    from_smiles,
    iter_qm9,
    parse_xyz,
    qm9_molecule,
    qm9_molecules,
    read_smiles_file,
    read_xyz,
)
from .structures import absorber_labels, oxide_prototypes, read_structure
from .tddft import CoreExcitations, core_excitations, fit_shift
from .tddft_engine import TDDFTEngine

__all__ = [
    "ENGINES",
    "AnalyticEngine",
    "CampaignResult",
    "CoreExcitations",
    "Design",
    "Engine",
    "Failure",
    "FeffEngine",
    "Molecule",
    "TDDFTEngine",
    "absorber_labels",
    "core_excitations",
    "fit_shift",
    "from_smiles",
    "get_engine",
    "grid",
    "iter_qm9",
    "latin_hypercube",
    "molecule_design",
    "molecule_params",
    "oxide_prototypes",
    "param_key",
    "parse_xyz",
    "qm9_molecule",
    "qm9_molecules",
    "read_smiles_file",
    "read_structure",
    "read_xyz",
    "run_campaign",
]
