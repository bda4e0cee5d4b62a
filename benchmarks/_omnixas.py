"""Reading the OmniXAS Cu FEFF set (shared by the Cu benchmarks).

Data: ``../shared/data/feff-cu-omnixas.tar.gz`` (5,299 Cu K-edge FEFF 9.9.1 site
spectra with their POSCARs). :func:`extract` unpacks it once into a cache folder
(never the repository); :func:`load_sites` reads every site through the FEFF
run-tree reader onto a grid of E − E_F and attaches labels from a callback;
:func:`oxidation_labels` gives each site's Cu oxidation state from its POSCAR with
the project's label code (bond valence, charge-balance fallback).
"""

from __future__ import annotations

import json
import tarfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

ARCHIVE = Path(__file__).resolve().parents[2] / "shared" / "data" / "feff-cu-omnixas.tar.gz"
TOP = "feff-cu-omnixas"
GRID = np.linspace(-3.5, 60.0, 160)  # eV relative to the Fermi level

# labels(spectrum, feff.inp) -> {coord: value} or None to leave the site out
Labeller = Callable[[xr.DataArray, Any], dict[str, Any] | None]


def extract(archive: Path, cache: Path, *, max_materials: int | None = None) -> Path:
    """Unpack the archive under ``cache`` once (a ``.complete`` marker records success).

    ``max_materials`` unpacks only the first materials met in the archive (for tests).
    """
    root = cache / TOP
    marker = root / ".complete"
    if max_materials is None and marker.is_file():
        return root
    cache.mkdir(parents=True, exist_ok=True)
    seen: list[str] = []
    with tarfile.open(archive, "r:gz") as tar:
        for member in tar:
            parts = Path(member.name).parts
            if max_materials is not None:
                if len(parts) < 3 or parts[1] != "structures_and_spectra":
                    continue
                if parts[2] not in seen:
                    if len(seen) >= max_materials:
                        break
                    seen.append(parts[2])
            tar.extract(member, cache, filter="data")
    if max_materials is None:
        marker.touch()
    return root


def split_of(root: Path) -> dict[str, str]:
    """OmniXAS split of each site id ``<mp-id>_<site:03d>``: train, val or test."""
    out: dict[str, str] = {}
    for name in ("train", "val", "test"):
        f = root / "splits" / f"Cu_FEFF_{name}.txt"
        if f.is_file():
            out.update({line.strip(): name for line in f.read_text().split() if line.strip()})
    return out


def load_sites(root: Path, labeller: Labeller, *, grid: np.ndarray = GRID,
               absolute: bool = False) -> xr.DataArray:
    """Read every site, label it with ``labeller`` and put it on ``grid`` (E − E_F, eV).

    With ``absolute=True`` the grid is FEFF's absolute photon energy ``omega``
    (eV; keeps FEFF's chemical shift) and points below a spectrum's first one
    take its first value (FEFF starts ≈ 3.8 eV below E_F).

    Returns
    -------
    xarray.DataArray
        ``(sample, energy)`` with the labeller's coords plus ``material_id``, ``site``
        and ``split`` (``train``/``val``/``test`` or ``none``); sample ids
        ``<mp-id>_<site:03d>``.
    """
    from xasml.datamodel import stack
    from xasml.errors import XasmlWarning
    from xasml.io import read_feff_inp
    from xasml.io._feff import read_all
    from xasml.learn.workflow import resample
    from xasml.preprocess import resample as resample_edge

    with warnings.catch_warnings():
        # Two sites of mp-1101124 have no xmu.dat; the reader names them in a warning.
        warnings.simplefilter("ignore", XasmlWarning)
        spectra = read_all(root / "structures_and_spectra")
    split = split_of(root)
    rows, ids = [], []
    labels: dict[str, list[Any]] = {"material_id": [], "site": [], "split": []}
    for sp in spectra:
        inp = read_feff_inp(Path(sp.attrs["source"]).parent / "feff.inp")
        extra = labeller(sp, inp)
        if extra is None:
            continue
        mu = sp.drop_vars(["k", "mu0", "chi"])
        if absolute:
            rows.append(resample_edge(mu, grid, outside="edge").values)
        else:
            rel = mu.assign_coords(energy=mu["energy"].values - sp.attrs["e_fermi"])
            rows.append(resample(rel, grid).values)
        sid = f"{sp.attrs['material_id']}_{int(sp.attrs['site']):03d}"
        ids.append(sid)
        for k, v in extra.items():
            labels.setdefault(k, []).append(v)
        labels["material_id"].append(sp.attrs["material_id"])
        labels["site"].append(int(sp.attrs["site"]))
        labels["split"].append(split.get(sid, "none"))
    da = stack(grid, np.array(rows), labels={k: np.asarray(v) for k, v in labels.items()},
               element="Cu", edge="K", technique="XAS", signal="mu")
    return da.assign_coords(sample=np.array(ids))


def _material_states(poscar: Path, timeout: float) -> tuple[list[float], str] | str:
    """Oxidation states of one POSCAR, or the reason there are none."""
    import signal

    from pymatgen.core import Structure

    from xasml.errors import ParameterError, XasmlWarning
    from xasml.simulate.structures import oxidation_states

    def _stop(signum: int, frame: Any) -> None:
        raise TimeoutError

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        s = Structure.from_file(poscar)
    old = signal.signal(signal.SIGALRM, _stop)
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", XasmlWarning)
            states, method = oxidation_states(s)
    except ParameterError:
        return "no charge-balanced assignment"
    except TimeoutError:
        return f"timeout ({timeout:g} s)"
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    cu = [i for i, site in enumerate(s) if site.specie.symbol == "Cu"]
    return [states[i] if i in cu else float("nan") for i in range(len(s))], method


def oxidation_labels(root: Path, cache_file: Path | None = None, *, timeout: float = 30.0,
                     part: tuple[int, int] = (0, 1)) -> dict[str, dict[str, Any]]:
    """Oxidation state of every Cu site from its material's POSCAR.

    Uses :func:`xasml.simulate.structures.oxidation_states` (pymatgen BVAnalyzer;
    when it fails, the charge-balance rule, which emits an ``XasmlWarning``: here
    recorded as ``method="charge_balance"``). Materials where both fail, or that
    take longer than ``timeout`` seconds (the charge-balance search is
    combinatorial in the number of species), get no entry.

    Progress is appended to ``<cache_file>.part<k>.jsonl`` (resumable);
    ``part=(k, n)`` does every n-th material from the k-th, so that n processes
    can share the work; the full cache is written once every part is complete.

    Returns
    -------
    dict
        ``{"<mp-id>_<site:03d>": {"oxidation_state": float, "method": str}}`` for the
        Cu sites of each POSCAR (with ``method`` the reason when there is no state).
    """
    if cache_file is not None and cache_file.is_file():
        return dict(json.loads(cache_file.read_text()))
    materials = sorted(d for d in (root / "structures_and_spectra").iterdir()
                       if (d / "POSCAR").is_file())
    k, n = part
    done: dict[str, dict[str, Any]] = {}
    log = None if cache_file is None else cache_file.with_suffix(f".part{k}of{n}.jsonl")
    if log is not None and log.is_file():
        for line in log.read_text().splitlines():
            done.update(json.loads(line))
    for d in materials[k::n]:
        if any(key.startswith(d.name + "_") for key in done):
            continue
        res = _material_states(d / "POSCAR", timeout)
        rec: dict[str, dict[str, Any]] = {}
        if isinstance(res, str):
            rec[f"{d.name}_none"] = {"oxidation_state": None, "method": res}
        else:
            states, method = res
            rec = {f"{d.name}_{i:03d}": {"oxidation_state": v, "method": method}
                   for i, v in enumerate(states) if v == v}
        done.update(rec)
        if log is not None:
            with log.open("a") as fh:
                fh.write(json.dumps(rec) + "\n")
    if cache_file is None:
        return done
    parts = [cache_file.with_suffix(f".part{j}of{n}.jsonl") for j in range(n)]
    out: dict[str, dict[str, Any]] = {}
    for f in parts:
        if f.is_file():
            for line in f.read_text().splitlines():
                out.update(json.loads(line))
    n_done = len({key.rsplit("_", 1)[0] for key in out})
    if n_done == len(materials):
        cache_file.write_text(json.dumps(out))
    return out
