"""``xasml embed`` and ``xasml estimate``: parameters by embedding (Suzuki et al.)."""

from __future__ import annotations

from pathlib import Path

import typer

from ._app import app

_METHODS = ("mds", "isomap", "tsne", "umap", "pca")


def _check_method(method: str) -> None:
    from ..errors import ParameterError

    if method not in _METHODS:
        raise ParameterError(f"--method must be one of {', '.join(_METHODS)}; found {method!r}")


def _load_pair(dataset: Path, file: Path | None):  # type: ignore[no-untyped-def]
    from ..apply.parameters import with_charge
    from ..io import read

    sims = with_charge(read(dataset))
    measured = None if file is None else read(file)
    return sims, measured


@app.command()
def embed(
    dataset: Path = typer.Argument(..., help="Simulated, labelled dataset (.zarr/.nc)."),
    method: str = typer.Option("mds", help="mds, isomap, tsne, umap or pca."),
    place: Path = typer.Option(None, help="Measured spectrum to place among the simulations."),
    out: Path = typer.Option(Path("embedding-output"), help="Output folder."),
    html: bool = typer.Option(False, help="Also write an interactive HTML figure."),
) -> None:
    """Embed a simulated set in 2-D and (optionally) place a measured spectrum in it.

    Example: xasml embed mn.zarr --method mds --place mno.xdi --out figs
    """
    from ..apply.parameters import estimate_parameters, write_report
    from ..learn import ParameterEstimator, save_embedding_figure

    _check_method(method)
    sims, measured = _load_pair(dataset, place)
    if measured is None:
        est = ParameterEstimator(embedding=method).fit(sims)  # type: ignore[arg-type]
        out.mkdir(parents=True, exist_ok=True)
        fig = save_embedding_figure(out / "embedding.png", est)
        typer.echo(f"wrote {fig}")
        if html:
            typer.echo(f"wrote {save_embedding_figure(out / 'embedding.html', est)}")
        return
    est, result, nuisances = estimate_parameters(sims, measured, method=method)
    rep = write_report(out, est, measured, result, html=html, extra={"matched": nuisances})
    typer.echo(result.to_markdown())
    for p in (rep.figure, rep.html, rep.json, rep.markdown):
        if p is not None:
            typer.echo(f"wrote {p}")


@app.command()
def estimate(
    dataset: Path = typer.Argument(..., help="Simulated, labelled dataset (.zarr/.nc)."),
    file: Path = typer.Argument(..., help="Measured spectrum (any readable format)."),
    method: str = typer.Option("mds", help="Embedding: mds, isomap, tsne, umap or pca."),
    json_out: Path = typer.Option(None, "--json", help="Write the result as JSON here."),
) -> None:
    """Estimate the labels (charge, 10Dq ...) of a measured spectrum from simulations.

    Example: xasml estimate mn.zarr mno.xdi --json mno.json
    """
    import json

    from ..apply.parameters import estimate_parameters

    _check_method(method)
    sims, measured = _load_pair(dataset, file)
    _, result, nuisances = estimate_parameters(sims, measured, method=method)
    if nuisances:
        typer.echo(
            f"matched shift {nuisances['shift_eV']:+.3f} eV, "
            f"extra Gaussian FWHM {nuisances['extra_fwhm_eV']:.3f} eV"
        )
    typer.echo(result.to_markdown())
    if json_out is not None:
        json_out.write_text(json.dumps(result.to_dict(), indent=2, default=str))
        typer.echo(f"wrote {json_out}")
