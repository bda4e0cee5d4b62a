"""Stick spectra and their broadening (Lorentzian core hole ⊗ Gaussian instrument)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ParameterError

__all__ = ["Sticks", "broaden", "merge_degenerate"]

_FWHM_TO_SIGMA = 1.0 / (2.0 * np.sqrt(2.0 * np.log(2.0)))


@dataclass(frozen=True)
class Sticks:
    """Transition energies and strengths of one multiplet calculation.

    Attributes
    ----------
    energies
        Absolute photon energies of the transitions (eV), shape ``(n,)``.
    weights
        Isotropic (x, y, z averaged) dipole strengths times the Boltzmann
        population of the initial state, shape ``(n,)``; in edrixs's
        operator normalisation they sum to ``(10 − n_d) / 3``, the number of
        3d holes over 3.
    edge
        ``"L3"`` or ``"L2"`` per stick, shape ``(n,)``: ``"L3"`` when the core
        hole of the final state has more than half 2p3/2 character.
    l3_character
        2p3/2 character of the core hole of each final state (0…1), shape ``(n,)``.
    """

    energies: np.ndarray
    weights: np.ndarray
    edge: np.ndarray
    l3_character: np.ndarray

    def __post_init__(self) -> None:
        for name in ("energies", "weights", "edge", "l3_character"):
            arr = np.array(getattr(self, name))
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)

    def __len__(self) -> int:
        return int(self.energies.size)

    @property
    def total(self) -> float:
        """Sum of the weights (integrated intensity)."""
        return float(self.weights.sum())

    def shifted(self, delta: float) -> Sticks:
        """A copy with every energy moved by ``delta`` eV."""
        return Sticks(self.energies + delta, self.weights, self.edge, self.l3_character)


def broaden(
    sticks: Sticks,
    energy: np.ndarray,
    *,
    gamma_l3: float,
    gamma_l2: float,
    fwhm_gauss: float,
) -> np.ndarray:
    """Voigt-broadened spectrum of ``sticks`` on ``energy``.

    Each stick becomes an area-normalised Voigt profile: a Lorentzian of FWHM
    ``gamma_l3`` or ``gamma_l2`` (by its ``edge`` label) convolved with a
    Gaussian of FWHM ``fwhm_gauss``. The integral over all energies equals
    ``sticks.total``.

    Parameters
    ----------
    sticks
        Stick spectrum.
    energy
        Output grid (eV), shape ``(m,)``.
    gamma_l3, gamma_l2, fwhm_gauss
        Widths (eV, FWHM, ≥ 0; each edge needs a non-zero total width).

    Returns
    -------
    numpy.ndarray
        Intensity per eV, shape ``(m,)``.
    """
    from scipy.special import voigt_profile

    for name, val in (("gamma_l3", gamma_l3), ("gamma_l2", gamma_l2), ("fwhm_gauss", fwhm_gauss)):
        if not np.isfinite(val) or val < 0:
            raise ParameterError(f"{name} must be a finite width ≥ 0 eV (FWHM); got {val!r}")
    sigma = fwhm_gauss * _FWHM_TO_SIGMA
    out = np.zeros(np.shape(energy), dtype=float)
    x = np.asarray(energy, dtype=float)
    for label, gamma in (("L3", gamma_l3), ("L2", gamma_l2)):
        sel = sticks.edge == label
        if not sel.any():
            continue
        if gamma == 0 and sigma == 0:
            raise ParameterError(
                f"gamma_{label.lower()} and fwhm_gauss are both 0: the {label} sticks "
                "need a non-zero width to be broadened"
            )
        e = sticks.energies[sel]
        w = sticks.weights[sel]
        # Chunks bound the (m, chunk) temporary.
        for start in range(0, e.size, 2048):
            sl = slice(start, start + 2048)
            prof = voigt_profile(x[:, None] - e[None, sl], sigma, gamma / 2.0)
            out += prof @ w[sl]
    return out


def merge_degenerate(
    energies: np.ndarray,
    weights: np.ndarray,
    l3_character: np.ndarray,
    *,
    tol: float = 1e-9,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Merge sticks whose energies agree within ``tol`` eV.

    Kramers pairs and degenerate initial states give many coincident sticks;
    merging them (weights summed, energy and 2p3/2 character weight-averaged)
    makes broadening several times cheaper without changing the spectrum.

    Returns
    -------
    energies, weights, l3_character
        Sorted by energy, shape ``(n_merged,)`` each.
    """
    order = np.argsort(energies, kind="stable")
    e, w, c = energies[order], weights[order], l3_character[order]
    if e.size == 0:
        return e, w, c
    start = np.concatenate(([True], np.diff(e) > tol))
    group = np.cumsum(start) - 1
    wsum = np.bincount(group, weights=w)
    safe = np.where(wsum > 0, wsum, 1.0)
    # Weighted means; zero-weight groups keep their first member's values.
    e_m = np.where(wsum > 0, np.bincount(group, weights=w * e) / safe, e[start])
    c_m = np.where(wsum > 0, np.bincount(group, weights=w * c) / safe, c[start])
    return e_m, wsum, c_m
