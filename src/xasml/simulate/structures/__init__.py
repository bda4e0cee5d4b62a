"""Structure sources and structure-derived labels for structure → spectrum campaigns.

* :func:`oxide_prototypes` — labelled 3d transition-metal oxides built from
  prototypes (CN 4/5/6, oxidation states 2+ to 6+), with strain and random
  distortion; ``substitute=True`` adds every 3d element on every cation role
  (:mod:`.substitution`, Shannon-radius-scaled cells).
* :func:`read_structure`, :func:`structure_entries` — user CIF / POSCAR /
  xyz / pymatgen JSON in the same form.
* :func:`absorber_labels`, :func:`site_labels` — coordination number, local
  geometry, oxidation state and bond length of absorbing sites.

Needs the ``feff`` extra (pymatgen, ase); imported lazily by callers.
"""

from ._entry import StructureEntry, campaign_params, structure_folder
from .labels import (
    GEOMETRIES,
    SiteLabels,
    absorber_labels,
    equivalent_sites,
    oxidation_states,
    site_labels,
)
from .prototypes import PROTOTYPES, Compound, compounds, distort, oxide_prototypes, strain
from .sources import entry_from_structure, parse_structure, read_structure, structure_entries

__all__ = [
    "GEOMETRIES",
    "PROTOTYPES",
    "Compound",
    "SiteLabels",
    "StructureEntry",
    "absorber_labels",
    "campaign_params",
    "structure_folder",
    "compounds",
    "distort",
    "entry_from_structure",
    "equivalent_sites",
    "oxidation_states",
    "oxide_prototypes",
    "parse_structure",
    "read_structure",
    "site_labels",
    "strain",
    "structure_entries",
]
