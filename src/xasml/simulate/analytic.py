"""A toy analytic engine: model K- or L2,3-edge spectra from textbook components.

**This is a teaching and testing engine, not physics you should fit data with.**
A spectrum is the sum of

* an arctan edge step at ``e0`` — the integral of a Lorentzian of FWHM
  ``edge_width`` (J. Stöhr, *NEXAFS Spectroscopy*, Springer 1992, ch. 7.2);
* a white line (Voigt: Lorentzian FWHM ``fwhm`` convolved with a Gaussian of
  FWHM ``fwhm_gauss``) at ``e0 + white_line_offset``, of peak height
  ``white_line_height``;
* optionally a pre-edge peak of the same shape at ``e0 + pre_edge_offset``;
* for ``edge="L23"``, a second copy of the step and white line at
  ``e0 + split`` (the L2 edge), scaled by ``(1 - branching) / branching``
  (statistical ``branching = 2/3`` gives the 2:1 L3:L2 ratio).

It is fast (about 1 ms a spectrum, mostly building the DataArray) and
deterministic, which makes it the engine of campaign tests, demos and
synthetic data sets. ``delay`` (seconds) sleeps in
each call to imitate a slow engine.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
import xarray as xr

from ..datamodel import spectrum
from ..errors import ParameterError

__all__ = ["AnalyticEngine"]

_FWHM_TO_SIGMA = 1.0 / (2.0 * math.sqrt(2.0 * math.log(2.0)))

# Defaults per edge (Mn: K edge 6539 eV, L3 640 eV, L3-L2 spin-orbit split 11 eV).
_GRID = {"K": (6510.0, 6600.0, 451), "L23": (630.0, 665.0, 351)}
_DEFAULTS: dict[str, dict[str, float]] = {
    "K": {
        "e0": 6539.0,
        "step": 1.0,
        "edge_width": 2.0,
        "white_line_height": 0.8,
        "white_line_offset": 6.0,
        "fwhm": 3.0,
        "fwhm_gauss": 1.0,
        "pre_edge_height": 0.0,
        "pre_edge_offset": -6.0,
    },
    "L23": {
        "e0": 640.0,
        "step": 1.0,
        "edge_width": 0.5,
        "white_line_height": 6.0,
        "white_line_offset": 0.5,
        "fwhm": 0.6,
        "fwhm_gauss": 0.3,
        "pre_edge_height": 0.0,
        "pre_edge_offset": -2.0,
        "split": 11.0,
        "branching": 2.0 / 3.0,
    },
}
_POSITIVE = ("edge_width", "fwhm")
_NON_NEGATIVE = ("step", "white_line_height", "fwhm_gauss", "pre_edge_height", "split")


class AnalyticEngine:
    """Toy model spectra (arctan step + Voigt white lines) on a fixed grid.

    Parameters
    ----------
    edge
        ``"K"`` (one edge) or ``"L23"`` (L3 at ``e0`` and L2 at ``e0 + split``).
    e_min, e_max, n_energy
        Fixed output grid in eV; defaults: K 6510–6600 eV (451 points),
        L23 630–665 eV (351 points).
    element
        Stored in the spectrum's attrs (default ``"Mn"``).
    delay
        Seconds to sleep per spectrum, to imitate a slow engine (default 0).

    Notes
    -----
    Parameters of :meth:`simulate` (all optional, eV unless noted): ``e0``,
    ``step`` (edge jump), ``edge_width`` (FWHM of the arctan step),
    ``white_line_height``, ``white_line_offset``, ``fwhm`` (Lorentzian, > 0),
    ``fwhm_gauss`` (≥ 0), ``pre_edge_height``, ``pre_edge_offset`` and, for
    L23 only, ``split`` and ``branching`` (in (0, 1]).
    """

    name = "analytic"
    version = "1.0"

    def __init__(
        self,
        *,
        edge: Literal["K", "L23"] = "K",
        e_min: float | None = None,
        e_max: float | None = None,
        n_energy: int | None = None,
        element: str = "Mn",
        delay: float = 0.0,
    ) -> None:
        if edge not in _GRID:
            raise ParameterError(f"AnalyticEngine: edge must be 'K' or 'L23'; found {edge!r}")
        lo, hi, n = _GRID[edge]
        self.edge = edge
        self.e_min = float(lo if e_min is None else e_min)
        self.e_max = float(hi if e_max is None else e_max)
        self.n_energy = int(n if n_energy is None else n_energy)
        self.element = str(element)
        self.delay = float(delay)
        if not self.e_max > self.e_min or self.n_energy < 2:
            raise ParameterError(
                "AnalyticEngine: need e_max > e_min and n_energy >= 2; found "
                f"e_min={self.e_min}, e_max={self.e_max}, n_energy={self.n_energy}"
            )
        if not self.delay >= 0:
            raise ParameterError(f"AnalyticEngine: delay must be >= 0; found {delay!r}")

    @property
    def energy(self) -> np.ndarray:
        """The fixed output grid, shape ``(n_energy,)``, eV."""
        return np.linspace(self.e_min, self.e_max, self.n_energy)

    def settings(self) -> dict[str, Any]:
        """Constructor settings, JSON-serialisable."""
        return {
            "edge": self.edge,
            "e_min": self.e_min,
            "e_max": self.e_max,
            "n_energy": self.n_energy,
            "element": self.element,
            "delay": self.delay,
        }

    def provenance(self) -> dict[str, Any]:
        """Engine name, version and fixed settings."""
        return {"engine": self.name, "version": self.version, "settings": self.settings()}

    def _resolve(self, params: Mapping[str, Any]) -> dict[str, float]:
        allowed = _DEFAULTS[self.edge]
        unknown = sorted(set(params) - set(allowed))
        if unknown:
            raise ParameterError(
                f"analytic engine ({self.edge} edge): unknown parameter(s) {unknown}; "
                f"expected some of {sorted(allowed)}"
            )
        p = dict(allowed)
        for name, value in params.items():
            try:
                p[name] = float(value)
            except (TypeError, ValueError):
                raise ParameterError(
                    f"analytic engine: parameter {name!r} must be a number; found {value!r}"
                ) from None
            if not math.isfinite(p[name]):
                raise ParameterError(f"analytic engine: {name!r} must be finite; found {value!r}")
        for name in _POSITIVE:
            if not p[name] > 0:
                raise ParameterError(f"analytic engine: {name!r} must be > 0; found {p[name]}")
        for name in _NON_NEGATIVE:
            if name in p and p[name] < 0:
                raise ParameterError(f"analytic engine: {name!r} must be >= 0; found {p[name]}")
        if not self.e_min <= p["e0"] <= self.e_max:
            raise ParameterError(
                f"analytic engine: e0 must lie in the grid [{self.e_min}, {self.e_max}] eV; "
                f"found {p['e0']}"
            )
        if "branching" in p and not 0 < p["branching"] <= 1:
            raise ParameterError(
                f"analytic engine: 'branching' must be in (0, 1]; found {p['branching']}"
            )
        return p

    def simulate(self, params: Mapping[str, Any]) -> xr.DataArray:
        """Compute one model spectrum.

        Parameters
        ----------
        params
            Any of the parameters listed in the class Notes; others take
            their defaults.

        Returns
        -------
        xarray.DataArray
            Dimension ``energy`` (the fixed grid), values in units of the L3/K
            edge jump; attrs ``element``, ``edge``, ``technique="XAS"``,
            ``signal="mu"``, ``engine``, ``engine_version``, ``parameters``.

        Raises
        ------
        ParameterError
            Unknown parameter, non-numeric or out-of-range value.
        """
        from scipy.special import voigt_profile

        p = self._resolve(params)
        if self.delay:
            time.sleep(self.delay)
        e = self.energy
        sigma, gamma = p["fwhm_gauss"] * _FWHM_TO_SIGMA, p["fwhm"] / 2.0
        peak_max = voigt_profile(0.0, sigma, gamma)

        def peak(center: float, height: float) -> np.ndarray:
            out: np.ndarray = height * voigt_profile(e - center, sigma, gamma) / peak_max
            return out

        def edge(e0: float, scale: float) -> np.ndarray:
            step = 0.5 + np.arctan((e - e0) / (p["edge_width"] / 2.0)) / np.pi
            white_line = peak(e0 + p["white_line_offset"], p["white_line_height"])
            out: np.ndarray = scale * (p["step"] * step + white_line)
            return out

        mu = edge(p["e0"], 1.0) + peak(p["e0"] + p["pre_edge_offset"], p["pre_edge_height"])
        if self.edge == "L23":
            mu = mu + edge(p["e0"] + p["split"], (1.0 - p["branching"]) / p["branching"])
        return spectrum(
            e,
            mu,
            name="intensity",
            element=self.element,
            edge=self.edge,
            technique="XAS",
            signal="mu",
            source=f"xasml.simulate.analytic {self.version}",
            engine=self.name,
            engine_version=self.version,
            parameters=dict(params),
        )
