"""Figures for model evaluation: parity plots and confusion matrices.

matplotlib is imported inside the functions, and figures are built with the
object API (:class:`matplotlib.figure.Figure` on an Agg canvas), so no global
backend or pyplot state is touched; save with ``fig.savefig(path)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .metrics import ClassificationMetrics, regression_metrics

__all__ = ["confusion_matrix_figure", "parity_figure"]


def _figure(figsize: tuple[float, float]) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def parity_figure(
    y_true: Any,
    y_pred: Any,
    *,
    targets: Sequence[str] | None = None,
    units: Sequence[str] | None = None,
) -> Any:
    """Predicted against true value, one panel per target, with MAE and R² in the title.

    Parameters
    ----------
    y_true, y_pred
        Shape ``(n_samples,)`` or ``(n_samples, n_targets)``.
    targets, units
        Names and units of the targets for the axis labels.

    Returns
    -------
    matplotlib.figure.Figure
    """
    res = regression_metrics(y_true, y_pred, targets=targets)
    t = np.asarray(y_true, dtype=float).reshape(res.n_samples, -1)
    p = np.asarray(y_pred, dtype=float).reshape(res.n_samples, -1)
    k = t.shape[1]
    fig = _figure((3.2 * k, 3.2))
    axes = fig.subplots(1, k, squeeze=False)[0]
    for i, ax in enumerate(axes):
        lo, hi = min(t[:, i].min(), p[:, i].min()), max(t[:, i].max(), p[:, i].max())
        ax.plot([lo, hi], [lo, hi], color="0.5", lw=1)
        ax.scatter(t[:, i], p[:, i], s=8, alpha=0.6)
        unit = f" ({units[i]})" if units and units[i] else ""
        ax.set_xlabel(f"true {res.targets[i]}{unit}")
        ax.set_ylabel(f"predicted {res.targets[i]}{unit}")
        ax.set_title(f"MAE {res.mae[i]:.3g}, R² {res.r2[i]:.3f}", fontsize=9)
        ax.set_aspect("equal", adjustable="datalim")
    return fig


def confusion_matrix_figure(result: ClassificationMetrics, *, normalize: bool = False) -> Any:
    """Heat map of a confusion matrix with counts (or row fractions) annotated.

    Parameters
    ----------
    result
        From :func:`xasml.learn.classification_metrics`.
    normalize
        Show each row as fractions of the true class.

    Returns
    -------
    matplotlib.figure.Figure
    """
    cm = result.confusion.astype(float)
    if normalize:
        cm = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    n = len(result.labels)
    fig = _figure((1.0 + 0.6 * n, 0.8 + 0.6 * n))
    ax = fig.subplots()
    im = ax.imshow(cm, cmap="Blues")
    names = [str(v) for v in result.labels]
    ax.set_xticks(range(n), names, rotation=45, ha="right")
    ax.set_yticks(range(n), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"accuracy {result.accuracy:.3f}, balanced {result.balanced_accuracy:.3f}",
                 fontsize=9)
    for i in range(n):
        for j in range(n):
            ax.text(j, i, f"{cm[i, j]:.2f}" if normalize else f"{int(cm[i, j])}",
                    ha="center", va="center", fontsize=8,
                    color="white" if cm[i, j] > cm.max() / 2 else "black")
    fig.colorbar(im, ax=ax)
    return fig
