"""Command-line interface: ``xasml SUBCOMMAND``.

Each pipeline step has its own module that registers subcommands on
:data:`app`. Heavy dependencies are imported inside the commands, so
``xasml --help`` stays fast.
"""

from __future__ import annotations

import sys

from ..errors import XasmlError
from . import demo as _demo  # noqa: F401
from . import embed as _embed  # noqa: F401
from . import forward as _forward  # noqa: F401
from . import info as _info  # noqa: F401  (registers commands)
from . import learn as _learn  # noqa: F401
from . import maps as _maps  # noqa: F401
from . import preprocess as _preprocess  # noqa: F401
from . import simulate as _simulate  # noqa: F401
from . import simulate_feff as _simulate_feff  # noqa: F401
from ._app import app

__all__ = ["app", "main"]


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; errors of the XasmlError family print one line and exit 1."""
    try:
        app(args=argv, standalone_mode=False)
    except XasmlError as exc:
        print(f"xasml: error: {exc}", file=sys.stderr)
        return 1
    except SystemExit as exc:  # typer --help / click usage errors
        return int(exc.code or 0)
    except Exception as exc:  # click usage errors arrive as ClickException
        import click

        if isinstance(exc, click.exceptions.ClickException):
            exc.show()
            return exc.exit_code
        if isinstance(exc, click.exceptions.Abort):
            print("xasml: aborted", file=sys.stderr)
            return 130
        raise
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
