"""``xasml info FILE``: what was read from a file."""

from __future__ import annotations

from pathlib import Path

import typer

from ._app import app


@app.command()
def info(
    files: list[Path] = typer.Argument(..., help="Spectrum files (any readable format)."),
) -> None:
    """Show what was read: kind, shape, energy range, metadata and labels.

    Example: xasml info sample.xdi
    """
    from ..datamodel import describe
    from ..io import read

    for i, path in enumerate(files):
        da = read(path)
        if i:
            typer.echo("")
        typer.echo(f"{path}: format {da.attrs.get('format', '?')}")
        typer.echo(str(describe(da)))
