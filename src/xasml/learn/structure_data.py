"""Structure–spectrum pairs for the forward model, from campaign datasets or FEFF trees.

:func:`load_structure_dataset` reads the training data of
:class:`~xasml.learn.StructureSpectrumRegressor`:

* a TDDFT campaign dataset (``xasml simulate tddft``, Zarr): each sample's
  molecule is rebuilt from its stored ``qm9_index`` or ``xyz`` parameter and
  centred on its absorbing atom, the ``site`` parameter (a summed ``"all"``
  spectrum is used only when the molecule has a single atom of the element,
  which is then the absorber; other ``"all"`` samples are skipped with a
  warning);
* a FEFF campaign dataset (``xasml simulate feff|oxides``, Zarr): each
  sample's structure (its ``structure`` coordinate: a file path, looked up
  beside the dataset in ``<name>.structures/`` when the dataset has moved, or
  the JSON itself when the campaign was run without a folder) centred
  on its ``site``; a molecule is used whole, a crystal as the sphere of
  ``CRYSTAL_RADIUS`` (10 Å) around the site;
* a FEFF run tree (``<material>/FEFF-XANES/<site>_<El>/{feff.inp,xmu.dat}``):
  each site's cluster from its ``feff.inp``, its ``xmu.dat`` interpolated
  onto one energy grid.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from ..errors import FormatError, ParameterError, XasmlWarning
from .graph import Structure

__all__ = [
    "load_structure_dataset",
    "load_structure_datasets",
    "molecule_of",
    "molecule_structures",
    "read_structure_file",
]

# Å around a crystal site: past the forward model's default cluster_radius (8 Å)
CRYSTAL_RADIUS = 10.0


def load_structure_dataset(
    path: str | Path, *, energy: Any = None
) -> tuple[list[Structure], xr.DataArray]:
    """Structures and their spectra from a campaign dataset or a FEFF run tree.

    Parameters
    ----------
    path
        A TDDFT or FEFF campaign dataset directory (``*.zarr`` with
        ``campaign.json`` or ``.zmetadata``) or a FEFF run tree (see module
        docstring).
    energy
        Energy grid (eV) for FEFF spectra, shape ``(n_energy,)``; default: the
        range all sites share, with as many points as the shortest spectrum.
        Ignored for campaign datasets (their grid is fixed).

    Returns
    -------
    structures : list of Structure
        One per sample, absorber-centred, labelled ``"<molecule>#<atom>"`` or
        ``"<material>_<site>"``.
    spectra : xarray.DataArray
        ``(sample, energy)``, in the same order, with a ``label`` coordinate.

    Raises
    ------
    FormatError
        ``path`` is neither kind of dataset, or a campaign lacks molecule parameters.
    """
    p = Path(path)
    if p.is_dir() and ((p / "campaign.json").is_file() or (p / ".zmetadata").is_file()):
        return _from_campaign(p)
    return _from_feff_tree(p, energy)


def load_structure_datasets(
    paths: Any, *, energy: Any = None
) -> tuple[list[Structure], xr.DataArray]:
    """Pool several datasets (e.g. disjoint campaign draws) into one training set.

    Parameters
    ----------
    paths
        Sequence of dataset paths, each as in :func:`load_structure_dataset`.
    energy
        Passed on to :func:`load_structure_dataset` (FEFF trees).

    Returns
    -------
    structures, spectra
        As :func:`load_structure_dataset`; ``spectra`` gains a ``dataset``
        coordinate (the path each sample came from). A site already seen in an
        earlier dataset (same label) is dropped, with a warning.

    Raises
    ------
    FormatError
        A dataset whose energy grid, element or engine settings differ from the
        first one's (spectra of different set-ups must not be mixed silently).
    """
    paths = [Path(p) for p in paths]
    if not paths:
        raise ParameterError("give at least one dataset")
    loaded = [load_structure_dataset(p, energy=energy) for p in paths]
    first = loaded[0][1]
    structures: list[Structure] = []
    blocks: list[np.ndarray] = []
    labels: list[str] = []
    origin: list[str] = []
    dropped = 0
    for path, (more, sp) in zip(paths, loaded, strict=True):
        for name in ("element", "engine", "engine_settings"):
            a, b = first.attrs.get(name), sp.attrs.get(name)
            if a != b:
                raise FormatError(path, f"{name} {b!r} differs from {a!r} of {paths[0]}")
        if sp.sizes["energy"] != first.sizes["energy"] or not np.allclose(
            sp["energy"].values, first["energy"].values, rtol=0, atol=1e-9
        ):
            raise FormatError(path, f"energy grid differs from that of {paths[0]}")
        seen = set(labels)
        keep = [i for i, lab in enumerate(sp["label"].values) if str(lab) not in seen]
        dropped += sp.sizes["sample"] - len(keep)
        structures += [more[i] for i in keep]
        blocks.append(sp.values[keep])
        new = [str(sp["label"].values[i]) for i in keep]
        labels += new
        origin += [str(path)] * len(new)
    if dropped:
        warnings.warn(f"{dropped} site(s) already in an earlier dataset dropped", XasmlWarning,
                      stacklevel=2)
    spectra = xr.DataArray(
        np.concatenate(blocks),
        dims=("sample", "energy"),
        coords={"energy": first["energy"].values, "label": ("sample", labels),
                "dataset": ("sample", origin)},
        name=first.name,
        attrs=dict(first.attrs),
    )
    return structures, spectra


def read_structure_file(path: str | Path, *, element: str | None = None) -> list[Structure]:
    """Structures to predict from: a ``feff.inp``, an xyz molecule, SMILES or a crystal file.

    A ``feff.inp`` gives its absorber's cluster. An xyz molecule gives one
    structure per atom of ``element``, labelled ``"<file stem>#<atom>"``; so
    does a molecule in pymatgen JSON. A SMILES file (``.smi``, see
    :func:`~xasml.simulate.read_smiles_file`) gives those of each of its
    molecules (embedded in 3-D with RDKit), labelled ``"<name>#<atom>"``;
    molecules without ``element`` are left out. A crystal (CIF, POSCAR, pymatgen JSON,
    anything :func:`~xasml.simulate.structures.read_structure` reads) gives
    one structure per symmetry-inequivalent ``element`` site: the atoms within
    10 Å of it, as a FEFF campaign's training data were read, with its
    multiplicity as ``weight``. ``element`` is required for all but ``feff.inp``.
    """
    from ..io import read_feff_inp
    from ..simulate.molecules import read_xyz

    p = Path(path)
    if p.name.lower() == "feff.inp" or p.suffix.lower() == ".inp":
        return [Structure.from_feff_input(read_feff_inp(p), label=p.parent.name or p.stem)]
    if element is None:
        raise ParameterError(f"{p}: give the absorbing element for a structure file")
    if p.suffix.lower() == ".xyz":
        mol = read_xyz(p)
        if not mol.sites(element):
            raise FormatError(p, f"the molecule has no {element!r} atom to absorb")
        return molecule_structures(mol, element, name=p.stem)
    if p.suffix.lower() == ".smi":
        from ..simulate.molecules import read_smiles_file

        mols = read_smiles_file(p)
        out = [s for mol in mols for s in molecule_structures(mol, element)]
        if not out:
            raise FormatError(p, f"none of its {len(mols)} molecules has a {element!r} atom")
        return out
    from ..simulate.structures import equivalent_sites, read_structure

    obj = read_structure(p)
    if hasattr(obj, "lattice"):  # each inequivalent site stands for its multiplicity
        sites = equivalent_sites(obj, element)
    else:
        sites = {i: 1 for i, site in enumerate(obj) if site.specie.symbol == element}
    if not sites:
        raise FormatError(p, f"the structure has no {element!r} atom to absorb")
    return [_site_cluster(obj, i, f"{p.stem}#{i}", m) for i, m in sites.items()]


def molecule_structures(mol: Any, element: str, *, name: str | None = None) -> list[Structure]:
    """One absorber-centred structure per ``element`` atom of a :class:`~xasml.simulate.Molecule`.

    Labelled ``"<name>#<atom index>"`` (``name`` defaults to the molecule's);
    :func:`molecule_of` recovers ``name``. Empty when the molecule has no
    ``element`` atom.
    """
    name = mol.name if name is None else name
    return [Structure.from_symbols(mol.symbols, mol.coords, absorber=i, label=f"{name}#{i}")
            for i in mol.sites(element)]


def molecule_of(label: str) -> str:
    """The molecule of a site label ``"<molecule>#<atom>"``.

    Split at the last ``#``: a SMILES name may hold ``#`` itself (a triple bond).
    A label without ``#`` is its own molecule.
    """
    return str(label).rsplit("#", 1)[0]


def _from_campaign(path: Path) -> tuple[list[Structure], xr.DataArray]:
    from ..simulate.molecules import qm9_molecules
    from ..simulate.tddft_engine import molecule_from_params

    with xr.open_zarr(path) as opened:
        ds = opened.load()
    if "qm9_index" not in ds.coords and "xyz" not in ds.coords:
        if "structure" in ds.coords and "site" in ds.coords:
            return _from_structure_campaign(path, ds)
        raise FormatError(
            path, "no 'qm9_index'/'xyz' (tddft) or 'structure'/'site' (feff) coordinates: "
            "not a campaign dataset of structures"
        )
    structures: list[Structure] = []
    keep: list[int] = []
    skipped = 0
    all_params = [_molecule_params(ds, i) for i in range(ds.sizes["sample"])]
    # one pass over the QM9 files for all molecules, not one scan per molecule
    indices = sorted({p["qm9_index"] for p in all_params if "qm9_index" in p})
    qm9 = dict(zip(indices, qm9_molecules(indices), strict=True)) if indices else {}
    cache: dict[str, Any] = {}
    for i, params in enumerate(all_params):
        if "qm9_index" in params:
            mol = qm9[params["qm9_index"]]
        else:
            ident = repr(sorted(params.items()))
            if ident not in cache:
                cache[ident] = molecule_from_params(params)
            mol = cache[ident]
        element = _value(ds, "element", i) or ds.attrs.get("element")
        atom = _absorber(_value(ds, "site", i), mol.sites(str(element)))
        if atom is None:
            skipped += 1
            continue
        label = f"{mol.name}#{atom}"
        structures.append(Structure.from_symbols(mol.symbols, mol.coords, atom, label))
        keep.append(i)
    if skipped:
        warnings.warn(
            f"{path}: {skipped} summed spectra of molecules with several absorbing atoms "
            "skipped (the forward model is site-centred; simulate with --site per-site)",
            XasmlWarning,
            stacklevel=3,
        )
    if not keep:
        raise FormatError(path, "no sample with a single absorbing site")
    spectra = ds["intensity"].isel(sample=keep)
    spectra = spectra.assign_coords(label=("sample", [s.label for s in structures]))
    spectra.attrs = dict(ds.attrs)
    return structures, spectra


def _from_structure_campaign(path: Path, ds: xr.Dataset) -> tuple[list[Structure], xr.DataArray]:
    """A FEFF campaign: each sample's stored structure, centred on its site."""
    read: dict[str, Any] = {}
    structures: list[Structure] = []
    for i in range(ds.sizes["sample"]):
        name = str(_value(ds, "structure", i))
        if name not in read:
            read[name] = _campaign_structure(path, name)
        site = _value(ds, "site", i)
        obj = read[name]
        stem = f"structure{i}" if name.lstrip().startswith("{") else Path(name).stem
        if not (isinstance(site, float | int) and math.isfinite(site)
                and 0 <= int(site) < len(obj)):
            raise FormatError(path, f"sample {i}: site {site!r} is not an atom of {stem} "
                                    f"({len(obj)} atoms)")
        structures.append(_site_cluster(obj, int(site), f"{stem}#{int(site)}"))
    spectra = ds["intensity"].assign_coords(label=("sample", [s.label for s in structures]))
    spectra.attrs = dict(ds.attrs)
    return structures, spectra


def _campaign_structure(path: Path, value: str) -> Any:
    """The FEFF engine's ``structure`` parameter (JSON or a file path), read as it reads it.

    A path that no longer exists is looked up in the folder beside a moved dataset.
    """
    from ..simulate.structures import parse_structure, structure_folder

    if value.lstrip().startswith("{") or Path(value).is_file():
        return parse_structure(value)
    moved = structure_folder(path) / Path(value).name
    if moved.is_file():
        return parse_structure(moved)
    raise FormatError(path, f"structure file {Path(value).name} not found at {value} "
                            f"nor in {moved.parent}")


def _site_cluster(obj: Any, site: int, label: str, weight: float = 1.0) -> Structure:
    """A molecule whole, or the atoms of a crystal within ``CRYSTAL_RADIUS`` of ``site``."""
    if not hasattr(obj, "lattice"):
        symbols = [sp.symbol for sp in obj.species]
        return Structure.from_symbols(symbols, obj.cart_coords, site, label, weight)
    centre = obj[site].coords
    near = obj.get_sites_in_sphere(centre, CRYSTAL_RADIUS)
    xyz = np.array([s.coords for s in near]) - centre
    absorber = int(np.argmin(np.einsum("ij,ij->i", xyz, xyz)))
    return Structure.from_symbols([s.specie.symbol for s in near], xyz, absorber, label, weight)


def _value(ds: xr.Dataset, name: str, i: int) -> Any:
    if name not in ds.coords:
        return None
    v = ds[name].values[i]
    return v.item() if isinstance(v, np.generic) else v


def _molecule_params(ds: xr.Dataset, i: int) -> dict[str, Any]:
    index = _value(ds, "qm9_index", i)
    if isinstance(index, float) and math.isfinite(index):
        return {"qm9_index": int(index)}
    xyz = _value(ds, "xyz", i)
    if isinstance(xyz, str) and xyz:
        charge = _value(ds, "charge", i)
        ok = isinstance(charge, float) and math.isfinite(charge)
        return {"xyz": xyz, "charge": int(charge) if ok else 0}
    raise FormatError(None, f"sample {i} has neither a qm9_index nor an xyz parameter")


def _absorber(site: Any, sites: list[int]) -> int | None:
    """The absorbing atom of a sample: its ``site`` index, or the only site of ``"all"``."""
    try:
        value = float(site)
    except (TypeError, ValueError):
        value = math.nan  # "all" (or missing)
    if math.isfinite(value):
        return int(value)
    return sites[0] if len(sites) == 1 else None


def _from_feff_tree(path: Path, energy: Any) -> tuple[list[Structure], xr.DataArray]:
    from ..datamodel import stack
    from ..io import read_feff_inp
    from ..io._feff import _find_sites, read_xmu

    if not path.is_dir():
        raise FormatError(path, "expected a campaign dataset or a FEFF run tree directory")
    structures: list[Structure] = []
    curves: list[tuple[np.ndarray, np.ndarray]] = []
    materials: list[str] = []
    site_index: list[int] = []
    for site in _find_sites(path):
        if not (site.folder / "xmu.dat").is_file():
            continue
        mu = read_xmu(site.folder / "xmu.dat", element=site.absorber)
        curves.append((np.asarray(mu["energy"].values, float), np.asarray(mu.values, float)))
        label = f"{site.material_id}_{site.index}"
        inp = read_feff_inp(site.folder / "feff.inp")
        structures.append(Structure.from_feff_input(inp, label=label))
        materials.append(site.material_id)
        site_index.append(site.index)
    if not structures:
        raise FormatError(path, "no FEFF site folder with feff.inp and xmu.dat")
    if energy is None:
        lo = max(e[0] for e, _ in curves)
        hi = min(e[-1] for e, _ in curves)
        if not hi > lo:
            raise FormatError(path, "the sites' energy ranges do not overlap; pass energy=")
        grid = np.linspace(lo, hi, min(e.size for e, _ in curves))
    else:
        grid = np.asarray(energy, dtype=float)
    values = np.stack([np.interp(grid, e, y) for e, y in curves])
    labels = {"label": [s.label for s in structures], "material_id": materials,
              "site": site_index}
    return structures, stack(grid, values, labels=labels, technique="XAS", edge="K",
                             source=f"feff tree {path}")
