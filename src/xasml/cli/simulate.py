"""``xasml simulate ENGINE``: run a simulation campaign into a Zarr dataset.

Every engine command takes its parameters as axes: a range ``start:stop:step``
(stop included), a comma list, or a repeated option. By default the axes form a
grid (cartesian product); with ``--lhs N`` they become a Latin hypercube of N
sets, where a range gives the bounds ``(start, stop)`` (``start:stop`` also
works) and a list of several values is sampled as categories.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import typer

from ._app import app

simulate_app = typer.Typer(
    help="Simulate spectra over a design of parameters (resumable; writes Zarr).\n\n"
    "Example: xasml simulate multiplet --ion Mn2+ --ion Mn3+ --tendq 0:2.5:0.1 --out mn.zarr",
    no_args_is_help=True,
)
app.add_typer(simulate_app, name="simulate")

_BOUNDS = re.compile(r"^\s*([^:,]+):([^:,]+)(?::[^:,]+)?\s*$")

_OUT = typer.Option(..., "--out", "-o", help="Dataset directory (*.zarr); resumed if it exists.")
_LHS = typer.Option(None, "--lhs", help="Latin hypercube of N sets instead of a grid.")
_SEED = typer.Option(None, "--seed", help="Seed of the Latin hypercube.")
_SCHED = typer.Option(None, "--scheduler", help="Dask scheduler address, or 'sync'.")
_WORKERS = typer.Option(None, "--workers", "-j", help="Local worker processes (0: in-process).")
_BATCH = typer.Option(None, "--batch-size", help="Parameter sets per task (default: auto).")
_PROGRESS = typer.Option(True, "--progress/--no-progress", help="Show a progress bar.")


def _axis_option(help_text: str) -> Any:
    return typer.Option(None, help=help_text + " Range a:b:step, comma list, or repeat.")


def _design(axes: Mapping[str, list[str] | None], lhs: int | None, seed: int | None) -> Any:
    from ..errors import ParameterError
    from ..simulate import grid, latin_hypercube
    from ..simulate._design import parse_axis

    given = {name: items for name, items in axes.items() if items}
    if not given:
        raise ParameterError("give at least one parameter axis (e.g. --tendq 0:2.5:0.1)")
    if lhs is None:
        if seed is not None:
            raise ParameterError("--seed applies only with --lhs N")
        return grid(
            **{n: [v for item in items for v in parse_axis(n, item)] for n, items in given.items()}
        )
    bounds: dict[str, tuple[float, float]] = {}
    categorical: dict[str, list[Any]] = {}
    for name, items in given.items():
        m = _BOUNDS.match(items[0]) if len(items) == 1 else None
        if m:
            lo, hi = (parse_axis(name, g)[0] for g in m.groups())
            if isinstance(lo, str) or isinstance(hi, str):
                raise ParameterError(f"axis {name!r}: bounds must be numbers; found {items[0]!r}")
            bounds[name] = (lo, hi)
            continue
        values = [v for item in items for v in parse_axis(name, item)]
        if len(values) == 1 and not isinstance(values[0], str):
            bounds[name] = (values[0], values[0])
        else:
            categorical[name] = values
    return latin_hypercube(lhs, bounds, categorical, seed=seed)


def _report(res: Any, n_design: int) -> None:
    """Print the summary line; raise when parameter sets failed (exit 1)."""
    from ..errors import EngineError

    typer.echo(
        f"{res.path}: {res.n_new} new spectra, {res.n_done} in the dataset, "
        f"{res.n_failed} failed ({res.wall_time:.1f} s)"
    )
    if res.failures:
        first = res.failures[0]
        raise EngineError(
            f"{res.n_failed} of {n_design} parameter sets failed (first: {first.params}: "
            f"{first.error}); see {res.path / 'failures.json'}; a rerun retries them"
        )


def _launch(
    engine: str,
    design: Any,
    settings: dict[str, Any],
    *,
    out: Path,
    scheduler: str | None,
    workers: int | None,
    batch_size: int | None,
    progress: bool,
) -> Any:
    """Run a campaign with the options every ``simulate`` command shares."""
    from ..simulate import run_campaign

    return run_campaign(
        engine,
        design,
        out,
        engine_settings=settings,
        scheduler=scheduler,
        n_workers=workers,
        batch_size=batch_size,
        progress=progress,
    )


def _run(
    engine: str,
    settings: dict[str, Any],
    axes: Mapping[str, list[str] | None],
    *,
    out: Path,
    lhs: int | None,
    seed: int | None,
    scheduler: str | None,
    workers: int | None,
    batch_size: int | None,
    progress: bool,
) -> None:
    design = _design(axes, lhs, seed)
    res = _launch(engine, design, settings, out=out, scheduler=scheduler,
                  workers=workers, batch_size=batch_size, progress=progress)
    _report(res, len(design))


@simulate_app.command("multiplet")
def multiplet(
    ion: list[str] = typer.Option(None, "--ion", help="Ion, e.g. Mn2+ (repeat for several)."),
    symmetry: list[str] = typer.Option(None, "--symmetry", help="Site symmetry: Oh or D4h."),
    tendq: list[str] = _axis_option("Crystal field 10Dq (eV)."),
    ds: list[str] = _axis_option("Tetragonal Ds (eV)."),
    dt: list[str] = _axis_option("Tetragonal Dt (eV)."),
    slater_scale: list[str] = _axis_option("Scale of the Slater integrals."),
    temperature: list[str] = _axis_option("Temperature (K)."),
    gamma_l3: list[str] = _axis_option("L3 Lorentzian FWHM (eV)."),
    gamma_l2: list[str] = _axis_option("L2 Lorentzian FWHM (eV)."),
    fwhm_gauss: list[str] = _axis_option("Gaussian FWHM (eV)."),
    shift: list[str] = _axis_option("Rigid energy shift (eV)."),
    out: Path = _OUT,
    lhs: int = _LHS,
    seed: int = _SEED,
    scheduler: str = _SCHED,
    workers: int = _WORKERS,
    batch_size: int = _BATCH,
    progress: bool = _PROGRESS,
) -> None:
    """Ligand-field multiplet L2,3 spectra (needs the multiplet extra).

    Example: xasml simulate multiplet --ion Mn2+ --ion Mn3+ --ion Mn4+
    --tendq 0:2.5:0.1 --out mn.zarr --workers 2
    """
    axes = {
        "ion": ion,
        "symmetry": symmetry,
        "tendq": tendq,
        "ds": ds,
        "dt": dt,
        "slater_scale": slater_scale,
        "temperature": temperature,
        "gamma_l3": gamma_l3,
        "gamma_l2": gamma_l2,
        "fwhm_gauss": fwhm_gauss,
    }
    _run(
        "multiplet",
        {},
        axes,
        out=out,
        lhs=lhs,
        seed=seed,
        scheduler=scheduler,
        workers=workers,
        batch_size=batch_size,
        progress=progress,
    )


@simulate_app.command("analytic")
def analytic(
    edge: str = typer.Option("K", "--edge", help="Engine setting: K or L23."),
    delay: float = typer.Option(0.0, "--delay", help="Engine setting: seconds per spectrum."),
    e0: list[str] = _axis_option("Edge energy (eV)."),
    step: list[str] = _axis_option("Edge jump."),
    edge_width: list[str] = _axis_option("FWHM of the arctan step (eV)."),
    white_line_height: list[str] = _axis_option("White-line peak height."),
    white_line_offset: list[str] = _axis_option("White line above e0 (eV)."),
    fwhm: list[str] = _axis_option("Lorentzian FWHM of the peaks (eV)."),
    fwhm_gauss: list[str] = _axis_option("Gaussian FWHM of the peaks (eV)."),
    pre_edge_height: list[str] = _axis_option("Pre-edge peak height."),
    pre_edge_offset: list[str] = _axis_option("Pre-edge peak position from e0 (eV)."),
    split: list[str] = _axis_option("L3-L2 split (eV, L23 only)."),
    branching: list[str] = _axis_option("L3 branching ratio (L23 only)."),
    out: Path = _OUT,
    lhs: int = _LHS,
    seed: int = _SEED,
    scheduler: str = _SCHED,
    workers: int = _WORKERS,
    batch_size: int = _BATCH,
    progress: bool = _PROGRESS,
) -> None:
    """Toy analytic spectra (arctan step + Voigt white lines) for tests and demos.

    Example: xasml simulate analytic --white-line-height 0:2:0.1 --fwhm 1,2,3
    --out toy.zarr --workers 0
    """
    axes = {
        "e0": e0,
        "step": step,
        "edge_width": edge_width,
        "white_line_height": white_line_height,
        "white_line_offset": white_line_offset,
        "fwhm": fwhm,
        "fwhm_gauss": fwhm_gauss,
        "pre_edge_height": pre_edge_height,
        "pre_edge_offset": pre_edge_offset,
        "split": split,
        "branching": branching,
    }
    settings = {"edge": edge, "delay": delay}
    _run(
        "analytic",
        settings,
        axes,
        out=out,
        lhs=lhs,
        seed=seed,
        scheduler=scheduler,
        workers=workers,
        batch_size=batch_size,
        progress=progress,
    )


def _molecules(
    qm9: list[str],
    xyz: list[Path],
    element: str,
    max_heavy: int | None,
    smiles: list[str] | None = None,
    smiles_files: list[Path] | None = None,
) -> list[Any]:
    """Molecules from QM9 specs (``START:STOP`` half-open, or ``i,j,k``), xyz files and SMILES.

    SMILES (given, or one per line of a ``.smi`` file) are embedded in 3-D with
    RDKit; their geometry is stored in the campaign as xyz text.
    """
    from ..errors import ParameterError
    from ..simulate import from_smiles, iter_qm9, qm9_molecules, read_smiles_file, read_xyz

    mols: list[Any] = []
    for spec in qm9:
        lo, sep, hi = spec.partition(":")
        try:
            if sep:
                start, stop = int(lo), int(hi)
                mols.extend(iter_qm9((element,), start=start, stop=stop))
            else:
                mols.extend(qm9_molecules([int(item) for item in spec.split(",")]))
        except ValueError:
            raise ParameterError(
                f"--qm9 takes START:STOP (QM9 indices, stop excluded) or a comma list of "
                f"indices; found {spec!r}"
            ) from None
    mols.extend(read_xyz(path) for path in xyz)
    for text in smiles or []:
        try:
            mols.append(from_smiles(text))
        except ParameterError as exc:
            raise ParameterError(f"--smiles: {exc}") from None
    for path in smiles_files or []:
        mols.extend(read_smiles_file(path))
    if max_heavy is not None:
        mols = [m for m in mols if sum(s != "H" for s in m.symbols) <= max_heavy]
    if not mols:
        raise ParameterError("give molecules with --qm9 START:STOP, --xyz FILE, --smiles SMILES "
                             "or --smiles-file FILE.smi" + (
                                 f" (none has at most {max_heavy} heavy atoms)"
                                 if max_heavy is not None else ""))
    return mols


_SMILES = typer.Option(
    [], "--smiles", help="SMILES of a molecule, embedded in 3-D with RDKit; repeatable.")
_SMILES_FILE = typer.Option(
    [], "--smiles-file",
    help="SMILES file: one SMILES per line, optionally followed by a name; repeatable.")


@simulate_app.command("tddft")
def tddft(
    qm9: list[str] = typer.Option(
        [], "--qm9", help="QM9 indices START:STOP (stop excluded) or i,j,k; repeatable."
    ),
    xyz: list[Path] = typer.Option([], "--xyz", help="xyz file of a molecule; repeatable."),
    smiles: list[str] = _SMILES,
    smiles_file: list[Path] = _SMILES_FILE,
    element: str = typer.Option(..., "--element", help="Absorbing element: O or N."),
    site: str = typer.Option(
        "all", "--site", help="'all': one summed spectrum per molecule; 'per-site': one per atom."
    ),
    max_heavy: int = typer.Option(
        None, "--max-heavy", help="Skip molecules with more non-hydrogen atoms."
    ),
    xc: str = typer.Option("b3lyp", "--xc", help="Exchange-correlation functional."),
    basis: str = typer.Option("def2-svp", "--basis", help="Gaussian basis set."),
    shift: float = typer.Option(
        None,
        "--shift",
        help="Energy shift (eV); needed for an xc/basis pair without a calibrated one.",
    ),
    fwhm: float = typer.Option(0.5, "--fwhm", help="Gaussian FWHM of the sticks (eV)."),
    out: Path = _OUT,
    scheduler: str = _SCHED,
    workers: int = _WORKERS,
    batch_size: int = _BATCH,
    progress: bool = _PROGRESS,
) -> None:
    """Molecular K-edge XAS from CVS-TDDFT (pyscf; needs the molecules extra).

    Per-site spectra (--site per-site) are separate samples with their site
    properties (bond length, bond angle, Voronoi volume, bond overlap
    population, Mulliken charge, excitation energy) as coordinates.

    Example: xasml simulate tddft --qm9 1:51 --element O --site per-site
    --out qm9-o.zarr --workers 2

    Example: xasml simulate tddft --smiles CCO --smiles-file mols.smi --element O --out o.zarr
    """
    from ..errors import ParameterError
    from ..simulate import molecule_design

    if site not in ("all", "per-site"):
        raise ParameterError(f"--site must be 'all' or 'per-site'; found {site!r}")
    design = molecule_design(
        _molecules(qm9, xyz, element, max_heavy, smiles, smiles_file),
        element,
        sites=site,  # type: ignore[arg-type]
    )
    settings: dict[str, Any] = {"xc": xc, "basis": basis, "fwhm": fwhm}
    if shift is not None:
        settings["shifts"] = {element: shift}
    res = _launch("tddft", design, settings, out=out, scheduler=scheduler,
                  workers=workers, batch_size=batch_size, progress=progress)
    _report(res, len(design))
