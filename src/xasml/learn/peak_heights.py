"""Which predicted peaks to believe: a relative-height threshold set on held-out spectra.

:mod:`~xasml.learn.peak_trust` flags whole spectra by the ensemble's spread.
On CVS-TDDFT O K edges of QM9 molecules that spread did not rank the spectra
by peak precision (a flag calibrated for 90 % scored 84 % on test molecules),
while the *height* of a predicted peak ranked the peaks well on held-out and
test molecules alike: small predicted peaks are where a smooth network output
puts its guesses among dense discrete states. So this trust signal works per
peak, needs no ensemble, and is a single number a user can read. It needs
spectra with several peaks: on smooth FEFF spectra of Cu crystals, whose
predicted peaks are mostly the white line at height 1, it separates nothing.

* :func:`find_predicted_peaks`: every peak of a set of predicted spectra, with
  its energy and its height relative to its spectrum's range;
* :func:`peak_hits`: which of them lie within the tolerance of a true peak
  (paired one-to-one, exactly as :func:`~xasml.learn.spectral_metrics` counts);
* :func:`peak_height_threshold` and :func:`calibrate_peak_heights`: the
  smallest relative height whose taller peaks met a target precision on
  held-out spectra (``xasml train-forward --calibrate-fraction`` stores it,
  ``xasml forward`` flags each predicted peak with it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import InputError, ParameterError
from .peak_trust import (
    BOUND,
    _calibration_energy,
    _check_confidence,
    _check_groups,
    _check_target,
    _meets_target,
    _site_groups,
    _Threshold,
)

__all__ = [
    "PeakHeightThreshold",
    "PredictedPeaks",
    "calibrate_peak_heights",
    "find_predicted_peaks",
    "peak_height_threshold",
    "peak_hits",
]


@dataclass(frozen=True)
class PredictedPeaks:
    """The peaks of a set of spectra, one row per peak, in order of spectrum then energy.

    Attributes
    ----------
    spectrum
        Index of the spectrum each peak belongs to, shape ``(n_peaks,)``.
    energy
        Peak energies, eV, shape ``(n_peaks,)``.
    relative_height
        ``(height - min) / (max - min)`` of the peak's spectrum, in (0, 1],
        shape ``(n_peaks,)``.
    n_spectra
        Spectra searched (some may have no peak).
    prominence
        Relative prominence a peak needed (fraction of its spectrum's range).
    """

    spectrum: np.ndarray
    energy: np.ndarray
    relative_height: np.ndarray
    n_spectra: int
    prominence: float

    def counts(self) -> np.ndarray:
        """Peaks per spectrum, shape ``(n_spectra,)``."""
        return np.bincount(self.spectrum, minlength=self.n_spectra)

    def padded(self, values: Any = None, fill: Any = np.nan) -> np.ndarray:
        """Per-peak values as ``(n_spectra, max_peaks)``, ``fill`` past each spectrum's peaks.

        Parameters
        ----------
        values
            One value per peak, shape ``(n_peaks,)`` (default: :attr:`energy`).
        fill
            Value of the unused slots (NaN; use ``False`` for flags).
        """
        v = self.energy if values is None else np.asarray(values)
        if v.shape != self.energy.shape:
            raise InputError(f"values must give one value per peak, shape "
                             f"({self.energy.size},); found {v.shape}")
        counts = self.counts()
        out = np.full((self.n_spectra, int(counts.max(initial=0))), fill,
                      dtype=np.result_type(v.dtype, np.asarray(fill).dtype))
        # position of each peak within its spectrum (rows are grouped by spectrum)
        slot = np.arange(v.size) - np.repeat(np.cumsum(counts) - counts, counts)
        out[self.spectrum, slot] = v
        return out


def _spectra(energy: Any, spectra: Any, what: str) -> tuple[np.ndarray, np.ndarray]:
    e = np.asarray(getattr(energy, "values", energy), dtype=np.float64)
    y = np.atleast_2d(np.asarray(getattr(spectra, "values", spectra), dtype=np.float64))
    if e.ndim != 1 or y.ndim != 2 or y.shape[1] != e.size:
        raise InputError(f"{what} must have shape (n_spectra, {e.size}) on the energy grid; "
                         f"found {y.shape}")
    if not np.all(np.isfinite(y)):
        raise InputError(f"{what} contain NaN or infinite values")
    return e, y


def find_predicted_peaks(energy: Any, spectra: Any, *, prominence: float = 0.05) -> PredictedPeaks:
    """Every peak of ``spectra`` with its energy and relative height.

    Peaks are those of :func:`~xasml.learn.spectral_metrics.find_spectrum_peaks`
    (a local maximum with at least ``prominence`` times the spectrum's range
    of prominence), so they are the predicted peaks the peak metric scores.

    Parameters
    ----------
    energy
        Energy grid, eV, shape ``(n_energy,)``.
    spectra
        Predicted spectra, shape ``(n_spectra, n_energy)`` (or one ``(n_energy,)``).
    prominence
        In [0, 1).

    Returns
    -------
    PredictedPeaks
    """
    from .spectral_metrics import find_spectrum_peaks

    e, y = _spectra(energy, spectra, "spectra")
    index: list[np.ndarray] = []
    pos: list[np.ndarray] = []
    rel: list[np.ndarray] = []
    for j, row in enumerate(y):
        at, top = find_spectrum_peaks(e, row, prominence=prominence)  # none if flat
        index.append(np.full(at.size, j, dtype=np.int64))
        pos.append(at)
        rel.append((top - row.min()) / np.ptp(row) if at.size else top)
    return PredictedPeaks(spectrum=_join(index, np.int64), energy=_join(pos, np.float64),
                          relative_height=_join(rel, np.float64), n_spectra=y.shape[0],
                          prominence=float(prominence))


def _join(parts: list[np.ndarray], dtype: Any) -> np.ndarray:
    return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype=dtype)


def peak_hits(energy: Any, y_true: Any, peaks: PredictedPeaks, *,
              tolerance: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Which predicted peaks lie within ``tolerance`` of a true peak.

    True and predicted peaks of each spectrum are paired one-to-one
    (:func:`~xasml.learn.spectral_metrics.match_peaks`), so ``hit.sum()``
    equals the ``n_matched`` of :func:`~xasml.learn.spectral_metrics` on the
    same spectra and prominence.

    Parameters
    ----------
    energy
        Energy grid, eV, shape ``(n_energy,)``.
    y_true
        True spectra, shape ``(peaks.n_spectra, n_energy)``; their peaks use
        ``peaks.prominence``.
    peaks
        From :func:`find_predicted_peaks`.
    tolerance
        Largest energy difference, eV.

    Returns
    -------
    hit
        Shape ``(n_peaks,)``, bool.
    n_true
        True peaks per spectrum, shape ``(n_spectra,)``.
    """
    from .spectral_metrics import find_spectrum_peaks, match_peaks

    if not tolerance > 0:
        raise ParameterError(f"tolerance must be > 0 eV; found {tolerance!r}")
    e, t = _spectra(energy, y_true, "y_true")
    if t.shape[0] != peaks.n_spectra:
        raise InputError(f"y_true holds {t.shape[0]} spectra; the peaks are of "
                         f"{peaks.n_spectra}")
    hit = np.zeros(peaks.energy.size, dtype=bool)
    n_true = np.zeros(peaks.n_spectra, dtype=np.int64)
    counts = peaks.counts()
    starts = np.cumsum(counts) - counts  # rows are grouped by spectrum
    for j, (s, n) in enumerate(zip(starts, counts, strict=True)):
        tp, _ = find_spectrum_peaks(e, t[j], prominence=peaks.prominence)
        n_true[j] = tp.size
        for _, k in match_peaks(tp, peaks.energy[s:s + n], tolerance):
            hit[s + k] = True
    return hit, n_true


@dataclass(frozen=True)
class PeakHeightThreshold(_Threshold):
    """The relative height from which predicted peaks met a target precision.

    Attributes
    ----------
    target_precision
        Fraction of kept predicted peaks within tolerance of a true one asked for.
    threshold
        Smallest relative height kept (a peak is trusted when its relative
        height is ``>= threshold``); ``None`` when no set of the tallest peaks
        with at least ``min_peaks`` of them met the target.
    coverage
        Fraction of the calibration spectra's predicted peaks kept (0 without a threshold).
    precision
        Fraction of the kept peaks within tolerance of a true one (NaN without a threshold).
    fraction_within
        Kept peaks within tolerance over all true peaks (the recall left).
    n_predicted_peaks
        Predicted peaks of the calibration spectra.
    n_calibration
        Calibration spectra.
    tolerance, prominence
        Peak-metric settings (eV; fraction of the spectrum's range).
    confidence
        ``None``: the kept peaks' precision met the target; else the
        confidence of the lower bound of it that did.
    bound
        How that lower bound was computed (``None`` without ``confidence``).
    n_kept, n_true_peaks
        Peaks kept, and true peaks of the calibration spectra.
    """

    n_kept: int
    n_true_peaks: int


def peak_height_threshold(
    peaks: PredictedPeaks,
    hit: Any,
    n_true: Any,
    target_precision: float = 0.95,
    *,
    tolerance: float = 1.0,
    min_peaks: int = 20,
    confidence: float | None = None,
    groups: Any = None,
) -> PeakHeightThreshold:
    """The lowest relative height whose taller peaks meet a target precision.

    The predicted peaks are ranked from tallest to smallest; of every prefix
    that ends between two distinct heights and holds at least ``min_peaks``
    peaks, the longest whose precision is ``>= target_precision`` sets the
    threshold. The precision is measured on these spectra, so it is an
    estimate for new spectra like them, not a bound; taking the longest set
    that meets the target favours a lucky one. With ``confidence`` the set's
    one-sided lower bound of the precision must meet the target instead
    (:func:`~xasml.learn.precision_bound.precision_lower_bounds`: Clopper-Pearson
    at the effective number of peaks, the peaks of one spectrum, or of one
    group of spectra, counted as correlated): fewer peaks kept, less luck
    promised.

    Parameters
    ----------
    peaks
        Predicted peaks of held-out spectra (:func:`find_predicted_peaks`).
    hit, n_true
        :func:`peak_hits` of those peaks against the held-out truth.
    target_precision
        In (0, 1].
    tolerance
        The tolerance ``hit`` was scored with (eV; recorded only).
    min_peaks
        Fewest peaks a kept set may have, >= 1.
    confidence
        In (0, 1), e.g. 0.9; ``None`` (default) uses the precision itself.
    groups
        The structure (molecule) of each spectrum, shape ``(peaks.n_spectra,)``,
        for the bound; default: every spectrum its own.

    Returns
    -------
    PeakHeightThreshold
    """
    _check_target(target_precision, min_peaks)
    _check_confidence(confidence)
    h = np.asarray(hit, dtype=bool)
    if h.shape != peaks.energy.shape:
        raise InputError(f"hit must give one flag per predicted peak, shape "
                         f"({peaks.energy.size},); found {h.shape}")
    total_true = int(np.sum(n_true))
    order = np.argsort(-peaks.relative_height, kind="stable")
    heights = peaks.relative_height[order]
    run = np.cumsum(h[order])
    kept = np.arange(1, h.size + 1)
    ends = np.append(heights[1:] < heights[:-1], True) if h.size else np.zeros(0, bool)
    g = _check_groups(groups, peaks.n_spectra)
    cluster = (peaks.spectrum if g is None else g[peaks.spectrum])[order]
    ok = ends & (kept >= min_peaks) & _meets_target(h[order], np.ones(h.size), target_precision,
                                                    confidence, cluster)
    common: dict[str, Any] = dict(
        target_precision=float(target_precision), n_predicted_peaks=int(h.size),
        n_true_peaks=total_true, n_calibration=peaks.n_spectra,
        tolerance=float(tolerance), prominence=peaks.prominence,
        confidence=None if confidence is None else float(confidence),
        bound=None if confidence is None else BOUND)
    if not ok.any():
        return PeakHeightThreshold(threshold=None, coverage=0.0, precision=float("nan"),
                                   fraction_within=float("nan"), n_kept=0, **common)
    k = int(np.flatnonzero(ok)[-1])
    n_hit = int(run[k])
    return PeakHeightThreshold(
        threshold=float(heights[k]), coverage=(k + 1) / h.size, precision=n_hit / (k + 1),
        fraction_within=n_hit / total_true if total_true else float("nan"),
        n_kept=k + 1, **common)


def calibrate_peak_heights(
    model: Any,
    X: Any,
    y: Any,
    target_precision: float = 0.95,
    *,
    energy: Any = None,
    tolerance: float = 1.0,
    prominence: float = 0.05,
    min_peaks: int = 20,
    per_structure: bool = False,
    confidence: float | None = None,
) -> PeakHeightThreshold:
    """Choose a fitted model's relative-height threshold on held-out data.

    Works for one model or an ensemble (its mean is scored). Energies come
    from ``y``'s ``energy`` coordinate, else ``energy``, else the model's
    ``energy_``, as in :func:`~xasml.learn.calibrate_peak_trust`. With
    ``per_structure`` the threshold is for the spectra of whole structures:
    predictions and truths are first averaged over the sites of each structure
    (:func:`~xasml.learn.site_average.average_sites`, weighted by the sites'
    ``weight``), what ``xasml forward`` writes as ``structure_intensity``.

    Parameters
    ----------
    model
        A fitted model with ``predict`` (spectra ``(n_spectra, n_energy)``)
        and ``energy_`` (:class:`~xasml.learn.StructureSpectrumRegressor`).
    X
        Held-out structures (none of them, nor another site of their molecule,
        seen in training), length ``n_spectra``.
    y
        Their spectra on the model's grid, shape ``(n_spectra, n_energy)``.
    energy
        The grid in eV where ``y`` is a bare array and the model was fitted on one.
    target_precision, min_peaks, confidence
        As in :func:`peak_height_threshold`; the bound counts the peaks of one
        structure as correlated (its sites' by the labels ``"<structure>#<atom>"``
        of ``X``; without labels, each spectrum's).
    tolerance, prominence
        Peak-metric settings (:func:`~xasml.learn.spectral_metrics`).
    per_structure
        Score the site-averaged spectrum of each structure (by the labels
        ``"<structure>#<atom>"`` of ``X``) instead of each site's.

    Returns
    -------
    PeakHeightThreshold
        With ``per_structure``, ``n_calibration`` counts structures.
    """
    _check_confidence(confidence)
    pred = model.predict(X)
    pred = np.atleast_2d(np.asarray(getattr(pred, "values", pred), dtype=np.float64))
    yt = np.asarray(getattr(y, "values", y), dtype=np.float64)
    if yt.shape != pred.shape:
        raise InputError(f"y must have shape {pred.shape} (held-out spectra on the model's "
                         f"energy grid); found {yt.shape}")
    grid = _calibration_energy(y, energy, np.asarray(model.energy_, dtype=np.float64))
    groups = _site_groups(X)
    if per_structure:
        from .site_average import average_sites

        labels = [getattr(s, "label", None) for s in X]
        if any(not isinstance(lab, str) for lab in labels):
            raise InputError("per_structure needs the held-out structures themselves (their "
                             "labels name the structure); found " + type(X[0]).__name__)
        names = [str(lab) for lab in labels]
        weights = [getattr(s, "weight", 1.0) for s in X]
        pred = average_sites(pred, names, weights).values
        yt = average_sites(yt, names, weights).values
        groups = None  # one spectrum per structure
    peaks = find_predicted_peaks(grid, pred, prominence=prominence)
    hit, n_true = peak_hits(grid, yt, peaks, tolerance=tolerance)
    return peak_height_threshold(peaks, hit, n_true, target_precision, tolerance=tolerance,
                                 min_peaks=min_peaks, confidence=confidence, groups=groups)
