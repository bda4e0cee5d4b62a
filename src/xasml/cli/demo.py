"""``xasml demo``: the main job on embedded defaults (no setup, no network).

Simulates the Mn L2,3 seed grid (Mn2+/3+/4+ × 10Dq 0–2.5 eV, 78 spectra) with
the multiplet engine (cached in the output folder, so a second run reuses it),
embeds it, and reads the charge and 10Dq of a bundled test spectrum made by the
engine at parameters off the grid, with noise and another broadening.
"""

from __future__ import annotations

from pathlib import Path

import typer

from ._app import app

DEMO_SPECTRUM = Path(__file__).resolve().parents[1] / "data" / "mn_l23_demo.xdi"


@app.command()
def demo(
    out: Path = typer.Option(Path("demo-output"), help="Folder for figures, report and cache."),
    method: str = typer.Option("mds", help="Embedding: mds, isomap, tsne, umap or pca."),
    html: bool = typer.Option(True, help="Also write the interactive HTML figure."),
) -> None:
    """Estimate Mn charge and 10Dq of a test spectrum by embedding simulations.

    Example: xasml demo --out demo-output --method tsne
    """
    import time

    from rich.console import Console
    from rich.table import Table

    from ..apply.parameters import (
        estimate_parameters,
        refine_multiplet,
        simulate_grid,
        write_report,
    )
    from ..io import read

    console = Console()
    t0 = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    console.print("[bold]1/4[/] multiplet simulations: Mn2+/3+/4+ × 10Dq 0–2.5 eV (cached)")
    sims = simulate_grid(out / "mn_l23_grid.zarr")
    t_sim = time.perf_counter() - t0
    measured = read(DEMO_SPECTRUM)
    console.print(f"[bold]2/4[/] {method.upper()} embedding and read-out for {DEMO_SPECTRUM.name}")
    est, result, nuisances = estimate_parameters(sims, measured, method=method)
    truth = {k[5:]: v for k, v in measured.attrs.items() if k.startswith("true_")}
    charge = result.spectrum.predicted_class
    fit = refine_multiplet(
        measured, f"{sims.attrs.get('element', 'Mn')}{charge}+",
        tendq=result.spectrum.values["tendq"].mean,
        shift=nuisances["shift_eV"], extra_fwhm=nuisances["extra_fwhm_eV"],
    )
    refined = {k: {"value": fit.values[k], "error": fit.errors[k]} for k in fit.values}
    console.print("[bold]3/4[/] local fit of the engine around the read-out")
    console.print("[bold]4/4[/] figure and report")
    rep = write_report(
        out, est, measured, result, html=html,
        extra={"test_spectrum": str(DEMO_SPECTRUM.name), "true_parameters": truth,
               "n_simulations": int(sims.sizes["sample"]), "matched": nuisances,
               "refined_fit": refined},
    )
    table = Table(title="Mn L2,3 test spectrum: estimate vs truth")
    table.add_column("quantity")
    table.add_column("spectrum space")
    if result.embedding is not None:
        table.add_column(f"{method} embedding")
    table.add_column("engine fit")
    table.add_column("truth")
    spaces = [result.spectrum] + ([result.embedding] if result.embedding is not None else [])
    table.add_row(
        "charge",
        *[f"{s.predicted_class} (p={s.class_probabilities[s.predicted_class]:.2f})"
          for s in spaces],
        f"{charge} (fixed)",
        str(truth.get("ion", "?")),
    )
    table.add_row(
        "10Dq (eV)",
        *[f"{s.values['tendq'].mean:.2f} ± {s.values['tendq'].std:.2f}" for s in spaces],
        f"{fit.values['tendq']:.3f} ± {fit.errors['tendq']:.3f}",
        str(truth.get("tendq", "?")),
    )
    table.add_row(
        "shift (eV)", *(["–"] * len(spaces)),
        f"{fit.values['shift']:+.3f} ± {fit.errors['shift']:.3f}", str(truth.get("shift", "?")),
    )
    table.add_row(
        "Gauss FWHM (eV)", *(["–"] * len(spaces)),
        f"{fit.values['fwhm_gauss']:.3f} ± {fit.errors['fwhm_gauss']:.3f}",
        str(truth.get("fwhm_gauss", "?")),
    )
    console.print(table)
    console.print(
        f"matched energy shift {nuisances['shift_eV']:+.2f} eV (true {truth.get('shift', '?')}), "
        f"extra Gaussian FWHM {nuisances['extra_fwhm_eV']:.2f} eV"
    )
    for p in (rep.figure, rep.html, rep.json, rep.markdown):
        if p is not None:
            console.print(f"wrote {p}")
    console.print(
        f"simulations {t_sim:.1f} s, total {time.perf_counter() - t0:.1f} s"
    )
