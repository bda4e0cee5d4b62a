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

# isort: split
from . import train_forward as _train_forward  # noqa: F401  (listed before forward)

# isort: split
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
        usage, abort = _click_errors()
        if isinstance(exc, usage):
            exc.show()  # type: ignore[attr-defined]
            return int(exc.exit_code)  # type: ignore[attr-defined]
        if isinstance(exc, abort):
            print("xasml: aborted", file=sys.stderr)
            return 130
        raise
    return 0


def _click_errors() -> tuple[tuple[type, ...], tuple[type, ...]]:
    """Click's usage-error and abort classes: typer ≥ 0.20 ships its own copy of click."""
    import importlib

    usage: list[type] = []
    abort: list[type] = []
    for name in ("click.exceptions", "typer._click.exceptions", "typer.exceptions"):
        try:
            mod = importlib.import_module(name)
        except ImportError:
            continue
        usage += [c for c in (getattr(mod, "ClickException", None),) if isinstance(c, type)]
        abort += [c for c in (getattr(mod, "Abort", None),) if isinstance(c, type)]
    return tuple(usage), tuple(abort)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
