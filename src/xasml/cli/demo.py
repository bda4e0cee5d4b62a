"""``xasml demo``: the preprocessing pipeline on a bundled synthetic K edge (no setup)."""

from __future__ import annotations

from pathlib import Path

import typer

from ._app import app

DEMO_E0 = 7112.0  # eV, the known edge energy of the synthetic spectrum


@app.command()
def demo(
    out: Path = typer.Option(Path("demo-output"), help="Folder for the figure and report."),
) -> None:
    """Run E0, normalisation, alignment, broadening and resampling on a synthetic
    K edge; print a table and write OUT/preprocess.png.

    Example: xasml demo --out demo-output
    """
    from ..preprocess import KIYOHARA_GRID, align_edge, broaden, normalize_edge, resample
    from ..preprocess._synthetic import synthetic_kedge

    out.mkdir(parents=True, exist_ok=True)
    raw = synthetic_kedge(DEMO_E0)
    norm = normalize_edge(raw)
    aligned = align_edge(norm, e0=norm.attrs["e0"])
    broad = broaden(aligned, 1.5)
    final = resample(broad, KIYOHARA_GRID)
    a = norm.attrs
    rows = [
        ("E0 (eV)", f"{a['e0']:.2f}"),
        ("edge step", f"{a['edge_step']:.4f}"),
        ("pre-edge range (eV from E0)", f"{a['pre1']:g} .. {a['pre2']:g}"),
        ("post-edge range (eV from E0)", f"{a['norm1']:g} .. {a['norm2']:.0f}, nnorm {a['nnorm']}"),
        ("broadening", "Gaussian FWHM 1.5 eV"),
        ("output grid", f"{final.energy.values[0]:g} .. {final.energy.values[-1]:g} eV, "
                        f"{final.sizes['energy']} points"),
    ]
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        typer.echo(f"{key:<{width}}  {value}")
    path = out / "preprocess.png"
    _plot(raw, aligned, broad, final, path)
    typer.echo(f"figure: {path}")


def _plot(raw, aligned, broad, final, path: Path) -> None:  # type: ignore[no-untyped-def]
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.5), constrained_layout=True)
    ax1.plot(raw.energy, raw, lw=1)
    ax1.axvline(aligned.attrs["e0"], color="k", ls=":", lw=1)
    ax1.set(xlabel="energy (eV)", ylabel="mu (arb.)", title="raw mu(E) and E0")
    sel = (aligned.energy > -20) & (aligned.energy < 40)
    ax2.plot(aligned.energy[sel], aligned[sel], lw=1, label="normalised")
    ax2.plot(broad.energy[sel], broad[sel], lw=1, label="broadened 1.5 eV")
    ax2.plot(final.energy, final, "o", ms=2, label="resampled (160 pts)")
    ax2.set(xlabel="E - E0 (eV)", ylabel="normalised mu", title="preprocessed")
    ax2.legend(fontsize=8)
    fig.savefig(path, dpi=100)
    plt.close(fig)
