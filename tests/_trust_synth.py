"""Synthetic K-edge-like spectra with known labels, shared by the trust-layer tests."""

from __future__ import annotations

import numpy as np

ENERGY = np.linspace(7100.0, 7200.0, 120)  # eV
E0 = 7125.0


def _gauss(e: np.ndarray, centre: np.ndarray, sigma: float) -> np.ndarray:
    return np.exp(-0.5 * ((e - centre) / sigma) ** 2)


def k_edge_set(n: int, seed: int, noise: float = 0.005) -> tuple[np.ndarray, np.ndarray]:
    """``n`` spectra (arctan edge + white line + pre-edge), targets ``(shift eV, white line)``."""
    rng = np.random.default_rng(seed)
    shift = rng.uniform(-4.0, 4.0, n)[:, None]
    wl = rng.uniform(0.3, 1.0, n)[:, None]
    pre = rng.uniform(0.0, 0.1, n)[:, None]
    e = ENERGY[None, :]
    edge = E0 + shift
    mu = 0.5 + np.arctan((e - edge) / 1.5) / np.pi
    mu = mu + wl * _gauss(e, edge + 4.0, 3.0) + pre * _gauss(e, edge - 12.0, 1.5)
    mu = mu + noise * rng.standard_normal(mu.shape)
    return mu, np.hstack([shift, wl])


def l_edge_set(n: int, seed: int) -> np.ndarray:
    """``n`` spectra of another shape (two sharp L3/L2-like lines): out of distribution."""
    rng = np.random.default_rng(seed)
    e = ENERGY[None, :]
    c = 7140.0 + rng.uniform(-3.0, 3.0, n)[:, None]
    mu = 0.3 * (e > c) + 1.5 * _gauss(e, c, 1.0) + 0.8 * _gauss(e, c + 17.0, 1.2)
    return mu + 0.005 * rng.standard_normal(mu.shape)
