"""``xasml demo``: the main job on embedded defaults (no setup, no network)."""

from __future__ import annotations

from pathlib import Path

import typer

from ._app import app


@app.command()
def demo(
    out: Path = typer.Option(Path("demo-output"), help="Folder for the figure and report."),
) -> None:
    """Run the demonstration pipeline and write its outputs to OUT.

    Example: xasml demo --out demo-output
    """
    import numpy as np

    from ..datamodel import describe, spectrum

    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    e = np.linspace(6520.0, 6620.0, 501)
    mu = 0.1 + 1.0 / (1 + np.exp(-(e - 6545.0) / 1.5)) + 0.6 * np.exp(-((e - 6552.0) / 3) ** 2)
    sp = spectrum(e, mu + rng.normal(0, 0.005, e.size), element="Mn", edge="K")
    typer.echo(str(describe(sp)))
