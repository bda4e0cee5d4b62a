"""Cross-check of the multiplet engine against Quanty (bundled with crispy).

Quanty is an independent multiplet code; crispy writes its Lua input with the
same Cowan atomic parameters and the same 0.8 Slater reduction. We run the Lua
file with the bundled binary (~3 s), match the broadening (Lorentzian FWHM 0.4
eV = Quanty's Gamma 0.1 + Broaden 0.3, Gaussian FWHM 0.2 eV), align with a
rigid shift from the cross-correlation, and compare the L3 and L2 peak
positions and the area-normalised shapes. Skips when crispy is absent.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("edrixs")

pytestmark = pytest.mark.slow

TEMPERATURE = 10.0  # K, crispy's default
GAMMA_CALC, GAMMA_BROADEN, GAUSS = 0.1, 0.3, 0.2  # eV FWHM


def _quanty_binary() -> Path:
    crispy = pytest.importorskip("crispy")
    binary = Path(crispy.__file__).parent / "quanty" / "bin" / "linux" / "Quanty"
    if not binary.is_file():
        pytest.skip(f"crispy has no bundled Quanty binary at {binary}")
    return binary


def _set(lua: str, name: str, value: str) -> str:
    out, n = re.subn(rf"(?m)^{name} = .*$", f"{name} = {value}", lua, count=1)
    assert n == 1, f"crispy's Lua template has no '{name} = ...' line"
    return out


def _quanty_spectrum(ion: str, tendq: float, tmp: Path, monkeypatch) -> tuple:
    binary = _quanty_binary()
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    monkeypatch.setenv("HOME", str(tmp))  # crispy writes (and chdirs) under ~
    from crispy.notebook import calculation

    calc = calculation(ion, "Oh", "XAS", "L2,3 (2p)")
    calc.hamiltonian.set_parameter("10Dq(3d)", tendq)
    lua = calc.get_input()
    emin = float(re.search(r"(?m)^Emin = ([\d.]+)", lua).group(1))  # type: ignore[union-attr]
    emax = float(re.search(r"(?m)^Emax = ([\d.]+)", lua).group(1))  # type: ignore[union-attr]
    lua = _set(lua, "Temperature", f"{TEMPERATURE}")
    lua = _set(lua, "SpectraToCalculate", '{"Isotropic Absorption"}')
    lua = _set(lua, "Gamma", f"{GAMMA_CALC}")
    lua = _set(lua, "Gaussian", f"{GAUSS}")
    lua = _set(lua, "Lorentzian", f"{{{{{emin}, {GAMMA_BROADEN}}}, {{{emax}, {GAMMA_BROADEN}}}}}")
    lua = _set(lua, "Prefix", '"quanty"')
    (tmp / "input.lua").write_text(lua)
    subprocess.run(
        [str(binary), "input.lua"], cwd=tmp, check=True, capture_output=True, timeout=300
    )
    data = np.loadtxt(tmp / "quanty_iso.spec", skiprows=5)
    return data[:, 0], data[:, 2]


def _peak(e: np.ndarray, y: np.ndarray, lo: float, hi: float) -> float:
    sel = (e >= lo) & (e < hi)
    return float(e[sel][np.argmax(y[sel])])


@pytest.mark.parametrize("ion", ["Mn2+", "Mn3+", "Mn4+"])
@pytest.mark.parametrize("tendq", [0.0, 0.9, 2.5])
def test_matches_quanty(ion, tendq, tmp_path, monkeypatch):
    from xasml.simulate.multiplet import MultipletEngine, ion_data

    e_q, y_q = _quanty_spectrum(ion, tendq, tmp_path, monkeypatch)
    engine = MultipletEngine(energy=e_q)
    ours = engine.simulate(
        {
            "ion": ion,
            "tendq": tendq,
            "temperature": TEMPERATURE,
            "gamma_l3": GAMMA_CALC + GAMMA_BROADEN,
            "gamma_l2": GAMMA_CALC + GAMMA_BROADEN,
            "fwhm_gauss": GAUSS,
        }
    ).values
    step = e_q[1] - e_q[0]
    # Rigid shift from the cross-correlation (positive: ours is above Quanty).
    lags = np.arange(-150, 151)
    xc = [np.dot(np.roll(y_q, k), ours) for k in lags]
    shift = lags[int(np.argmax(xc))] * step
    mid = 0.5 * (ion_data(ion).edge_l3 + ion_data(ion).edge_l2)
    shifted = np.interp(e_q, e_q - shift, ours)
    d_peak = [
        _peak(e_q, shifted, lo, hi) - _peak(e_q, y_q, lo, hi)
        for lo, hi in ((e_q[0], mid), (mid, e_q[-1]))
    ]
    a, b = shifted / np.trapezoid(shifted, e_q), y_q / np.trapezoid(y_q, e_q)
    corr = np.corrcoef(a, b)[0, 1]
    print(
        f"{ion} 10Dq={tendq}: shift {shift:+.2f} eV, dL3 {d_peak[0]:+.2f}, "
        f"dL2 {d_peak[1]:+.2f} eV, correlation {corr:.4f}"
    )
    assert max(abs(d) for d in d_peak) <= 0.1 + 1e-9
    assert corr > 0.98
