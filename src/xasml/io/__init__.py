"""Readers and writers for the file formats people have.

:func:`read` dispatches by content (and extension as a hint) to one of the
format modules; every reader returns the data model of :mod:`xasml.datamodel`
with provenance in ``attrs`` and raises :class:`~xasml.errors.FormatError`
naming the file (and line) on bad input.
"""

from ._dispatch import FORMATS, read, read_all, sniff
from ._feff import (
    FeffInput,
    Potential,
    Shell,
    coordination_number,
    neighbour_shell,
    read_feff_inp,
    read_xmu,
)
from ._xdi import write_xdi
from .store import append, load, save

__all__ = [
    "FORMATS",
    "FeffInput",
    "Potential",
    "Shell",
    "append",
    "coordination_number",
    "load",
    "neighbour_shell",
    "read",
    "read_all",
    "read_feff_inp",
    "read_xmu",
    "save",
    "sniff",
    "write_xdi",
]
