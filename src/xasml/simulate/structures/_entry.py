"""The common form of a structure source: one structure, one absorber, its labels."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .labels import SiteLabels

if TYPE_CHECKING:
    from pymatgen.core import Molecule, Structure

__all__ = ["StructureEntry", "campaign_params"]


@dataclass(frozen=True)
class StructureEntry:
    """A structure with one absorbing element and the labels of its sites.

    Attributes
    ----------
    name
        Unique, file-name safe name (``"rocksalt-MnO-Mn"``, ``"...-s+0.02-d1"``).
    prototype
        Structure type (``"rocksalt"``, ``"spinel_normal"``, ``"file"`` ...).
    formula
        Reduced formula.
    absorber
        Absorbing element symbol.
    structure
        The pymatgen ``Structure`` or ``Molecule`` as a JSON string
        (``obj.to_json()``), the form the FEFF engine reads.
    labels
        One :class:`SiteLabels` per symmetry-inequivalent absorber site, with
        multiplicities.
    settings
        How the structure was made (source file, strain, distortion, seed).
    """

    name: str
    prototype: str
    formula: str
    absorber: str
    structure: str
    labels: tuple[SiteLabels, ...]
    settings: dict[str, Any] = field(default_factory=dict)

    def to_pymatgen(self) -> Structure | Molecule:
        """The structure as a pymatgen object."""
        from .sources import parse_structure

        return parse_structure(self.structure)

    def site_records(self) -> list[dict[str, Any]]:
        """One flat record per inequivalent site: name, site, weight and labels."""
        total = sum(lab.multiplicity for lab in self.labels)
        return [
            {
                "name": self.name,
                "prototype": self.prototype,
                "formula": self.formula,
                "site": lab.site,
                "weight": lab.multiplicity / total,
                "cn": lab.cn,
                "geometry": lab.geometry,
                "oxidation_state": lab.oxidation_state,
                "mean_nn_distance": lab.mean_nn_distance,
            }
            for lab in self.labels
        ]


def structure_folder(dataset: str | Path) -> Path:
    """Where a FEFF campaign keeps its structure files: ``<dataset>.structures`` beside it."""
    return Path(dataset).resolve().with_suffix(".structures")


def campaign_params(
    entries: list[StructureEntry], folder: str | Path | None = None
) -> list[dict[str, Any]]:
    """Parameter sets for a FEFF campaign over (structure, site).

    Parameters
    ----------
    entries
        Structure entries.
    folder
        When given, each structure is written to ``folder/<name>.json`` and
        the parameters hold its path (compact dataset coordinates); otherwise
        the JSON string itself.

    Returns
    -------
    list of dict
        ``{"structure", "site", "label_name", "label_weight", "label_cn",
        "label_geometry", "label_oxidation_state", "label_mean_nn_distance"}``
        per inequivalent absorber site; the ``label_*`` keys are passed
        through by the engine so that a campaign stores them as coordinates.
    """
    out = []
    for entry in entries:
        struct = entry.structure
        if folder is not None:
            path = Path(folder) / f"{entry.name}.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(json.loads(entry.structure)))
            struct = str(path)
        for rec in entry.site_records():
            params: dict[str, Any] = {"structure": struct, "site": rec["site"]}
            for key in ("name", "weight", "cn", "geometry", "oxidation_state", "mean_nn_distance"):
                params[f"label_{key}"] = rec[key]
            out.append(params)
    return out
