"""``xasml train`` and ``xasml predict``: spectra → properties and classes, with trust."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from ._app import app


def _read_stack(path: Path) -> Any:
    from ..io import read

    return read(path)


@app.command("train")
def train_cmd(
    dataset: Path = typer.Argument(..., help="Labelled (sample, energy) stack: any file "
                                   "xasml.io.read reads (.zarr/.nc store, FEFF tree ...)."),
    target: list[str] = typer.Option(..., "--target", "-t", help="Label coordinate to "
                                      "learn; repeat for several."),
    out: Path = typer.Option(..., "--out", "-o", help="Bundle directory to write."),
    model: str = typer.Option("mlp", help="mlp, cnn, rf, extra_trees, knn or ridge."),
    groups: str = typer.Option("auto", help="Material-id coordinate for the grouped split "
                               "('auto': material_id if present; 'none': ungrouped)."),
    task: list[str] = typer.Option([], help="Override the task: NAME=classification or "
                                   "NAME=regression."),
    grid: str = typer.Option("none", help="'small' for a grouped CV grid search, 'none' "
                             "for the defaults."),
    n_splits: int = typer.Option(5, help="CV folds of the grid search."),
    confidence: float = typer.Option(0.9, help="Coverage of the conformal intervals/sets."),
    normalization: str = typer.Option("none", help="Per-spectrum scaling, also applied at "
                                      "prediction: none, l1 or max (l1 for maps, where "
                                      "thickness varies)."),
    seed: int = typer.Option(0, help="Random seed."),
    overwrite: bool = typer.Option(False, help="Replace an existing bundle."),
) -> None:
    """Train one model per target, evaluate on a held-out test split, calibrate and bundle.

    Example: xasml train cu.zarr --target cn --model rf --out cu-cn.bundle --grid small
    """
    from rich.console import Console

    from ..errors import ParameterError
    from ..learn.workflow import train

    console = Console(stderr=True)
    tasks: dict[str, Any] = {}
    for item in task:
        name, sep, kind = item.partition("=")
        if not sep or kind not in ("classification", "regression"):
            raise ParameterError(f"--task must be NAME=classification or NAME=regression; "
                                 f"found {item!r}")
        tasks[name] = kind
    if grid not in ("none", "small"):
        raise ParameterError(f"--grid must be 'small' or 'none'; found {grid!r}")
    with console.status("reading the dataset") as status:
        da = _read_stack(dataset)
        _, report = train(
            da, targets=target, out=out, model=model,  # type: ignore[arg-type]
            groups=None if groups.lower() == "none" else groups, task=tasks or None,
            grid="small" if grid == "small" else None, n_splits=n_splits,
            confidence=confidence, normalization=normalization,  # type: ignore[arg-type]
            random_state=seed, overwrite=overwrite,
            progress=lambda msg: status.update(msg),
        )
    _print_report(report)


def _print_report(report: Any) -> None:
    from rich.console import Console
    from rich.table import Table

    n_tr, n_va, n_te = report.split_sizes
    table = Table(title=f"{report.model} → {report.bundle}  (train/val/test {n_tr}/{n_va}/"
                  f"{n_te}, grouped by {report.groups or 'nothing'})")
    for col in ("target", "task", "test", "", "coverage", "width/set", "novel", "ambig."):
        table.add_column(col)
    for t in report.targets:
        m = t.metrics
        first, second = ((f"acc {m.accuracy:.3f}", f"F1 {m.macro_f1:.3f}")
                         if t.task == "classification" else
                         (f"MAE {m.mae[0]:.3g}", f"R² {m.r2[0]:.3f}"))
        cov = t.coverage
        table.add_row(t.name, t.task[:5], first, second,
                      f"{cov.coverage[0]:.3f} ({cov.nominal:g})", f"{cov.mean_width[0]:.3g}",
                      str(t.failures["novel"]), str(t.failures["ambiguous"]))
    console = Console()
    console.print(table)
    console.print(f"OOD threshold {report.ood_threshold:.3g}; test spectra flagged "
                  f"{100 * report.ood_test_flagged:.1f} %; {report.seconds:.1f} s")


@app.command("predict")
def predict_cmd(
    bundle: Path = typer.Argument(..., help="Bundle directory written by 'xasml train'."),
    files: list[Path] = typer.Argument(..., help="Spectra or stacks (any readable format)."),
    out: Path = typer.Option(None, "--out", "-o", help="Write the table to .csv or .json "
                             "(default: print it)."),
    neighbors: int = typer.Option(3, help="Nearest training samples to report."),
) -> None:
    """Predict every target with intervals/sets, OOD flags and nearest training samples.

    Example: xasml predict cu-cn.bundle new1.xdi new2.xdi --out predictions.csv
    """
    import pandas as pd

    from ..apply.predict import Predictor
    from ..errors import ParameterError

    if out is not None and out.suffix.lower() not in (".csv", ".json"):
        raise ParameterError(f"--out must end in .csv or .json; found {out.name!r}")
    predictor = Predictor(bundle)
    frames = []
    for path in files:
        da = _read_stack(path)
        df = predictor.predict(da, n_neighbors=neighbors)
        if da.ndim == 2:
            df.index = [f"{path.name}:{i}" for i in df.index]
        else:
            df.index = [path.name]
        frames.append(df)
    table = pd.concat(frames)
    table.index.name = "sample"
    set_cols = [c for c in table.columns if c.endswith("_set")]
    if out is None:
        for c in set_cols:
            table[c] = ["{" + ", ".join(map(str, v)) + "}" for v in table[c]]
        typer.echo(table.to_string())
    elif out.suffix.lower() == ".csv":
        for c in set_cols:
            table[c] = ["|".join(map(str, v)) for v in table[c]]
        table.to_csv(out)
        typer.echo(f"{len(table)} prediction(s) written to {out}", err=True)
    else:
        table.reset_index().to_json(out, orient="records", indent=1)
        typer.echo(f"{len(table)} prediction(s) written to {out}", err=True)
