"""Designs over molecules for the ``"tddft"`` engine: one set per molecule or per site."""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from typing import Any, Literal

from ..errors import ParameterError, XasmlWarning
from ._design import Design
from .molecules import Molecule

__all__ = ["molecule_design", "molecule_params"]

SiteMode = Literal["all", "per-site"]


def molecule_params(molecule: Molecule) -> dict[str, Any]:
    """The engine parameters naming ``molecule``: its QM9 index, else its xyz text.

    A QM9 molecule (``meta["qm9_index"]``) is named by index, which keeps the
    dataset small and lets a reader rebuild it with
    :func:`~xasml.simulate.qm9_molecule`; any other molecule by its xyz text
    (plus ``charge`` when not neutral).
    """
    index = molecule.meta.get("qm9_index")
    if index is not None:
        return {"qm9_index": int(index)}
    params: dict[str, Any] = {"xyz": molecule.to_xyz()}
    if molecule.charge:
        params["charge"] = int(molecule.charge)
    return params


def molecule_design(
    molecules: Iterable[Molecule], element: str, *, sites: SiteMode = "all"
) -> Design:
    """Parameter sets of the ``"tddft"`` engine for ``molecules`` at the ``element`` K edge.

    Parameters
    ----------
    molecules
        Molecules; those without an ``element`` atom are skipped with an
        :class:`~xasml.errors.XasmlWarning` that counts them.
    element
        Absorbing element (``"O"``, ``"N"``).
    sites
        ``"all"``: one set per molecule (``site="all"``, the sum over the
        element's atoms); ``"per-site"``: one set per absorbing atom
        (``site=<atom index>``), so that each site is its own sample with its
        own site properties (Kiyohara et al., *Sci. Rep.* 8, 13548, 2018).

    Returns
    -------
    Design
        In molecule order, then atom order; description
        ``{"kind": "molecules", "element", "sites", "molecules": [names]}``.

    Raises
    ------
    ParameterError
        Bad ``sites``, or no molecule contains ``element``.
    """
    if sites not in ("all", "per-site"):
        raise ParameterError(f"sites must be 'all' or 'per-site'; found {sites!r}")
    params: list[dict[str, Any]] = []
    names: list[str] = []
    skipped = 0
    for mol in molecules:
        atoms = mol.sites(element)
        if not atoms:
            skipped += 1
            continue
        base = {**molecule_params(mol), "element": element}
        names.append(mol.name)
        if sites == "all":
            params.append({**base, "site": "all"})
        else:
            params.extend({**base, "site": i} for i in atoms)
    if not params:
        raise ParameterError(f"none of the {skipped} molecules has a {element!r} atom")
    if skipped:
        warnings.warn(
            f"{skipped} molecule(s) without a {element!r} atom skipped",
            XasmlWarning,
            stacklevel=2,
        )
    description = {"kind": "molecules", "element": element, "sites": sites, "molecules": names}
    return Design(params, description)
