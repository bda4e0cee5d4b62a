"""``xasml train-forward`` and ``xasml forward``: structure → spectrum graph networks."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import typer

from ._app import app


@app.command("train-forward")
def train_forward_cmd(
    datasets: list[Path] = typer.Argument(
        ..., help="TDDFT or FEFF campaign datasets (.zarr) or FEFF run trees; several are pooled."),
    out: Path = typer.Option(..., "--out", "-o", help="Bundle directory to write."),
    n_models: int = typer.Option(3, "--n-models", help="Ensemble members (std needs >= 2)."),
    max_epochs: int = typer.Option(200, "--max-epochs", help="Most training epochs."),
    patience: int = typer.Option(20, "--patience", help="Early-stopping patience (epochs)."),
    cutoff: float = typer.Option(5.0, "--cutoff", help="Edge cutoff (Å)."),
    cluster_radius: float = typer.Option(6.0, "--cluster-radius", help="Cluster radius (Å)."),
    hidden: int = typer.Option(64, "--hidden", help="Width of node states."),
    bonds: bool = typer.Option(False, "--bonds/--no-bonds",
                               help="Add covalent bonds from the geometry to the graphs."),
    head: Literal["grid", "peaks"] = typer.Option("grid", "--head",
                             help="Network output: 'grid' (every energy point) or 'peaks' "
                                  "(a sum of Gaussians 1-2x as wide as the spectra's "
                                  "broadening)."),
    n_peaks: int = typer.Option(32, "--n-peaks", help="Gaussians of --head peaks."),
    seed: int = typer.Option(0, "--seed", help="Random seed."),
    overwrite: bool = typer.Option(False, help="Replace an existing bundle."),
) -> None:
    """Train a structure → spectrum graph-network ensemble and save it as a bundle.

    Several datasets (e.g. disjoint draws of one campaign) are pooled; their
    element, engine settings and energy grid must agree.

    Example: xasml train-forward qm9-o.zarr --out qm9-o-forward.bundle --n-models 3
    """
    from ..learn import StructureSpectrumRegressor
    from ..learn.bundle import hash_training_data, save_bundle
    from ..learn.structure_data import load_structure_datasets

    structures, spectra = load_structure_datasets(datasets)
    model = StructureSpectrumRegressor(
        cutoff=cutoff,
        cluster_radius=cluster_radius,
        hidden_channels=hidden,
        bonds=bonds,
        head=head,
        n_peaks=n_peaks,
        n_models=n_models,
        max_epochs=max_epochs,
        patience=patience,
        random_state=seed,
    ).fit(structures, spectra)
    element = spectra.attrs.get("element")
    save_bundle(
        model,
        out,
        energy=model.energy_,
        targets=[("spectrum", str(spectra.attrs.get("signal", "")))],
        preprocessing={"input": "structures", "dataset": ", ".join(map(str, datasets))},
        training_data_sha256=hash_training_data(spectra.values),
        extras={"element": "" if element is None else str(element),
                "n_train": len(structures)},
        overwrite=overwrite,
    )
    typer.echo(f"{out}: {n_models}-member forward model trained on {len(structures)} sites")


@app.command("forward")
def forward_cmd(
    bundle: Path = typer.Argument(..., help="Bundle from xasml train-forward."),
    structures: list[Path] = typer.Argument(
        ..., help="xyz, CIF, POSCAR or pymatgen JSON files, or FEFF inputs (feff.inp)."),
    out: Path = typer.Option(..., "--out", "-o", help="netCDF file for the spectra."),
    element: str = typer.Option(None, "--element", help="Absorbing element of xyz and "
                                "crystal files (default: the bundle's)."),
    nearest: int = typer.Option(0, "--nearest", min=0,
                                help="Also snap each prediction to the mean of its K nearest "
                                     "training spectra (sharper peaks; 0: off)."),
) -> None:
    """Predict spectra (ensemble mean and std) of structures with a forward-model bundle.

    Writes a netCDF Dataset with data variables ``intensity`` (mean) and
    ``intensity_std`` (ensemble standard deviation), dims ``(sample, energy)``,
    and, for an ensemble, ``peak_spread`` (sample): how far (eV) the members
    put the peaks of the mean, and ``relative_std`` (sample): the std averaged
    over energy over the mean's range; both trust signals, larger meaning less
    trusted (on the QM9 FEFF-SCF benchmark, the half of the molecules with the
    smallest ``relative_std`` had 96 % of predicted peaks within 1 eV).
    Every atom of the element in an xyz molecule is one sample, every
    inequivalent site of it in a crystal file (CIF, POSCAR, pymatgen JSON) one
    sample, the atoms within 10 Å of it; a feff.inp is its absorber. With
    ``--nearest K`` also ``intensity_nearest`` (the mean of the K training
    spectra nearest to the prediction), ``nearest_label`` and ``nearest_rms``
    (their labels and RMS distances to the prediction), dims ``(sample, neighbour)``.

    Example: xasml forward qm9-o-forward.bundle water.xyz methanol.xyz --out pred.nc
    """
    import numpy as np
    import xarray as xr

    from ..errors import ModelError
    from ..learn import StructureSpectrumRegressor, peak_position_spread, relative_std
    from ..learn.bundle import load_bundle
    from ..learn.structure_data import read_structure_file

    b = load_bundle(bundle)
    if not isinstance(b.model, StructureSpectrumRegressor):
        raise ModelError(f"{bundle} holds a {type(b.model).__name__}, not a forward model")
    el = element or b.manifest.extras.get("element") or None
    items = [s for path in structures for s in read_structure_file(path, element=el)]
    members = b.model.predict_members(items)  # once: mean, std and the peak spread
    mean, std = b.model.predict_spectra(items, members=members)
    ds = xr.Dataset({"intensity": mean, "intensity_std": std})
    if b.model.n_models >= 2 and items:
        # the trust signal for the peaks: how far the members put the mean's peaks
        spread = peak_position_spread(b.model.energy_, members)
        ds["peak_spread"] = xr.DataArray(spread, dims="sample", attrs={"units": "eV"})
        ds["relative_std"] = xr.DataArray(relative_std(mean.values, std.values), dims="sample")
    if nearest:
        n_lib = len(getattr(b.model, "library_labels_", ()))
        if n_lib and nearest > n_lib:
            raise typer.BadParameter(f"the bundle holds {n_lib} training spectra; "
                                     f"found {nearest}", param_hint="--nearest")
        snap = b.model.predict_nearest(items, k=nearest)
        labels = np.asarray(b.model.library_labels_, dtype=object)
        ds["intensity_nearest"] = mean.copy(data=snap.spectra)
        ds["nearest_label"] = (("sample", "neighbour"), labels[snap.index].astype(str))
        ds["nearest_rms"] = (("sample", "neighbour"), snap.rms)
    ds.attrs = {k: v for k, v in mean.attrs.items() if isinstance(v, str | int | float)}
    ds.attrs["model_bundle"] = str(bundle)
    out.parent.mkdir(parents=True, exist_ok=True)
    ds.to_netcdf(out, engine="h5netcdf")
    typer.echo(f"{out}: {len(items)} predicted spectra")
