"""Scores of predicted spectra against true ones, as in Carbone et al. (2020).

* spectrum MSE: mean squared error over energy points, per spectrum and
  overall (mean and median over spectra);
* peak positions: peaks of each spectrum are found with
  :func:`scipy.signal.find_peaks` using a *relative prominence* threshold —
  a peak counts when its prominence is at least ``prominence`` times the
  spectrum's range ``max − min`` (default 0.05, so ripples below 5 % of the
  spectrum's span are ignored); true and predicted peaks are paired one-to-one
  by the Hungarian algorithm on their energy difference
  (:func:`scipy.optimize.linear_sum_assignment`), and a true peak counts as
  reproduced when its partner lies within ``tolerance`` eV (default 1 eV);
* peak heights: mean absolute difference of the intensities of paired peaks;
* recall at matched precision (:func:`recall_at_precision`): a predictor can
  buy recall with spurious small peaks, so two predictors are compared by the
  recall each reaches at one precision, found by raising the prominence a
  *predicted* peak needs until the precision is reached;
* confidence intervals (:func:`peak_score_interval`): a test set of a few
  hundred peaks decides a score only to a few points, so precision and recall
  come with a bootstrap interval that resamples whole groups (molecules), as
  the split does.

Figures (:func:`spectra_figure`, :func:`peak_parity_figure`) use the
matplotlib object API on an Agg canvas; no pyplot state is touched.

References
----------
M. R. Carbone, M. Topsakal, D. Lu, S. Yoo, "Machine-learning X-ray absorption
spectra to quantitative accuracy", Phys. Rev. Lett. 124, 156401 (2020).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import InputError, ParameterError

__all__ = [
    "PeakMetrics",
    "find_spectrum_peaks",
    "match_peaks",
    "peak_parity_figure",
    "peak_score_interval",
    "recall_at_precision",
    "spectra_figure",
    "spectral_metrics",
]


@dataclass(frozen=True)
class PeakMetrics:
    """Spectrum and peak scores over a set of spectra.

    Attributes
    ----------
    mse
        Mean squared error over all spectra and energy points.
    median_mse
        Median over spectra of the per-spectrum MSE.
    per_spectrum_mse
        Shape ``(n_spectra,)``.
    n_true_peaks
        Peaks found in the true spectra.
    n_pred_peaks
        Peaks found in the predicted spectra.
    n_matched
        True peaks with a paired predicted peak within ``tolerance``.
    fraction_within
        ``n_matched / n_true_peaks`` (NaN when no true peak was found): the
        paper's "peaks within 1 eV".
    precision
        ``n_matched / n_pred_peaks``: guards against a wiggly prediction that
        puts a peak near every true one (NaN when none was predicted).
    height_mae
        Mean absolute height difference of the matched peaks (NaN if none).
    first_peak_within
        Fraction of the spectra (with any true peak) whose lowest-energy true
        peak, the edge resonance, is reproduced (NaN when no true peak).
    true_peak_energies, true_peak_matched
        Every true peak's energy (eV) and whether it was reproduced, shape
        ``(n_true_peaks,)`` each: where the misses are
        (:meth:`recall_by_energy`).
    peak_counts
        Per spectrum: true peaks, predicted peaks, matched pairs; shape
        ``(n_spectra, 3)``, integers (:func:`peak_score_interval`).
    tolerance, prominence
        Settings used (eV; fraction of the spectrum range).
    """

    mse: float
    median_mse: float
    per_spectrum_mse: np.ndarray
    n_true_peaks: int
    n_pred_peaks: int
    n_matched: int
    fraction_within: float
    precision: float
    height_mae: float
    first_peak_within: float
    true_peak_energies: np.ndarray
    true_peak_matched: np.ndarray
    peak_counts: np.ndarray
    tolerance: float
    prominence: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (without the per-spectrum and per-peak arrays)."""
        return {k: (float(v) if isinstance(v, float | np.floating) else v)
                for k, v in self.__dict__.items() if not isinstance(v, np.ndarray)}

    def recall_by_energy(self, edges: Any) -> tuple[np.ndarray, np.ndarray]:
        """True peaks and the fraction reproduced in each energy window.

        Parameters
        ----------
        edges
            Increasing window edges, eV, shape ``(n_windows + 1,)``; a window
            holds ``edges[i] <= E < edges[i + 1]``.

        Returns
        -------
        n_true, recall
            Shape ``(n_windows,)`` each; recall is NaN in a window without peaks.
        """
        b = np.asarray(edges, dtype=np.float64)
        if b.ndim != 1 or b.size < 2 or not np.all(np.diff(b) > 0):
            raise ParameterError(
                f"edges must be at least two increasing energies (eV); found {edges!r}")
        n, _ = np.histogram(self.true_peak_energies, bins=b)
        hit, _ = np.histogram(self.true_peak_energies[self.true_peak_matched], bins=b)
        return n, np.where(n > 0, hit / np.maximum(n, 1), np.nan)


def _arrays(energy: Any, y_true: Any, y_pred: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    e = np.asarray(getattr(energy, "values", energy), dtype=np.float64)
    t = np.atleast_2d(np.asarray(getattr(y_true, "values", y_true), dtype=np.float64))
    p = np.atleast_2d(np.asarray(getattr(y_pred, "values", y_pred), dtype=np.float64))
    if e.ndim != 1 or t.shape != p.shape or t.shape[1] != e.size:
        raise InputError(
            f"y_true and y_pred must both have shape (n_spectra, {e.size}) on the energy "
            f"grid; found {t.shape} and {p.shape}"
        )
    if t.shape[0] == 0:
        raise InputError("y_true and y_pred hold no spectra: nothing to score")
    if not (np.all(np.isfinite(t)) and np.all(np.isfinite(p))):
        raise InputError("y_true or y_pred contain NaN or infinite values")
    return e, t, p


def find_spectrum_peaks(
    energy: Any, intensity: Any, *, prominence: float = 0.05
) -> tuple[np.ndarray, np.ndarray]:
    """Peak energies (eV) and heights of one spectrum.

    A local maximum is a peak when its prominence is at least ``prominence``
    times ``intensity.max() - intensity.min()``; a flat spectrum has none.

    Returns
    -------
    positions, heights
        Shape ``(n_peaks,)`` each, in order of energy.
    """
    from scipy.signal import find_peaks

    if not 0 <= prominence < 1:
        raise ParameterError(f"prominence must be a fraction in [0, 1); found {prominence!r}")
    e = np.asarray(energy, dtype=np.float64)
    y = np.asarray(intensity, dtype=np.float64)
    span = float(y.max() - y.min())
    if span <= 0:
        return np.zeros(0), np.zeros(0)
    idx, _ = find_peaks(y, prominence=prominence * span)
    return e[idx], y[idx]


def match_peaks(true_pos: Any, pred_pos: Any, tolerance: float = 1.0) -> list[tuple[int, int]]:
    """Pair true and predicted peaks one-to-one within ``tolerance`` eV.

    The pairing minimises the summed energy differences (Hungarian algorithm)
    among pairs closer than ``tolerance``; pairs farther apart are never made.

    Returns
    -------
    list of (i_true, i_pred)
    """
    from scipy.optimize import linear_sum_assignment

    a = np.asarray(true_pos, dtype=np.float64)
    b = np.asarray(pred_pos, dtype=np.float64)
    if a.size == 0 or b.size == 0:
        return []
    diff = np.abs(a[:, None] - b[None, :])
    # pairs beyond tolerance cost more than any set of allowed pairs can save
    big = tolerance * (a.size + b.size + 1) + 1.0
    rows, cols = linear_sum_assignment(np.where(diff <= tolerance, diff, big))
    return [(int(i), int(j)) for i, j in zip(rows, cols, strict=True)
            if diff[i, j] <= tolerance]


def spectral_metrics(
    energy: Any,
    y_true: Any,
    y_pred: Any,
    *,
    tolerance: float = 1.0,
    prominence: float = 0.05,
    predicted_prominence: float | None = None,
) -> PeakMetrics:
    """Spectrum MSE, fraction of true peaks reproduced within ``tolerance``, height error.

    Parameters
    ----------
    energy
        Energy grid, shape ``(n_energy,)``, eV.
    y_true, y_pred
        Spectra, shape ``(n_spectra, n_energy)`` (or one spectrum ``(n_energy,)``).
    tolerance
        Largest energy difference (eV) for a predicted peak to count (default 1).
    prominence
        Relative prominence threshold of :func:`find_spectrum_peaks` (default 0.05).
    predicted_prominence
        Threshold for the predicted spectra's peaks (default: ``prominence``);
        a higher one trades recall for precision (:func:`recall_at_precision`).

    Returns
    -------
    PeakMetrics
    """
    if not tolerance > 0:
        raise ParameterError(f"tolerance must be > 0 eV; found {tolerance!r}")
    e, t, p = _arrays(energy, y_true, y_pred)
    per = np.mean((t - p) ** 2, axis=1)
    n_pred = 0
    height_err: list[float] = []
    energies: list[np.ndarray] = []
    matched: list[np.ndarray] = []
    counts: list[tuple[int, int, int]] = []
    for yt, yp in zip(t, p, strict=True):
        tp, th = find_spectrum_peaks(e, yt, prominence=prominence)
        pp, ph = find_spectrum_peaks(
            e, yp, prominence=prominence if predicted_prominence is None
            else predicted_prominence)
        pairs = match_peaks(tp, pp, tolerance)
        n_pred += pp.size
        height_err += [abs(float(ph[j] - th[i])) for i, j in pairs]
        hit = np.zeros(tp.size, dtype=bool)
        hit[[i for i, _ in pairs]] = True
        energies.append(tp)
        matched.append(hit)
        counts.append((tp.size, pp.size, len(pairs)))
    true_e = np.concatenate(energies)
    true_hit = np.concatenate(matched)
    n_true, n_matched = int(true_e.size), int(true_hit.sum())
    firsts = [h[0] for h in matched if h.size]  # peaks come in order of energy
    return PeakMetrics(
        mse=float(per.mean()),
        median_mse=float(np.median(per)),
        per_spectrum_mse=per,
        n_true_peaks=n_true,
        n_pred_peaks=n_pred,
        n_matched=n_matched,
        fraction_within=n_matched / n_true if n_true else float("nan"),
        precision=n_matched / n_pred if n_pred else float("nan"),
        height_mae=float(np.mean(height_err)) if height_err else float("nan"),
        first_peak_within=float(np.mean(firsts)) if firsts else float("nan"),
        true_peak_energies=true_e,
        true_peak_matched=true_hit,
        peak_counts=np.array(counts, dtype=np.int64).reshape(-1, 3),
        tolerance=float(tolerance),
        prominence=float(prominence),
    )


def peak_score_interval(
    metrics: PeakMetrics,
    groups: Any = None,
    *,
    confidence: float = 0.95,
    n_resamples: int = 2000,
    random_state: int | None = 0,
) -> dict[str, tuple[float, float]]:
    """Bootstrap confidence intervals of the peak recall and precision.

    Resamples whole groups with replacement (percentile bootstrap,
    :func:`scipy.stats.bootstrap`) and recomputes each score as a ratio of the
    summed counts of :attr:`PeakMetrics.peak_counts`. Sites of one molecule
    share its errors, so grouping by molecule gives the honest, wider interval.

    Parameters
    ----------
    metrics
        Scores from :func:`spectral_metrics`.
    groups
        One label per spectrum, shape ``(n_spectra,)`` (default: every
        spectrum its own group).
    confidence
        Coverage of the interval, in (0, 1).
    n_resamples
        Bootstrap resamples.
    random_state
        Seed of the resampling.

    Returns
    -------
    dict
        ``{"fraction_within": (low, high), "precision": (low, high)}``; an
        interval is ``(nan, nan)`` when the score itself is NaN (no true or
        no predicted peaks) or there are fewer than two groups to resample.
    """
    from scipy.stats import bootstrap

    if not 0 < confidence < 1:
        raise ParameterError(f"confidence must be in (0, 1); found {confidence!r}")
    if int(n_resamples) < 1:
        raise ParameterError(f"n_resamples must be >= 1; found {n_resamples!r}")
    counts = np.asarray(metrics.peak_counts)
    labels = np.arange(len(counts)) if groups is None else np.asarray(groups)
    if labels.shape != (len(counts),):
        raise InputError(f"groups must give one label per spectrum, shape ({len(counts)},); "
                         f"found shape {labels.shape}")
    _, inverse = np.unique(labels, return_inverse=True)
    per_group = np.zeros((inverse.max() + 1 if inverse.size else 0, 3))
    np.add.at(per_group, inverse, counts)
    out: dict[str, tuple[float, float]] = {}
    for name, num, den in (("fraction_within", 2, 0), ("precision", 2, 1)):
        if not per_group[:, den].sum() or len(per_group) < 2:
            out[name] = (float("nan"), float("nan"))
            continue

        def ratio(idx: np.ndarray, num: int = num, den: int = den) -> float:
            g = per_group[idx.astype(np.int64)]
            return float(g[:, num].sum() / max(g[:, den].sum(), 1))

        res = bootstrap((np.arange(len(per_group)),), ratio, vectorized=False,
                        paired=False, confidence_level=confidence,
                        n_resamples=int(n_resamples), method="percentile",
                        random_state=np.random.default_rng(random_state))
        ci = res.confidence_interval
        out[name] = (float(ci.low), float(ci.high))
    return out


def recall_at_precision(
    energy: Any,
    y_true: Any,
    y_pred: Any,
    precision: float = 0.8,
    *,
    tolerance: float = 1.0,
    prominence: float = 0.05,
    thresholds: Any = None,
) -> tuple[float, float]:
    """Highest peak recall at a precision of at least ``precision``.

    The true peaks stay those of :func:`spectral_metrics` (``prominence``);
    the prominence a predicted peak needs is raised through ``thresholds``
    (default ``prominence``, then up in steps of 0.01 to ``prominence + 0.55``),
    which drops the smaller predicted peaks
    first. Scores two predictors at one precision, where comparing their
    recall at their own precisions would reward spurious peaks.

    Parameters
    ----------
    energy, y_true, y_pred, tolerance, prominence
        As in :func:`spectral_metrics`.
    precision
        The precision to reach, in (0, 1].
    thresholds
        Relative prominences tried for the predicted peaks.

    Returns
    -------
    recall, threshold
        The highest ``fraction_within`` among the thresholds whose precision
        is at least ``precision``, and that threshold; ``(0.0, nan)`` when no
        threshold reaches it.
    """
    if not 0 < precision <= 1:
        raise ParameterError(f"precision must be in (0, 1]; found {precision!r}")
    # never below the true peaks' threshold: the same spectrum must score precision 1
    qs = np.round(prominence + 0.01 * np.arange(56), 4) if thresholds is None else thresholds
    best, best_q = 0.0, float("nan")
    for q in np.asarray(qs, dtype=np.float64):
        m = spectral_metrics(energy, y_true, y_pred, tolerance=tolerance,
                             prominence=prominence, predicted_prominence=float(q))
        if m.precision >= precision and m.fraction_within > best:
            best, best_q = float(m.fraction_within), float(q)
    return best, best_q


def _figure(figsize: tuple[float, float]) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def spectra_figure(
    energy: Any,
    y_true: Any,
    y_pred: Any,
    *,
    std: Any = None,
    indices: Any = None,
    ncols: int = 3,
) -> Any:
    """True and predicted spectra side by side, with a ±2σ band when ``std`` is given.

    Parameters
    ----------
    energy, y_true, y_pred
        As in :func:`spectral_metrics`.
    std
        Ensemble standard deviation, same shape as ``y_pred``.
    indices
        Which spectra to draw (default: the first 6).
    ncols
        Panels per row.

    Returns
    -------
    matplotlib.figure.Figure
    """
    e, t, p = _arrays(energy, y_true, y_pred)
    s = None if std is None else np.atleast_2d(np.asarray(std, dtype=np.float64))
    idx = np.arange(min(6, len(t))) if indices is None else np.asarray(indices, dtype=int)
    nrows = max(1, -(-len(idx) // ncols))
    fig = _figure((3.2 * ncols, 2.6 * nrows))
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax, i in zip(axes, idx, strict=False):
        ax.plot(e, t[i], color="k", lw=1.2, label="true")
        ax.plot(e, p[i], color="C1", lw=1.2, label="predicted")
        if s is not None:
            ax.fill_between(e, p[i] - 2 * s[i], p[i] + 2 * s[i], color="C1", alpha=0.25,
                            lw=0, label="±2σ")
        ax.set_title(f"#{i}  MSE {np.mean((t[i] - p[i]) ** 2):.2g}", fontsize=9)
        ax.set_xlabel("energy (eV)")
    for ax in axes[len(idx):]:
        ax.set_visible(False)
    axes[0].legend(fontsize=8)
    return fig


def peak_parity_figure(
    energy: Any, y_true: Any, y_pred: Any, *, tolerance: float = 1.0, prominence: float = 0.05
) -> Any:
    """Predicted against true peak energy for every paired peak (pairing within
    ``3 × tolerance`` so misses show), with ±``tolerance`` lines.

    Returns
    -------
    matplotlib.figure.Figure
    """
    e, t, p = _arrays(energy, y_true, y_pred)
    xs: list[float] = []
    ys: list[float] = []
    for yt, yp in zip(t, p, strict=True):
        tp, _ = find_spectrum_peaks(e, yt, prominence=prominence)
        pp, _ = find_spectrum_peaks(e, yp, prominence=prominence)
        for i, j in match_peaks(tp, pp, 3 * tolerance):
            xs.append(float(tp[i]))
            ys.append(float(pp[j]))
    res = spectral_metrics(e, t, p, tolerance=tolerance, prominence=prominence)
    fig = _figure((3.6, 3.4))
    ax = fig.subplots()
    lo, hi = float(e[0]), float(e[-1])
    ax.plot([lo, hi], [lo, hi], color="0.4", lw=1)
    for off in (-tolerance, tolerance):
        ax.plot([lo, hi], [lo + off, hi + off], color="0.6", lw=0.8, ls="--")
    ax.scatter(xs, ys, s=6, alpha=0.5)
    ax.set_xlabel("true peak energy (eV)")
    ax.set_ylabel("predicted peak energy (eV)")
    ax.set_title(f"{100 * res.fraction_within:.1f} % of peaks within {tolerance:g} eV",
                 fontsize=9)
    return fig
