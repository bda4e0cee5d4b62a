"""FEFF10 engine: input generation, parameter checks, alignment, failures, one real run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("pymatgen")

from xasml.errors import EngineError, ParameterError
from xasml.simulate import _feff_run
from xasml.simulate import feff as feff_mod
from xasml.simulate.base import Engine, get_engine
from xasml.simulate.feff import FeffEngine, k_edge_energy
from xasml.simulate.structures import PROTOTYPES


@pytest.fixture(scope="module")
def mno() -> Any:
    return PROTOTYPES["rocksalt"]("Mn", 4.445)


@pytest.fixture(scope="module")
def cro4() -> Any:
    return PROTOTYPES["oxoanion"]("Cr", 1.65, -2.0)


def _atoms(text: str) -> list[list[str]]:
    body = text.split("\nATOMS\n")[1].split("\nEND")[0]
    return [ln.split() for ln in body.splitlines() if ln.strip() and not ln.startswith("*")]


def _potentials(text: str) -> list[list[str]]:
    body = text.split("\nPOTENTIALS\n")[1].split("\n\n")[0]
    return [ln.split() for ln in body.splitlines() if ln.strip() and not ln.startswith("*")]


def test_registered_and_protocol() -> None:
    eng = get_engine("feff", scf_radius=None, fms_radius=3.0)
    assert isinstance(eng, FeffEngine) and isinstance(eng, Engine)
    prov = eng.provenance()
    assert prov["engine"] == "feff" and prov["settings"]["fms_radius"] == 3.0
    assert prov["feff_env"]["MALLOC_ARENA_MAX"] == "1"
    json.dumps(prov)


def test_input_absorber_origin_stoichiometry_radii(mno: Any) -> None:
    spec = FeffEngine().input_for(mno, 0, 0.2)  # defaults: SCF 5 Å, FMS 7 Å, cluster 8 Å
    text = spec.text
    assert "\nSCF 5 0 30 0.2 1\n" in text and "\nFMS 7 0\n" in text
    assert "\nCOREHOLE RPA\n" in text and "\nEDGE K\n" in text
    atoms = _atoms(text)
    assert [float(v) for v in atoms[0][:4]] == [0, 0, 0, 0]  # absorber at origin, ipot 0
    assert sum(a[3] == "0" for a in atoms) == 1
    # formula ratios (MnO: 1 : 1), not cluster atom counts
    pots = {p[2]: (int(p[0]), float(p[5])) for p in _potentials(text)}
    assert pots == {"Mn": (1, 1.0), "O": (2, 1.0)} or set(pots) == {"Mn", "O"}
    assert [float(p[5]) for p in _potentials(text)] == [0.0001, 1.0, 1.0]
    # cluster: every atom within 8 Å of the absorber, as many as pymatgen counts
    dist = np.array([float(a[5]) for a in atoms])
    assert dist.max() <= 8.0 and np.all(np.diff(dist) >= 0)
    assert len(atoms) == len(mno.get_neighbors(mno[0], 8.0)) + 1
    first = [a for a in atoms if abs(float(a[5]) - 2.2225) < 1e-4]
    assert len(first) == 6 and {a[4] for a in first} == {"O"}


def test_input_spinel_and_molecule(cro4: Any) -> None:
    co3o4 = PROTOTYPES["spinel_normal"]("Co", "Co", 8.084, 0.3881)
    spec = FeffEngine(scf_radius=4.0, fms_radius=5.0, cluster_radius=6.0).input_for(co3o4, 0, 0.05)
    assert [float(p[5]) for p in _potentials(spec.text)] == [0.0001, 3.0, 4.0]
    assert "\nSCF 4 0 30 0.05 1\n" in spec.text and spec.cluster_radius == 6.0
    spec = FeffEngine(scf_radius=None, fms_radius=3.0, corehole="FSR").input_for(cro4, 0, 0.2)
    # a lone Cr gets no second Cr potential (FEFF stops on unused potentials)
    assert [p[2] for p in _potentials(spec.text)] == ["Cr", "O"]
    assert "SCF" not in spec.cards and "\nCOREHOLE FSR\n" in spec.text and spec.n_atoms == 5


def test_parameter_errors(mno: Any) -> None:
    eng = FeffEngine(scf_radius=None, fms_radius=3.0)
    s = mno.to_json()
    with pytest.raises(ParameterError, match="'Fe'"):
        eng.simulate({"structure": s, "absorber": "Fe"})
    with pytest.raises(ParameterError, match="site 1 is O"):
        eng.simulate({"structure": s, "site": 1, "absorber": "Mn"})
    with pytest.raises(ParameterError, match="site 7 out of range"):
        eng.simulate({"structure": s, "site": 7})
    with pytest.raises(ParameterError, match="unknown parameter"):
        eng.simulate({"structure": s, "site": 0, "tendq": 1.0})
    with pytest.raises(ParameterError, match=r"site 0 \(Mn\).*max_atoms=50"):
        FeffEngine(fms_radius=7.0, max_atoms=50).simulate({"structure": s, "site": 0})
    with pytest.raises(ParameterError, match="fms_radius"):
        FeffEngine(fms_radius=7.0, cluster_radius=5.0).simulate({"structure": s, "site": 0})
    with pytest.raises(ParameterError, match="element="):
        FeffEngine(energy_reference="absolute")


XMU = """# Cr test  FEFF 10.0.0
# # Mu=-1.000E+01eV kf=2.140E+00 Vint=-1.400E+01eV
#  omega    e    k    mu    mu0     chi
"""


def _fake_runner(shift: float = 0.0, fail_first: int = 0) -> Any:
    """A stand-in for run_feff writing a synthetic xmu.dat (edge at E_F + 5 eV)."""
    calls: list[str] = []

    def run(work: Path, timeout: float | None) -> _feff_run.FeffRun:
        calls.append((work / "feff.inp").read_text())
        if len(calls) <= fail_first:
            return _feff_run.FeffRun(False, {}, "FeffPipelineError: stage 'pot' failed", "pot",
                                     "Could not integrate enough charge", "")
        e_f = k_edge_energy("Cr") + 4.0 + shift  # absolute Fermi level
        rel = np.linspace(-7.0, 80.0, 300)
        mu = 1.0 / (1.0 + np.exp(-(rel - 5.0)))
        rows = [
            f"{e_f + r:.6f} {r - 10.0:.6f} 0 {m:.8e} {m:.8e} 0"
            for r, m in zip(rel, mu, strict=True)
        ]
        (work / "xmu.dat").write_text(XMU + "\n".join(rows) + "\n")
        return _feff_run.FeffRun(True, {"POT": 1.0}, "", "", "", "Convergence reached in 9")

    run.calls = calls  # type: ignore[attr-defined]
    return run


def test_alignment_and_material_average(monkeypatch: pytest.MonkeyPatch, cro4: Any) -> None:
    fake = _fake_runner()
    monkeypatch.setattr(feff_mod, "run_feff", fake)
    sp = FeffEngine(fms_radius=3.0).simulate({"structure": cro4.to_json(), "site": 0})
    assert sp.attrs["fermi_energy"] == pytest.approx(k_edge_energy("Cr") + 4.0, abs=1e-6)
    # "edge" scale: the logistic midpoint E_F + 5 eV sits at 4 + 5 = 9 eV above E_K
    half = np.interp(0.5, sp.values, sp["energy"].values)
    assert half == pytest.approx(9.0, abs=0.05)
    fermi = FeffEngine(fms_radius=3.0, energy_reference="fermi")
    sp_f = fermi.simulate({"structure": cro4.to_json(), "absorber": "Cr", "label_cn": 4})
    assert np.interp(0.5, sp_f.values, sp_f["energy"].values) == pytest.approx(5.0, abs=0.05)
    absolute = FeffEngine(fms_radius=3.0, energy_reference="absolute", element="Cr")
    sp_a = absolute.simulate({"structure": cro4.to_json(), "site": 0})
    np.testing.assert_allclose(sp_a.values, sp.values)
    assert sp_a["energy"].values[0] == pytest.approx(k_edge_energy("Cr") - 10.0)
    assert sp.attrs["padded_points"] == int(np.sum(sp["energy"].values < 4.0 - 7.0))
    # spinel: two inequivalent Co sites, weights 1/3 (tet) and 2/3 (oct)
    co3o4 = PROTOTYPES["spinel_normal"]("Co", "Co", 8.084, 0.3881).copy()
    co3o4.replace_species({"Co": "Cr"})
    mat = FeffEngine(scf_radius=None, fms_radius=3.0).simulate_material(co3o4, "Cr")
    assert json.loads(mat.attrs["weights"]) == pytest.approx([1 / 3, 2 / 3])
    assert len(json.loads(mat.attrs["sites"])) == 2


def test_scf_retry_then_error(monkeypatch: pytest.MonkeyPatch, cro4: Any) -> None:
    fake = _fake_runner(fail_first=1)
    monkeypatch.setattr(feff_mod, "run_feff", fake)
    sp = FeffEngine(fms_radius=3.0).simulate({"structure": cro4.to_json(), "site": 0})
    assert sp.attrs["scf_attempts"].startswith("ca=0.2: Could not integrate")
    assert " 0.05 1\n" in fake.calls[1] and " 0.2 1\n" in fake.calls[0]
    monkeypatch.setattr(feff_mod, "run_feff", _fake_runner(fail_first=5))
    with pytest.raises(EngineError, match=r"site 0 \(Cr\).*ca=0\.05: Could not integrate"):
        FeffEngine(fms_radius=3.0).simulate({"structure": cro4.to_json(), "site": 0})


def test_read_xmu_fermi(tmp_path: Path) -> None:
    rows = "6000.0 -12.0 -0.5 0.1 0.1 0\n6002.0 -10.0 0 0.2 0.2 0\n"
    (tmp_path / "xmu.dat").write_text(XMU + rows)
    _, mu, fermi = _feff_run.read_xmu(tmp_path / "xmu.dat")
    assert fermi == pytest.approx(6002.0)  # omega where e == Mu
    np.testing.assert_allclose(mu, [0.1, 0.2])
    (tmp_path / "bad.dat").write_text("# nothing\n1 2 3 4\n")
    with pytest.raises(EngineError, match=r"bad\.dat"):
        _feff_run.read_xmu(tmp_path / "bad.dat")


@pytest.mark.slow
def test_broken_input_carries_feff_message(monkeypatch: pytest.MonkeyPatch, cro4: Any) -> None:
    pytest.importorskip("feff10")
    eng = FeffEngine(scf_radius=None, fms_radius=3.0)
    good = eng.input_for(cro4, 0, 0.2)
    # an extra potential that no atom uses: FEFF's rdinp stops with its own message
    broken = good.text.replace("  4\n\nATOMS", "  4\n      2  26  Fe    -1  -1  1\n\nATOMS")
    assert broken != good.text
    monkeypatch.setattr(
        eng, "input_for", lambda obj, site, ca: type(good)(broken, good.cards, good.potentials,
                                                           good.n_atoms, good.cluster_radius,
                                                           good.coords)
    )
    with pytest.raises(EngineError, match=r"site 0 \(Cr\).*stage rdinp.*No atoms or overlap"):
        eng.simulate({"structure": cro4.to_json(), "site": 0})


@pytest.mark.slow
def test_real_feff_run_cro4(cro4: Any) -> None:
    pytest.importorskip("feff10")
    eng = FeffEngine(scf_radius=None, fms_radius=3.0)  # 5-atom cluster, no SCF: a few seconds
    sp = eng.simulate({"structure": cro4.to_json(), "site": 0})
    e, mu = sp["energy"].values, sp.values
    assert np.all(np.isfinite(mu)) and e.size == 281 and sp.dims == ("energy",)
    # FEFF's Fermi level lies a few eV above the tabulated Cr K edge (5989 eV)
    e_f = sp.attrs["fermi_energy"] - sp.attrs["edge_energy"]
    assert -5.0 < e_f < 10.0
    # the rising edge (half of the post-edge level) lies inside the grid, above E_F
    post = mu[(e > 30) & (e < 60)].mean()
    pre = mu[e < e_f - 2].mean()
    assert post - pre > 0.5 and pre < 0.1  # positive normalised step (FEFF normalises to ~1)
    half = e[np.argmax(mu > pre + 0.5 * (post - pre))]
    assert e_f < half < e_f + 15.0
    cards = json.loads(sp.attrs["feff_cards"])
    assert cards["cards"]["FMS"] == "3 0" and cards["n_atoms"] == 5
    assert sp.attrs["scf_attempts"] == "no SCF" and json.loads(sp.attrs["stage_seconds"])["FMS"] > 0
    assert eng.provenance()["feff10_rs_version"] != "not installed"
