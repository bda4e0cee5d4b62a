"""Real STXM files through the map pipeline; bundles; unsupervised views; figures."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from _maps_synth import BACKGROUND, COUNTS, MAX_OD, write_bundle
from _synthetic_mn import training_stack
from xasml.apply import (
    apply_bundle,
    optical_density,
    phantom_stack,
    prepare_stack,
)
from xasml.apply.map_figures import map_figure
from xasml.apply.predict import load_predictor
from xasml.apply.unsupervised import cluster_map, embed_map, pca_map
from xasml.apply.watch import process_file
from xasml.errors import FormatError, SpectrumError
from xasml.io import read
from xasml.learn import SpectrumEmbedding

NXSTXM = "formats/nxstxm/Sample_Stack_2021-03-16_128.hdf5"
ALS = "formats/als-stxm/stxm-scan.hdr"


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    return load_predictor(write_bundle(training_stack(),
                                       tmp_path_factory.mktemp("b") / "bundle"))


@pytest.fixture(scope="module")
def phantom():
    return phantom_stack(training_stack(), shape=(48, 48), counts=COUNTS, drift=1.0,
                         background_od=BACKGROUND, max_od=MAX_OD, seed=5)


@pytest.mark.parametrize("rel, shape", [(NXSTXM, (50, 50, 4)), (ALS, (120, 120, 2))])
def test_real_stacks_run_and_model_refuses_energy_coverage(shared_data, rel, shape, bundle,
                                                           tmp_path):
    stack = read(shared_data / rel)
    assert stack.dims == ("y", "x", "energy") and stack.shape == shape
    bright = stack.mean("energy") >= stack.mean("energy").quantile(0.95)
    prep = prepare_stack(stack, i0_region=bright)
    assert prep.od.shape == shape and prep.alignment is not None
    assert prep.alignment.shifts.shape == (shape[2], 2)
    # No ground truth for real drift (the ALS pair is ~28 px apart): check that the
    # registration makes every frame's edges line up better with the reference's.
    od = optical_density(stack, region=bright).values
    al = prep.alignment.aligned.values
    ref = prep.alignment.reference

    def edge_corr(a: np.ndarray, b: np.ndarray) -> float:
        ga = ndimage.gaussian_gradient_magnitude(np.nan_to_num(a), 1.0)
        gb = ndimage.gaussian_gradient_magnitude(np.nan_to_num(b), 1.0)
        inner = ndimage.binary_erosion(np.isfinite(a) & np.isfinite(b), iterations=3)
        return float(np.corrcoef(ga[inner], gb[inner])[0, 1])

    for k in range(shape[2]):
        if k != ref:
            assert edge_corr(al[:, :, k], al[:, :, ref]) >= edge_corr(od[:, :, k],
                                                                        od[:, :, ref]) - 0.01
    rep = prep.mask
    assert rep.n_valid + rep.n_nonfinite + rep.n_low_signal + rep.n_excluded == rep.n_pixels
    # C K / Ni L3 images with 2-4 energies cannot feed a Mn L2,3 model: refused, naming why.
    with pytest.raises(SpectrumError, match="energy coverage"):
        apply_bundle(bundle, prep.od, mask=rep.mask)
    with pytest.raises(SpectrumError, match="energy coverage"):
        process_file(shared_data / rel, bundle, tmp_path)


def test_truncated_nxstxm_is_a_format_error(shared_data, tmp_path, bundle):
    data = (shared_data / NXSTXM).read_bytes()
    bad = tmp_path / "cut.hdf5"
    bad.write_bytes(data[: len(data) // 3])
    with pytest.raises(FormatError, match=r"cut\.hdf5"):
        process_file(bad, bundle, tmp_path)


def test_bundle_gives_trust_maps(bundle, phantom):
    prep = prepare_stack(phantom.counts, i0_region=phantom.i0_region)
    ds = apply_bundle(bundle.path, prep.od, mask=prep.mask.mask)  # from the directory
    assert ds.attrs["confidence"] == 0.9 and ds.attrs["normalization"] == "l1"
    assert {"charge", "charge_set_size", "tendq", "tendq_lo", "tendq_hi", "ood",
            "ood_score"} <= set(ds.data_vars)
    used = ds["mask"].values
    assert np.mean(ds["ood"].values[phantom.foreign & used]) > 0.9


def test_unsupervised_views_separate_the_domains(phantom):
    prep = prepare_stack(phantom.counts, i0_region=phantom.i0_region)
    od = prep.od / prep.od.sum("energy")  # thickness out, shape in
    mask = prep.mask.mask.values
    region = phantom.truth["region"].values
    pca = pca_map(od, n_components=3, mask=mask)
    assert pca.maps.dims == ("component", "y", "x") and pca.spectra.shape[0] == 3
    assert np.all(np.diff(pca.explained_variance_ratio) <= 0)
    assert np.isnan(pca.maps.values[:, ~mask]).all()
    cl = cluster_map(od, n_clusters=4, mask=mask)
    lab = cl.labels.values
    assert (lab[~mask] == -1).all() and cl.sizes.sum() == mask.sum()
    # Each interior domain (3 Mn domains + the foreign one) is one cluster almost entirely.
    for r in range(4):
        inner = ndimage.binary_erosion(region == r, iterations=2) & mask
        counts = np.bincount(lab[inner], minlength=4)
        assert counts.max() / counts.sum() > 0.95, (r, counts)
    emb = SpectrumEmbedding(method="pca", n_components=2).fit(training_stack())
    e = embed_map(emb, prep.od, mask=mask)
    assert e.shape == (*mask.shape, 2) and np.isfinite(e.values[mask]).all()


def test_map_figure_has_one_panel_per_parameter(bundle, phantom, tmp_path):
    prep = prepare_stack(phantom.counts, i0_region=phantom.i0_region)
    ds = apply_bundle(bundle, prep.od, mask=prep.mask.mask)
    fig = map_figure(ds, tmp_path / "maps.png")
    titled = [ax.get_title() for ax in fig.axes if ax.get_title()]
    n = int(ds["ood"].sum())
    # One panel per target, the class-set size and the interval width; no per-class maps.
    panels = [f"{v} (grey: OOD, {n} px)" for v in ("charge", "charge_set_size", "tendq")]
    assert titled == [*panels, "ood_score", f"tendq_width (grey: OOD, {n} px)"]
    assert (tmp_path / "maps.png").stat().st_size > 10_000
