import numpy as np
import pytest
import xarray as xr

import xasml
from xasml.datamodel import as_map, concat, describe, spectrum, stack, validate
from xasml.errors import SpectrumError, XasmlError


def test_spectrum_roundtrip_values_and_attrs():
    e = np.linspace(0, 10, 11)
    sp = spectrum(e, e**2, element="Mn", edge="L3")
    assert sp.dims == ("energy",)
    np.testing.assert_array_equal(sp["energy"].values, e)
    np.testing.assert_array_equal(sp.values, e**2)
    assert sp.attrs == {"element": "Mn", "edge": "L3"}
    assert sp["energy"].attrs["units"] == "eV"


@pytest.mark.parametrize(
    ("energy", "values", "match"),
    [
        ([0, 1, 1, 2], [1, 2, 3, 4], "strictly increasing"),
        ([0, 2, 1, 3], [1, 2, 3, 4], r"energy\[1\] = 2 eV"),
        ([0, 1, 2], [1, np.nan, 3], "non-finite"),
        ([0, np.inf, 2], [1, 2, 3], "not finite"),
        ([0], [1], "at least 2"),
        ([0, 1, 2], [1, 2], "same length"),
        ([[0, 1]], [[1, 2]], "1-D"),
        (["a", "b"], [1, 2], "numeric"),
    ],
)
def test_bad_spectra_raise_named_errors(energy, values, match):
    with pytest.raises(SpectrumError, match=match):
        spectrum(energy, values)


def test_errors_are_one_family():
    assert issubclass(SpectrumError, XasmlError)
    assert issubclass(SpectrumError, ValueError)


def test_stack_labels_and_shape_check():
    e = np.arange(5.0)
    st = stack(e, np.ones((3, 5)), labels={"charge": [2, 3, 4]}, element="Mn")
    assert st.dims == ("sample", "energy")
    np.testing.assert_array_equal(st["charge"].values, [2, 3, 4])
    with pytest.raises(SpectrumError, match="label 'cn'"):
        stack(e, np.ones((3, 5)), labels={"cn": [4, 6]})
    with pytest.raises(SpectrumError, match=r"shape \(n_sample, 5\)"):
        stack(e, np.ones((3, 4)))


def test_concat_keeps_common_attrs_and_turns_varying_into_labels():
    e = np.arange(4.0)
    a = spectrum(e, e, element="Fe", source="a.xdi")
    b = spectrum(e, 2 * e, element="Fe", source="b.xdi")
    st = concat([a, b], labels={"cn": [4, 6]})
    assert st.attrs == {"element": "Fe"}
    assert list(st["source"].values) == ["a.xdi", "b.xdi"]
    np.testing.assert_array_equal(st.sel(sample=1).values, 2 * e)
    with pytest.raises(SpectrumError, match="different energy grid"):
        concat([a, spectrum(e + 0.5, e)])
    with pytest.raises(SpectrumError, match="at least one"):
        concat([])


def test_validate_rejects_wrong_units_and_missing_energy():
    da = xr.DataArray(np.ones(3), dims=("x",))
    with pytest.raises(SpectrumError, match="'energy' dimension"):
        validate(da)
    sp = spectrum([1, 2, 3], [1, 2, 3])
    bad = sp.assign_coords(energy=sp["energy"].assign_attrs(units="keV"))
    with pytest.raises(SpectrumError, match="units must be 'eV'"):
        validate(bad)


def test_as_map_reorders_energy_first_stacks():
    cube = xr.DataArray(
        np.arange(24.0).reshape(4, 3, 2),
        dims=("energy", "y", "x"),
        coords={"energy": [1.0, 2.0, 3.0, 4.0]},
    )
    m = as_map(cube)
    assert m.dims == ("y", "x", "energy")
    assert m.isel(y=2, x=1, energy=3).item() == cube.isel(energy=3, y=2, x=1).item()


def test_describe_reports_range_and_labels():
    st = stack(np.linspace(-1, 15, 161), np.zeros((4, 161)), labels={"charge": [2, 2, 3, 4]})
    s = describe(st)
    assert s.kind == "spectra"
    assert s.n_energy == 161
    assert s.energy_min == -1 and s.energy_max == 15
    assert s.labels["charge"] == "2, 3, 4"
    assert "161 points" in str(s)


def test_public_api_exports():
    assert xasml.spectrum is spectrum
    assert isinstance(xasml.__version__, str)
