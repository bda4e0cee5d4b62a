"""``xasml forward``: spectra of structures from a train-forward bundle."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import typer

from ._app import app


@app.command("forward")
def forward_cmd(
    bundle: Path = typer.Argument(..., help="Bundle from xasml train-forward."),
    structures: list[Path] = typer.Argument(
        None, help="xyz, SMILES (.smi), CIF, POSCAR or pymatgen JSON files, or FEFF inputs "
                   "(feff.inp)."),
    out: Path = typer.Option(..., "--out", "-o", help="netCDF file for the spectra."),
    smiles: list[str] = typer.Option(
        [], "--smiles", help="SMILES of a molecule, embedded in 3-D with RDKit; repeatable."),
    element: str = typer.Option(None, "--element", help="Absorbing element of xyz and "
                                "crystal files (default: the bundle's)."),
    nearest: int = typer.Option(0, "--nearest", min=0,
                                help="Also snap each prediction to the mean of its K nearest "
                                     "training spectra (sharper peaks; 0: off)."),
    peaks_csv: Path = typer.Option(
        None, "--peaks", help="Also write every predicted peak as a row of this .csv: label, "
                              "energy_eV, relative_height and, where calibrated, trusted "
                              "(the peak) and spectrum_trusted."),
    structure_peaks_csv: Path = typer.Option(
        None, "--structure-peaks", help="Also write every peak of each structure's spectrum "
                                        "(the mean of its sites') as a row of this .csv: "
                                        "structure, energy_eV, relative_height and, where "
                                        "calibrated, trusted."),
) -> None:
    """Predict spectra (ensemble mean and std) of structures with a forward-model bundle.

    Input: every atom of the element in an xyz molecule or a SMILES (``--smiles``, or
    a ``.smi`` file with one SMILES and an optional name per line) is one sample; every
    inequivalent site of it in a crystal file (CIF, POSCAR, pymatgen JSON) is one
    sample, the atoms within 10 Å of it; a feff.inp is its absorber. A SMILES is one
    RDKit conformer (ETKDG + MMFF94): on QM9 its prediction stays close to that of the
    B3LYP geometry, though the CVS-TDDFT spectra of the two geometries differ by more
    than the model's error (README).

    Output: a netCDF Dataset with ``intensity`` (mean) and ``intensity_std``
    (ensemble standard deviation), dims ``(sample, energy)``; the peaks of each
    prediction: ``n_peaks`` (sample), ``peak_energy`` (eV) and
    ``peak_relative_height`` (sample, peak; NaN past ``n_peaks``). With
    ``--nearest K`` also ``intensity_nearest`` (the mean of the K training spectra
    nearest to the prediction), ``nearest_label`` and ``nearest_rms`` (their labels
    and RMS distances to the prediction), dims ``(sample, neighbour)``.

    Per structure (what a measurement of the molecule or crystal sees):
    ``structure_intensity`` and ``structure_intensity_std`` (structure, energy), the
    mean of its sites' spectra on the absolute energy scale (crystal sites weighted
    by multiplicity; times ``structure_weight`` for the sum), with
    ``structure_n_sites`` and its peaks ``structure_n_peaks``, ``structure_peak_energy``
    (eV), ``structure_peak_relative_height``; for ensembles ``structure_peak_spread``
    and ``structure_relative_std`` (as for the sites, below); ``site_structure``
    (sample) names each site's structure.

    Trust per peak: a bundle trained with ``--calibrate-fraction`` adds
    ``peak_energy_trusted`` (sample, peak, bool): the peak is at least as tall,
    relative to its spectrum, as the peaks that met the target precision on
    held-out molecules. Likewise ``structure_peak_energy_trusted`` (structure,
    structure_peak) for the peaks of each structure's spectrum, with its own
    threshold calibrated on the held-out molecules' site-averaged spectra
    (bundles trained since this flag was added). Measured through these two
    commands (benchmarks/forward_cli: train-forward on CVS-TDDFT O K edges of 1,200
    QM9 molecules, 120 of them held out, calibrated for 95 %; forward on 600 other
    molecules): the sites' flag kept 53 % of the peaks at 95.0 % precision, the
    molecules' flag 58 % at 95.4 % (calibrated with --confidence 0: 62 % at 94.3 %
    and 75 % at 94.4 %). On smooth FEFF crystal spectra, whose peaks are mostly the
    white line, height separates nothing.

    Trust per spectrum (ensembles): ``peak_spread`` (sample), how far (eV) the
    members put the peaks of the mean, and ``relative_std`` (sample), the std
    averaged over energy over the mean's range; larger means less trusted (on the
    QM9 FEFF-SCF benchmark the half of the molecules with the smallest
    ``relative_std`` had 96 % of predicted peaks within 1 eV). With
    ``--calibrate-fraction`` also ``peak_trusted`` (sample, bool): ``relative_std``
    at or below the threshold chosen on held-out molecules (it held on unseen QM9
    molecules for FEFF-SCF spectra; on CVS-TDDFT spectra it over-promised by 6-11
    points of precision: use ``peak_energy_trusted`` there).

    Example: xasml forward qm9-o-forward.bundle water.xyz methanol.xyz --out pred.nc

    Example: xasml forward qm9-o-forward.bundle screen.smi --smiles CCO --out pred.nc

    Example: xasml forward fwd.bundle screen.smi --out pred.nc --peaks peaks.csv
    """
    import os

    import numpy as np
    import xarray as xr

    from ..errors import ModelError, ParameterError
    from ..io.store import _remove, _temp_sibling
    from ..learn import (
        StructureSpectrumRegressor,
        find_predicted_peaks,
        peak_position_spread,
        relative_std,
    )
    from ..learn.bundle import load_bundle
    from ..learn.site_average import average_sites
    from ..learn.structure_data import molecule_structures, read_structure_file
    from ..simulate.molecules import from_smiles

    for path, hint in ((peaks_csv, "--peaks"), (structure_peaks_csv, "--structure-peaks")):
        if path is not None and path.suffix.lower() != ".csv":
            raise typer.BadParameter(f"must end in .csv; found {path.name!r}", param_hint=hint)
    b = load_bundle(bundle)
    if not isinstance(b.model, StructureSpectrumRegressor):
        raise ModelError(f"{bundle} holds a {type(b.model).__name__}, not a forward model")
    el = element or b.manifest.extras.get("element") or None
    if not structures and not smiles:
        raise typer.BadParameter("give structure files or --smiles", param_hint="STRUCTURES")
    groups: list[list] = [read_structure_file(path, element=el) for path in structures or []]
    if smiles and el is None:
        raise typer.BadParameter("give the absorbing element of the SMILES",
                                 param_hint="--element")
    for text in smiles:
        try:
            mol = from_smiles(text)
        except ParameterError as exc:
            raise typer.BadParameter(str(exc), param_hint="--smiles") from None
        if not mol.sites(str(el)):
            raise typer.BadParameter(f"{text!r} has no {el!r} atom to absorb",
                                     param_hint="--smiles")
        groups.append(molecule_structures(mol, str(el)))
    items = _unique_labels(groups)
    members = b.model.predict_members(items)  # once: mean, std and the peak spread
    mean, std = b.model.predict_spectra(items, members=members)
    ds = xr.Dataset({"intensity": mean, "intensity_std": std})
    heights = b.manifest.extras.get("peak_height_trust")
    heights = heights if isinstance(heights, dict) else None
    prominence = float(heights.get("prominence", 0.05)) if heights else 0.05
    # every peak of the prediction, so a screen can filter peaks without re-finding them
    pk = find_predicted_peaks(b.model.energy_, mean.values, prominence=prominence)
    pad = "; NaN past n_peaks"
    ds["n_peaks"] = xr.DataArray(pk.counts(), dims="sample", attrs={
        "description": f"peaks of the predicted spectrum (relative prominence >= {prominence:g})"})
    ds["peak_energy"] = xr.DataArray(pk.padded(), dims=("sample", "peak"), attrs={
        "units": "eV", "description": "energies of the predicted peaks, increasing" + pad})
    ds["peak_relative_height"] = xr.DataArray(
        pk.padded(pk.relative_height), dims=("sample", "peak"), attrs={
            "description": "(height - min) / (max - min) of the predicted spectrum" + pad})
    ok = _height_trust(ds, pk, heights, "peak_energy_trusted", ("sample", "peak"), "n_peaks")
    if b.model.n_models >= 2 and items:
        # the trust signal for the peaks: how far the members put the mean's peaks
        spread = peak_position_spread(b.model.energy_, members, prominence=prominence)
        ds["peak_spread"] = xr.DataArray(spread, dims="sample", attrs={"units": "eV"})
        ds["relative_std"] = xr.DataArray(relative_std(mean.values, std.values), dims="sample")
        trust = b.manifest.extras.get("peak_trust")
        if isinstance(trust, dict):
            # the calibrated flag: a threshold of None (target never reached) trusts none
            t = trust.get("threshold")
            if t is None:
                flag = xr.zeros_like(ds["relative_std"], dtype=bool)
                why = ("no relative_std threshold met the target precision on the held-out "
                       "molecules: no prediction is trusted")
            else:
                flag = ds["relative_std"] <= float(t)
                why = (f"relative_std <= {float(t):.4g}: on held-out molecules, "
                       f"{float(trust.get('precision', np.nan)):.1%} of these predictions' "
                       f"peaks were within {trust.get('tolerance')} eV of a true peak")
            ds["peak_trusted"] = flag.assign_attrs({
                "description": why,
                "target_precision": float(trust.get("target_precision", np.nan)),
                "calibration_coverage": float(trust.get("coverage", 0.0)),
                "n_calibration": int(trust.get("n_calibration", 0))})
    if items:
        # what a measurement of the whole structure sees: its sites' spectra, weighted
        avg = average_sites(members, [s.label for s in items], [s.weight for s in items])
        ds = ds.assign_coords(structure=avg.names)
        ds["structure_intensity"] = xr.DataArray(
            avg.values.mean(axis=0), dims=("structure", "energy"), attrs={
                "description": "ensemble mean of the structure's sites' spectra averaged "
                               "(weighted by multiplicity): the spectrum per absorbing atom"})
        ds["structure_intensity_std"] = xr.DataArray(
            avg.values.std(axis=0), dims=("structure", "energy"),
            attrs={"description": "ensemble standard deviation of structure_intensity"})
        if b.model.n_models >= 2:  # the site-level spectrum signals, for the structures
            ds["structure_peak_spread"] = xr.DataArray(
                peak_position_spread(b.model.energy_, avg.values, prominence=prominence),
                dims="structure", attrs={"units": "eV"})
            ds["structure_relative_std"] = xr.DataArray(relative_std(
                ds["structure_intensity"].values, ds["structure_intensity_std"].values),
                dims="structure")
        ds["structure_n_sites"] = xr.DataArray(avg.n_sites, dims="structure")
        ds["structure_weight"] = xr.DataArray(avg.weight, dims="structure", attrs={
            "description": "absorbing atoms the structure's sites stand for"})
        ds["site_structure"] = xr.DataArray(np.asarray(avg.names)[avg.group], dims="sample")
        whole = find_predicted_peaks(b.model.energy_, ds["structure_intensity"].values,
                                     prominence=prominence)
        ds["structure_n_peaks"] = xr.DataArray(whole.counts(), dims="structure")
        dims = ("structure", "structure_peak")
        ds["structure_peak_energy"] = xr.DataArray(whole.padded(), dims=dims, attrs={
            "units": "eV", "description": "peaks of structure_intensity, increasing; "
                                          "NaN past structure_n_peaks"})
        ds["structure_peak_relative_height"] = xr.DataArray(
            whole.padded(whole.relative_height), dims=dims, attrs={
                "description": "(height - min) / (max - min) of structure_intensity; "
                               "NaN past structure_n_peaks"})
        calibrated = b.manifest.extras.get("structure_peak_height_trust")
        whole_ok = _height_trust(ds, whole, calibrated if isinstance(calibrated, dict) else None,
                                 "structure_peak_energy_trusted", dims, "structure_n_peaks")
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
    def write(path: Path, save: Callable[[Path], object]) -> None:
        # written beside and renamed: a crash never leaves half a file under the name
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = _temp_sibling(path, ".tmp")
        try:
            save(tmp)
            os.replace(tmp, path)
        finally:
            _remove(tmp)

    write(out, lambda tmp: ds.to_netcdf(tmp, engine="h5netcdf"))
    typer.echo(f"{out}: {len(items)} predicted spectra of {ds.sizes.get('structure', 0)} "
               f"structures, {pk.energy.size} peaks"
               + ("" if ok is None else f", {int(ok.sum())} of them trusted")
               + ("" if not items else f"; the structures' spectra {whole.energy.size} peaks"
                  + ("" if whole_ok is None else f", {int(whole_ok.sum())} trusted")))
    if peaks_csv is not None:
        import pandas as pd

        table = pd.DataFrame({"label": mean["label"].values[pk.spectrum],
                              "energy_eV": pk.energy, "relative_height": pk.relative_height})
        if ok is not None:
            table["trusted"] = ok
        if "peak_trusted" in ds:
            table["spectrum_trusted"] = ds["peak_trusted"].values[pk.spectrum]
        write(peaks_csv, lambda tmp: table.to_csv(tmp, index=False))
        typer.echo(f"{peaks_csv}: {len(table)} predicted peaks")
    if structure_peaks_csv is not None and items:
        import pandas as pd

        table = pd.DataFrame({"structure": np.asarray(avg.names)[whole.spectrum],
                              "energy_eV": whole.energy,
                              "relative_height": whole.relative_height})
        if whole_ok is not None:
            table["trusted"] = whole_ok
        write(structure_peaks_csv, lambda tmp: table.to_csv(tmp, index=False))
        typer.echo(f"{structure_peaks_csv}: {len(table)} predicted peaks of "
                   f"{len(avg.names)} structures")


def _unique_labels(groups: list[list]) -> list:
    """The structures of every input, renamed where an earlier input had the name.

    Two inputs may name the same structure (``a/water.xyz`` and ``b/water.xyz``); a
    later one's sites become ``"water (2)#0"`` ..., so that labels tell the samples
    apart and sites of different inputs are never averaged together.
    """
    from dataclasses import replace

    from ..learn.structure_data import molecule_of

    out: list = []
    taken: set[str] = set()
    for group in groups:
        rename: dict[str, str] = {}
        for s in group:
            name = molecule_of(s.label)
            if name not in rename:
                new, k = name, 1
                while new in taken:
                    k += 1
                    new = f"{name} ({k})"
                rename[name] = new
            out.append(s if rename[name] == name else
                       replace(s, label=rename[name] + s.label[len(name):]))
        taken.update(rename.values())
    return out


def _height_trust(ds, peaks, calibrated: dict | None, name: str, dims: tuple[str, str],
                  count: str):
    """Flag the peaks at least as tall as the calibrated relative height (``ds[name]``).

    Returns the flag per peak of ``peaks`` (``None`` without a calibration); a
    calibration whose target was never reached trusts no peak.
    """
    import numpy as np
    import xarray as xr

    if calibrated is None:
        return None
    t = calibrated.get("threshold")
    ok = (peaks.relative_height >= float(t) if t is not None
          else np.zeros(peaks.energy.size, dtype=bool))
    why = ("no relative height met the target precision on the held-out molecules: "
           "no peak is trusted" if t is None else
           f"relative height >= {float(t):.3g}: on held-out molecules "
           f"{float(calibrated.get('precision', np.nan)):.1%} of such predicted peaks "
           f"were within {calibrated.get('tolerance')} eV of a true peak")
    attrs = {"target_precision": float(calibrated.get("target_precision", np.nan)),
             "calibration_coverage": float(calibrated.get("coverage", 0.0)),
             "n_calibration": int(calibrated.get("n_calibration", 0))}
    confidence = calibrated.get("confidence")
    if confidence is not None:  # train-forward --confidence (netCDF attrs cannot be None)
        attrs["confidence"] = float(confidence)
        # bundles trained before session 25 record no bound: their peaks counted as independent
        how = ("a molecule's peaks counted as correlated" if calibrated.get("bound")
               else "the peaks counted as independent")
        why += f" (the {float(confidence):.0%} lower bound of that precision was the test, {how})"
    ds[name] = xr.DataArray(peaks.padded(ok, fill=False), dims=dims,
                            attrs={"description": why + f"; False past {count}", **attrs})
    return ok
