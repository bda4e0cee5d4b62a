"""Regenerate the bundled demo spectrum ``src/xasml/data/mn_l23_demo.xdi``.

A "measured-like" Mn L2,3 spectrum made by xasml's multiplet engine at
parameters that are NOT on the demo's simulation grid (Mn2+, 10Dq = 1.05 eV,
MnO-like), with a different broadening (Gaussian FWHM 0.45 eV instead of
0.2 eV), a +0.2 eV energy offset and 2 % Gaussian noise (σ = 2 % of the maximum).
The demo must recover charge 2 and 10Dq ≈ 1.05 eV from it.

Run: ``.venv/bin/python scripts/make_demo_spectrum.py``
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from xasml.datamodel import spectrum
from xasml.io import write_xdi
from xasml.simulate.multiplet import MultipletEngine

TRUE = {"ion": "Mn2+", "tendq": 1.05, "fwhm_gauss": 0.45, "shift": 0.2}
OUT = Path(__file__).resolve().parents[1] / "src" / "xasml" / "data" / "mn_l23_demo.xdi"


def main() -> None:
    energy = np.round(np.arange(628.0, 662.0 + 1e-9, 0.1), 6)
    sim = MultipletEngine(energy=energy).simulate(TRUE)
    rng = np.random.default_rng(20261121)
    y = sim.values / sim.values.max()
    y = y + 0.02 * rng.standard_normal(y.size)
    sp = spectrum(
        energy,
        y,
        element="Mn",
        edge="L2,3",
        technique="XAS",
        signal="mu",
        true_ion=TRUE["ion"],
        true_tendq=TRUE["tendq"],
        true_fwhm_gauss=TRUE["fwhm_gauss"],
        true_shift=TRUE["shift"],
        noise="2 % Gaussian, seed 20261121",
        **{"Sample.name": "xasml demo spectrum (simulated, MnO-like)"},
    )
    write_xdi(sp, OUT)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
