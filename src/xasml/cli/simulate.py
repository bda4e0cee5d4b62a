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
    from ..simulate import run_campaign

    design = _design(axes, lhs, seed)
    res = run_campaign(
        engine,
        design,
        out,
        engine_settings=settings,
        scheduler=scheduler,
        n_workers=workers,
        batch_size=batch_size,
        progress=progress,
    )
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


def _molecules(qm9: list[str], xyz: list[Path], element: str, max_heavy: int | None) -> list[Any]:
    """Molecules from QM9 specs (``START:STOP`` half-open, or ``i,j,k``) and xyz files."""
    from ..errors import ParameterError
    from ..simulate import iter_qm9, qm9_molecule, read_xyz

    mols: list[Any] = []
    for spec in qm9:
        lo, sep, hi = spec.partition(":")
        try:
            if sep:
                start, stop = int(lo), int(hi)
                mols.extend(iter_qm9((element,), start=start, stop=stop, max_heavy=max_heavy))
            else:
                for item in spec.split(","):
                    mol = qm9_molecule(int(item))
                    heavy = sum(s != "H" for s in mol.symbols)
                    if max_heavy is None or heavy <= max_heavy:
                        mols.append(mol)
        except ValueError:
            raise ParameterError(
                f"--qm9 takes START:STOP (QM9 indices, stop excluded) or a comma list of "
                f"indices; found {spec!r}"
            ) from None
    mols.extend(read_xyz(path) for path in xyz)
    if not mols:
        raise ParameterError("give molecules with --qm9 START:STOP or --xyz FILE")
    return mols


@simulate_app.command("tddft")
def tddft(
    qm9: list[str] = typer.Option(
        [], "--qm9", help="QM9 indices START:STOP (stop excluded) or i,j,k; repeatable."
    ),
    xyz: list[Path] = typer.Option([], "--xyz", help="xyz file of a molecule; repeatable."),
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
    """
    from ..errors import ParameterError
    from ..simulate import molecule_design, run_campaign

    if site not in ("all", "per-site"):
        raise ParameterError(f"--site must be 'all' or 'per-site'; found {site!r}")
    design = molecule_design(
        _molecules(qm9, xyz, element, max_heavy),
        element,
        sites=site,  # type: ignore[arg-type]
    )
    settings: dict[str, Any] = {"xc": xc, "basis": basis, "fwhm": fwhm}
    if shift is not None:
        settings["shifts"] = {element: shift}
    res = run_campaign(
        "tddft",
        design,
        out,
        engine_settings=settings,
        scheduler=scheduler,
        n_workers=workers,
        batch_size=batch_size,
        progress=progress,
    )
    _report(res, len(design))


# ----------------------------------------------------------------------------- FEFF


def _feff_settings(scf_radius: float, fms_radius: float, corehole: str) -> dict[str, Any]:
    from ..errors import ParameterError

    if corehole.upper() not in ("RPA", "FSR", "NONE"):
        raise ParameterError(f"--corehole must be RPA, FSR or NONE; found {corehole!r}")
    # --scf-radius 0 skips SCF (overlapped-atom potentials, ~10x cheaper)
    return {
        "scf_radius": scf_radius if scf_radius > 0 else None,
        "fms_radius": fms_radius,
        "corehole": corehole.upper(),
    }


def _structure_folder(out: Path) -> Path:
    """Where a FEFF campaign keeps its structures (beside the dataset, not in it)."""
    return out.resolve().with_suffix(".structures")


def _run_feff(
    entries: list[Any],
    settings: dict[str, Any],
    description: dict[str, Any],
    *,
    out: Path,
    scheduler: str | None,
    workers: int | None,
    batch_size: int | None,
    progress: bool,
    n_bad_inputs: int = 0,
) -> None:
    """Campaign over every inequivalent absorber site; failures named per site."""
    import sys

    from ..errors import EngineError, ParameterError
    from ..simulate import Design, run_campaign
    from ..simulate.structures import campaign_params

    if not entries:
        raise ParameterError("no usable structure: nothing to simulate")
    params = campaign_params(entries, folder=_structure_folder(out))
    design = Design(params, description)
    res = run_campaign(
        "feff",
        design,
        out,
        engine_settings=settings,
        scheduler=scheduler,
        n_workers=workers,
        batch_size=batch_size,
        progress=progress,
    )
    typer.echo(
        f"{res.path}: {len(entries)} structures, {len(design)} sites; {res.n_new} new spectra, "
        f"{res.n_done} in the dataset, {res.n_failed} failed ({res.wall_time:.1f} s)"
    )
    for f in res.failures:
        site = f"{f.params.get('label_name', '?')} site {int(float(f.params.get('site', -1)))}"
        print(f"xasml: error: {site}: {f.error}", file=sys.stderr)
    if res.failures or n_bad_inputs:
        raise EngineError(
            f"{res.n_failed} of {len(design)} sites failed and {n_bad_inputs} structure file(s) "
            f"were unusable (see above); see {res.path / 'failures.json'}; a rerun retries them"
        )


@simulate_app.command("feff")
def feff(
    structures: list[Path] = typer.Argument(..., help="Structure files (CIF, POSCAR, xyz, JSON)."),
    element: str = typer.Option(..., "--element", "-e", help="Absorbing element, e.g. Fe."),
    charge: float = typer.Option(0.0, "--charge", help="Total charge of xyz molecules."),
    scf_radius: float = typer.Option(5.0, "--scf-radius", help="SCF radius in Å (0: no SCF)."),
    fms_radius: float = typer.Option(7.0, "--fms-radius", help="FMS radius in Å."),
    corehole: str = typer.Option("RPA", "--corehole", help="RPA, FSR or NONE."),
    out: Path = _OUT,
    scheduler: str = _SCHED,
    workers: int = _WORKERS,
    batch_size: int = _BATCH,
    progress: bool = _PROGRESS,
) -> None:
    """FEFF10 K-edge XANES of every inequivalent absorbing site of each structure.

    Each site's labels (CN, geometry, oxidation state, bond length) become
    coordinates of the dataset. An unreadable file or one without the absorber
    is reported by name and skipped; failed sites are named and the rest of
    the campaign goes on (exit status 1 when anything failed).

    Example: xasml simulate feff Fe2O3.cif FeO.cif --element Fe --out fe.zarr -j 2
    """
    import sys

    from ..errors import XasmlError
    from ..simulate.structures import structure_entries

    settings = _feff_settings(scf_radius, fms_radius, corehole)
    entries, bad = [], 0
    for path in structures:
        try:
            entries += structure_entries([path], element, charge=charge)
        except XasmlError as exc:
            bad += 1
            print(f"xasml: error: {exc}", file=sys.stderr)
    description = {"kind": "structures", "files": [str(p) for p in structures], "element": element}
    _run_feff(entries, settings, description, out=out, scheduler=scheduler, workers=workers,
              batch_size=batch_size, progress=progress, n_bad_inputs=bad)


def _select(entries: list[Any], n: int, seed: int) -> list[Any]:
    """Up to ``n`` entries: every undistorted one first, the rest drawn at random."""
    import numpy as np

    if len(entries) <= n:
        return entries
    base = [i for i, e in enumerate(entries) if not e.settings.get("copy")]
    rest = [i for i, e in enumerate(entries) if e.settings.get("copy")]
    rng = np.random.default_rng(seed)
    keep = base[:n] + sorted(rng.choice(rest, size=max(n - len(base), 0), replace=False).tolist())
    return [entries[i] for i in sorted(keep)]


def _oxide_entries(
    elements: list[str] | None,
    n: int,
    *,
    prototypes: list[str] | None = None,
    max_strain: float = 0.03,
    distortion: float = 0.05,
    seed: int = 0,
) -> list[Any]:
    """Up to ``n`` labelled oxide structures: prototypes × strains × distorted copies.

    The table of :func:`~xasml.simulate.structures.oxide_prototypes` (its
    substituted compounds included) is expanded by isotropic strains in
    ``[-max_strain, max_strain]`` and Gaussian-distorted copies (``distortion``
    Å) until it holds at least ``n`` entries; the undistorted ones are kept
    and the rest drawn at random (``seed``).
    """
    import math

    import numpy as np

    from ..errors import ParameterError
    from ..simulate.structures import compounds, oxide_prototypes

    if n < 1:
        raise ParameterError(f"--n must be >= 1; found {n}")
    n_base = sum(
        len(c.absorbers if elements is None else set(c.absorbers) & set(elements))
        for c in compounds(elements=elements, prototypes=prototypes)
    )
    if n_base == 0:
        raise ParameterError(
            f"no prototype compound has an absorber among {elements} (prototypes {prototypes})"
        )
    per = math.ceil(n / n_base)
    n_strain = min(per, 5) if max_strain > 0 else 1
    n_strain -= 1 - n_strain % 2  # odd, so that the unstrained cell is among them
    strains = [round(float(s), 4) for s in np.linspace(-max_strain, max_strain, n_strain)]
    if n_strain == 1:
        strains = [0.0]
    n_distorted = math.ceil(per / len(strains)) - 1
    entries = oxide_prototypes(
        elements=elements,
        prototypes=prototypes,
        strains=strains,
        distortion=distortion if n_distorted else 0.0,
        n_distorted=n_distorted,
        seed=seed,
    )
    return _select(entries, n, seed)


@simulate_app.command("oxides")
def oxides(
    elements: str = typer.Option(
        "Ti,V,Cr,Mn,Fe,Co,Ni,Cu,Zn", "--elements", help="Absorbers, comma list."
    ),
    n: int = typer.Option(..., "--n", help="Number of structures (at most)."),
    prototype: list[str] = typer.Option(None, "--prototype", help="Keep only these types."),
    max_strain: float = typer.Option(0.03, "--max-strain", help="Largest isotropic strain."),
    distortion: float = typer.Option(0.05, "--distortion", help="Displacement width (Å)."),
    seed: int = typer.Option(0, "--seed", help="Seed of distortions and selection."),
    dry_run: bool = typer.Option(False, "--dry-run", help="List the structures; run nothing."),
    scf_radius: float = typer.Option(5.0, "--scf-radius", help="SCF radius in Å (0: no SCF)."),
    fms_radius: float = typer.Option(7.0, "--fms-radius", help="FMS radius in Å."),
    corehole: str = typer.Option("RPA", "--corehole", help="RPA, FSR or NONE."),
    out: Path = _OUT,
    scheduler: str = _SCHED,
    workers: int = _WORKERS,
    batch_size: int = _BATCH,
    progress: bool = _PROGRESS,
) -> None:
    """FEFF10 K-edge XANES of labelled 3d-metal oxides built from prototypes.

    Structures come from the prototype table (CN 4/5/6, oxidation states 2+
    to 6+; Carbone et al. 2019), expanded by strain and random distortion up
    to --n entries; labels are recomputed for every distorted structure.

    Example: xasml simulate oxides --elements Ti,V,Cr,Mn,Fe,Co,Ni,Cu,Zn --n 2000
    --out oxides.zarr --workers 16
    """
    from collections import Counter

    els = [e.strip() for e in elements.split(",") if e.strip()]
    settings = _feff_settings(scf_radius, fms_radius, corehole)
    entries = _oxide_entries(els, n, prototypes=prototype or None, max_strain=max_strain,
                            distortion=distortion, seed=seed)
    n_sites = sum(len(e.labels) for e in entries)
    if dry_run:
        counts = Counter(
            (e.absorber, lab.cn, lab.oxidation_state) for e in entries for lab in e.labels
        )
        typer.echo(f"{len(entries)} structures, {n_sites} sites")
        for (el, cn, ox), k in sorted(counts.items()):
            typer.echo(f"{el} CN {cn} ox {ox:+g}: {k}")
        return
    description = {"kind": "oxide_prototypes", "elements": els, "n": n, "seed": seed,
                   "max_strain": max_strain, "distortion": distortion}
    _run_feff(entries, settings, description, out=out, scheduler=scheduler, workers=workers,
              batch_size=batch_size, progress=progress)
