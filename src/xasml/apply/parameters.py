"""Read physical parameters of a measured spectrum off simulations (Suzuki et al.).

The job behind ``xasml demo``, ``xasml embed`` and ``xasml estimate``: a
labelled simulated set (e.g. Mn2+/3+/4+ × 10Dq from the multiplet engine) is
embedded, a measured spectrum placed among the simulations, and its class
(charge) and values (10Dq) read off with an uncertainty. The outputs are the
embedding figure (PNG, optional interactive HTML) and a JSON + Markdown report.

References
----------
Y. Suzuki, H. Hino, M. Kotsugi, K. Ono, npj Comput. Mater. 5, 39 (2019).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

from ..datamodel import SAMPLE
from ..errors import ParameterError

if TYPE_CHECKING:
    from ..learn.estimate import EstimationResult, ParameterEstimator
    from ..learn.refine import FitResult

__all__ = [
    "EstimationReport",
    "estimate_parameters",
    "refine_multiplet",
    "simulate_grid",
    "with_charge",
    "write_report",
]

_ION = re.compile(r"^([A-Z][a-z]?)(\d+)\+$")


def with_charge(da: xr.DataArray) -> xr.DataArray:
    """Add an integer ``charge`` label parsed from an ``ion`` label (``"Mn3+"`` → 3).

    Returns ``da`` unchanged when it already has ``charge`` or has no ``ion``.
    """
    if "charge" in da.coords or "ion" not in da.coords:
        return da
    charges = []
    for ion in np.asarray(da["ion"].values).astype(str):
        m = _ION.match(ion)
        if m is None:
            raise ParameterError(f"label 'ion' must look like 'Mn2+'; found {ion!r}")
        charges.append(int(m.group(2)))
    return da.assign_coords(charge=(SAMPLE, np.asarray(charges)))


def simulate_grid(
    out: str | Path,
    *,
    ions: Sequence[str] = ("Mn2+", "Mn3+", "Mn4+"),
    tendq: str = "0:2.5:0.1",
    scheduler: Any = "sync",
    progress: bool = True,
) -> xr.DataArray:
    """Simulate (or resume/reuse) the multiplet seed grid and load it.

    Parameters
    ----------
    out
        Dataset directory (``*.zarr``). An existing complete dataset is reused
        without recomputation (the campaign runner skips known parameter sets).
    ions, tendq
        Grid axes: ion labels and a ``"start:stop:step"`` 10Dq range in eV
        (stop included).
    scheduler
        ``"sync"`` (in this process, default: cheapest for ~100 spectra),
        ``None`` for a local Dask cluster, or a scheduler address.

    Returns
    -------
    xarray.DataArray
        ``(sample, energy)`` with labels ``ion``, ``charge``, ``tendq``.
    """
    from ..io import load
    from ..simulate import grid, run_campaign

    design = grid(ion=list(ions), tendq=tendq)
    result = run_campaign("multiplet", design, out, scheduler=scheduler, progress=progress)
    if result.n_failed:
        raise ParameterError(
            f"{result.n_failed} multiplet simulations failed; see {Path(out) / 'failures.json'}"
        )
    return with_charge(load(out))


@dataclass(frozen=True)
class EstimationReport:
    """What :func:`write_report` wrote."""

    json: Path
    markdown: Path
    figure: Path
    html: Path | None


def estimate_parameters(
    simulations: xr.DataArray,
    measured: xr.DataArray,
    *,
    method: str = "mds",
    class_label: str | None = "charge",
    value_labels: Sequence[str] = ("tendq",),
    n_neighbors: int = 5,
    match: bool = True,
    random_state: int = 0,
) -> tuple[ParameterEstimator, EstimationResult, dict[str, float]]:
    """Fit the embedding on ``simulations`` and read the labels of ``measured``.

    Parameters
    ----------
    simulations
        Labelled ``(sample, energy)`` stack; an ``ion`` label gains ``charge``.
    measured
        One spectrum ``(energy,)`` covering the simulations' energy range.
    method
        Embedding: ``mds``, ``isomap``, ``tsne``, ``umap`` or ``pca``.
    match
        First match the measured spectrum's energy shift and extra broadening
        against the simulations and compare at a common resolution
        (:class:`~xasml.learn.MatchedEstimator`); ``False`` compares as given.

    Returns
    -------
    (ParameterEstimator, EstimationResult, dict)
        The fitted estimator used for the read-out (for figures), the result,
        and the matched nuisances (``shift_eV``, ``extra_fwhm_eV``; empty
        without matching).
    """
    from ..learn import MatchedEstimator, ParameterEstimator

    est = ParameterEstimator(
        class_label=class_label,
        value_labels=tuple(value_labels),
        n_neighbors=n_neighbors,
        embedding=method,  # type: ignore[arg-type]
        random_state=random_state,
    )
    sims = with_charge(simulations)
    if not match:
        est.fit(sims)
        return est, est.estimate(measured), {}
    matched = MatchedEstimator(estimator=est).fit(sims)
    res = matched.estimate(measured)
    nuisances = {"shift_eV": res.shift, "extra_fwhm_eV": res.extra_fwhm}
    return matched.estimator_, res.result, nuisances


def refine_multiplet(
    measured: xr.DataArray,
    ion: str,
    *,
    tendq: float,
    shift: float = 0.0,
    extra_fwhm: float = 0.0,
    window: float = 0.3,
) -> FitResult:
    """Least-squares fit of 10Dq, energy shift and Gaussian width with the engine.

    The "fit after embedding" step: the embedding read-out gives the class
    (``ion``) and a starting 10Dq; the multiplet engine is then fitted to the
    measured spectrum within ``±window`` eV of it (Suzuki et al. use the
    embedding for the global search, a local fit sharpens the value).

    Returns
    -------
    xasml.learn.FitResult
        ``values``/``errors`` for ``tendq``, ``shift``, ``fwhm_gauss`` (eV).
    """
    from ..learn import SticksModel, fit_spectrum
    from ..simulate.multiplet import DEFAULTS, MultipletEngine

    engine = MultipletEngine()
    model = SticksModel(engine, {"ion": ion}, np.asarray(measured["energy"].values, dtype=float))
    fwhm0 = float(np.hypot(float(DEFAULTS["fwhm_gauss"]), extra_fwhm))
    return fit_spectrum(
        measured,
        model,
        start={"tendq": tendq, "shift": shift, "fwhm_gauss": fwhm0},
        bounds={
            "tendq": (max(tendq - window, 0.0), tendq + window),
            "shift": (shift - window, shift + window),
            "fwhm_gauss": (0.05, 1.5),
        },
    )


def write_report(
    out: str | Path,
    estimator: ParameterEstimator,
    measured: xr.DataArray,
    result: EstimationResult,
    *,
    html: bool = False,
    extra: dict[str, Any] | None = None,
) -> EstimationReport:
    """Write ``estimate.json``, ``estimate.md``, ``embedding.png`` (and ``.html``).

    Parameters
    ----------
    out
        Output folder (created).
    extra
        More JSON-serialisable facts for the report (e.g. the true values of
        a synthetic test spectrum).
    """
    from ..learn import save_embedding_figure

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    payload = {"result": result.to_dict(), **(extra or {})}
    json_path = out / "estimate.json"
    _write_text(json_path, json.dumps(payload, indent=2, default=str))
    md_path = out / "estimate.md"
    lines = ["# Parameter estimate", "", result.to_markdown()]
    if extra:
        lines += ["", "## Context", ""]
        lines += [f"- **{k}**: {v}" for k, v in extra.items()]
    _write_text(md_path, "\n".join(lines) + "\n")
    method = result.method or "embedding"
    fig = save_embedding_figure(
        out / "embedding.png", estimator, measured, result=result,
        title=f"{method.upper()} embedding of the simulations; red: measured spectrum",
    )
    html_path = None
    if html:
        html_path = save_embedding_figure(
            out / "embedding.html", estimator, measured, result=result
        )
    return EstimationReport(json=json_path, markdown=md_path, figure=fig, html=html_path)


def _write_text(path: Path, text: str) -> None:
    # temp + rename: an interrupted run never leaves a half-written report
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
