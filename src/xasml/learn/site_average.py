"""Per-site spectra averaged into the spectrum of their structure.

A K-edge measurement of a molecule sees every absorbing atom at once: its
spectrum is the sum of the atoms' spectra on the absolute energy scale. The
structure → spectrum network predicts one spectrum per absorbing site
(labelled ``"<structure>#<atom>"``); the functions here combine them per
structure, as the weighted mean (the spectrum per absorbing atom, on the same
intensity scale as the sites'; multiply by the total weight for the sum). In a
crystal each inequivalent site stands for ``multiplicity`` atoms, its weight.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

from ..errors import InputError
from .structure_data import molecule_of


@dataclass(frozen=True)
class SiteAverage:
    """Spectra averaged per structure.

    Attributes
    ----------
    names
        The structures, in order of their first site, shape ``(n_structures,)``.
    values
        Weighted means, shape ``(..., n_structures, n_energy)``: the leading
        axes of the input (e.g. ensemble members) are kept.
    n_sites
        Sites averaged into each structure, shape ``(n_structures,)``.
    weight
        Their total weight (atoms they stand for), shape ``(n_structures,)``.
    group
        The structure of every input site (index into ``names``), shape ``(n_sites,)``.
    """

    names: list[str]
    values: np.ndarray
    n_sites: np.ndarray
    weight: np.ndarray
    group: np.ndarray


def average_sites(values: Any, labels: Sequence[str] | np.ndarray,
                  weights: Any = None) -> SiteAverage:
    """Weighted mean of per-site spectra over the sites of each structure.

    Parameters
    ----------
    values
        Per-site spectra, shape ``(..., n_sites, n_energy)``.
    labels
        Site labels ``"<structure>#<atom>"`` (:func:`molecule_of` gives the
        structure; a label without ``#`` is a structure of one site), length ``n_sites``.
    weights
        Atoms each site stands for (crystal multiplicities), shape ``(n_sites,)``,
        positive; default 1 for every site.

    Returns
    -------
    SiteAverage
    """
    y = np.asarray(values, dtype=np.float64)
    labels = [str(x) for x in labels]
    if y.ndim < 2 or y.shape[-2] != len(labels):
        raise InputError(f"values must have shape (..., n_sites={len(labels)}, n_energy); "
                         f"found {y.shape}")
    w = np.ones(len(labels)) if weights is None else np.asarray(weights, dtype=np.float64)
    if w.shape != (len(labels),) or not np.all(np.isfinite(w)) or np.any(w <= 0):
        raise InputError(f"weights must be {len(labels)} positive finite numbers; found "
                         f"shape {w.shape}" + (f", min {w.min():g}" if w.size else ""))
    import pandas as pd

    group, uniques = pd.factorize(np.array([molecule_of(lab) for lab in labels], dtype=object))
    names = [str(u) for u in uniques]  # in order of first appearance
    total = np.bincount(group, weights=w, minlength=len(names))
    out = np.zeros((*y.shape[:-2], len(names), y.shape[-1]))
    np.add.at(out, (..., group, slice(None)), y * w[:, None])  # type: ignore[arg-type,index]
    return SiteAverage(names=names, values=out / total[:, None], weight=total,
                       n_sites=np.bincount(group, minlength=len(names)), group=group)


def average_site_spectra(spectra: xr.DataArray, weights: Any = None) -> xr.DataArray:
    """The spectrum of each structure from its sites' spectra (weighted mean).

    Parameters
    ----------
    spectra
        ``(sample, energy)`` with a ``label`` coordinate ``"<structure>#<atom>"``.
    weights
        As in :func:`average_sites`.

    Returns
    -------
    xarray.DataArray
        ``(sample, energy)``, one sample per structure in order of first
        appearance, with coordinates ``label`` (the structure), ``n_sites`` and
        ``site_weight`` (total weight); attrs are kept.
    """
    from ..datamodel import stack

    if "label" not in spectra.coords:
        raise InputError("spectra need a 'label' coordinate '<structure>#<atom>' to group "
                         f"sites; found coordinates {sorted(map(str, spectra.coords))}")
    avg = average_sites(spectra.transpose("sample", "energy").values,
                        spectra["label"].values, weights)
    return stack(spectra["energy"].values, avg.values,
                 labels={"label": avg.names, "n_sites": avg.n_sites,
                         "site_weight": avg.weight}, **dict(spectra.attrs))
