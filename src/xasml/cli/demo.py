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

    from ..apply.parameters import estimate_parameters, simulate_grid, write_report
    from ..io import read

    console = Console()
    t0 = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    console.print("[bold]1/3[/] multiplet simulations: Mn2+/3+/4+ × 10Dq 0–2.5 eV (cached)")
    sims = simulate_grid(out / "mn_l23_grid.zarr")
    t_sim = time.perf_counter() - t0
    measured = read(DEMO_SPECTRUM)
    console.print(f"[bold]2/3[/] {method.upper()} embedding and read-out for {DEMO_SPECTRUM.name}")
    est, result = estimate_parameters(sims, measured, method=method)
    truth = {k[5:]: v for k, v in measured.attrs.items() if k.startswith("true_")}
    console.print("[bold]3/3[/] figure and report")
    rep = write_report(
        out, est, measured, result, html=html,
        extra={"test_spectrum": str(DEMO_SPECTRUM.name), "true_parameters": truth,
               "n_simulations": int(sims.sizes["sample"])},
    )
    table = Table(title="Mn L2,3 test spectrum: estimate vs truth")
    table.add_column("quantity")
    table.add_column("spectrum space")
    if result.embedding is not None:
        table.add_column(f"{method} embedding")
    table.add_column("truth")
    spaces = [result.spectrum] + ([result.embedding] if result.embedding is not None else [])
    table.add_row(
        "charge",
        *[f"{s.predicted_class} (p={s.class_probabilities[s.predicted_class]:.2f})"
          for s in spaces],
        str(truth.get("ion", "?")),
    )
    table.add_row(
        "10Dq (eV)",
        *[f"{s.values['tendq'].mean:.2f} ± {s.values['tendq'].std:.2f}" for s in spaces],
        str(truth.get("tendq", "?")),
    )
    console.print(table)
    for p in (rep.figure, rep.html, rep.json, rep.markdown):
        if p is not None:
            console.print(f"wrote {p}")
    console.print(
        f"simulations {t_sim:.1f} s, total {time.perf_counter() - t0:.1f} s"
    )
