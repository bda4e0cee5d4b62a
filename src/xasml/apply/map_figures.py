"""Figures of parameter maps: one panel per parameter, OOD pixels hatched and greyed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from ..errors import ParameterError

__all__ = ["map_figure", "map_panels"]

_TRUST_SUFFIXES = ("_lo", "_hi")


def map_panels(ds: xr.Dataset) -> list[str]:
    """Variables shown by :func:`map_figure`: targets, class/set maps, then ``ood_score``."""
    targets = [t for t in str(ds.attrs.get("targets", "")).split(",") if t]
    probas = tuple(f"{t}_p_" for t in targets)
    names = [str(n) for n in ds.data_vars
             if ds[n].dims == ("y", "x") and n not in ("mask", "ood")
             and not str(n).endswith(_TRUST_SUFFIXES) and not str(n).startswith(probas)]
    # Interval width is more telling than lo/hi separately.
    widths = [f"{t}_width" for t in targets if f"{t}_lo" in ds]
    return names + widths


def map_figure(ds: xr.Dataset, path: str | Path | None = None, *, dpi: int = 120) -> Any:
    """Draw a map result (from :func:`~xasml.apply.apply_bundle`) as one panel per parameter.

    Each panel has its own colour bar; masked pixels are white, pixels flagged out of
    distribution are overlaid in grey with hatching, so a reader never takes a
    flagged value for a trusted one.

    Parameters
    ----------
    ds
        Map result Dataset with ``(y, x)`` variables.
    path
        Where to save a PNG (optional).
    dpi
        Resolution of the saved PNG.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib.colors import ListedColormap
    from matplotlib.figure import Figure

    names = map_panels(ds)
    if not names:
        raise ParameterError("the dataset holds no (y, x) parameter maps to draw")
    ncol = min(3, len(names))
    nrow = int(np.ceil(len(names) / ncol))
    fig = Figure(figsize=(4.2 * ncol, 3.6 * nrow), layout="constrained")
    axes = np.atleast_1d(fig.subplots(nrow, ncol, squeeze=False)).ravel()
    flagged = ds["ood"].values > 0.5 if "ood" in ds else None
    y = ds["y"].values
    x = ds["x"].values
    extent = (float(x[0]), float(x[-1]), float(y[-1]), float(y[0])) if x.size > 1 and y.size > 1 \
        else None
    for ax, name in zip(axes, names, strict=False):
        if name.endswith("_width"):
            t = name[: -len("_width")]
            data = ds[f"{t}_hi"].values - ds[f"{t}_lo"].values
            label = f"{t} interval width ({ds.attrs.get('confidence', '?')})"
        else:
            data = ds[name].values.astype(float)
            label = name
        im = ax.imshow(data, cmap="viridis", extent=extent, interpolation="nearest")
        fig.colorbar(im, ax=ax, shrink=0.85, label=label)
        if flagged is not None and flagged.any() and name != "ood_score":
            over = np.where(flagged, 1.0, np.nan)
            ax.imshow(over, cmap=ListedColormap(["0.6"]), extent=extent, alpha=0.85,
                      interpolation="nearest")
            ax.contourf(np.where(flagged, 1.0, 0.0), levels=[0.5, 1.5], colors="none",
                        hatches=["////"], extent=extent, origin="upper")
        ax.set_title(name if flagged is None or name == "ood_score"
                     else f"{name} (grey: OOD, {int(flagged.sum())} px)")
        ax.set_xlabel("x (µm)")
        ax.set_ylabel("y (µm)")
    for ax in axes[len(names):]:
        ax.set_visible(False)
    if path is not None:
        fig.savefig(path, dpi=dpi)
    return fig
