"""Unsupervised views of a map: PCA, k-means clustering, embedding among simulations.

These are the views spectromicroscopy users know from MANTiS (Lerotic et al.,
J. Synchrotron Rad. 21, 1206 (2014); Lerotic et al., Ultramicroscopy 100, 35
(2004) for PCA + cluster analysis of STXM stacks): principal-component maps and
spectra, a cluster map with the mean spectrum of each cluster, and — with a
:class:`xasml.learn.SpectrumEmbedding` fitted on simulated spectra — each pixel's
position among the simulations.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

from ..datamodel import ENERGY, as_map
from ..errors import ParameterError, SpectrumError

__all__ = ["ClusterResult", "PCAResult", "cluster_map", "embed_map", "pca_map"]


def _pixels(stack: xr.DataArray, mask: Any) -> tuple[xr.DataArray, np.ndarray, np.ndarray]:
    m = as_map(stack)
    X = m.values.reshape(-1, m.sizes[ENERGY])
    valid = np.isfinite(X).all(axis=1)
    if mask is not None:
        mk = np.asarray(getattr(mask, "values", mask), dtype=bool)
        if mk.shape != (m.sizes["y"], m.sizes["x"]):
            raise ParameterError(f"mask must have shape {(m.sizes['y'], m.sizes['x'])}; "
                                 f"found {mk.shape}")
        valid &= mk.reshape(-1)
    if valid.sum() < 2:
        raise SpectrumError("fewer than 2 usable pixels in the map (all masked or non-finite)")
    return m, X[valid], valid


def _to_map(values: np.ndarray, valid: np.ndarray, m: xr.DataArray, fill: float) -> np.ndarray:
    out = np.full((valid.size, *values.shape[1:]), fill, dtype=float)
    out[valid] = values
    return out.reshape(m.sizes["y"], m.sizes["x"], *values.shape[1:])


@dataclass(frozen=True)
class PCAResult:
    """PCA of the pixel spectra.

    Attributes
    ----------
    maps
        ``(component, y, x)`` scores (NaN where masked).
    spectra
        ``(component, energy)`` principal spectra.
    mean
        ``(energy,)`` mean spectrum removed before PCA.
    explained_variance_ratio
        ``(n_components,)``.
    """

    maps: xr.DataArray
    spectra: xr.DataArray
    mean: xr.DataArray
    explained_variance_ratio: np.ndarray


def pca_map(stack: xr.DataArray, *, n_components: int = 4, mask: Any = None) -> PCAResult:
    """Principal components of the pixel spectra of a ``(y, x, energy)`` map."""
    from sklearn.decomposition import PCA

    m, X, valid = _pixels(stack, mask)
    if not 1 <= n_components <= min(X.shape):
        raise ParameterError(f"n_components must be in [1, {min(X.shape)}]; found {n_components}")
    pca = PCA(n_components=n_components, random_state=0).fit(X)
    scores = _to_map(pca.transform(X), valid, m, np.nan)
    comp = np.arange(n_components)
    maps = xr.DataArray(np.moveaxis(scores, 2, 0), dims=("component", "y", "x"),
                        coords={"component": comp, "y": m["y"], "x": m["x"]}, name="pca_score")
    spectra = xr.DataArray(pca.components_, dims=("component", ENERGY),
                           coords={"component": comp, ENERGY: m[ENERGY]}, name="pca_spectrum")
    mean = xr.DataArray(pca.mean_, dims=(ENERGY,), coords={ENERGY: m[ENERGY]})
    return PCAResult(maps, spectra, mean, pca.explained_variance_ratio_.copy())


@dataclass(frozen=True)
class ClusterResult:
    """k-means clusters of the pixel spectra.

    Attributes
    ----------
    labels
        ``(y, x)`` cluster index, -1 where masked.
    spectra
        ``(cluster, energy)`` mean spectrum of each cluster.
    sizes
        ``(n_clusters,)`` pixels per cluster.
    """

    labels: xr.DataArray
    spectra: xr.DataArray
    sizes: np.ndarray


def cluster_map(
    stack: xr.DataArray,
    *,
    n_clusters: int = 4,
    n_components: int | None = 8,
    mask: Any = None,
    random_state: int = 0,
) -> ClusterResult:
    """Cluster pixel spectra with k-means, after PCA to ``n_components`` (as in MANTiS).

    Cluster indices are ordered by decreasing cluster size so results are stable.
    """
    from sklearn.cluster import KMeans
    from sklearn.decomposition import PCA

    m, X, valid = _pixels(stack, mask)
    if not 1 <= n_clusters <= X.shape[0]:
        raise ParameterError(f"n_clusters must be in [1, {X.shape[0]}]; found {n_clusters}")
    Z = X
    if n_components is not None and n_components < min(X.shape):
        Z = PCA(n_components=n_components, random_state=random_state).fit_transform(X)
    km = KMeans(n_clusters=n_clusters, n_init=4, random_state=random_state).fit(Z)
    sizes = np.bincount(km.labels_, minlength=n_clusters)
    order = np.argsort(-sizes, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(n_clusters)
    lab = rank[km.labels_]
    labels = np.full(valid.size, -1, dtype=int)
    labels[valid] = lab
    mean = np.stack([X[lab == k].mean(axis=0) for k in range(n_clusters)])
    return ClusterResult(
        labels=xr.DataArray(labels.reshape(m.sizes["y"], m.sizes["x"]), dims=("y", "x"),
                            coords={"y": m["y"], "x": m["x"]}, name="cluster"),
        spectra=xr.DataArray(mean, dims=("cluster", ENERGY),
                             coords={"cluster": np.arange(n_clusters), ENERGY: m[ENERGY]}),
        sizes=sizes[order],
    )


def embed_map(embedding: Any, stack: xr.DataArray, *, mask: Any = None) -> xr.DataArray:
    """Place every pixel among the spectra a :class:`~xasml.learn.SpectrumEmbedding` was fitted on.

    The map is interpolated onto the embedding's energy grid (``energy_``) when it
    has one. Returns ``(y, x, component)`` coordinates, NaN where masked.
    """
    m = as_map(stack)
    e_fit = getattr(embedding, "energy_", None)
    if e_fit is not None:
        e = np.asarray(e_fit, dtype=float)
        se = m[ENERGY].values
        if se[0] > e[0] + 1e-6 or se[-1] < e[-1] - 1e-6:
            raise SpectrumError(
                f"the map's energies {se[0]:g}..{se[-1]:g} eV do not cover the embedding's "
                f"grid {e[0]:g}..{e[-1]:g} eV; energy coverage is insufficient")
        if se.shape != e.shape or not np.allclose(se, e, atol=1e-6):
            m = m.interp({ENERGY: e})
    m, X, valid = _pixels(m, mask)
    coords = np.asarray(embedding.transform(X), dtype=float)
    out = _to_map(coords, valid, m, np.nan)
    return xr.DataArray(out, dims=("y", "x", "component"),
                        coords={"y": m["y"], "x": m["x"],
                                "component": np.arange(out.shape[2])}, name="embedding")
