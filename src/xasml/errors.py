"""Exception and warning hierarchy of xasml.

Every error that xasml raises on purpose derives from :class:`XasmlError`, so
callers (the CLI, the service, a campaign runner) can catch the whole family
and show a one-line message without a traceback.
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "XasmlError",
    "InputError",
    "FormatError",
    "SpectrumError",
    "ParameterError",
    "EngineError",
    "ModelError",
    "XasmlWarning",
]


class XasmlError(Exception):
    """Base class of every error raised by xasml on purpose."""


class InputError(XasmlError, ValueError):
    """A user-given value or object does not have the expected form."""


class ParameterError(InputError):
    """A parameter has a value outside its allowed set or range."""


class SpectrumError(InputError):
    """A spectrum (DataArray) is malformed: energies, values, dims or units."""


class FormatError(XasmlError, ValueError):
    """A file cannot be read as the format it claims to be or was asked as.

    Parameters
    ----------
    path
        The file being read.
    message
        What was expected and what was found.
    line
        1-based line number where the problem is, when there is one.
    """

    def __init__(self, path: str | Path | None, message: str, line: int | None = None):
        self.path = None if path is None else str(path)
        self.line = line
        where = ""
        if self.path is not None:
            where = self.path + (f", line {line}" if line is not None else "") + ": "
        super().__init__(where + message)


class EngineError(XasmlError, RuntimeError):
    """A simulation engine failed or is not installed."""


class ModelError(XasmlError):
    """A model bundle is missing, incompatible, tampered with or not fitted."""


class XasmlWarning(UserWarning):
    """Warning category for recoverable problems in user data."""
