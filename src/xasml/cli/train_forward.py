"""``xasml train-forward``: train a structure → spectrum graph-network ensemble."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Literal

import typer

from ._app import app


@app.command("train-forward")
def train_forward_cmd(
    datasets: list[Path] = typer.Argument(
        ..., help="TDDFT or FEFF campaign datasets (.zarr) or FEFF run trees; several are pooled."),
    out: Path = typer.Option(..., "--out", "-o", help="Bundle directory to write."),
    n_models: int = typer.Option(
        3, "--n-models", min=1,
        help="Ensemble members (std needs >= 2). More members put fewer peaks where they "
             "disagree: on QM9 O K edges 3 / 5 / 10 / 20 gave 90.5 / 92.6 / 94.2 / 95.2 % of a "
             "molecule's predicted peaks within 1 eV (fewer true peaks found), at 1 / 1.5 / "
             "3 / 5.4x the training time; 20 members on two other splits 93.9 and 93.7 %. "
             "For many members add --patience 10 --jobs 2."),
    # the defaults are StructureSpectrumRegressor's: the settings the README measured
    max_epochs: int = typer.Option(300, "--max-epochs", help="Most training epochs."),
    patience: int = typer.Option(
        30, "--patience",
        help="Early-stopping patience (epochs). 10 kept the same best epoch for 19 of 20 "
             "members on QM9 O K edges in 2/3 of the time."),
    cutoff: float = typer.Option(4.0, "--cutoff", help="Edge cutoff (Å)."),
    cluster_radius: float = typer.Option(8.0, "--cluster-radius", help="Cluster radius (Å)."),
    hidden: int = typer.Option(64, "--hidden", help="Width of node states."),
    interactions: int = typer.Option(3, "--interactions", min=1,
                                     help="Message-passing blocks."),
    learning_rate: float = typer.Option(3e-3, "--learning-rate", help="Adam learning rate."),
    bonds: bool = typer.Option(False, "--bonds/--no-bonds",
                               help="Add covalent bonds from the geometry to the graphs."),
    head: Literal["grid", "peaks"] = typer.Option("grid", "--head",
                             help="Network output: 'grid' (every energy point) or 'peaks' "
                                  "(a sum of Gaussians 1-2x as wide as the spectra's "
                                  "broadening)."),
    n_peaks: int = typer.Option(32, "--n-peaks", help="Gaussians of --head peaks."),
    calibrate_fraction: float = typer.Option(
        0.0, "--calibrate-fraction",
        help="Hold out this fraction of the molecules (0-0.5) to choose the thresholds "
             "at which predicted peaks met --target-precision: per peak, its relative "
             "height (any --n-models); per spectrum, relative_std (--n-models >= 2). "
             "'xasml forward' then writes peak_energy_trusted and peak_trusted. On QM9 O "
             "(1,200 molecules, 0.1 or 0.2) the precision promised on the held-out "
             "molecules ran 1-3 points above what 1,200 unseen ones gave: the guarantee is "
             "the --confidence bound, not the promise."),
    target_precision: float = typer.Option(
        0.95, "--target-precision",
        help="Fraction of predicted peaks within 1 eV of a true one that trusted "
             "predictions must reach on the held-out molecules."),
    confidence: float = typer.Option(
        0.9, "--confidence",
        help="Choose the thresholds so that the one-sided lower bound of the held-out "
             "precision at this confidence (the peaks of one molecule counted as "
             "correlated) meets --target-precision: fewer peaks trusted, less of the "
             "held-out set's luck promised. On QM9 O, 95 % flags chosen at 0.9 on 500 "
             "random held-out sets were under 95 % on the unseen molecules for 6-11 % of "
             "them. 0: the precision itself (over-promised by a point)."),
    seed: int = typer.Option(0, "--seed", help="Random seed."),
    jobs: int = typer.Option(
        1, "--jobs", "-j",
        help="Members trained at once, each in its own process on the CPU (-1: every "
             "CPU), the CPUs shared out among them. Only the wall time changes: on 2 cores 2 "
             "jobs of 1 thread ran 1.3x the member-epochs per second of 1 process of 2 "
             "threads (20-member QM9 fits)."),
    overwrite: bool = typer.Option(False, help="Replace an existing bundle."),
) -> None:
    """Train a structure → spectrum graph-network ensemble and save it as a bundle.

    Several datasets (e.g. disjoint draws of one campaign) are pooled; their
    element, engine settings and energy grid must agree. With
    ``--calibrate-fraction`` the model is trained on the other molecules only
    (whole molecules are held out: the sites before ``#`` in a label) and the
    bundle records the calibration in the manifest's extras:
    ``peak_height_trust`` (the relative height from which predicted peaks met
    the target; on CVS-TDDFT O K edges of unseen QM9 molecules it held, where
    the spectrum-level flag did not), ``structure_peak_height_trust`` (the same
    for the site-averaged spectra of whole molecules) and, for an ensemble,
    ``peak_trust`` (the ``relative_std`` up to which whole spectra met it). "Met"
    means, by default, that the 90 % lower bound of the held-out precision
    reached the target (``--confidence``). ``held_out_scores`` records what the
    model scored on the held-out molecules before any flag (per site and per
    structure: true peaks found, precision, MSE, and what the missed predicted
    peaks are, :func:`~xasml.learn.peak_error_breakdown`).

    The defaults are the settings of the README's QM9 O K-edge rows (the
    estimator's); the Cu crystal-cluster rows used --cutoff 3.5 --cluster-radius 5.

    Example: xasml train-forward qm9-o.zarr --out qm9-o-forward.bundle --n-models 3
    """
    import numpy as np

    from ..learn import (
        StructureSpectrumRegressor,
        calibrate_peak_heights,
        calibrate_peak_trust,
        train_val_test_split,
    )
    from ..learn.bundle import hash_training_data, save_bundle
    from ..learn.structure_data import load_structure_datasets, molecule_of

    if not 0 <= calibrate_fraction <= 0.5:
        raise typer.BadParameter(f"must be in [0, 0.5]; found {calibrate_fraction}",
                                 param_hint="--calibrate-fraction")
    if not 0 < target_precision <= 1:
        raise typer.BadParameter(f"must be in (0, 1]; found {target_precision}",
                                 param_hint="--target-precision")
    if not 0 <= confidence < 1:
        raise typer.BadParameter(f"must be in [0, 1); found {confidence}",
                                 param_hint="--confidence")
    bounded = confidence or None  # 0: the precision itself
    structures, spectra = load_structure_datasets(datasets)
    held: np.ndarray | None = None
    if calibrate_fraction:
        molecule = np.array([molecule_of(s.label) for s in structures])
        if np.unique(molecule).size < 2:
            raise typer.BadParameter("calibration needs at least two molecules; found "
                                     f"{np.unique(molecule).size}",
                                     param_hint="--calibrate-fraction")
        sp = train_val_test_split(len(structures), groups=molecule,
                                  ratios=(1 - calibrate_fraction, 0, calibrate_fraction),
                                  random_state=seed)
        held = sp.test
        fit_rows = np.sort(np.concatenate([sp.train, sp.validation]))
        structures_cal = [structures[i] for i in held]
        spectra_cal = spectra.isel(sample=held)
        structures = [structures[i] for i in fit_rows]
        spectra = spectra.isel(sample=fit_rows)
    model = StructureSpectrumRegressor(
        cutoff=cutoff,
        cluster_radius=cluster_radius,
        hidden_channels=hidden,
        n_interactions=interactions,
        learning_rate=learning_rate,
        bonds=bonds,
        head=head,
        n_peaks=n_peaks,
        n_models=n_models,
        max_epochs=max_epochs,
        patience=patience,
        random_state=seed,
        n_jobs=jobs,
    ).fit(structures, spectra)
    element = spectra.attrs.get("element")
    extras: dict[str, object] = {"element": "" if element is None else str(element),
                                 "n_train": len(structures)}
    trust = heights = whole = None
    if held is not None:
        n_mol = len(set(molecule_of(s.label) for s in structures_cal))
        heights = calibrate_peak_heights(model, structures_cal, spectra_cal, target_precision,
                                         confidence=bounded)
        extras["peak_height_trust"] = {"signal": "relative_height", **heights.to_dict(),
                                       "n_calibration_molecules": n_mol}
        # a molecule's spectrum (the mean of its sites') has peaks of its own
        whole = calibrate_peak_heights(model, structures_cal, spectra_cal, target_precision,
                                       per_structure=True, confidence=bounded)
        extras["structure_peak_height_trust"] = {"signal": "relative_height",
                                                 **whole.to_dict()}
        if n_models >= 2:
            trust = calibrate_peak_trust(model, structures_cal, spectra_cal,
                                         target_precision, confidence=bounded)
            extras["peak_trust"] = {"signal": "relative_std", **trust.to_dict(),
                                    "n_calibration_molecules": n_mol}
    held_scores: dict[str, dict] = {}
    if held is not None:
        # what the model scores on molecules it never saw: all peaks, before any flag
        held_scores = _held_out_scores(model, structures_cal, spectra_cal)
        extras["held_out_scores"] = held_scores
    save_bundle(
        model,
        out,
        energy=model.energy_,
        targets=[("spectrum", str(spectra.attrs.get("signal", "")))],
        preprocessing={"input": "structures", "dataset": ", ".join(map(str, datasets))},
        training_data_sha256=hash_training_data(spectra.values),
        extras=extras,
        overwrite=overwrite,
    )
    typer.echo(f"{out}: {n_models}-member forward model trained on {len(structures)} sites")
    for unit, sc in held_scores.items():
        if not sc["n_predicted_peaks"]:
            typer.echo(f"held-out {unit} ({sc['n']}): no peak predicted, "
                       f"MSE {sc['mse']:.3g}")
            continue
        e = {k: _pct(v) for k, v in sc["peak_errors"].items()}
        typer.echo(f"held-out {unit} ({sc['n']}): {_pct(sc['found'])} of {sc['n_true_peaks']} "
                   f"true peaks within 1 eV at {_pct(sc['precision'])} precision (all "
                   f"{sc['n_predicted_peaks']} predicted peaks), MSE {sc['mse']:.3g}; the "
                   f"others: {e['duplicate']} a second peak near a true one, "
                   f"{e['weak']} on a faint true feature, {e['shifted']} 1-2 eV off, "
                   f"{e['spurious']} farther")
    bound = "" if bounded is None else f" (its {confidence:.0%} lower bound)"
    for what, t, unit in (("peak trust", heights, "sites"),
                          ("structure peak trust", whole, "structures")):
        if t is None:
            continue
        if t.threshold is None:
            typer.echo(f"{what}: no relative height reached {target_precision:.0%} precision"
                       f"{bound} on {t.n_calibration} held-out {unit} (at least 20 predicted "
                       "peaks); 'xasml forward' will trust none of these peaks")
        else:
            typer.echo(f"{what}: peaks of relative height >= {t.threshold:.3g} were "
                       f"{t.coverage:.0%} of the {t.n_predicted_peaks} predicted on "
                       f"{t.n_calibration} held-out {unit}, at {t.precision:.1%} precision"
                       + ("" if bounded is None else
                          f"; its {confidence:.0%} lower bound >= {target_precision:.0%}"))
    if trust is not None:
        if trust.threshold is None:
            typer.echo(f"spectrum trust: no relative_std threshold reached "
                       f"{target_precision:.0%} precision{bound} on {trust.n_calibration} held-out "
                       "sites (at least 20 predicted peaks); 'xasml forward' will trust none")
        else:
            typer.echo(f"spectrum trust: relative_std <= {trust.threshold:.4g} kept "
                       f"{trust.coverage:.0%} of {trust.n_calibration} held-out sites at "
                       f"{trust.precision:.1%} precision ({trust.n_predicted_peaks} peaks)"
                       + ("" if bounded is None else
                          f"; its {confidence:.0%} lower bound >= {target_precision:.0%}"))


def _held_out_scores(model, structures: list, spectra) -> dict:
    """Peak metric and miss breakdown of the held-out sites and their structures' means."""
    import numpy as np

    from ..learn import average_sites, peak_error_breakdown, spectral_metrics

    energy = spectra["energy"].values
    pred = np.asarray(model.predict(structures), dtype=np.float64)
    truth = np.asarray(spectra.values, dtype=np.float64)
    labels = [s.label for s in structures]
    weights = [getattr(s, "weight", 1.0) for s in structures]
    whole = average_sites(np.stack([truth, pred]), labels, weights).values
    out = {}
    for unit, (t, p) in (("sites", (truth, pred)), ("structures", (whole[0], whole[1]))):
        m = spectral_metrics(energy, t, p)
        out[unit] = {"n": len(t), "mse": m.mse, "found": _ratio(m.fraction_within),
                     "precision": _ratio(m.precision), "n_true_peaks": m.n_true_peaks,
                     "n_predicted_peaks": m.n_pred_peaks,
                     "peak_errors": {k: _ratio(v) for k, v in
                                     peak_error_breakdown(energy, t, p).fractions().items()}}
    return out


def _ratio(x: float) -> float | None:
    """A score for JSON: None where no peak made it defined (NaN)."""
    return float(x) if math.isfinite(x) else None


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.1%}"
