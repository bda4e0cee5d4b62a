import numpy as np
import pytest

from xasml.cli import main
from xasml.cli.preprocess import parse_grid, preprocess_spectrum
from xasml.datamodel import spectrum
from xasml.errors import ParameterError
from xasml.io import load, write_xdi


def _kedge(e0: float, n: int = 600) -> tuple[np.ndarray, np.ndarray]:
    e = np.linspace(e0 - 150, e0 + 300, n)
    mu = 0.2 + 1e-4 * (e - e0) + 1.0 / (1 + np.exp(-(e - e0) / 1.0))
    return e, mu


def test_parse_grid_forms():
    g = parse_grid("kiyohara")
    assert g.size == 160 and g[0] == -1.0 and np.isclose(g[-1], 14.9)
    np.testing.assert_allclose(parse_grid("0:1:0.25"), [0, 0.25, 0.5, 0.75])
    for bad in ("0:1", "a:b:c", "1:0:0.1", "0:1:-0.1"):
        with pytest.raises(ParameterError, match="--grid"):
            parse_grid(bad)


def test_preprocess_spectrum_aligns_edge_to_zero_and_normalises():
    e, mu = _kedge(7112.0)
    out = preprocess_spectrum(spectrum(e, mu, element="Fe"), parse_grid("-20:40:0.5"))
    # logistic edge: half the unit step at E0, far above → 1 after normalisation
    assert out.sel(energy=0.0).item() == pytest.approx(0.5, abs=0.03)
    assert out.sel(energy=30.0).item() == pytest.approx(1.0, abs=0.03)


def test_cli_preprocess_writes_dataset(tmp_path):
    paths = []
    for i, e0 in enumerate((7112.0, 7115.5)):
        e, mu = _kedge(e0)
        p = tmp_path / f"s{i}.xdi"
        write_xdi(spectrum(e, mu, element="Fe", edge="K"), p)
        paths.append(str(p))
    out = tmp_path / "set.nc"
    assert main(["preprocess", *paths, "--grid=-10:30:0.5", "--out", str(out)]) == 0
    ds = load(out)
    assert ds.dims == ("sample", "energy") and ds.sizes["sample"] == 2
    # both edges land at 0 eV after alignment, so the two rows agree
    np.testing.assert_allclose(ds.values[0], ds.values[1], atol=0.02)
    assert ds.attrs["element"] == "Fe"


def test_cli_preprocess_error_names_file(tmp_path, capsys):
    e, mu = _kedge(7112.0)
    p = tmp_path / "a.xdi"
    write_xdi(spectrum(e, mu, element="Fe", edge="K"), p)
    assert main(["preprocess", str(p), "--grid=-500:30:0.5", "--out", str(tmp_path / "o.nc")]) == 1
    err = capsys.readouterr().err
    assert str(p) in err and "beyond the data" in err
    assert not (tmp_path / "o.nc").exists()
