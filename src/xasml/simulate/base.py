"""The engine protocol every physics backend implements, and the registry.

An engine turns one parameter set into one spectrum. Campaigns
(:mod:`xasml.simulate.campaign`) map an engine over many parameter sets and
store the results as a ``(sample, energy)`` dataset whose coordinates are the
parameters. Adding an engine touches its own module and :data:`ENGINES`.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

import xarray as xr

from ..errors import EngineError, ParameterError

__all__ = ["ENGINES", "Engine", "get_engine"]


@runtime_checkable
class Engine(Protocol):
    """A simulation backend.

    Attributes
    ----------
    name
        Registry name (``"multiplet"``, ``"feff"``, ``"tddft"``).

    Notes
    -----
    Per-sample labels reach a campaign's dataset as coordinates on
    ``sample``: every scalar non-dimension coordinate of the returned spectrum,
    plus the numeric attrs named in an optional class attribute
    ``sample_attrs: tuple[str, ...]`` (values that differ between spectra of
    one campaign, such as FEFF's ``fermi_energy``). Other attrs are taken
    from the first spectrum as the dataset's shared attrs.
    """

    name: str

    def simulate(self, params: Mapping[str, Any]) -> xr.DataArray:
        """Compute one spectrum.

        Parameters
        ----------
        params
            Physical parameters of this spectrum (JSON-serialisable scalars).

        Returns
        -------
        xarray.DataArray
            Dimension ``energy`` (eV) on the engine's fixed output grid, so that
            spectra of one campaign stack without resampling. ``attrs`` hold the
            provenance (engine, engine version, parameters).
        """
        ...

    def provenance(self) -> dict[str, Any]:
        """Engine name, version and fixed settings, JSON-serialisable."""
        ...


# name -> "module:Class", imported lazily so that optional engines cost nothing.
ENGINES: dict[str, str] = {
    "analytic": "xasml.simulate.analytic:AnalyticEngine",
    "multiplet": "xasml.simulate.multiplet:MultipletEngine",
    "tddft": "xasml.simulate.tddft_engine:TDDFTEngine",
    "feff": "xasml.simulate.feff:FeffEngine",
}


def get_engine(name: str, **settings: Any) -> Engine:
    """Instantiate the engine registered as ``name`` with ``settings``.

    Raises
    ------
    ParameterError
        Unknown engine name.
    EngineError
        The engine's optional dependency is not installed.
    """
    if name not in ENGINES:
        raise ParameterError(f"unknown engine {name!r}; expected one of: {', '.join(ENGINES)}")
    module, _, cls = ENGINES[name].partition(":")
    try:
        mod = importlib.import_module(module)
    except ImportError as exc:
        raise EngineError(
            f"engine {name!r} needs an optional dependency that is not installed: {exc}"
        ) from None
    engine: Engine = getattr(mod, cls)(**settings)
    return engine
