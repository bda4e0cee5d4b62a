"""Which energy regions a fitted model relies on: permutation importance over windows.

Permuting one energy point at a time understates importance in spectra, because
neighbouring points are strongly correlated and the model can read the same
information next door. Here all columns of an energy window (pre-edge, edge,
post-edge ... or equal-width slices) are permuted *jointly* across samples, with
one shared row permutation, and the drop in score is the window's importance
(Breiman 2001, *Machine Learning* 45:5; grouped permutation as in Gregorutti,
Michel & Saint-Pierre 2017, *Stat. Comput.* 27:659).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from itertools import pairwise
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import xarray as xr
from sklearn.metrics import check_scoring

from ..errors import ParameterError
from ._trust_checks import as_features, as_targets, check_n_features

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["WindowImportance", "energy_window_importance", "equal_width_windows"]


@dataclass(frozen=True)
class WindowImportance:
    """Permutation importance of energy windows.

    Attributes
    ----------
    table
        One row per window: ``window``, ``e_min``, ``e_max`` (eV), ``n_points``,
        ``importance_mean``, ``importance_std`` (score drop, in the scorer's units).
    importances
        Score drops, shape ``(n_windows, n_repeats)``.
    baseline_score
        Score on the unpermuted data.
    scoring
        Name of the scorer (``"default"`` for the estimator's own ``score``).
    energy
        Energies (eV) of the columns, shape ``(n_energy,)``.
    mean_spectrum
        Mean of the input spectra, shape ``(n_energy,)``, for plotting.
    """

    table: pd.DataFrame
    importances: np.ndarray
    baseline_score: float
    scoring: str
    energy: np.ndarray
    mean_spectrum: np.ndarray

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (the table as a list of records)."""
        return {
            "scoring": self.scoring,
            "baseline_score": self.baseline_score,
            "windows": self.table.to_dict(orient="records"),
            "importances": self.importances.tolist(),
        }

    def plot(self, ax: Axes | None = None) -> Figure:
        """Mean spectrum with windows shaded by importance and bars of the score drop.

        Parameters
        ----------
        ax
            Axes to draw on; a new figure (no pyplot, no backend change) when ``None``.

        Returns
        -------
        matplotlib.figure.Figure
        """
        from matplotlib.figure import Figure

        if ax is None:
            fig = Figure(figsize=(7.0, 4.0), layout="constrained")
            ax = fig.add_subplot()
        else:
            fig = ax.get_figure()  # type: ignore[assignment]
        ax.plot(self.energy, self.mean_spectrum, color="k", lw=1.2, label="mean spectrum")
        ax.set_xlabel("energy (eV)")
        ax.set_ylabel("intensity")
        bars = ax.twinx()
        imp = self.table["importance_mean"].to_numpy()
        top = float(np.max(np.abs(imp))) or 1.0
        for row, value in zip(self.table.itertuples(), imp, strict=True):
            ax.axvspan(row.e_min, row.e_max, color="C0", alpha=0.05 + 0.3 * max(value, 0) / top)
            bars.bar(
                (row.e_min + row.e_max) / 2,
                value,
                width=0.8 * (row.e_max - row.e_min),
                yerr=row.importance_std,
                color="C1",
                alpha=0.5,
            )
            bars.annotate(
                str(row.window),
                ((row.e_min + row.e_max) / 2, value),
                ha="center",
                va="bottom",
                fontsize=8,
            )
        bars.set_ylabel(f"importance (drop in {self.scoring})")
        # keep the spectrum line above the bars of the twin axes
        ax.set_zorder(bars.get_zorder() + 1)
        ax.patch.set_visible(False)
        return fig


def equal_width_windows(energy: np.ndarray, n_windows: int) -> dict[str, tuple[float, float]]:
    """``n_windows`` contiguous windows of equal width in eV spanning ``energy``."""
    if not isinstance(n_windows, int | np.integer) or n_windows < 1:
        raise ParameterError(f"windows must be a positive int or a mapping; found {n_windows!r}")
    edges = np.linspace(float(energy.min()), float(energy.max()), int(n_windows) + 1)
    return {f"{lo:.1f}-{hi:.1f}": (float(lo), float(hi)) for lo, hi in pairwise(edges)}


def _window_masks(
    energy: np.ndarray, windows: Mapping[str, tuple[float, float]]
) -> dict[str, tuple[float, float, np.ndarray]]:
    masks = {}
    top = float(energy.max())
    for name, bounds in windows.items():
        try:
            lo, hi = (float(b) for b in bounds)
        except (TypeError, ValueError):
            raise ParameterError(
                f"windows[{name!r}] must be (e_min, e_max) in eV; found {bounds!r}"
            ) from None
        if not lo < hi:
            raise ParameterError(f"windows[{name!r}] must have e_min < e_max; found {bounds!r}")
        # half-open so contiguous windows do not share points; the top end closes the last one
        mask = (energy >= lo) & ((energy < hi) | ((hi >= top) & (energy <= hi)))
        if not mask.any():
            raise ParameterError(
                f"windows[{name!r}] = ({lo}, {hi}) eV holds no energy point; "
                f"data span {energy.min()}-{top} eV"
            )
        masks[str(name)] = (lo, hi, mask)
    if not masks:
        raise ParameterError("windows must name at least one window")
    return masks


def energy_window_importance(
    model: Any,
    X: Any,
    y: Any,
    windows: Mapping[str, tuple[float, float]] | int,
    *,
    energy: Any = None,
    scoring: str | None = None,
    n_repeats: int = 10,
    random_state: int | None = 0,
) -> WindowImportance:
    """Permutation importance of energy windows for a fitted model.

    Parameters
    ----------
    model
        Fitted estimator taking spectra ``(n_samples, n_energy)``.
    X
        Held-out spectra, shape ``(n_samples, n_energy)`` or a ``(sample, energy)``
        DataArray (then passed to the model as a DataArray, permuted).
    y
        True targets, shape ``(n_samples,)`` or ``(n_samples, n_targets)``.
    windows
        Named windows ``{"pre-edge": (e_min, e_max), ...}`` in eV (half-open
        ``[e_min, e_max)``; overlaps allowed), or an int for that many
        equal-width windows over the energy range.
    energy
        Energies (eV) of the columns, shape ``(n_energy,)``; taken from the
        DataArray when ``X`` is one. Without either, column indices are used and
        only an int ``windows`` makes sense.
    scoring
        A scikit-learn scorer name (``"r2"``, ``"neg_mean_absolute_error"``,
        ``"accuracy"`` ...); ``None`` uses the model's ``score``.
    n_repeats
        Permutations per window.
    random_state
        Seed of the permutations.

    Returns
    -------
    WindowImportance
    """
    arr, e_da = as_features(X, "X")
    n, p = arr.shape
    y_arr = as_targets(y, n, "y")
    if energy is not None:
        e = np.asarray(energy, dtype=float)
        if e.shape != (p,):
            raise ParameterError(f"energy must have shape ({p},) like X's columns; found {e.shape}")
    elif e_da is not None:
        e = e_da
    elif isinstance(windows, Mapping):
        raise ParameterError(
            "energy is needed for windows in eV: pass energy= or X as a DataArray with an "
            "energy coordinate"
        )
    else:
        e = np.arange(p, dtype=float)
    if not isinstance(n_repeats, int | np.integer) or n_repeats < 1:
        raise ParameterError(f"n_repeats must be a positive int; found {n_repeats!r}")
    if isinstance(windows, Mapping):
        masks = _window_masks(e, windows)
    else:
        masks = _window_masks(e, equal_width_windows(e, windows))
    check_n_features(arr, e.size, "X")
    scorer = check_scoring(model, scoring=scoring)
    as_model_input = _input_like(X)
    baseline = float(scorer(model, as_model_input(arr), y_arr))
    rng = np.random.default_rng(random_state)
    drops = np.empty((len(masks), int(n_repeats)))
    for i, (_, _, mask) in enumerate(masks.values()):
        for r in range(int(n_repeats)):
            perm = rng.permutation(n)
            Xp = arr.copy()
            Xp[:, mask] = arr[perm][:, mask]  # one row permutation for the whole window
            drops[i, r] = baseline - float(scorer(model, as_model_input(Xp), y_arr))
    table = pd.DataFrame(
        {
            "window": list(masks),
            "e_min": [lo for lo, _, _ in masks.values()],
            "e_max": [hi for _, hi, _ in masks.values()],
            "n_points": [int(m.sum()) for _, _, m in masks.values()],
            "importance_mean": drops.mean(axis=1),
            "importance_std": drops.std(axis=1),
        }
    )
    return WindowImportance(
        table=table,
        importances=drops,
        baseline_score=baseline,
        scoring=scoring or "default",
        energy=e,
        mean_spectrum=arr.mean(axis=0),
    )


def _input_like(X: Any) -> Any:
    """A function that wraps a float matrix in the container ``X`` came in."""
    if isinstance(X, xr.DataArray):
        template = X.transpose(..., "energy")
        return lambda a: template.copy(data=a)
    return lambda a: a
