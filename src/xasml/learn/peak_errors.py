"""Why a predicted peak is not a hit: a breakdown of the peak metric's false peaks.

:func:`~xasml.learn.spectral_metrics` counts a predicted peak as correct when the
one-to-one pairing puts it within ``tolerance`` eV of a true peak. Its precision
says how many predicted peaks are wrong, not how wrong. This module sorts every
unpaired predicted peak into the first category that applies:

``duplicate``
    within ``tolerance`` of a true peak, but that true peak is paired with another
    predicted peak (a split peak, or a shoulder drawn as a second maximum);
``weak``
    within ``tolerance`` of a local maximum of the truth whose relative prominence
    lies between ``weak_prominence`` and the counting threshold ``prominence``:
    the truth has the feature, too faint to be counted as a peak;
``shifted``
    the nearest true peak lies between ``tolerance`` and ``shift_limit`` eV away;
``spurious``
    no true peak within ``shift_limit`` eV.

The paired peaks (``matched``) are exactly those of :func:`spectral_metrics`
with the same settings, so ``matched / n_predicted`` is its precision.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import ParameterError
from .spectral_metrics import _arrays, find_spectrum_peaks, match_peaks

__all__ = ["PeakErrorBreakdown", "peak_error_breakdown"]

_CATEGORIES = ("matched", "duplicate", "weak", "shifted", "spurious")


@dataclass(frozen=True)
class PeakErrorBreakdown:
    """Predicted peaks sorted by how they relate to the true spectrum.

    Attributes
    ----------
    n_predicted
        Predicted peaks (relative prominence ``prominence``).
    matched, duplicate, weak, shifted, spurious
        Peaks in each category (module docstring); they sum to ``n_predicted``.
    tolerance, prominence, weak_prominence, shift_limit
        Settings used (eV; fractions of the spectrum's range; eV).
    """

    n_predicted: int
    matched: int
    duplicate: int
    weak: int
    shifted: int
    spurious: int
    tolerance: float
    prominence: float
    weak_prominence: float
    shift_limit: float

    @property
    def precision(self) -> float:
        """``matched / n_predicted`` (NaN when no peak was predicted)."""
        return self.matched / self.n_predicted if self.n_predicted else float("nan")

    def fractions(self) -> dict[str, float]:
        """Each category's share of the predicted peaks (NaN when there are none)."""
        n = self.n_predicted
        return {k: (getattr(self, k) / n if n else float("nan")) for k in _CATEGORIES}

    def summary(self) -> str:
        """One line: each category's count and share of the predicted peaks."""
        parts = [f"{k} {getattr(self, k)} ({100 * v:.1f} %)" for k, v in self.fractions().items()]
        return f"{self.n_predicted} predicted peaks: " + ", ".join(parts)


def peak_error_breakdown(
    energy: Any,
    y_true: Any,
    y_pred: Any,
    *,
    tolerance: float = 1.0,
    prominence: float = 0.05,
    weak_prominence: float = 0.005,
    shift_limit: float | None = None,
) -> PeakErrorBreakdown:
    """Sort the predicted peaks of many spectra into matched and four kinds of miss.

    Parameters
    ----------
    energy
        Energy grid, shape ``(n_energy,)``, eV.
    y_true, y_pred
        Spectra, shape ``(n_spectra, n_energy)`` (or one spectrum ``(n_energy,)``).
    tolerance
        Largest energy difference (eV) of a hit, as in :func:`spectral_metrics`.
    prominence
        Relative prominence a peak needs to count (true and predicted), as in
        :func:`spectral_metrics`.
    weak_prominence
        Smallest relative prominence of a true local maximum that makes a miss
        ``weak`` (default 0.005); must be below ``prominence``.
    shift_limit
        Largest distance (eV) to the nearest true peak of a ``shifted`` miss
        (default ``2 * tolerance``).

    Returns
    -------
    PeakErrorBreakdown
    """
    if not tolerance > 0:
        raise ParameterError(f"tolerance must be > 0 eV; found {tolerance!r}")
    limit = 2.0 * tolerance if shift_limit is None else float(shift_limit)
    if not limit >= tolerance:
        raise ParameterError(
            f"shift_limit must be at least tolerance ({tolerance} eV); found {shift_limit!r}")
    if not 0 <= weak_prominence < prominence:
        raise ParameterError(
            f"weak_prominence must be in [0, prominence={prominence}); found {weak_prominence!r}")
    e, t, p = _arrays(energy, y_true, y_pred)
    counts = dict.fromkeys(_CATEGORIES, 0)
    for yt, yp in zip(t, p, strict=True):
        tp, _ = find_spectrum_peaks(e, yt, prominence=prominence)
        pp, _ = find_spectrum_peaks(e, yp, prominence=prominence)
        paired = {j for _, j in match_peaks(tp, pp, tolerance)}
        faint, _ = find_spectrum_peaks(e, yt, prominence=weak_prominence)
        for j, x in enumerate(pp):
            near = float(np.min(np.abs(tp - x))) if tp.size else np.inf
            if j in paired:
                kind = "matched"
            elif near <= tolerance:
                kind = "duplicate"
            elif faint.size and float(np.min(np.abs(faint - x))) <= tolerance:
                kind = "weak"
            elif near <= limit:
                kind = "shifted"
            else:
                kind = "spurious"
            counts[kind] += 1
    return PeakErrorBreakdown(
        n_predicted=sum(counts.values()), **counts, tolerance=float(tolerance),
        prominence=float(prominence), weak_prominence=float(weak_prominence),
        shift_limit=limit)
