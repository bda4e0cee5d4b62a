"""``xasml map`` and ``xasml watch``: parameter maps from spectromicroscopy stacks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from ._app import app


def _parse_region(text: str | None) -> Any:
    """``"auto"`` or ``"y0:y1,x0:x1"`` (pixel slices) → what process_file takes."""
    from ..errors import ParameterError

    if text is None or text == "auto":
        return "auto"
    try:
        ys, xs = text.split(",")
        region = {}
        for key, part in (("y", ys), ("x", xs)):
            a, b = part.split(":")
            region[key] = slice(int(a) if a else None, int(b) if b else None)
    except ValueError:
        raise ParameterError(
            f"--i0-region must be 'auto' or 'y0:y1,x0:x1' in pixels; found {text!r}"
        ) from None
    return region


@app.command("map")
def map_cmd(
    stack: Path = typer.Argument(
        ..., help="Stack file (NXstxm HDF5, ALS .hdr, multi-page TIFF + <stem>.txt energies)."),
    model: Path = typer.Option(..., "--model", help="Bundle directory from 'xasml train'."),
    out: Path = typer.Option(Path("maps"), "--out", help="Output folder."),
    i0_region: str = typer.Option(
        "auto", help="Sample-free pixels for I0: 'auto' (brightest 5 %) or 'y0:y1,x0:x1'."),
    align: bool = typer.Option(True, help="Register the frames by phase correlation."),
    figure: bool = typer.Option(True, help="Also write a PNG with one panel per parameter."),
) -> None:
    """Apply a trained bundle to every pixel of STACK; write maps (NetCDF) and a figure to OUT.

    One map per target, with conformal intervals (values) or set sizes (classes) and
    an out-of-distribution flag per pixel.
    Example: xasml train mn.zarr -t charge -t tendq --out mn.bundle --normalization l1;
    xasml map stack.hdf5 --model mn.bundle --out maps
    """
    from ..apply.maps import load_map_result
    from ..apply.predict import Predictor
    from ..apply.watch import process_file

    bundle = Predictor(model)
    out.mkdir(parents=True, exist_ok=True)
    result = process_file(stack, bundle, out, i0_region=_parse_region(i0_region), align=align,
                          figure=figure)
    ds = load_map_result(result)
    typer.echo(f"wrote {result}: maps of {ds.attrs['targets']}")
    for key in ("mask_n_valid", "mask_n_pixels"):
        if key not in ds.attrs:
            break
    else:
        typer.echo(f"pixels used: {ds.attrs['mask_n_valid']} of {ds.attrs['mask_n_pixels']}")
    if "ood" in ds:
        n = int((ds["ood"] > 0.5).sum())
        typer.echo(f"out-of-distribution pixels: {n} (threshold {ds.attrs['ood_threshold']:.3g})")


@app.command("watch")
def watch_cmd(
    directory: Path = typer.Argument(..., help="Folder where new stacks/spectra appear."),
    model: Path = typer.Option(..., "--model", help="Bundle directory from 'xasml train'."),
    out: Path = typer.Option(Path("maps"), "--out", help="Results folder (with index.json)."),
    once: bool = typer.Option(False, "--once", help="Process what is there, then exit."),
    interval: float = typer.Option(2.0, help="Seconds between polls."),
    settle: float = typer.Option(1.0, help="Seconds a file must stay unchanged before reading."),
    i0_region: str = typer.Option("auto", help="'auto' or 'y0:y1,x0:x1' (see xasml map)."),
    figures: bool = typer.Option(False, help="Write a PNG per stack."),
) -> None:
    """Apply a trained bundle to every stack or spectrum that appears in DIRECTORY.

    Restart-safe: OUT/index.json records what was done.
    Example: xasml watch /data/beamtime --model bundle --out results --once
    """
    from ..apply.watch import watch

    report = watch(directory, model, out, once=once, interval=interval, settle=settle,
                   i0_region=_parse_region(i0_region), figures=figures)
    typer.echo(f"processed {len(report.processed)}, already done {len(report.skipped)}, "
               f"failed {len(report.failed)}")
    for name, msg in report.failed.items():
        typer.echo(f"  failed {name}: {msg}", err=True)
