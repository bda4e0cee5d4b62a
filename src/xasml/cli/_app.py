"""The typer application that every CLI module registers its commands on."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="xasml",
    help="Machine learning on X-ray absorption and core-loss spectra.\n\n"
    "Example: xasml info spectrum.xdi",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    # docstrings are hard-wrapped: markdown reflows their paragraphs to the terminal
    rich_markup_mode="markdown",
)
