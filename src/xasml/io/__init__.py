"""Readers and writers for the file formats people have.

:func:`read` dispatches by content (and extension as a hint) to one of the
format modules; every reader returns the data model of :mod:`xasml.datamodel`
with provenance in ``attrs`` and raises :class:`~xasml.errors.FormatError`
naming the file (and line) on bad input.
"""

from ._dispatch import FORMATS, read, read_all, sniff
from ._xdi import write_xdi

__all__ = ["FORMATS", "read", "read_all", "sniff", "write_xdi"]
