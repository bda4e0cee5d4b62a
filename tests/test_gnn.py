"""Structure → spectrum network: invariances, overfitting a known map, the ensemble."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("torch_geometric")

from scipy.spatial.transform import Rotation

from xasml.errors import InputError, ParameterError
from xasml.learn import Structure, StructureSpectrumRegressor

ENERGY = np.linspace(0.0, 20.0, 81)  # eV, 0.25 eV steps


def _peak(d: float) -> np.ndarray:
    """Known map: one Gaussian peak whose position falls with the bond length (Natoli-like)."""
    return np.exp(-0.5 * ((ENERGY - (10.0 - 12.0 * (d - 2.0))) / 1.0) ** 2)


def _octahedra(n: int, seed: int) -> tuple[list[Structure], np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    unit = np.array([[1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1]])
    bonds = np.linspace(1.8, 2.2, n)
    structures = []
    for d in bonds:
        xyz = np.vstack([[0, 0, 0], d * unit]) + rng.normal(0, 0.01, (7, 3))
        structures.append(Structure(np.array([29] + [8] * 6), xyz))
    return structures, np.array([_peak(d) for d in bonds]), bonds


@pytest.fixture(scope="module")
def fitted() -> tuple[StructureSpectrumRegressor, list[Structure], np.ndarray]:
    structures, y, _ = _octahedra(12, seed=0)
    model = StructureSpectrumRegressor(
        cutoff=4.0, n_rbf=16, hidden_channels=32, n_interactions=2, n_models=2,
        learning_rate=3e-3, batch_size=12, max_epochs=150, validation_fraction=0.0,
        random_state=0, device="cpu", n_threads=1,
    )
    return model.fit(structures, y), structures, y


def _random_cluster(seed: int) -> Structure:
    rng = np.random.default_rng(seed)
    xyz = rng.uniform(-3.0, 3.0, size=(10, 3))
    return Structure(rng.choice([8, 29, 26, 1], size=10), xyz, absorber=3)


def _assert_moved_and_permuted_alike(model: StructureSpectrumRegressor) -> None:
    """Same prediction for a cluster rotated, translated and with its atoms reordered."""
    s = _random_cluster(5)
    rot = Rotation.random(random_state=3).as_matrix()
    perm = np.random.default_rng(7).permutation(10)
    moved = Structure(s.numbers[perm], s.positions[perm] @ rot.T + 2.0,
                      int(np.flatnonzero(perm == s.absorber)[0]))
    np.testing.assert_allclose(model.predict([moved]), model.predict([s]), atol=1e-5)


def test_rotation_translation_permutation_invariance(fitted) -> None:
    model = fitted[0]
    s = _random_cluster(5)
    rot = Rotation.random(random_state=3).as_matrix()
    moved = Structure(s.numbers, s.positions @ rot.T + np.array([3.1, -7.0, 0.4]), s.absorber)
    perm = np.random.default_rng(7).permutation(10)  # absorber moves too: index follows it
    permuted = Structure(s.numbers[perm], s.positions[perm],
                         int(np.flatnonzero(perm == s.absorber)[0]))
    mirrored = Structure(s.numbers, -s.positions, s.absorber)
    members = model.predict_members([s, moved, permuted, mirrored])  # (model, structure, E)
    ref, moved_p, perm_p, mirr_p = members.transpose(1, 0, 2)
    assert np.abs(ref).max() > 0
    np.testing.assert_allclose(moved_p, ref, atol=1e-5)
    np.testing.assert_allclose(perm_p, ref, atol=1e-5)
    np.testing.assert_allclose(mirr_p, ref, atol=1e-5)
    # a different absorber in the same cluster is a different site
    other = Structure(s.numbers, s.positions, 0)
    assert np.abs(model.predict([other]) - model.predict([s])).max() > 1e-4


def test_bond_aware_model_keeps_the_invariances_and_sees_the_bonds() -> None:
    structures, y, _ = _octahedra(6, seed=2)
    model = StructureSpectrumRegressor(
        cutoff=4.0, n_rbf=16, hidden_channels=16, n_interactions=2, bonds=True,
        max_epochs=3, validation_fraction=0.0, random_state=0, device="cpu", n_threads=1,
    ).fit(structures, y)
    assert model.n_features_in_ == model.graphs(structures)[0].x.shape[1]
    _assert_moved_and_permuted_alike(model)
    # an O–O pair is bonded at 1.5 Å and not at 1.7 Å, past 1.2 x (0.66 + 0.66) = 1.58 Å
    pair = [Structure(np.array([8, 8, 1]), np.array([[0, 0, 0], [d, 0, 0], [0, 3, 0]]))
            for d in (1.5, 1.7)]
    g = model.graphs(pair)
    assert g[0].edge_attr[:, -1].sum() == 2 and g[1].edge_attr[:, -1].sum() == 0
    # graphs built without bonds do not fit this model
    plain = StructureSpectrumRegressor(n_rbf=16).graphs(pair)
    with pytest.raises(InputError, match="bonds=True"):
        model.predict(plain)


def test_predict_nearest_snaps_to_training_spectra(fitted) -> None:
    model, structures, y = fitted
    np.testing.assert_array_equal(model.library_, y)
    assert model.library_labels_ == [str(i) for i in range(12)]  # unlabelled structures
    snap = model.predict_nearest(structures, k=1)
    # the fitted map is close enough that each training structure snaps to its own spectrum
    assert snap.index[:, 0].tolist() == list(range(12))
    np.testing.assert_array_equal(snap.spectra, y[snap.index[:, 0]])
    three = model.predict_nearest(structures[:2], k=3)
    np.testing.assert_allclose(three.spectra, y[three.index].mean(axis=1))
    assert np.all(np.diff(three.rms, axis=1) >= 0)


def test_library_labels_come_from_structures_or_spectra() -> None:
    import xarray as xr

    structures, y, _ = _octahedra(3, seed=4)
    named = [Structure(s.numbers, s.positions, 0, f"oct{i}") for i, s in enumerate(structures)]
    kw = dict(hidden_channels=8, n_rbf=4, max_epochs=1, validation_fraction=0.0,
              random_state=0, device="cpu")
    assert StructureSpectrumRegressor(**kw).fit(named, y).library_labels_ == [
        "oct0", "oct1", "oct2"]
    stack = xr.DataArray(y, dims=("sample", "energy"),
                         coords={"energy": ENERGY, "label": ("sample", ["a", "b", "c"])})
    model = StructureSpectrumRegressor(**kw)
    assert model.fit(model.graphs(structures), stack).library_labels_ == ["a", "b", "c"]


def test_overfits_peak_position_as_function_of_bond_length(fitted) -> None:
    model, structures, y = fitted
    pred = model.predict(structures)
    assert model.energy_.shape == (y.shape[1],)
    mse = np.mean((pred - y) ** 2)
    assert mse < 0.1 * np.var(y)  # far better than predicting the mean spectrum
    shift = np.abs(ENERGY[pred.argmax(axis=1)] - ENERGY[y.argmax(axis=1)])
    assert np.median(shift) <= 1.0
    from xasml.learn import spectral_metrics

    assert spectral_metrics(ENERGY, y, pred).fraction_within >= 0.75
    assert np.all(pred >= 0)


def test_ensemble_mean_and_std(fitted) -> None:
    model, structures, _ = fitted
    members = model.predict_members(structures)
    assert members.shape == (2, len(structures), ENERGY.size)
    mean, std = model.predict(structures, return_std=True)
    np.testing.assert_allclose(mean, members.mean(axis=0))
    np.testing.assert_allclose(std, members.std(axis=0))
    assert np.all(std.mean(axis=1) > 0)


def test_predict_spectra_returns_stacks(fitted) -> None:
    import xarray as xr

    _, structures, y = fitted
    yy = xr.DataArray(y, dims=("sample", "energy"), coords={"energy": ENERGY},
                      attrs={"element": "Cu", "edge": "K"})
    small = StructureSpectrumRegressor(max_epochs=1, hidden_channels=8, n_rbf=4,
                                       n_interactions=1, random_state=0, device="cpu")
    small.fit(structures, yy)
    np.testing.assert_array_equal(small.energy_, ENERGY)
    mean, std = small.predict_spectra(structures[:3], labels=["a", "b", "c"])
    assert mean.dims == ("sample", "energy") and mean.attrs["element"] == "Cu"
    assert list(mean.coords["label"].values) == ["a", "b", "c"]
    assert float(std.max()) == 0.0  # one member: no spread


def test_predict_spectra_from_given_members_matches_a_fresh_run(fitted) -> None:
    model, structures, _ = fitted
    members = model.predict_members(structures)
    mean, std = model.predict_spectra(structures, members=members)
    ref_mean, ref_std = model.predict_spectra(structures)
    np.testing.assert_allclose(mean.values, ref_mean.values)
    np.testing.assert_allclose(std.values, ref_std.values)
    with pytest.raises(InputError, match=r"members must have shape \(2, "):
        model.predict_spectra(structures, members=members[:1])


def test_same_seed_same_fit() -> None:
    structures, y, _ = _octahedra(4, seed=1)
    kw = dict(hidden_channels=8, n_rbf=4, n_interactions=1, max_epochs=3, random_state=3,
              device="cpu")
    a = StructureSpectrumRegressor(**kw).fit(structures, y).predict(structures)
    b = StructureSpectrumRegressor(**kw).fit(structures, y).predict(structures)
    np.testing.assert_array_equal(a, b)


def test_members_in_worker_processes_equal_members_trained_in_turn() -> None:
    """n_jobs only moves the members to other processes: same seeds, same networks."""
    structures, y, _ = _octahedra(8, seed=4)
    kw = dict(hidden_channels=8, n_rbf=4, n_interactions=1, n_models=3, max_epochs=4,
              validation_fraction=0.25, random_state=2, device="cpu", n_threads=1)
    a = StructureSpectrumRegressor(**kw).fit(structures, y)
    b = StructureSpectrumRegressor(n_jobs=2, **kw).fit(structures, y)
    members = b.predict_members(structures)
    np.testing.assert_allclose(members, a.predict_members(structures), rtol=0, atol=1e-6)
    assert b.best_epochs_ == a.best_epochs_
    np.testing.assert_allclose(b.validation_loss_curves_, a.validation_loss_curves_, rtol=1e-6)
    # the members differ from each other: each worker got its own seed
    assert np.abs(members[0] - members[1]).max() > 1e-3


def test_worker_count_rules() -> None:
    """As in scikit-learn (None: 1, -1: every CPU), capped at the members, 1 on a GPU."""
    import torch
    from joblib import cpu_count

    from xasml.learn.gnn_train import resolve_n_jobs

    cpu = torch.device("cpu")
    assert resolve_n_jobs(None, 20, cpu) == 1
    assert resolve_n_jobs(5, 3, cpu) == 3
    assert resolve_n_jobs(-1, 1000, cpu) == cpu_count()
    assert resolve_n_jobs(-1000, 20, cpu) == 1
    assert resolve_n_jobs(4, 20, torch.device("meta")) == 1  # not the CPU: members in turn


def test_learning_rate_halves_on_a_validation_plateau() -> None:
    structures, y, _ = _octahedra(10, seed=2)
    kw = dict(hidden_channels=8, n_rbf=4, n_interactions=1, max_epochs=30, patience=30,
              learning_rate=0.05, validation_fraction=0.3, random_state=0, device="cpu")
    m = StructureSpectrumRegressor(lr_patience=1, lr_factor=0.5, **kw).fit(structures, y)
    (rates,), (val,) = m.learning_rate_curves_, m.validation_loss_curves_
    assert rates[0] == 0.05 and len(rates) == len(val) == 30
    for k in range(1, 30):  # lr_patience=1: every epoch that is no new best halves the rate
        drop = val[k - 1] >= min(val[:k - 1], default=np.inf) * (1 - 1e-4)
        if rates[k - 1] > 1e-7:  # torch ignores changes below eps=1e-8
            assert rates[k] == pytest.approx(rates[k - 1] * (0.5 if drop else 1.0))
    assert rates[-1] < 0.05
    flat = StructureSpectrumRegressor(lr_patience=None, **kw).fit(structures, y)
    assert set(flat.learning_rate_curves_[0]) == {0.05}
    with pytest.raises(ParameterError, match="lr_factor"):
        StructureSpectrumRegressor(lr_factor=1.5).fit(structures, y)


def test_gradient_loss_known_answers() -> None:
    import torch

    from xasml.learn.gnn_net import _spectrum_loss

    target = np.zeros((1, 3))
    pred = np.array([[0.0, 1.0, 0.0]])  # MSE 1/3; differences (1, -1): MSE 1
    assert _spectrum_loss(pred, target, 0.0) == pytest.approx(1 / 3)
    assert _spectrum_loss(pred, target, 2.0) == pytest.approx(1 / 3 + 2.0)
    as_torch = _spectrum_loss(torch.as_tensor(pred), torch.as_tensor(target), 2.0)
    assert float(as_torch) == pytest.approx(1 / 3 + 2.0)
    # a constant offset has no slope error: only the MSE term sees it
    assert _spectrum_loss(target + 0.5, target, 7.0) == pytest.approx(0.25)
    assert _spectrum_loss(np.ones((2, 1)), np.zeros((2, 1)), 3.0) == pytest.approx(1.0)


def test_cdf_loss_is_the_earth_movers_distance() -> None:
    import torch

    from xasml.learn.gnn_net import _spectrum_loss

    grid = np.zeros((1, 20))
    peak = grid.copy()
    peak[0, 5] = 1.0
    # a unit peak moved by k points: the CDFs differ by 1 over k of 20 points
    for k in (1, 3, 8):
        moved = np.roll(peak, k, axis=1)
        mse = _spectrum_loss(moved, peak, 0.0)
        assert mse == pytest.approx(2 / 20)  # plain MSE cannot tell how far it moved
        assert _spectrum_loss(moved, peak, 0.0, 2.0) == pytest.approx(mse + 2.0 * k / 20)
        as_torch = _spectrum_loss(torch.as_tensor(moved), torch.as_tensor(peak), 0.0, 2.0)
        assert float(as_torch) == pytest.approx(mse + 2.0 * k / 20)
    # smearing a peak over two candidate positions lowers the MSE, but not the
    # earth-mover distance: that term gives a network no reason to smear
    smeared = 0.5 * (np.roll(peak, 2, axis=1) + np.roll(peak, -2, axis=1))
    assert _spectrum_loss(smeared, peak, 0.0) < _spectrum_loss(np.roll(peak, 2, axis=1), peak, 0.0)
    committed = np.roll(peak, 2, axis=1)
    for guess in (smeared, committed):
        emd = _spectrum_loss(guess, peak, 0.0, 1.0) - _spectrum_loss(guess, peak, 0.0)
        assert emd == pytest.approx(2 / 20)
    for bad in (-0.5, np.nan, False):
        with pytest.raises(ParameterError, match="cdf_weight"):
            StructureSpectrumRegressor(cdf_weight=bad).fit(*_octahedra(4, seed=1)[:2])


def test_gradient_weight_scores_validation_with_the_same_loss() -> None:
    from sklearn.utils import check_random_state

    from xasml.learn.gnn_net import _spectrum_loss

    structures, y, _ = _octahedra(8, seed=4)
    m = StructureSpectrumRegressor(hidden_channels=8, n_rbf=4, n_interactions=1, max_epochs=6,
                                   patience=10, validation_fraction=0.5, gradient_weight=3.0,
                                   random_state=5, device="cpu").fit(structures, y)
    split_seed = check_random_state(5).randint(np.iinfo(np.int32).max, size=2)[0]
    _, va = m._split(8, np.random.RandomState(split_seed))
    scaled = m.predict([structures[i] for i in va]) / m.y_scale_
    best = _spectrum_loss(scaled, y[va] / m.y_scale_, 3.0)  # the kept weights are the best
    assert min(m.validation_loss_curves_[0]) == pytest.approx(best, rel=1e-4)
    assert best > _spectrum_loss(scaled, y[va] / m.y_scale_, 0.0)
    for bad in (-1.0, np.inf, True, "1"):
        with pytest.raises(ParameterError, match="gradient_weight"):
            StructureSpectrumRegressor(gradient_weight=bad).fit(structures, y)
    with pytest.raises(ParameterError, match="weight_decay"):  # the shared rule: finite
        StructureSpectrumRegressor(weight_decay=np.inf).fit(structures, y)


def test_peak_head_renders_the_gaussians_it_is_given() -> None:
    import torch

    from xasml.learn.gnn_net import _PeakRenderer

    render = _PeakRenderer(torch, n_peaks=2, n_outputs=41, peak_fwhm=3.0, max_factor=2.0)
    # raw outputs for centres 10 and 30 (grid points), heights 1 and 0.5, FWHM 3 and 4.5
    logit = torch.log(torch.tensor([10 / 40, 30 / 40]) / (1 - torch.tensor([10 / 40, 30 / 40])))
    inv_softplus = torch.log(torch.expm1(torch.tensor([1.0, 0.5])))
    width = torch.tensor([-40.0, 0.0])  # sigmoid 0 and 1/2: 3 x (1 + 0) and 3 x (1 + 1/2)
    raw = torch.cat([logit, inv_softplus, width]).double()[None]
    out = render(raw, positive=True).numpy()[0]
    x = np.arange(41)
    s = np.array([3.0, 4.5]) / (2 * np.sqrt(2 * np.log(2)))
    want = np.exp(-0.5 * ((x - 10) / s[0]) ** 2) + 0.5 * np.exp(-0.5 * ((x - 30) / s[1]) ** 2)
    np.testing.assert_allclose(out, want, atol=1e-6)  # float32 logits
    # positive=False: the heights are the raw outputs, signs included
    signed = torch.cat([logit, torch.tensor([-1.0, 0.5]), width]).double()[None]
    want = -np.exp(-0.5 * ((x - 10) / s[0]) ** 2) + 0.5 * np.exp(-0.5 * ((x - 30) / s[1]) ** 2)
    np.testing.assert_allclose(render(signed, positive=False).numpy()[0], want, atol=1e-6)


def test_peak_head_learns_the_known_map_and_keeps_the_invariances() -> None:
    structures, y, _ = _octahedra(12, seed=0)
    model = StructureSpectrumRegressor(
        cutoff=4.0, n_rbf=16, hidden_channels=32, n_interactions=2, head="peaks", n_peaks=4,
        learning_rate=3e-3, batch_size=12, max_epochs=150, validation_fraction=0.0,
        random_state=0, device="cpu", n_threads=1,
    ).fit(structures, y)
    assert model.peak_fwhm_ == 2.0  # a plain array: grid 0, 1, 2, ...; two steps
    pred = model.predict(structures)
    assert np.all(pred >= 0)
    assert np.mean((pred - y) ** 2) < 0.1 * np.var(y)
    from xasml.learn import spectral_metrics

    assert spectral_metrics(ENERGY, y, pred).fraction_within >= 0.75
    _assert_moved_and_permuted_alike(model)


def test_peak_width_comes_from_the_spectra_broadening() -> None:
    import xarray as xr

    structures, y, _ = _octahedra(3, seed=4)
    stack = xr.DataArray(y, dims=("sample", "energy"), coords={"energy": ENERGY},
                         attrs={"fwhm": 0.7})
    kw = dict(hidden_channels=8, n_rbf=4, max_epochs=1, validation_fraction=0.0,
              random_state=0, device="cpu", head="peaks")
    assert StructureSpectrumRegressor(**kw).fit(structures, stack).peak_fwhm_ == 0.7
    model = StructureSpectrumRegressor(peak_fwhm=1.5, **kw).fit(structures, stack)
    assert model.peak_fwhm_ == 1.5


def test_errors() -> None:
    structures, y, _ = _octahedra(4, seed=1)
    with pytest.raises(ParameterError, match="n_models"):
        StructureSpectrumRegressor(n_models=0).fit(structures, y)
    with pytest.raises(ParameterError, match="bonds"):
        StructureSpectrumRegressor(bonds=1).fit(structures, y)
    with pytest.raises(ParameterError,
                       match=r"'n_jobs' must be None or a non-zero int \(-1: every CPU\); found 0"):
        StructureSpectrumRegressor(n_jobs=0).fit(structures, y)
    with pytest.raises(ParameterError, match="'head' must be 'grid' or 'peaks'; found 'sticks'"):
        StructureSpectrumRegressor(head="sticks").fit(structures, y)
    with pytest.raises(ParameterError, match="peak_fwhm"):
        StructureSpectrumRegressor(head="peaks", peak_fwhm=0).fit(structures, y)
    from xasml.learn import build_gnn

    with pytest.raises(ParameterError, match="head must be 'grid' or 'peaks'; found 'sticks'"):
        build_gnn(4, 4, 10, head="sticks")
    with pytest.raises(ParameterError, match="peak_max_factor"):
        StructureSpectrumRegressor(head="peaks", peak_max_factor=0.5).fit(structures, y)
    with pytest.raises(ParameterError, match="n_peaks"):
        StructureSpectrumRegressor(head="peaks", n_peaks=0).fit(structures, y)
    with pytest.raises(InputError, match="shape"):
        StructureSpectrumRegressor(max_epochs=1).fit(structures, y[:3])
    with pytest.raises(InputError, match="negative"):
        StructureSpectrumRegressor(max_epochs=1).fit(structures, y - 1.0)
    with pytest.raises(InputError, match="Structure"):
        StructureSpectrumRegressor(max_epochs=1).fit([np.zeros(3)] * 4, y)


# --- spectral metrics (Carbone et al. 2020) -----------------------------------------------


def _three_peaks(shift: float = 0.0) -> np.ndarray:
    return sum(h * np.exp(-0.5 * ((ENERGY - c - shift) / 0.6) ** 2)
               for c, h in ((4.0, 1.0), (10.0, 0.6), (15.0, 0.8)))


def test_peak_metric_known_answers() -> None:
    from xasml.learn import spectral_metrics

    y = np.stack([_three_peaks(), _three_peaks(0.5)])
    same = spectral_metrics(ENERGY, y, y)
    assert same.n_true_peaks == 6 and same.fraction_within == 1.0 and same.precision == 1.0
    assert same.mse == 0.0 and same.height_mae == 0.0
    assert same.first_peak_within == 1.0
    assert np.allclose(np.sort(same.true_peak_energies), [4, 4.5, 10, 10.5, 15, 15.5], atol=0.06)
    moved = spectral_metrics(ENERGY, y, np.stack([_three_peaks(2.0), _three_peaks(2.5)]))
    assert moved.fraction_within == 0.0 and moved.n_matched == 0
    assert moved.first_peak_within == 0.0 and not moved.true_peak_matched.any()
    # only the edge peak (4 eV) reproduced: recall 1/3 overall, 1 at the edge
    edge_only = _three_peaks()[None] * (ENERGY < 7)
    first = spectral_metrics(ENERGY, y[:1], edge_only)
    assert first.fraction_within == pytest.approx(1 / 3) and first.first_peak_within == 1.0
    n, recall = first.recall_by_energy([0, 7, 20, 30])
    assert n.tolist() == [1, 2, 0]
    assert recall[:2].tolist() == [1.0, 0.0] and np.isnan(recall[2])
    with pytest.raises(ParameterError, match="edges"):
        first.recall_by_energy([5, 1])
    assert "true_peak_energies" not in first.to_dict()
    with pytest.raises(InputError, match="no spectra"):
        spectral_metrics(ENERGY, np.zeros((0, 81)), np.zeros((0, 81)))
    near = spectral_metrics(ENERGY, y, np.stack([_three_peaks(0.75), _three_peaks(1.25)]))
    assert near.fraction_within == 1.0  # within 1 eV counts
    wiggly = spectral_metrics(ENERGY, y[:1], _three_peaks()[None] + 0.3 * (np.arange(81) % 2))
    assert wiggly.fraction_within == 1.0 and wiggly.precision < 0.2  # recall alone is gamed
    scaled = spectral_metrics(ENERGY, y, 0.5 * y)
    assert scaled.fraction_within == 1.0
    assert scaled.height_mae == pytest.approx(np.mean([0.5, 0.3, 0.4]), rel=0.02)
    assert scaled.mse == pytest.approx(np.mean((0.5 * y) ** 2))


def test_recall_at_precision_drops_the_small_spurious_peaks_first() -> None:
    from xasml.learn import recall_at_precision, spectral_metrics

    y = _three_peaks()[None]
    spurious = sum(0.15 * np.exp(-0.5 * ((ENERGY - c) / 0.6) ** 2) for c in (1.0, 7.0, 18.5))
    pred = y + spurious
    m = spectral_metrics(ENERGY, y, pred)
    assert m.fraction_within == 1.0 and m.precision == 0.5  # 3 of 6 predicted peaks are real
    recall, q = recall_at_precision(ENERGY, y, pred, 0.8)
    assert recall == 1.0  # a prediction threshold above the small peaks keeps all three
    assert 0.1 < q < 0.3
    raised = spectral_metrics(ENERGY, y, pred, predicted_prominence=q)
    assert raised.precision == 1.0 and raised.n_true_peaks == m.n_true_peaks
    # the sweep starts at the true peaks' own threshold, so a perfect prediction keeps it
    assert recall_at_precision(ENERGY, y, y, 1.0, prominence=0.1) == (1.0, 0.1)
    # every predicted peak 2 eV off: no threshold reaches the precision
    recall, q = recall_at_precision(ENERGY, y, _three_peaks(2.0)[None], 0.5)
    assert recall == 0.0 and np.isnan(q)
    with pytest.raises(ParameterError, match="precision"):
        recall_at_precision(ENERGY, y, pred, 0.0)


def test_peak_score_interval_resamples_whole_molecules() -> None:
    from xasml.learn import peak_score_interval, spectral_metrics

    # five spectra predicted exactly, five with every peak 2 eV off
    y = np.stack([_three_peaks()] * 10)
    pred = np.stack([_three_peaks()] * 5 + [_three_peaks(2.0)] * 5)
    m = spectral_metrics(ENERGY, y, pred)
    assert m.peak_counts.tolist() == [[3, 3, 3]] * 5 + [[3, 3, 0]] * 5
    ci = peak_score_interval(m, n_resamples=500)
    for name in ("fraction_within", "precision"):
        low, high = ci[name]
        assert 0.0 < low < getattr(m, name) == 0.5 < high < 1.0
    assert peak_score_interval(spectral_metrics(ENERGY, y, y))["precision"] == (1.0, 1.0)
    # each site twice, both copies of one molecule: the same interval as one copy,
    # while treating the copies as independent narrows it
    twice = spectral_metrics(ENERGY, np.repeat(y, 2, axis=0), np.repeat(pred, 2, axis=0))
    grouped = peak_score_interval(twice, np.repeat(np.arange(10), 2), n_resamples=500)
    assert grouped == ci
    loose = peak_score_interval(twice, n_resamples=500)["precision"]
    assert loose[1] - loose[0] < ci["precision"][1] - ci["precision"][0]
    with pytest.raises(InputError, match="groups"):
        peak_score_interval(m, np.arange(3))
    with pytest.raises(ParameterError, match="confidence"):
        peak_score_interval(m, confidence=1.5)


def test_peak_matching_is_one_to_one_and_prominence_filters_ripples() -> None:
    from xasml.learn.spectral_metrics import find_spectrum_peaks, match_peaks

    assert match_peaks([5.0], [4.6, 5.3], tolerance=1.0) == [(0, 1)]
    assert match_peaks([5.0, 5.5], [5.2], tolerance=1.0) == [(0, 0)]  # one partner only
    # greedy nearest-first would pair 6.0-5.9 and leave 5.0 unmatched
    assert match_peaks([5.0, 6.0], [5.9, 6.9], tolerance=1.0) == [(0, 0), (1, 1)]
    ripple = _three_peaks() + 0.01 * np.sin(2 * np.pi * ENERGY / 0.75)
    assert find_spectrum_peaks(ENERGY, ripple)[0].size == 3
    assert find_spectrum_peaks(ENERGY, ripple, prominence=0.0)[0].size > 3


def test_spectral_figures_build() -> None:
    from xasml.learn.spectral_metrics import peak_parity_figure, spectra_figure

    y = np.stack([_three_peaks(), _three_peaks(0.5)])
    fig = spectra_figure(ENERGY, y, y * 0.9, std=0.05 * y)
    assert len([ax for ax in fig.axes if ax.get_visible()]) == 2
    fig2 = peak_parity_figure(ENERGY, y, y)
    assert "100.0 %" in fig2.axes[0].get_title()
