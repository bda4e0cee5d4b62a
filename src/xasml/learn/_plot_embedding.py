"""The embedding figure of Suzuki et al.: simulations in 2-D, a measurement among them.

Each simulated spectrum is a point coloured by its class label (charge) and
labelled with ``round(value × scale)`` (10Dq in 0.1 eV); the measured
spectrum is a red circle, and an inset shows it over its best-matching
simulations [1]_. :func:`plot_embedding` draws it with matplotlib;
:func:`save_embedding_figure` writes PNG/PDF/SVG, or a standalone interactive
HTML page with plotly (its JavaScript embedded, so it works offline).

References
----------
.. [1] Y. Suzuki, H. Hino, M. Kotsugi, K. Ono, "Automated estimation of
   materials parameter from X-ray absorption and electron energy-loss
   spectra with similarity measures", npj Comput. Mater. 5, 39 (2019).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr
from numpy.typing import NDArray

from ..errors import ParameterError
from .estimate import EstimationResult, ParameterEstimator

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["embedding_html_figure", "plot_embedding", "save_embedding_figure"]

_COLOURS = ("#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf")
_MEASURED = "#d62728"


@dataclass(frozen=True)
class _Scene:
    """Everything both renderers draw, computed once."""

    xy: NDArray[np.float64]
    classes: NDArray[Any] | None
    class_label: str | None
    tags: list[str] | None
    tag_label: str | None
    position: NDArray[np.float64] | None
    energy: NDArray[np.float64]
    measured: NDArray[np.float64] | None
    best: list[tuple[str, NDArray[np.float64], Any]]
    method: str


def _scene(
    estimator: ParameterEstimator,
    measured: xr.DataArray | None,
    result: EstimationResult | None,
    annotate: str | None,
    annotate_scale: float,
    n_best: int,
) -> _Scene:
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(estimator, "X_fit_")
    emb = estimator.embedding_
    if emb is None:
        raise ParameterError("the estimator has no embedding; fit it with embedding='mds' (etc.)")
    if emb.embedding_.shape[1] != 2:
        raise ParameterError(
            f"the figure needs a 2-D embedding; found n_components={emb.embedding_.shape[1]}"
        )
    labels = estimator.labels_
    tag_label = annotate if annotate is not None else next(iter(estimator.value_labels), None)
    if tag_label is not None and tag_label not in labels:
        raise ParameterError(
            f"annotate label {tag_label!r} is not in the training labels {sorted(labels)}"
        )
    tags = (
        [f"{round(float(v) * annotate_scale):d}" for v in labels[tag_label]]
        if tag_label is not None
        else None
    )
    cl = estimator.class_label
    position = y = None
    best: list[tuple[str, NDArray[np.float64], Any]] = []
    if measured is not None:
        if result is None:
            result = estimator.estimate(measured)
        y = estimator.prepare(measured)
        position = np.asarray(result.position, dtype=float)
        for nb in result.spectrum.neighbours[:n_best]:
            text = ", ".join(f"{k} {_fmt(v)}" for k, v in nb.labels.items())
            best.append((text, estimator.X_fit_[nb.index], nb.labels.get(cl) if cl else None))
    return _Scene(
        xy=emb.embedding_, classes=None if cl is None else labels[cl], class_label=cl,
        tags=tags, tag_label=tag_label, position=position, energy=estimator.energy_,
        measured=y, best=best, method=str(emb.method),
    )


def plot_embedding(
    estimator: ParameterEstimator,
    measured: xr.DataArray | None = None,
    *,
    result: EstimationResult | None = None,
    annotate: str | None = None,
    annotate_scale: float = 10.0,
    n_best: int = 3,
    title: str | None = None,
    figsize: tuple[float, float] = (7.0, 6.0),
) -> Figure:
    """Draw the 2-D embedding with the measured spectrum placed in it.

    Parameters
    ----------
    estimator
        A fitted :class:`ParameterEstimator` with a 2-D embedding.
    measured
        Measured spectrum ``(energy,)``; drawn as a red circle and in the
        inset. ``None`` draws the simulations only.
    result
        Its :class:`EstimationResult`, if already computed.
    annotate
        Label written beside each point (default: the first value label);
        the text is ``round(value × annotate_scale)``, so 10Dq = 1.2 eV reads 12.
    annotate_scale
        Scale applied before rounding.
    n_best
        Number of best-matching simulations (spectrum space) in the inset.
    title, figsize
        Title (default names the method) and size in inches.

    Returns
    -------
    matplotlib.figure.Figure
        Built without pyplot, so no global figure state is touched.
    """
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    sc = _scene(estimator, measured, result, annotate, annotate_scale, n_best)
    fig = Figure(figsize=figsize, layout="constrained")
    ax = fig.add_subplot()
    colour = _colour_map(sc.classes)
    handles: list[Any] = []
    groups = (
        [(None, np.ones(sc.xy.shape[0], bool), _COLOURS[0])]
        if sc.classes is None
        else [(c, sc.classes == c, col) for c, col in colour.items()]
    )
    for c, m, col in groups:
        ax.scatter(sc.xy[m, 0], sc.xy[m, 1], s=22, color=col, alpha=0.85, edgecolors="none")
        name = "simulated" if c is None else f"{sc.class_label} {_fmt(c)}"
        handles.append(Line2D([], [], ls="", marker="o", color=col, label=name))
    if sc.tags is not None:
        for (x0, y0), t in zip(sc.xy, sc.tags, strict=True):
            ax.annotate(t, (x0, y0), xytext=(2.5, 2.5), textcoords="offset points",
                        fontsize=5.5, color="0.3")
    if sc.position is not None:
        ax.scatter(sc.position[0], sc.position[1], s=260, facecolors="none", edgecolors=_MEASURED,
                   linewidths=2.0, zorder=5)
        handles.append(Line2D([], [], ls="", marker="o", ms=10, mfc="none", mew=2,
                              color=_MEASURED, label="measured"))
    ax.set_xlabel(f"{sc.method} 1")
    ax.set_ylabel(f"{sc.method} 2")
    ax.margins(0.06)
    if sc.measured is not None:
        _inset(ax, sc, colour)
    tag = "" if sc.tag_label is None else f" (numbers: round({sc.tag_label} × {annotate_scale:g}))"
    ax.set_title(title or f"{sc.method.upper()} embedding of simulated spectra{tag}", fontsize=10)
    fig.legend(handles=handles, loc="outside lower center", ncols=len(handles), fontsize=8,
               frameon=False)
    return fig


# Inset size and clearances in axes fractions; _LABELS is the room its tick
# labels and x label take below it.
_INSET_W, _INSET_H, _LABELS, _PAD = 0.42, 0.34, 0.09, 0.03


def _inset(ax: Any, sc: _Scene, colour: dict[Any, str]) -> None:
    # Put the inset in the corner that needs the least extra room, and widen the
    # data limits there so that no point hides under it.
    corner, lo, hi = _inset_corner(ax, sc.xy)
    ax.set_ylim(lo, hi)
    x0 = 0.01 if "left" in corner else 0.99 - _INSET_W
    y0 = 0.01 + _LABELS if "lower" in corner else 0.99 - _INSET_H
    ins = ax.inset_axes((x0, y0, _INSET_W, _INSET_H))
    styles = ("--", ":", "-.", (0, (5, 1, 1, 1)))
    for i, (text, spec, c) in enumerate(sc.best):
        ins.plot(sc.energy, spec, lw=1.0, ls=styles[i % len(styles)],
                 color=colour.get(c, "0.4"), label=text)
    ins.plot(sc.energy, sc.measured, lw=1.2, color=_MEASURED, label="measured", zorder=3)
    top = float(np.max([sc.measured.max(), *[b[1].max() for b in sc.best]]))  # type: ignore[union-attr]
    bottom = float(np.min([sc.measured.min(), *[b[1].min() for b in sc.best]]))  # type: ignore[union-attr]
    ins.set_ylim(bottom - 0.05 * (top - bottom), top + 0.55 * (top - bottom))  # legend room
    ins.set_xlabel("energy (eV)", fontsize=7, labelpad=1)
    ins.set_yticks([])
    ins.tick_params(labelsize=6, pad=1)
    ins.legend(fontsize=5.5, frameon=False, loc="upper right", handlelength=2.2, ncols=2)


def _inset_corner(ax: Any, xy: NDArray[np.float64]) -> tuple[str, float, float]:
    """Corner for the inset and the y-limits that keep points out from under it."""
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    u = (xy[:, 0] - x0) / (x1 - x0)
    y = xy[:, 1]
    free = 1.0 - 0.01 - _INSET_H - _LABELS - _PAD  # height fraction left beside the inset
    options = []
    for corner in ("upper left", "upper right", "lower left", "lower right"):
        under = (u < _INSET_W + _PAD) if "left" in corner else (u > 1 - _INSET_W - _PAD)
        lo, hi = y0, y1
        if under.any() and "upper" in corner:
            hi = max(y1, y0 + (y[under].max() - y0) / free)
        elif under.any():
            lo = min(y0, y1 - (y1 - y[under].min()) / free)
        options.append((hi - lo, corner, lo, hi))
    _, corner, lo, hi = min(options)
    return corner, lo, hi


def _colour_map(classes: NDArray[Any] | None) -> dict[Any, str]:
    if classes is None:
        return {}
    uniq = [c.item() if isinstance(c, np.generic) else c for c in np.unique(classes)]
    return {c: _COLOURS[i % len(_COLOURS)] for i, c in enumerate(uniq)}


def _fmt(v: Any) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def embedding_html_figure(
    estimator: ParameterEstimator,
    measured: xr.DataArray | None = None,
    *,
    result: EstimationResult | None = None,
    annotate: str | None = None,
    annotate_scale: float = 10.0,
    n_best: int = 3,
    title: str | None = None,
) -> Any:
    """The same figure as an interactive ``plotly.graph_objects.Figure``.

    Hovering a point shows all its labels; the inset of :func:`plot_embedding`
    becomes a panel on the right. Parameters as in :func:`plot_embedding`.
    """
    try:
        import plotly.graph_objects as go
        from plotly.subplots import make_subplots
    except ImportError as exc:
        raise ParameterError(
            "an HTML figure needs plotly (pip install 'xasml[embed]'); " f"import failed: {exc}"
        ) from None
    sc = _scene(estimator, measured, result, annotate, annotate_scale, n_best)
    has_inset = sc.measured is not None
    fig = make_subplots(
        rows=1, cols=2 if has_inset else 1, column_widths=[0.62, 0.38] if has_inset else None,
        subplot_titles=("embedding", "measured vs best matches") if has_inset else None,
    )
    names = list(estimator.labels_)
    hover = [
        "<br>".join(f"{n} = {_fmt(_item(estimator.labels_[n][i]))}" for n in names)
        + f"<br>sample {i}"
        for i in range(sc.xy.shape[0])
    ]
    colour = _colour_map(sc.classes)
    groups = (
        [(None, np.ones(sc.xy.shape[0], bool), _COLOURS[0])]
        if sc.classes is None
        else [(c, sc.classes == c, col) for c, col in colour.items()]
    )
    for c, m, col in groups:
        idx = np.flatnonzero(m)
        fig.add_trace(go.Scatter(
            x=sc.xy[idx, 0], y=sc.xy[idx, 1], mode="markers+text" if sc.tags else "markers",
            text=[sc.tags[i] for i in idx] if sc.tags else None, textposition="top right",
            textfont={"size": 8, "color": "#555"}, marker={"size": 7, "color": col},
            hovertext=[hover[i] for i in idx], hoverinfo="text",
            name="simulated" if c is None else f"{sc.class_label} {_fmt(c)}",
        ), row=1, col=1)
    if sc.position is not None:
        fig.add_trace(go.Scatter(
            x=[sc.position[0]], y=[sc.position[1]], mode="markers", name="measured",
            marker={"size": 18, "color": "rgba(0,0,0,0)", "line": {"color": _MEASURED, "width": 3}},
        ), row=1, col=1)
    if has_inset:
        for text, spec, c in sc.best:
            fig.add_trace(go.Scatter(x=sc.energy, y=spec, mode="lines", name=text,
                                     line={"color": colour.get(c, "#666"), "width": 1.5,
                                           "dash": "dash"}), row=1, col=2)
        fig.add_trace(go.Scatter(x=sc.energy, y=sc.measured, mode="lines",
                                 name="measured spectrum",
                                 line={"color": _MEASURED, "width": 2}), row=1, col=2)
        fig.update_xaxes(title_text="energy (eV)", row=1, col=2)
    fig.update_xaxes(title_text=f"{sc.method} 1", row=1, col=1)
    fig.update_yaxes(title_text=f"{sc.method} 2", row=1, col=1)
    fig.update_layout(title=title or f"{sc.method.upper()} embedding of simulated spectra",
                      template="plotly_white", width=1100 if has_inset else 700, height=600)
    return fig


def _item(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v


def save_embedding_figure(
    path: str | Path,
    estimator: ParameterEstimator,
    measured: xr.DataArray | None = None,
    *,
    dpi: int = 200,
    **kwargs: Any,
) -> Path:
    """Write the embedding figure to ``path``.

    Parameters
    ----------
    path
        ``.png``, ``.pdf`` or ``.svg`` for a static figure (matplotlib);
        ``.html`` for a standalone interactive page (plotly, JavaScript
        embedded so it opens offline).
    estimator, measured, **kwargs
        As in :func:`plot_embedding`.
    dpi
        Resolution of raster output.

    Returns
    -------
    pathlib.Path
        The path written.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".html":
        fig = embedding_html_figure(estimator, measured, **kwargs)
        fig.write_html(path, include_plotlyjs=True, full_html=True)
        return path
    if suffix not in (".png", ".pdf", ".svg"):
        raise ParameterError(
            f"figure path must end in .png, .pdf, .svg or .html; found {path.name!r}"
        )
    plot_embedding(estimator, measured, **kwargs).savefig(path, dpi=dpi)
    return path
