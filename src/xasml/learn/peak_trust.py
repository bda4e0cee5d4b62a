"""How far to trust the peaks of an ensemble's predicted spectrum.

A deep ensemble's members agree on a peak that the training data pin down and
put it at different energies where they do not. Two pieces turn that into a
trust signal for the peak metric of :mod:`~xasml.learn.spectral_metrics`:

* :func:`peak_position_spread`: per spectrum, the largest distance (eV) from a
  peak of the ensemble mean to the nearest peak of any one member;
* :func:`relative_std`: per spectrum, the members' mean standard deviation
  over the energy grid divided by the mean spectrum's range (on the QM9
  FEFF-SCF benchmark it ranked the spectra better than the peak spread);
* :func:`selective_peak_scores`: the peak precision and recall on the most
  trusted fraction of the spectra (a risk–coverage table): what a screening
  run gets if it keeps only predictions below an uncertainty threshold;
* :func:`peak_trust_threshold` and :func:`calibrate_peak_trust`: that
  threshold chosen on held-out spectra for a target precision, so a
  prediction can be flagged as trusted (``xasml train-forward
  --calibrate-fraction``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import InputError, ParameterError
from .precision_bound import _check_confidence as _check_bound_confidence
from .precision_bound import precision_lower_bounds
from .spectral_metrics import PeakMetrics, find_spectrum_peaks

__all__ = [
    "PeakTrustThreshold",
    "SelectiveScores",
    "calibrate_peak_trust",
    "peak_position_spread",
    "peak_trust_threshold",
    "relative_std",
    "selective_peak_scores",
]


def peak_position_spread(energy: Any, members: Any, *, prominence: float = 0.05) -> np.ndarray:
    """Per spectrum, how far the ensemble members disagree on its peaks (eV).

    For every peak of the members' mean spectrum (relative prominence
    ``prominence``, as in :func:`~xasml.learn.spectral_metrics`) the distance
    to the nearest peak of each member is taken; the spectrum's spread is the
    largest of them. A member with no peak at all counts as the whole energy
    range away; a mean with no peak claims nothing and has spread 0.

    Parameters
    ----------
    energy
        Energy grid (eV), shape ``(n_energy,)``.
    members
        Member predictions, shape ``(n_models, n_spectra, n_energy)``, as
        :meth:`~xasml.learn.StructureSpectrumRegressor.predict_members` returns.
    prominence
        Relative prominence a peak needs, in [0, 1).

    Returns
    -------
    numpy.ndarray
        Shape ``(n_spectra,)``, eV.
    """
    e = np.asarray(getattr(energy, "values", energy), dtype=np.float64)
    m = np.asarray(members, dtype=np.float64)
    if e.ndim != 1 or m.ndim != 3 or m.shape[2] != e.size:
        raise InputError(f"members must have shape (n_models, n_spectra, {e.size}) on the "
                         f"energy grid; found {m.shape}")
    if m.shape[0] < 2:
        raise InputError(f"a spread needs at least 2 members; found {m.shape[0]}")
    if not np.all(np.isfinite(m)):
        raise InputError("members contain NaN or infinite values")
    far = float(e[-1] - e[0]) if e.size > 1 else 0.0
    out = np.zeros(m.shape[1])
    for j in range(m.shape[1]):
        claimed, _ = find_spectrum_peaks(e, m[:, j].mean(axis=0), prominence=prominence)
        if claimed.size == 0:
            continue
        for member in m[:, j]:
            own, _ = find_spectrum_peaks(e, member, prominence=prominence)
            d = (np.abs(claimed[:, None] - own[None, :]).min(axis=1) if own.size
                 else np.full(claimed.size, far))
            out[j] = max(out[j], float(d.max()))
    return out


def relative_std(mean: Any, std: Any) -> np.ndarray:
    """Per spectrum, the ensemble std averaged over energy over the mean's range.

    Parameters
    ----------
    mean, std
        Ensemble mean and standard deviation, shape ``(n_spectra, n_energy)``
        each (:meth:`~xasml.learn.StructureSpectrumRegressor.predict` with
        ``return_std=True``).

    Returns
    -------
    numpy.ndarray
        Shape ``(n_spectra,)``, dimensionless; a flat mean (range 0) gives inf.
    """
    m = np.atleast_2d(np.asarray(getattr(mean, "values", mean), dtype=np.float64))
    s = np.atleast_2d(np.asarray(getattr(std, "values", std), dtype=np.float64))
    if m.shape != s.shape:
        raise InputError(f"mean and std must have the same shape; found {m.shape} and {s.shape}")
    if not (np.all(np.isfinite(m)) and np.all(np.isfinite(s))):
        raise InputError("mean or std contain NaN or infinite values")
    span = np.ptp(m, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(span > 0, s.mean(axis=1) / np.where(span > 0, span, 1.0), np.inf)


def _check_target(target_precision: float, min_peaks: int) -> None:
    """ParameterError unless 0 < target_precision <= 1 and min_peaks is an int >= 1."""
    if not 0 < target_precision <= 1:
        raise ParameterError(f"target_precision must be in (0, 1]; found {target_precision!r}")
    if isinstance(min_peaks, bool) or not isinstance(min_peaks, int | np.integer) or min_peaks < 1:
        raise ParameterError(f"min_peaks must be an integer >= 1; found {min_peaks!r}")


def _check_confidence(confidence: float | None) -> None:
    """ParameterError unless confidence is None or in (0, 1)."""
    _check_bound_confidence(confidence, optional=True)


def _meets_target(hits: np.ndarray, peaks: np.ndarray, target_precision: float,
                  confidence: float | None, groups: Any = None) -> np.ndarray:
    """Which leading sets of a ranked list meet the target precision.

    Item ``i`` holds ``peaks[i]`` predicted peaks, ``hits[i]`` of them within
    tolerance. Without ``confidence`` a set's precision must reach the target;
    with one, its lower bound at that confidence
    (:func:`~xasml.learn.precision_bound.precision_lower_bounds`, the peaks of
    one group counted as correlated), so that a threshold chosen as the
    largest set meeting the target does not promise what a lucky calibration
    set showed.
    """
    if confidence is None:
        run, kept = np.cumsum(hits, dtype=np.float64), np.cumsum(peaks, dtype=np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            prec = np.where(kept > 0, run / np.maximum(kept, 1), np.nan)
        # a float tolerance so that an exact 19/20 meets 0.95
        return prec >= target_precision - 1e-12
    lower = precision_lower_bounds(hits, peaks, groups, confidence=confidence)
    return lower >= target_precision - 1e-12


# what a threshold's ``bound`` records (bundles from before it counted peaks as independent)
BOUND = "Clopper-Pearson at the effective number of peaks, a group's peaks correlated"


def _check_groups(groups: Any, n: int) -> np.ndarray | None:
    """``groups`` as an array of ``n`` labels (None stays None), or an InputError."""
    if groups is None:
        return None
    g = np.asarray(groups)
    if g.shape != (n,):
        raise InputError(f"groups must give one label per spectrum, shape ({n},); "
                         f"found {g.shape}")
    return g


def _site_groups(X: Any) -> np.ndarray | None:
    """The molecule of each held-out structure, from its label; None without labels."""
    from .structure_data import molecule_of

    labels = [getattr(s, "label", None) for s in X]
    if not labels or any(not isinstance(lab, str) for lab in labels):
        return None
    return np.array([molecule_of(str(lab)) for lab in labels])


def _check_uncertainty(uncertainty: Any, n: int) -> np.ndarray:
    """``uncertainty`` as finite float64 of shape ``(n,)``, or an InputError."""
    u = np.asarray(uncertainty, dtype=np.float64)
    if u.shape != (n,):
        raise InputError(f"uncertainty must give one value per spectrum, shape "
                         f"({n},); found shape {u.shape}")
    if not np.all(np.isfinite(u)):
        raise InputError("uncertainty contains NaN or infinite values")
    return u


@dataclass(frozen=True)
class SelectiveScores:
    """Peak scores on the most trusted spectra, one row per coverage.

    Attributes
    ----------
    coverage
        Requested fraction of the spectra kept, shape ``(n_rows,)``.
    n_spectra
        Spectra kept (the ``ceil(coverage * n)`` least uncertain).
    threshold
        Largest uncertainty kept.
    precision, fraction_within
        Predicted peaks within tolerance of a true one, and true peaks with a
        predicted one within tolerance, over the kept spectra (NaN where the
        kept spectra have no predicted or no true peak).
    """

    coverage: np.ndarray
    n_spectra: np.ndarray
    threshold: np.ndarray
    precision: np.ndarray
    fraction_within: np.ndarray


def selective_peak_scores(
    metrics: PeakMetrics,
    uncertainty: Any,
    coverages: Any = (1.0, 0.9, 0.8, 0.7, 0.6, 0.5),
) -> SelectiveScores:
    """Peak precision and recall when only the least uncertain spectra are kept.

    Parameters
    ----------
    metrics
        Scores from :func:`~xasml.learn.spectral_metrics` (its per-spectrum
        :attr:`~xasml.learn.PeakMetrics.peak_counts`).
    uncertainty
        One value per spectrum, shape ``(n_spectra,)``, larger meaning less
        trusted (e.g. :func:`peak_position_spread`); ties keep input order.
    coverages
        Fractions of the spectra to keep, each in (0, 1].

    Returns
    -------
    SelectiveScores
    """
    counts = np.asarray(metrics.peak_counts, dtype=np.float64)
    u = _check_uncertainty(uncertainty, len(counts))
    cov = np.atleast_1d(np.asarray(coverages, dtype=np.float64))
    if cov.size == 0 or not np.all((cov > 0) & (cov <= 1)):
        raise ParameterError(f"coverages must be fractions in (0, 1]; found {coverages!r}")
    order = np.argsort(u, kind="stable")
    kept = np.maximum(1, np.ceil(cov * len(u) - 1e-9).astype(np.int64))
    # running sums over the spectra from most to least trusted
    run = np.cumsum(counts[order], axis=0)[kept - 1]
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(run[:, 1] > 0, run[:, 2] / run[:, 1], np.nan)
        within = np.where(run[:, 0] > 0, run[:, 2] / run[:, 0], np.nan)
    return SelectiveScores(coverage=cov, n_spectra=kept, threshold=u[order][kept - 1],
                           precision=precision, fraction_within=within)


@dataclass(frozen=True)
class _Threshold:
    """What a calibrated trust threshold records (shared by spectrum and peak flags)."""

    target_precision: float
    threshold: float | None
    coverage: float
    precision: float
    fraction_within: float
    n_predicted_peaks: int
    n_calibration: int
    tolerance: float
    prominence: float
    confidence: float | None
    bound: str | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (NaN written as ``None``)."""
        return {k: (None if isinstance(v, float) and not np.isfinite(v) else v)
                for k, v in self.__dict__.items()}


@dataclass(frozen=True)
class PeakTrustThreshold(_Threshold):
    """The uncertainty up to which predicted peaks met a target precision.

    Attributes
    ----------
    target_precision
        Fraction of predicted peaks within tolerance of a true one that was asked for.
    threshold
        Largest uncertainty of the kept spectra; ``None`` when no set of most
        trusted spectra with at least ``min_peaks`` predicted peaks met the target.
    coverage
        Fraction of the calibration spectra kept (0 without a threshold).
    precision, fraction_within
        Peak precision and recall over the kept spectra (NaN without a threshold).
    n_predicted_peaks
        Predicted peaks of the kept spectra.
    n_calibration
        Calibration spectra scored.
    tolerance, prominence
        Peak-metric settings (eV; fraction of the spectrum range).
    confidence
        ``None``: the kept set's precision met the target; else the
        confidence of the lower bound of it that did.
    bound
        How that lower bound was computed (``None`` without ``confidence``).
    n_spectra
        Spectra kept.
    """

    n_spectra: int


def peak_trust_threshold(
    metrics: PeakMetrics,
    uncertainty: Any,
    target_precision: float = 0.95,
    *,
    min_peaks: int = 20,
    confidence: float | None = None,
    groups: Any = None,
) -> PeakTrustThreshold:
    """The largest uncertainty threshold whose kept spectra meet a peak precision.

    The spectra are ranked by ``uncertainty``; of every prefix that ends
    between two distinct uncertainty values and holds at least ``min_peaks``
    predicted peaks, the longest whose precision is ``>= target_precision``
    gives the threshold. The precision is measured on the calibration spectra
    themselves, so it is an estimate for new spectra like them, not a bound;
    ``min_peaks`` keeps a handful of lucky spectra from setting it. With
    ``confidence`` the prefix must instead have a one-sided lower bound of its
    precision ``>= target_precision``
    (:func:`~xasml.learn.precision_bound.precision_lower_bounds`: Clopper-Pearson
    at the effective number of peaks, the spectra of one group counted as
    correlated), which keeps fewer spectra but leaves less of the
    calibration set's luck in the promise.

    Parameters
    ----------
    metrics
        Peak scores of held-out spectra (:func:`~xasml.learn.spectral_metrics`).
    uncertainty
        One value per spectrum, shape ``(n_spectra,)``, larger meaning less
        trusted (e.g. :func:`relative_std`).
    target_precision
        In (0, 1].
    min_peaks
        Fewest predicted peaks a kept set may have, >= 1.
    confidence
        In (0, 1), e.g. 0.9; ``None`` (default) uses the precision itself.
    groups
        The structure (molecule) of each spectrum, shape ``(n_spectra,)``, for
        the bound; default: every spectrum its own.

    Returns
    -------
    PeakTrustThreshold
    """
    _check_target(target_precision, min_peaks)
    _check_confidence(confidence)
    counts = np.asarray(metrics.peak_counts, dtype=np.int64).reshape(-1, 3)
    u = _check_uncertainty(uncertainty, len(counts))
    g = _check_groups(groups, len(counts))
    order = np.argsort(u, kind="stable")
    run = np.cumsum(counts[order], axis=0)
    us = u[order]
    ends = np.append(us[1:] > us[:-1], True) if len(us) else np.zeros(0, bool)
    ok = ends & (run[:, 1] >= min_peaks) & _meets_target(
        counts[order, 2], counts[order, 1], target_precision, confidence,
        None if g is None else g[order])
    n = len(u)
    common: dict[str, Any] = dict(
        target_precision=float(target_precision), n_calibration=n,
        tolerance=float(metrics.tolerance), prominence=float(metrics.prominence),
        confidence=None if confidence is None else float(confidence),
        bound=None if confidence is None else BOUND)
    if not ok.any():
        return PeakTrustThreshold(threshold=None, coverage=0.0, precision=float("nan"),
                                  fraction_within=float("nan"), n_spectra=0,
                                  n_predicted_peaks=0, **common)
    k = int(np.flatnonzero(ok)[-1])
    true_k, pred_k, hit_k = (int(v) for v in run[k])
    return PeakTrustThreshold(
        threshold=float(us[k]), coverage=(k + 1) / n, precision=hit_k / pred_k,
        fraction_within=hit_k / true_k if true_k else float("nan"),
        n_spectra=k + 1, n_predicted_peaks=pred_k, **common)


def calibrate_peak_trust(
    model: Any,
    X: Any,
    y: Any,
    target_precision: float = 0.95,
    *,
    energy: Any = None,
    tolerance: float = 1.0,
    prominence: float = 0.05,
    min_peaks: int = 20,
    confidence: float | None = None,
    groups: Any = None,
) -> PeakTrustThreshold:
    """Choose the :func:`relative_std` threshold of a fitted ensemble on held-out data.

    The peak tolerance is in eV, so the energies come from ``y``'s ``energy``
    coordinate, else ``energy``, else the model's ``energy_`` (which is only a
    row index when the model was fitted on a bare array).

    Parameters
    ----------
    model
        A fitted ensemble with ``predict_members`` and ``energy_``
        (:class:`~xasml.learn.StructureSpectrumRegressor`, ``n_models >= 2``).
    X
        Held-out structures (none of them, nor another site of their molecule,
        seen in training), length ``n_spectra``.
    y
        Their spectra on the model's grid, shape ``(n_spectra, n_energy)``:
        a ``(sample, energy)`` DataArray or an array.
    energy
        The grid in eV, shape ``(n_energy,)``, where ``y`` is a bare array and
        the model was fitted on one (not with a DataArray ``y``).
    target_precision, min_peaks, confidence
        As in :func:`peak_trust_threshold`; the bound counts the sites of one
        molecule as correlated (by the labels ``"<molecule>#<atom>"`` of ``X``).
    tolerance, prominence
        Peak-metric settings (:func:`~xasml.learn.spectral_metrics`).

    Returns
    -------
    PeakTrustThreshold
    """
    _check_confidence(confidence)
    from .spectral_metrics import spectral_metrics

    members = np.asarray(model.predict_members(X), dtype=np.float64)
    if members.shape[0] < 2:
        raise ParameterError(f"calibration needs an ensemble (n_models >= 2); found "
                             f"{members.shape[0]} member")
    yt = np.asarray(getattr(y, "values", y), dtype=np.float64)
    if yt.shape != members.shape[1:]:
        raise InputError(f"y must have shape {members.shape[1:]} (held-out spectra on the "
                         f"model's energy grid); found {yt.shape}")
    grid = _calibration_energy(y, energy, np.asarray(model.energy_, dtype=np.float64))
    mean, std = members.mean(axis=0), members.std(axis=0)
    metrics = spectral_metrics(grid, yt, mean, tolerance=tolerance, prominence=prominence)
    return peak_trust_threshold(metrics, relative_std(mean, std), target_precision,
                                min_peaks=min_peaks, confidence=confidence,
                                groups=_site_groups(X))


def _calibration_energy(y: Any, energy: Any, model_energy: np.ndarray) -> np.ndarray:
    """The eV grid to score on: ``y``'s coordinate, else ``energy``, else the model's."""
    from ..datamodel import stack, validate

    if energy is not None and hasattr(y, "coords"):
        raise ParameterError("give the energies once: as y's energy coordinate or as "
                             "energy=, not both")
    if energy is not None:
        y = stack(energy, getattr(y, "values", y), check=False)
    if not hasattr(y, "coords"):
        return model_energy
    e = np.asarray(validate(y, what="held-out spectra y").coords["energy"].values, float)
    # (its length was checked against the members'); a model fitted on a bare array
    # knows only row indices, any other model's grid is binding
    if not (np.array_equal(model_energy, np.arange(model_energy.size))
            or np.allclose(e, model_energy, rtol=0, atol=1e-6)):
        raise InputError(f"y's energies ({e[0]:g}-{e[-1]:g} eV) are not the model's grid "
                         f"({model_energy[0]:g}-{model_energy[-1]:g} eV)")
    return e
