"""Deterministic stand-in for multiplet-simulated Mn L2,3 spectra (tests only).

Each spectrum is an L3 and an L2 manifold of Lorentzians on an arctan edge
step. Peak positions move smoothly with the charge (about +1.4 eV per unit,
the chemical shift of Mn L3 from Mn2+ to Mn4+) and the manifolds split with
10Dq, so (charge, tendq) is recoverable from the shape as it is from real
crystal-field multiplet spectra.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import xarray as xr

from xasml.datamodel import spectrum, stack

GRID = np.round(np.arange(635.0, 660.0 + 1e-9, 0.1), 6)
CHARGES = (2, 3, 4)
TENDQ = np.round(np.arange(0.0, 2.5 + 1e-9, 0.1), 6)


def _lorentz(e: np.ndarray, centre: float, fwhm: float) -> np.ndarray:
    g = fwhm / 2
    return g**2 / ((e - centre) ** 2 + g**2)


def mn_l23(
    energy: np.ndarray, charge: float, tendq: float, *, fwhm: float = 0.4, shift: float = 0.0
) -> np.ndarray:
    """Intensity ``(n_energy,)`` of the toy Mn L2,3 model."""
    dq = charge - 2.0
    out = 0.05 * (1 + np.arctan((energy - 641.0 - shift) / 0.5) / (np.pi / 2))
    for edge, weight in ((640.0, 1.0), (651.0, 0.5)):
        centre = edge + 1.4 * dq - 0.2 * dq * (edge > 645) + shift
        low = 0.6 - 0.12 * dq + 0.08 * tendq  # t2g-like share grows with 10Dq
        out = out + weight * low * _lorentz(energy, centre - 0.5 * tendq, fwhm)
        out = out + weight * (1 - low) * _lorentz(energy, centre + 0.5 * tendq, fwhm)
        out = out + weight * 0.15 * dq * _lorentz(energy, centre + 2.0, 2 * fwhm)  # satellite
    return out


def training_stack(
    charges: Sequence[int] = CHARGES, tendq: np.ndarray = TENDQ, energy: np.ndarray = GRID
) -> xr.DataArray:
    """Labelled stack ``(sample, energy)`` over the product of ``charges`` × ``tendq``."""
    c = np.repeat(np.asarray(charges), len(tendq))
    t = np.tile(np.asarray(tendq, dtype=float), len(charges))
    y = np.stack([mn_l23(energy, ci, ti) for ci, ti in zip(c, t, strict=True)])
    return stack(
        energy, y, labels={"charge": c, "tendq": t}, element="Mn", edge="L2,3", technique="XAS"
    )


def measured(
    charge: float, tendq: float, *, noise: float = 0.0, shift: float = 0.0,
    fwhm: float = 0.4, seed: int = 0, energy: np.ndarray | None = None, **attrs: str,
) -> xr.DataArray:
    """A 'measured' spectrum: other grid, scale, broadening, shift and noise."""
    e = np.arange(630.0, 665.0, 0.07) if energy is None else energy
    y = 3.7 * mn_l23(e, charge, tendq, fwhm=fwhm, shift=shift)
    y = y + noise * y.max() * np.random.default_rng(seed).standard_normal(e.size)
    return spectrum(e, y, name="measured", **attrs)
