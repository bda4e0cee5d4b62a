"""Parameter maps on a phantom stack of known truth: OD, alignment, pixel models, trust."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from scipy import ndimage

from _maps_synth import BACKGROUND, COUNTS, MAX_OD, write_bundle
from _synthetic_mn import training_stack
from xasml.apply import (
    Predictor,
    align_frames,
    apply_bundle,
    load_map_result,
    load_predictor,
    optical_density,
    phantom_stack,
    prepare_stack,
    save_map_result,
    signal_mask,
)
from xasml.datamodel import stack
from xasml.errors import ParameterError, SpectrumError


@pytest.fixture(scope="module")
def reference() -> xr.DataArray:
    return training_stack()


@pytest.fixture(scope="module")
def bundle_dir(reference: xr.DataArray, tmp_path_factory) -> Path:
    return write_bundle(reference, tmp_path_factory.mktemp("b") / "bundle")


@pytest.fixture(scope="module")
def predictor(bundle_dir: Path) -> Predictor:
    return load_predictor(bundle_dir)


@pytest.fixture(scope="module")
def phantom(reference: xr.DataArray):
    return phantom_stack(reference, shape=(64, 64), counts=COUNTS, drift=1.5,
                         background_od=BACKGROUND, max_od=MAX_OD, seed=0)


@pytest.fixture(scope="module")
def prepared(phantom):
    return prepare_stack(phantom.counts, i0_region=phantom.i0_region)


@pytest.fixture(scope="module")
def result(prepared, predictor: Predictor) -> xr.Dataset:
    return apply_bundle(predictor, prepared.od, mask=prepared.mask.mask)


def test_phantom_truth_matches_regions(phantom, reference):
    region = phantom.truth["region"].values
    assert set(np.unique(region)) == {-1, 0, 1, 2, 3}
    # Default domains span the first label: charge 2, 3, 4.
    charges = [np.unique(phantom.truth["charge"].values[region == r]) for r in range(3)]
    assert [c.tolist() for c in charges] == [[2.0], [3.0], [4.0]]
    assert np.isnan(phantom.truth["charge"].values[phantom.foreign]).all()
    assert phantom.counts.dims == ("y", "x", "energy")
    assert np.abs(phantom.drift).max() == pytest.approx(1.5)


def test_optical_density_recovers_true_od_without_drift(reference):
    ph = phantom_stack(reference, shape=(32, 32), counts=1e6, drift=0.0,
                       foreign_region=False, blank_rows=8, seed=3)
    od = optical_density(ph.counts, i0=ph.i0)
    # Poisson noise at 1e6 counts: sigma(OD) ~ 1e-3 * exp(OD / 2) < 0.005.
    np.testing.assert_allclose(od.values, ph.truth["od_true"].values, atol=0.02)
    od_region = optical_density(ph.counts, region=ph.i0_region)
    np.testing.assert_allclose(od_region["i0"].values, ph.i0.values, rtol=5e-3)
    assert od.attrs["signal"] == "od"


def test_alignment_recovers_imposed_drift(prepared, phantom):
    al = prepared.alignment
    expected = -(phantom.drift - phantom.drift[al.reference])
    err = np.hypot(*(al.shifts - expected).T)
    # Sub-pixel registration at ~1-2 % OD noise: RMS within 0.2 px, no frame lost.
    assert np.sqrt(np.mean(err**2)) < 0.2
    assert np.percentile(err, 95) < 0.3
    assert err.max() < 0.6


def test_mask_report_counts_every_pixel(prepared):
    rep = prepared.mask
    assert rep.n_valid + rep.n_nonfinite + rep.n_low_signal + rep.n_excluded == rep.n_pixels
    # Pixels pulled in from outside the frame by the alignment are NaN and counted.
    assert rep.n_nonfinite > 0
    assert not rep.mask.values[:1].any()


def test_maps_recover_known_parameters(result, phantom, prepared):
    region = phantom.truth["region"].values
    used = result["mask"].values
    assert (used == prepared.mask.mask.values).all()
    for r, charge in enumerate((2.0, 3.0, 4.0)):
        inner = ndimage.binary_erosion(region == r, iterations=2) & used
        assert inner.sum() > 200
        # Away from domain edges (mixed pixels) the charge is read right almost always;
        # kNN over a 0.1-step 10Dq grid gives 10Dq within a grid step on average.
        acc = np.mean(result["charge"].values[inner] == charge)
        assert acc >= 0.95, (r, acc)
        mae = np.mean(np.abs(result["tendq"].values[inner] - phantom.truth["tendq"].values[inner]))
        assert mae < 0.15, (r, mae)
    assert np.isnan(result["charge"].values[~used]).all()


def test_map_pixels_equal_predict_on_the_same_spectra(result, prepared, predictor):
    # One code path: the map of a pixel is what Predictor.predict says for its spectrum.
    used = result["mask"].values
    X = prepared.od.values[used][:50]
    df = predictor.predict(stack(prepared.od["energy"].values, X, element="Mn", edge="L2,3"),
                           n_neighbors=0)
    for name in ("charge", "charge_set_size", "charge_p_3", "tendq", "tendq_lo", "tendq_hi",
                 "ood_score"):
        np.testing.assert_allclose(result[name].values[used][:50], df[name].to_numpy(float),
                                   atol=1e-9, err_msg=name)
    np.testing.assert_array_equal(result["ood"].values[used][:50] > 0.5, df["ood"].to_numpy())
    assert result.attrs["charge_classes"] == "2,3,4"


def test_intervals_bracket_predictions_and_cover_truth(result, phantom):
    used = result["mask"].values
    lo, hi = result["tendq_lo"].values[used], result["tendq_hi"].values[used]
    assert (lo <= result["tendq"].values[used]).all() and (hi >= lo).all()
    p = np.stack([result[f"charge_p_{c}"].values[used] for c in (2, 3, 4)])
    np.testing.assert_allclose(p.sum(axis=0), 1.0, atol=1e-9)
    region = phantom.truth["region"].values
    inner = ndimage.binary_erosion((region >= 0) & (region < 3), iterations=2) & used
    # Inside the domains the charge is unambiguous: one class in the 90 % set (empty sets
    # are legitimate split-conformal answers where no class is plausible, e.g. foreign).
    size = result["charge_set_size"].values
    assert np.nanmax(size) <= 3 and np.mean(size[inner] == 1) > 0.9
    t = phantom.truth["tendq"].values[inner]
    lo, hi = result["tendq_lo"].values[inner], result["tendq_hi"].values[inner]
    cover = np.mean((t >= lo) & (t <= hi))
    assert cover >= 0.85


def test_foreign_region_is_flagged_and_in_distribution_is_not(result, phantom):
    used = result["mask"].values
    flags = result["ood"].values
    foreign = phantom.foreign & used
    assert np.mean(flags[foreign]) > 0.9
    region = phantom.truth["region"].values
    inner = ndimage.binary_erosion((region >= 0) & (region < 3), iterations=2) & used
    # Calibrated at quantile 0.99: about 1 % false alarms on pure in-distribution pixels.
    assert np.mean(flags[inner]) < 0.03
    # Domain edges hold mixtures of two spectra; even counting them, few are flagged.
    all_in = (region >= 0) & (region < 3) & used
    assert np.mean(flags[all_in]) < 0.1


def test_dask_chunks_give_the_same_maps(prepared, predictor, result):
    pytest.importorskip("dask")
    lazy = prepared.od.chunk({"y": 16})
    ds = apply_bundle(predictor, lazy, mask=prepared.mask.mask, chunk_size=500)
    assert ds["charge"].chunks is not None
    for name in ("charge", "charge_set_size", "tendq_hi", "mask"):
        np.testing.assert_array_equal(ds[name].values, result[name].values)
    # BLAS sums in a block-size-dependent order: scores agree to round-off
    np.testing.assert_allclose(ds["ood_score"].values, result["ood_score"].values, rtol=1e-12)


@pytest.mark.parametrize("suffix", [".nc", ".zarr"])
def test_result_round_trip(result, tmp_path, suffix):
    path = save_map_result(result, tmp_path / f"maps{suffix}")
    back = load_map_result(path)
    xr.testing.assert_equal(back, result)
    assert back["mask"].dtype == bool


def test_model_grid_not_covered_is_refused(prepared, predictor):
    cut = prepared.od.isel(energy=slice(0, 150))
    with pytest.raises(SpectrumError, match="energy coverage"):
        apply_bundle(predictor, cut)


def test_sparse_energies_are_refused(prepared, predictor):
    sparse = prepared.od.isel(energy=slice(None, None, 25))  # 11 of 251 energies
    e = predictor.energy
    assert sparse["energy"].values[[0, -1]].tolist() == [e[0], e[-1]]
    with pytest.raises(SpectrumError, match="too sparse"):
        apply_bundle(predictor, sparse)


def test_other_element_is_refused(prepared, predictor):
    with pytest.raises(SpectrumError, match="element 'Fe'"):
        apply_bundle(predictor, prepared.od.assign_attrs(element="Fe"))


def test_bare_predictions_without_trust(prepared, predictor, result):
    ds = apply_bundle(predictor, prepared.od, mask=prepared.mask.mask, trust=False)
    assert set(ds.data_vars) == {"charge", "charge_p_2", "charge_p_3", "charge_p_4", "tendq",
                                 "mask"}
    np.testing.assert_array_equal(ds["tendq"].values, result["tendq"].values)


def test_resampled_stack_matches_on_grid_prediction(prepared, predictor, result):
    # A stack on a finer grid covering the model range gives nearly the same maps.
    e = predictor.energy
    fine = np.linspace(e[0], e[-1], 2 * e.size - 1)
    od_fine = prepared.od.interp(energy=fine)
    ds = apply_bundle(predictor, od_fine, mask=prepared.mask.mask, trust=False)
    used = result["mask"].values
    agree = np.mean(ds["charge"].values[used] == result["charge"].values[used])
    assert agree > 0.99


def test_bad_i0_and_region_are_clear_errors(phantom):
    with pytest.raises(SpectrumError, match="one value per stack energy"):
        optical_density(phantom.counts, i0=np.ones(7))
    with pytest.raises(ParameterError, match="exactly one"):
        optical_density(phantom.counts)
    with pytest.raises(ParameterError, match=r"\(y, x\) shape"):
        optical_density(phantom.counts, region=np.ones((3, 3), dtype=bool))
    with pytest.raises(ParameterError, match="counts"):
        prepare_stack(phantom.counts)


def test_zero_and_nan_pixels_are_masked_and_counted(phantom):
    counts = phantom.counts.copy()
    counts[20, 20, 5] = 0.0
    counts[30, 31, :] = np.nan
    od = optical_density(counts, i0=phantom.i0)
    rep = signal_mask(od)
    assert not rep.mask.values[20, 20] and not rep.mask.values[30, 31]
    assert rep.n_nonfinite == 2
    assert "2 non-finite" in str(rep)


def test_alignment_refuses_implausible_shift(phantom):
    od = optical_density(phantom.counts, i0=phantom.i0)
    with pytest.raises(SpectrumError, match="max_shift"):
        align_frames(od, max_shift=0.1)


def test_small_chunks_threads_and_invalid_pixels_give_the_same_maps(prepared, predictor, result):
    # Chunk-by-chunk validity: NaN pixels and masked pixels straddling chunk borders
    # are skipped; every other pixel equals the one-chunk result. The map path never
    # builds the nearest-training-spectrum index (only the OOD score is needed).
    od = prepared.od.copy()
    od[0, 5, 3] = np.nan
    od[1, :, :] = np.nan  # one whole chunk of 64 pixels invalid
    mask = prepared.mask.mask.values.copy()
    mask[2, 10:40] = False
    predictor._index = None
    ds = apply_bundle(predictor, od, mask=mask, chunk_size=64, n_threads=1)
    assert predictor._index is None
    want = mask & np.isfinite(od.values).all(axis=-1)
    np.testing.assert_array_equal(ds["mask"].values, want)
    for name in ("charge", "charge_p_3", "tendq", "tendq_lo", "ood_score"):
        np.testing.assert_allclose(ds[name].values[want], result[name].values[want],
                                   atol=1e-9, err_msg=name)
        assert np.isnan(ds[name].values[~want]).all()


def test_bad_n_threads_is_refused(prepared, predictor):
    with pytest.raises(ParameterError, match="n_threads"):
        apply_bundle(predictor, prepared.od, n_threads=0)
