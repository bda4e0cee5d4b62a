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
  run gets if it keeps only predictions below an uncertainty threshold.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import InputError, ParameterError
from .spectral_metrics import PeakMetrics, find_spectrum_peaks

__all__ = ["SelectiveScores", "peak_position_spread", "relative_std", "selective_peak_scores"]


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
    u = np.asarray(uncertainty, dtype=np.float64)
    if u.shape != (len(counts),):
        raise InputError(f"uncertainty must give one value per spectrum, shape "
                         f"({len(counts)},); found shape {u.shape}")
    if not np.all(np.isfinite(u)):
        raise InputError("uncertainty contains NaN or infinite values")
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
