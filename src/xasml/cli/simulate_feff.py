"""``xasml simulate feff`` and ``xasml simulate oxides``: FEFF10 campaigns over structures.

Registered on the ``simulate`` sub-app of :mod:`xasml.cli.simulate`; the
campaign machinery (resume, failures per site, Dask) is the same.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from .simulate import (
    _BATCH,
    _OUT,
    _PROGRESS,
    _SCHED,
    _SMILES,
    _SMILES_FILE,
    _WORKERS,
    _launch,
    _molecules,
    simulate_app,
)

# ----------------------------------------------------------------------------- FEFF

# Options both FEFF commands take (typer reads them from each signature).
_SCF_RADIUS = typer.Option(5.0, "--scf-radius", help="SCF radius in Å (0: no SCF).")
_FMS_RADIUS = typer.Option(7.0, "--fms-radius", help="FMS radius in Å.")
_COREHOLE = typer.Option("RPA", "--corehole", help="RPA, FSR or NONE.")
_E_MIN = typer.Option(
    -10.0, "--e-min",
    help="Grid start in eV from the tabulated K edge (O in molecules: -20; FEFF's edge "
         "lies ~13 eV below the table there).")
_E_MAX = typer.Option(60.0, "--e-max", help="Grid end in eV from the tabulated K edge.")
_E_STEP = typer.Option(0.25, "--e-step", help="Grid step in eV.")


def _feff_settings(
    scf_radius: float, fms_radius: float, corehole: str,
    e_min: float = -10.0, e_max: float = 60.0, e_step: float = 0.25,
) -> dict[str, Any]:
    from ..errors import ParameterError

    if corehole.upper() not in ("RPA", "FSR", "NONE"):
        raise ParameterError(f"--corehole must be RPA, FSR or NONE; found {corehole!r}")
    if not (e_max > e_min and e_step > 0):
        raise ParameterError(
            f"need --e-max > --e-min and --e-step > 0; found {e_min:g}, {e_max:g}, {e_step:g}")
    # --scf-radius 0 skips SCF (overlapped-atom potentials, ~10x cheaper)
    return {
        "scf_radius": scf_radius if scf_radius > 0 else None,
        "fms_radius": fms_radius,
        "corehole": corehole.upper(),
        "e_min": e_min,
        "e_max": e_max,
        "n_energy": round((e_max - e_min) / e_step) + 1,
    }


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
    from ..simulate import Design
    from ..simulate.structures import campaign_params, structure_folder

    if not entries:
        raise ParameterError("no usable structure: nothing to simulate")
    params = campaign_params(entries, folder=structure_folder(out))
    design = Design(params, description)
    res = _launch("feff", design, settings, out=out, scheduler=scheduler,
                  workers=workers, batch_size=batch_size, progress=progress)
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
    structures: list[Path] = typer.Argument(
        None, help="Structure files (CIF, POSCAR, xyz, JSON)."),
    element: str = typer.Option(..., "--element", "-e", help="Absorbing element, e.g. Fe."),
    qm9: list[str] = typer.Option(
        [], "--qm9", help="QM9 molecules: START:STOP (stop excluded) or i,j,k; repeatable."),
    smiles: list[str] = _SMILES,
    smiles_file: list[Path] = _SMILES_FILE,
    charge: float = typer.Option(0.0, "--charge", help="Total charge of xyz molecules."),
    scf_radius: float = _SCF_RADIUS,
    fms_radius: float = _FMS_RADIUS,
    corehole: str = _COREHOLE,
    e_min: float = _E_MIN,
    e_max: float = _E_MAX,
    e_step: float = _E_STEP,
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

    QM9 molecules (--qm9) and SMILES (--smiles, --smiles-file; embedded in 3-D
    with RDKit) are computed whole, as the cluster, one spectrum per
    inequivalent absorbing atom: the second engine beside CVS-TDDFT. FEFF puts
    the O edge of molecules ~13 eV below O's tabulated K edge: give --e-min -20.

    Example: xasml simulate feff Fe2O3.cif FeO.cif --element Fe --out fe.zarr -j 2
    """
    import sys

    from ..errors import ParameterError, XasmlError
    from ..simulate.structures import structure_entries

    settings = _feff_settings(scf_radius, fms_radius, corehole, e_min, e_max, e_step)
    structures = list(structures or [])
    if not structures and not qm9 and not smiles and not smiles_file:
        raise ParameterError("give structure files, QM9 molecules (--qm9 START:STOP or i,j,k) "
                             "or SMILES (--smiles, --smiles-file)")
    entries, bad = [], 0
    for path in structures:
        try:
            entries += structure_entries([path], element, charge=charge)
        except XasmlError as exc:
            bad += 1
            print(f"xasml: error: {exc}", file=sys.stderr)
    if qm9 or smiles or smiles_file:
        entries += _molecule_entries(
            _molecules(qm9, [], element, None, smiles, smiles_file), element)
    description = {"kind": "structures", "files": [str(p) for p in structures], "qm9": qm9,
                   "smiles": [*smiles, *map(str, smiles_file)], "element": element}
    _run_feff(entries, settings, description, out=out, scheduler=scheduler, workers=workers,
              batch_size=batch_size, progress=progress, n_bad_inputs=bad)


def _molecule_entries(mols: list[Any], element: str) -> list[Any]:
    """Structure entries of molecules: each molecule is its own FEFF cluster."""
    import re

    from pymatgen.core import Molecule

    from ..simulate.structures import entry_from_structure

    out, used = [], set()
    for mol in mols:
        if element not in mol.symbols:
            continue  # a listed molecule without the absorber: nothing to compute
        # entry names become file names: SMILES may hold '/', '\\', '#', '(' ...
        base = re.sub(r"[^A-Za-z0-9._+-]", "_", mol.name.replace(":", "-")) or "molecule"
        name, k = base, 1
        while name in used:
            k += 1
            name = f"{base}-{k}"
        used.add(name)
        obj = Molecule(list(mol.symbols), mol.coords, charge=mol.charge)
        qm9_index = mol.meta.get("qm9_index")
        out.append(entry_from_structure(
            obj, element, name=name, prototype="qm9" if qm9_index is not None else "molecule",
            settings={"qm9_index": qm9_index, "smiles": mol.smiles, "molecule": mol.name}))
    return out


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
    substitute: bool = True,
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
        for c in compounds(elements=elements, prototypes=prototypes, substitute=substitute)
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
        substitute=substitute,
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
    substitute: bool = typer.Option(
        True, "--substitute/--no-substitute",
        help="Add hypothetical compounds: each element on every prototype cation role "
             "(Shannon-radius-scaled cells)."),
    scf_radius: float = _SCF_RADIUS,
    fms_radius: float = _FMS_RADIUS,
    corehole: str = _COREHOLE,
    e_min: float = _E_MIN,
    e_max: float = _E_MAX,
    e_step: float = _E_STEP,
    out: Path = _OUT,
    scheduler: str = _SCHED,
    workers: int = _WORKERS,
    batch_size: int = _BATCH,
    progress: bool = _PROGRESS,
) -> None:
    """FEFF10 K-edge XANES of labelled 3d-metal oxides built from prototypes.

    Structures come from the prototype table (CN 4/5/6, oxidation states 2+
    to 6+; Carbone et al. 2019) and, unless --no-substitute, its element
    substitutions (so that each element has each coordination in several
    materials), expanded by strain and random distortion up to --n entries;
    labels are recomputed for every distorted structure.

    Example: xasml simulate oxides --elements Ti,V,Cr,Mn,Fe,Co,Ni,Cu,Zn --n 2000
    --out oxides.zarr --workers 16
    """
    from collections import Counter

    els = [e.strip() for e in elements.split(",") if e.strip()]
    settings = _feff_settings(scf_radius, fms_radius, corehole, e_min, e_max, e_step)
    entries = _oxide_entries(els, n, prototypes=prototype or None, max_strain=max_strain,
                            distortion=distortion, seed=seed, substitute=substitute)
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
                   "max_strain": max_strain, "distortion": distortion, "substitute": substitute}
    _run_feff(entries, settings, description, out=out, scheduler=scheduler, workers=workers,
              batch_size=batch_size, progress=progress)
