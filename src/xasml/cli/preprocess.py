"""``xasml preprocess FILE... --out DATASET``: files → one dataset on a common grid."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Literal

import typer

from ..errors import InputError, ParameterError, XasmlError
from ._app import app

if TYPE_CHECKING:
    import numpy as np
    import xarray as xr


def parse_grid(text: str) -> np.ndarray:
    """Parse ``"kiyohara"`` or ``"start:stop:step"`` (eV, stop exclusive) into a grid.

    Raises
    ------
    ParameterError
        If the text is not of that form or the step is not positive.
    """
    import numpy as np

    from ..preprocess import kiyohara_grid

    if text == "kiyohara":
        return kiyohara_grid()
    parts = text.split(":")
    try:
        start, stop, step = (float(p) for p in parts)
    except ValueError:
        raise ParameterError(
            f"--grid must be 'kiyohara' or 'start:stop:step' in eV; found {text!r}"
        ) from None
    if step <= 0 or stop <= start:
        raise ParameterError(f"--grid needs start < stop and step > 0; found {text!r}")
    n = int(np.floor((stop - start) / step + 1e-9))
    return np.round(start + step * np.arange(n), 10)


def preprocess_spectrum(
    da: xr.DataArray,
    grid: np.ndarray,
    *,
    normalize: Literal["edge", "max", "area", "none"] = "edge",
    align: bool = True,
    fwhm: float = 0.0,
    outside: Literal["raise", "zero", "edge", "nan"] = "raise",
) -> xr.DataArray:
    """Normalise, align at E0, broaden and resample one spectrum onto ``grid``."""
    from ..preprocess import align_edge, broaden, normalize_edge, resample, scale

    out = da
    if normalize == "edge":
        out = normalize_edge(out)
    if align:
        out = align_edge(out)
    if fwhm > 0:
        out = broaden(out, fwhm)
    out = resample(out, grid, outside=outside)
    if normalize in ("max", "area"):
        out = scale(out, normalize)
    return out


@app.command()
def preprocess(
    files: list[Path] = typer.Argument(..., help="Spectrum files (any readable format)."),
    out: Path = typer.Option(..., "--out", "-o", help="Output dataset (.nc, .h5 or .zarr)."),
    grid: str = typer.Option(
        "kiyohara", help="Output grid: 'kiyohara' (-1..15 eV, 0.1 eV) or 'start:stop:step' eV."
    ),
    normalize: str = typer.Option("edge", help="edge (Athena step), max, area or none."),
    align: bool = typer.Option(True, help="Shift each spectrum so that E0 sits at 0 eV."),
    fwhm: float = typer.Option(0.0, help="Extra Gaussian broadening FWHM in eV."),
    outside: str = typer.Option(
        "raise", help="Grid points outside the data: raise, zero, edge or nan."
    ),
) -> None:
    """Read FILES, preprocess each onto one grid and write a (sample, energy) dataset.

    Example: xasml preprocess data/*.xdi --grid=-20:60:0.25 --out set.nc
    """
    from rich.progress import track

    from ..datamodel import concat
    from ..io import read_all, save

    if normalize not in ("edge", "max", "area", "none"):
        raise ParameterError(f"--normalize must be edge, max, area or none; found {normalize!r}")
    if outside not in ("raise", "zero", "edge", "nan"):
        raise ParameterError(f"--outside must be raise, zero, edge or nan; found {outside!r}")
    g = parse_grid(grid)
    spectra = []
    for path in track(files, description="preprocessing", disable=len(files) < 2):
        for da in read_all(path):
            if da.dims != ("energy",):
                raise ParameterError(
                    f"{path}: preprocess takes single spectra; found dims {da.dims} "
                    "(maps go through 'xasml map')"
                )
            try:
                sp = preprocess_spectrum(
                    da, g, normalize=normalize, align=align, fwhm=fwhm, outside=outside  # type: ignore[arg-type]
                )
            except XasmlError as exc:
                raise InputError(f"{path}: {exc}") from None
            sp.attrs = {k: v for k, v in da.attrs.items() if k in ("element", "edge", "source")}
            if da.name is not None:
                sp.attrs["label"] = str(da.name)
            spectra.append(sp)
    result = concat(spectra)
    result.attrs.update(
        preprocessing=f"normalize={normalize} align={align} fwhm={fwhm} grid={grid}"
    )
    save(result, out)
    typer.echo(f"wrote {result.sizes['sample']} spectra x {g.size} energies to {out}")
