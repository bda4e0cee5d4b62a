"""Shared benchmark report: is an ensemble's trust flag right on unseen structures?

Used by :mod:`benchmarks.qm9_forward` and :mod:`benchmarks.cu_forward`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def print_selective(energy: np.ndarray, rows: dict, member_pred: np.ndarray,
                    pred: np.ndarray, std: np.ndarray) -> None:
    """Risk-coverage: peak scores on the spectra the ensemble is surest of.

    ``rows`` maps a row name to its :func:`~xasml.learn.spectral_metrics` on the
    test set; the ``GNN`` row and every ``nearest K`` row are ranked.
    """
    from xasml.learn import peak_position_spread, relative_std, selective_peak_scores

    signals = {
        "peak spread": peak_position_spread(energy, member_pred),  # eV
        "relative std": relative_std(pred, std),
    }
    print("kept the most trusted test spectra (coverage): precision / peaks<=1eV")
    for sig, u in signals.items():
        for name in (n for n in rows if n == "GNN" or n.startswith("nearest")):
            s = selective_peak_scores(rows[name], u)
            print(f"  by {sig:12} {name:10} " + ", ".join(
                f"{100 * c:.0f}%: {100 * p:.1f}/{100 * r:.1f}" for c, p, r in
                zip(s.coverage, s.precision, s.fraction_within, strict=True)))


def print_calibrated(model, energy: np.ndarray, cal_structures: Sequence, y_cal: np.ndarray,
                     cal_groups: np.ndarray, y_test: np.ndarray, test_groups: np.ndarray,
                     pred: np.ndarray, std: np.ndarray,
                     targets: Sequence[float] = (0.9, 0.95), unit: str = "molecules") -> None:
    """Choose the trust threshold on held-out structures, score it on the test set.

    The ensemble is run once on the calibration set; each target's threshold is
    :func:`~xasml.learn.peak_trust_threshold` of those scores, which is what
    :func:`~xasml.learn.calibrate_peak_trust` (and ``xasml train-forward
    --calibrate-fraction``) computes.

    Parameters
    ----------
    model
        A fitted :class:`~xasml.learn.StructureSpectrumRegressor` with ``n_models >= 2``.
    energy
        The grid in eV, shape ``(n_energy,)``.
    cal_structures, y_cal, cal_groups
        Calibration structures (or graphs), their spectra ``(n_cal, n_energy)`` and the
        molecule/material of each (shares no group with training or test).
    y_test, test_groups
        Test spectra ``(n_test, n_energy)`` and their groups (bootstrap unit).
    pred, std
        The ensemble's mean and std on the test structures, ``(n_test, n_energy)``.
    targets
        Peak precisions to calibrate for.
    """
    from xasml.learn import (
        peak_score_interval,
        peak_trust_threshold,
        relative_std,
        selective_peak_scores,
        spectral_metrics,
    )

    vm = model.predict_members(cal_structures)
    v_mean, v_std = vm.mean(axis=0), vm.std(axis=0)
    v_m = spectral_metrics(energy, y_cal, v_mean, tolerance=1.0, prominence=0.05)
    v_u = relative_std(v_mean, v_std)
    # the calibration set's own risk-coverage curve, so a missed target can be read
    s = selective_peak_scores(v_m, v_u)
    n_cal, n_te = len(y_cal), len(y_test)
    print(f"calibration set ({n_cal} sites), kept by relative std: precision / peaks<=1eV: "
          + ", ".join(f"{100 * c:.0f}%: {100 * p:.1f}/{100 * r:.1f}" for c, p, r in
                      zip(s.coverage, s.precision, s.fraction_within, strict=True)))
    u_test = relative_std(pred, std)
    for target in targets:
        t = peak_trust_threshold(v_m, v_u, target)
        head = (f"calibrated for {100 * target:.0f} % on {n_cal} held-out sites "
                f"({len(set(cal_groups))} {unit}): ")
        if t.threshold is None:
            print(head + "no threshold met the target")
            continue
        keep = u_test <= t.threshold
        if not keep.any():
            print(head + f"coverage {100 * t.coverage:.0f}%; test: nothing kept")
            continue
        m = spectral_metrics(energy, y_test[keep], pred[keep], tolerance=1.0, prominence=0.05)
        lo, hi = peak_score_interval(m, test_groups[keep])["precision"]
        print(head + f"coverage {100 * t.coverage:.0f}% at {100 * t.precision:.1f}%; "
              f"test: kept {keep.sum()}/{n_te} sites ({100 * keep.mean():.0f}%), precision "
              f"{100 * m.precision:.1f}% [{100 * lo:.1f}-{100 * hi:.1f}%], peaks<=1eV "
              f"{100 * m.fraction_within:.1f}%")


def print_height_calibrated(energy: np.ndarray, y_cal: np.ndarray, cal_pred: np.ndarray,
                            cal_groups: np.ndarray, y_test: np.ndarray, test_groups: np.ndarray,
                            pred: np.ndarray, targets: Sequence[float] = (0.9, 0.95),
                            unit: str = "molecules", what: str = "sites",
                            confidence: float | None = None) -> None:
    """Per predicted peak: the relative-height threshold set on held-out structures, on test.

    The threshold is :func:`~xasml.learn.peak_height_threshold` of the
    calibration predictions (what :func:`~xasml.learn.calibrate_peak_heights`
    and ``xasml train-forward --calibrate-fraction`` compute); on the test set
    the peaks at or above it are scored, with a bootstrap interval over groups.

    Parameters
    ----------
    energy
        The grid in eV, shape ``(n_energy,)``.
    y_cal, cal_pred, cal_groups
        Calibration truth and predictions ``(n_cal, n_energy)`` and groups.
    y_test, test_groups, pred
        Test truth ``(n_test, n_energy)``, groups and predictions.
    targets
        Peak precisions to calibrate for.
    unit, what
        What the groups and the spectra are, for the printout.
    confidence
        Also choose each threshold with this lower bound of the held-out
        precision (``train-forward --confidence``) and score it the same way.
    """
    from xasml.learn import (
        find_predicted_peaks,
        peak_height_threshold,
        peak_hits,
        spectral_metrics,
    )

    v_pk = find_predicted_peaks(energy, cal_pred)
    v_hit, v_true = peak_hits(energy, y_cal, v_pk)
    t_pk = find_predicted_peaks(energy, pred)
    t_hit, t_true = peak_hits(energy, y_test, t_pk)
    full = spectral_metrics(energy, y_test, pred, tolerance=1.0, prominence=0.05)
    rules = [None] if confidence is None else [None, confidence]
    for target, rule in ((t, r) for t in targets for r in rules):
        # the bound counts the peaks of one group (molecule) as correlated
        t = peak_height_threshold(v_pk, v_hit, v_true, target, confidence=rule,
                                  groups=np.asarray(cal_groups))
        bound = "" if rule is None else f" (its {100 * rule:.0f} % lower bound)"
        head = (f"peaks by relative height, calibrated for {100 * target:.0f} %{bound} on "
                f"{t.n_calibration} held-out {what} ({len(set(cal_groups))} {unit}): ")
        if t.threshold is None:
            print(head + "no threshold met the target")
            continue
        keep = t_pk.relative_height >= t.threshold
        prec, lo, hi = kept_peak_precision(full, t_pk, t_hit, t_true, keep, test_groups)
        n_keep = int(keep.sum())
        print(head + f"height >= {t.threshold:.3f} kept {100 * t.coverage:.0f}% of "
              f"{t.n_predicted_peaks} peaks at {100 * t.precision:.1f}%; test: kept "
              f"{n_keep}/{t_pk.energy.size} peaks ({100 * n_keep / max(t_pk.energy.size, 1):.0f}%),"
              f" precision {100 * prec:.1f}% [{100 * lo:.1f}-{100 * hi:.1f}%], "
              f"true peaks found {100 * t_hit[keep].sum() / max(t_true.sum(), 1):.1f}%")


def kept_peak_precision(full, peaks, hit: np.ndarray, n_true: np.ndarray, keep: np.ndarray,
                        groups: np.ndarray) -> tuple[float, float, float]:
    """Precision of the kept predicted peaks, with a 95 % bootstrap interval over groups.

    ``full`` is :func:`~xasml.learn.spectral_metrics` of the same spectra, ``peaks``,
    ``hit`` and ``n_true`` are :func:`~xasml.learn.find_predicted_peaks` and
    :func:`~xasml.learn.peak_hits` of them; ``keep`` flags the peaks kept. NaN when
    none is kept.
    """
    import dataclasses

    from xasml.learn import peak_score_interval

    n = len(n_true)
    # per spectrum: true peaks, kept predicted peaks, kept hits
    counts = np.stack([n_true, np.bincount(peaks.spectrum[keep], minlength=n),
                       np.bincount(peaks.spectrum[keep & hit], minlength=n)], axis=1)
    lo, hi = peak_score_interval(dataclasses.replace(full, peak_counts=counts),
                                 groups)["precision"]
    prec = float(hit[keep].mean()) if keep.any() else float("nan")
    return prec, lo, hi
