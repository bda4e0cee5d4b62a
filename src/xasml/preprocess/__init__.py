"""xasml.preprocess: pure functions on spectra, sets and maps, and sklearn transformers.

Every function takes a spectrum ``(energy,)``, a set ``(sample, energy)`` or
a map ``(y, x, energy)`` and returns a new DataArray (inputs are never
modified), working along ``energy`` whatever the other dims.
"""

from ._align import align_at_excitation, align_edge, align_to_reference, estimate_shift
from ._augment import augment
from ._broaden import Profile, broaden
from ._edge import find_e0, normalize_edge
from ._gap import (
    DomainGap,
    ShiftBroadening,
    edge_slope_fwhm,
    fit_domain_gap,
    fit_shift_broadening,
    harmonize,
)
from ._grid import KIYOHARA_GRID, Outside, kiyohara_grid, resample
from ._smooth import derivative, scale, smooth
from .transformers import AlignEdge, Broaden, Normalize, Resample, Smooth

__all__ = [
    "KIYOHARA_GRID",
    "AlignEdge",
    "Broaden",
    "DomainGap",
    "Normalize",
    "Outside",
    "Profile",
    "Resample",
    "ShiftBroadening",
    "Smooth",
    "align_at_excitation",
    "align_edge",
    "align_to_reference",
    "augment",
    "broaden",
    "derivative",
    "edge_slope_fwhm",
    "estimate_shift",
    "find_e0",
    "fit_domain_gap",
    "fit_shift_broadening",
    "harmonize",
    "kiyohara_grid",
    "normalize_edge",
    "resample",
    "scale",
    "smooth",
]
