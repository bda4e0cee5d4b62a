"""xasml.preprocess: pure functions on spectra, sets and maps, and sklearn transformers.

Every function takes a spectrum ``(energy,)``, a set ``(sample, energy)`` or
a map ``(y, x, energy)`` and returns a new DataArray (inputs are never
modified), working along ``energy`` whatever the other dims.
"""

from ._broaden import Profile, broaden
from ._edge import find_e0, normalize_edge
from ._grid import KIYOHARA_GRID, Outside, kiyohara_grid, resample

__all__ = [
    "KIYOHARA_GRID",
    "Outside",
    "Profile",
    "broaden",
    "find_e0",
    "kiyohara_grid",
    "normalize_edge",
    "resample",
]
