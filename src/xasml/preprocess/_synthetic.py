"""A deterministic synthetic K-edge mu(E) for demos and tests (not physics)."""

from __future__ import annotations

import numpy as np
import xarray as xr

from ..datamodel import spectrum

__all__ = ["synthetic_kedge"]


def synthetic_kedge(
    e0: float = 7112.0,
    *,
    emin: float = -150.0,
    emax: float = 400.0,
    step: float = 0.5,
    edge_step: float = 1.2,
    noise: float = 0.002,
    seed: int = 0,
    element: str = "Fe",
) -> xr.DataArray:
    """mu(E) of a made-up K edge at absolute energy ``e0`` (eV).

    An arctan edge (half width 1 eV) of height ``edge_step`` on a sloping
    background, a white line 7 eV above the edge, a pre-edge peak 10 eV
    below it, a decaying post-edge oscillation and Gaussian noise
    (``noise`` × ``edge_step``, seeded). The derivative maximum lies at
    ``e0`` to within 0.1 eV, so ``e0`` is the known edge energy.

    Returns
    -------
    xarray.DataArray
        ``(energy,)`` with ``attrs`` element, edge ``"K"``, signal ``"mu"``.
    """
    rng = np.random.default_rng(seed)
    e = e0 + np.arange(emin, emax + step / 2, step)
    x = e - e0
    mu = 0.3 - 2e-4 * x  # falling pre-edge background
    mu += edge_step * (0.5 + np.arctan(x / 1.0) / np.pi)
    mu += 0.5 * edge_step * np.exp(-0.5 * ((x - 7.0) / 2.0) ** 2)  # white line
    mu += 0.05 * edge_step * np.exp(-0.5 * ((x + 10.0) / 0.8) ** 2)  # pre-edge peak
    mu += 0.05 * edge_step * np.sin(x / 12.0) * np.exp(-np.clip(x, 0, None) / 150) * (x > 0)
    mu += rng.normal(0.0, noise * edge_step, e.size)
    return spectrum(e, mu, element=element, edge="K", technique="XAS", signal="mu",
                    source="synthetic")
