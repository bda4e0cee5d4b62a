"""`xasml demo` end to end: simulate the Mn grid, embed, read the bundled spectrum."""

import json

import pytest

from xasml.cli import main
from xasml.cli.demo import DEMO_SPECTRUM
from xasml.io import read


@pytest.mark.slow
def test_demo_recovers_charge_of_bundled_spectrum(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path), "--no-html"]) == 0
    report = json.loads((tmp_path / "estimate.json").read_text())
    truth = report["true_parameters"]
    assert truth["ion"] == "Mn2+"
    assert report["n_simulations"] == 78
    # the bundled spectrum is Mn2+: both spaces must say so with high probability
    for space in ("spectrum", "embedding"):
        est = report["result"][space]
        assert str(est["predicted_class"]) == "2"
    # the engine fit after the embedding lands near the true 10Dq and shift
    fit = report["refined_fit"]
    assert abs(fit["tendq"]["value"] - truth["tendq"]) < 0.1
    assert abs(fit["shift"]["value"] - truth["shift"]) < 0.1
    assert (tmp_path / "embedding.png").stat().st_size > 10_000
    assert "10Dq" in capsys.readouterr().out
    # the cached grid is reused: a second run computes nothing new
    assert main(["demo", "--out", str(tmp_path), "--no-html"]) == 0
    assert "0 new" not in capsys.readouterr().err  # no failure line either


def test_bundled_spectrum_reads_with_its_provenance():
    sp = read(DEMO_SPECTRUM)
    assert sp.dims == ("energy",)
    assert sp.attrs["element"] == "Mn"
    assert sp.attrs["true_tendq"] == pytest.approx(1.05)
    assert float(sp.energy[0]) <= 630.7 and float(sp.energy[-1]) >= 659.9
