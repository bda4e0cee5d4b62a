"""Forward-model bundles (StructureSpectrumRegressor) and the train-forward/forward CLI."""

from __future__ import annotations

import hashlib
import importlib.util
import json

import numpy as np
import pandas as pd
import pytest
import xarray as xr

pytest.importorskip("torch_geometric")

from xasml.cli import main
from xasml.errors import FormatError, ModelError, XasmlWarning
from xasml.learn import (
    Structure,
    StructureSpectrumRegressor,
    peak_position_spread,
    relative_std,
    spectral_metrics,
)
from xasml.learn.bundle import load_bundle, save_bundle
from xasml.learn.spectral_metrics import find_spectrum_peaks
from xasml.learn.structure_data import (
    load_structure_dataset,
    load_structure_datasets,
    read_structure_file,
)

H2O = "3\nwater\nO 0 0 0.1173\nH 0 0.7572 -0.4692\nH 0 -0.7572 -0.4692\n"
H2CO = "4\nformaldehyde\nC 0 0 -0.529\nO 0 0 0.676\nH 0 0.935 -1.112\nH 0 -0.935 -1.112\n"
CH3OH = (
    "6\nmethanol\nC -0.0465 0.6649 0\nO -0.0465 -0.7593 0\nH -1.0853 0.9876 0\n"
    "H 0.4379 1.0739 0.8897\nH 0.4379 1.0739 -0.8897\nH 0.8686 -1.0813 0\n"
)


def _toy(n: int = 8) -> tuple[list[Structure], np.ndarray]:
    rng = np.random.default_rng(0)
    structures = [
        Structure(np.array([8, 1, 1]), np.array([[0, 0, 0], [0.96 + 0.02 * k, 0, 0],
                                                [0, 0.96, 0.1 * k]]), 0, f"s{k}")
        for k in range(n)
    ]
    y = np.abs(rng.normal(size=(n, 12))) + 0.1
    return structures, y


@pytest.mark.parametrize("head", ["grid", "peaks"])
def test_bundle_round_trip_predictions_identical(tmp_path, head):
    s, y = _toy()
    model = StructureSpectrumRegressor(n_models=2, max_epochs=3, hidden_channels=16,
                                       n_rbf=8, head=head, n_peaks=4, random_state=0,
                                       device="cpu").fit(s, y)
    path = save_bundle(model, tmp_path / "fwd.bundle", energy=model.energy_)
    manifest = json.loads((path / "manifest.json").read_text())
    assert manifest["model"]["class"] == "StructureSpectrumRegressor"
    assert manifest["model"]["params"]["n_models"] == 2
    assert not (path / "model.skops").exists()  # weights only: nothing to unpickle
    loaded = load_bundle(path).model
    mean, std = model.predict(s, return_std=True)
    mean2, std2 = loaded.predict(s, return_std=True)
    np.testing.assert_array_equal(mean2, mean)
    np.testing.assert_array_equal(std2, std)
    assert std.max() > 0  # two members differ
    np.testing.assert_array_equal(loaded.energy_, model.energy_)
    # the training spectra travel with the weights, so snapping gives the same answer
    np.testing.assert_array_equal(loaded.library_, y)
    assert loaded.library_labels_ == [f"s{k}" for k in range(8)]
    np.testing.assert_array_equal(loaded.predict_nearest(s, k=2).index,
                                  model.predict_nearest(s, k=2).index)


def test_bundle_without_training_spectra_loads_but_cannot_snap(tmp_path):
    from safetensors.numpy import load_file, save_file

    s, y = _toy(4)
    model = StructureSpectrumRegressor(max_epochs=1, hidden_channels=8, n_rbf=4,
                                       random_state=0, device="cpu").fit(s, y)
    path = save_bundle(model, tmp_path / "old.bundle", energy=model.energy_)
    weights = path / "weights.safetensors"
    arrays = load_file(weights)
    del arrays["library"]  # as written before the library was kept
    save_file(arrays, weights)
    manifest = json.loads((path / "manifest.json").read_text())
    manifest["files"]["weights.safetensors"] = hashlib.sha256(weights.read_bytes()).hexdigest()
    (path / "manifest.json").write_text(json.dumps(manifest))
    loaded = load_bundle(path).model
    np.testing.assert_array_equal(loaded.predict(s), model.predict(s))
    with pytest.raises(ModelError, match="retrain"):
        loaded.predict_nearest(s)
    # and it can be saved again as it is
    again = load_bundle(save_bundle(loaded, tmp_path / "again.bundle", energy=loaded.energy_)).model
    np.testing.assert_array_equal(again.predict(s), model.predict(s))


def test_bundle_refuses_a_class_outside_the_allow_list(tmp_path):
    s, y = _toy(4)
    model = StructureSpectrumRegressor(max_epochs=1, hidden_channels=8, n_rbf=4,
                                       random_state=0, device="cpu").fit(s, y)
    path = save_bundle(model, tmp_path / "b", energy=model.energy_)
    m = json.loads((path / "manifest.json").read_text())
    m["model"]["class"] = "Popen"
    (path / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(ModelError, match="unknown network class 'Popen'"):
        load_bundle(path)


def test_train_forward_and_forward_cli(tmp_path, capsys):
    pytest.importorskip("pyscf")
    files = []
    for name, text in (("water", H2O), ("formaldehyde", H2CO), ("methanol", CH3OH)):
        files.append(tmp_path / f"{name}.xyz")
        files[-1].write_text(text)
    data = tmp_path / "mol.zarr"
    argv = ["simulate", "tddft", "--element", "O", "--site", "per-site", "--basis", "6-31g"]
    argv += ["--shift", "14", "--out", str(data), "--workers", "0", "--no-progress"]
    for p in files:
        argv += ["--xyz", str(p)]
    assert main(argv) == 0
    structures, spectra = load_structure_dataset(data)
    assert [s.label for s in structures] == ["water#0", "formaldehyde#1", "methanol#1"]
    assert [int(s.numbers[s.absorber]) for s in structures] == [8, 8, 8]
    assert spectra.dims == ("sample", "energy") and spectra.sizes["sample"] == 3

    bundle = tmp_path / "fwd.bundle"
    assert main(["train-forward", str(data), "--out", str(bundle), "--n-models", "2",
                 "--max-epochs", "3", "--hidden", "16", "--bonds", "--head", "peaks",
                 "--n-peaks", "4", "--jobs", "2"]) == 0
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert manifest["model"]["params"]["bonds"] is True
    assert manifest["model"]["params"]["n_jobs"] == 2  # members trained in 2 processes
    assert manifest["model"]["params"]["head"] == "peaks"
    out = tmp_path / "pred.nc"
    assert main(["forward", str(bundle), str(files[0]), str(files[2]), "--out", str(out),
                 "--nearest", "2"]) == 0
    assert "2 predicted spectra" in capsys.readouterr().out
    pred = xr.open_dataset(out, engine="h5netcdf").load()
    assert pred["intensity"].dims == ("sample", "energy")
    assert list(pred["label"].values) == ["water#0", "methanol#1"]
    np.testing.assert_allclose(pred["energy"].values, spectra["energy"].values)
    # The file holds exactly the bundle's ensemble mean and std, from bond-aware graphs.
    model = load_bundle(bundle).model
    assert model.bonds is True
    assert model.peak_fwhm_ == spectra.attrs["fwhm"] == 0.5  # peaks as wide as the sticks'
    mean, std = model.predict([structures[0], structures[2]], return_std=True)
    np.testing.assert_allclose(pred["intensity"].values, mean, rtol=1e-12)
    np.testing.assert_allclose(pred["intensity_std"].values, std, rtol=1e-12)
    members = model.predict_members([structures[0], structures[2]])
    np.testing.assert_allclose(pred["peak_spread"].values,
                               peak_position_spread(model.energy_, members))
    assert pred["peak_spread"].attrs["units"] == "eV"
    np.testing.assert_allclose(pred["relative_std"].values,
                               std.mean(axis=1) / np.ptp(mean, axis=1), rtol=1e-12)
    # --nearest 2: the mean of the two training spectra named in nearest_label
    assert pred["nearest_label"].dims == ("sample", "neighbour")
    by_label = dict(zip(spectra["label"].values.tolist(), spectra.values, strict=True))
    for row, names in zip(pred["intensity_nearest"].values, pred["nearest_label"].values,
                          strict=True):
        np.testing.assert_allclose(row, np.mean([by_label[n] for n in names], axis=0))
    assert np.all(np.diff(pred["nearest_rms"].values, axis=1) >= 0)
    capsys.readouterr()
    assert main(["forward", str(bundle), str(files[0]), "--out", str(out),
                 "--nearest", "4"]) == 2
    assert "--nearest: the bundle holds 3 training spectra; found 4" in capsys.readouterr().err


def test_forward_cli_takes_smiles_as_their_embedded_geometry(tmp_path, capsys):
    pytest.importorskip("rdkit")
    from xasml.learn.structure_data import molecule_of
    from xasml.simulate import from_smiles

    s, y = _toy(4)
    model = StructureSpectrumRegressor(n_models=2, max_epochs=2, hidden_channels=8, n_rbf=4,
                                       random_state=0, device="cpu").fit(s, y)
    bundle = save_bundle(model, tmp_path / "o.bundle", energy=model.energy_,
                         extras={"element": "O"})
    smi = tmp_path / "screen.smi"
    smi.write_text("OCCO glycol\nCC#CO\n")
    out = tmp_path / "pred.nc"
    assert main(["forward", str(bundle), str(smi), "--smiles", "CCO", "--out", str(out)]) == 0
    assert "4 predicted spectra" in capsys.readouterr().out
    with xr.open_dataset(out, engine="h5netcdf") as f:
        pred = f.load()
    # one sample per O atom; a SMILES with '#' stays one molecule
    labels = list(pred["label"].values)
    assert labels == ["glycol#0", "glycol#3", "CC#CO#3", "CCO#2"]
    assert [molecule_of(lab) for lab in labels] == ["glycol", "glycol", "CC#CO", "CCO"]
    # per structure: the mean of its sites' spectra, and the members' spread of that mean
    assert list(pred["structure"].values) == ["glycol", "CC#CO", "CCO"]
    assert list(pred["site_structure"].values) == ["glycol", "glycol", "CC#CO", "CCO"]
    assert list(pred["structure_n_sites"].values) == [2, 1, 1]
    site, whole = pred["intensity"].values, pred["structure_intensity"].values
    np.testing.assert_allclose(whole, [site[:2].mean(0), site[2], site[3]], rtol=1e-12)
    # a one-site structure has its site's peaks
    assert int(pred["n_peaks"][2]) + int(pred["n_peaks"][3]) > 0
    for k, j in ((1, 2), (2, 3)):
        n = int(pred["n_peaks"][j])
        assert int(pred["structure_n_peaks"][k]) == n
        np.testing.assert_allclose(pred["structure_peak_energy"].values[k, :n],
                                   pred["peak_energy"].values[j, :n])
    np.testing.assert_allclose(pred["structure_intensity_std"].values[1:],
                               pred["intensity_std"].values[2:], rtol=1e-12)
    members = model.predict_members(read_structure_file(smi, element="O")[:2])  # glycol
    np.testing.assert_allclose(pred["structure_intensity_std"].values[0],
                               members.mean(axis=1).std(axis=0), rtol=1e-6, atol=1e-9)
    # its signals are the sites' ones: equal to them for a one-site structure
    np.testing.assert_allclose(pred["structure_relative_std"].values[1:],
                               pred["relative_std"].values[2:], rtol=1e-9)
    np.testing.assert_allclose(pred["structure_peak_spread"].values[1:],
                               pred["peak_spread"].values[2:], rtol=1e-9)
    np.testing.assert_allclose(pred["structure_relative_std"].values[0], relative_std(
        pred["structure_intensity"].values[:1], pred["structure_intensity_std"].values[:1]))
    # a SMILES predicts exactly what an xyz file of its embedding predicts
    xyz = tmp_path / "ethanol.xyz"
    xyz.write_text(from_smiles("CCO").to_xyz())
    assert main(["forward", str(bundle), str(xyz), "--out", str(tmp_path / "x.nc")]) == 0
    with xr.open_dataset(tmp_path / "x.nc", engine="h5netcdf") as f:
        np.testing.assert_allclose(f["intensity"].values[0], pred["intensity"].values[3],
                                   rtol=1e-6, atol=1e-9)
    # two inputs of one name stay two structures: their sites are not averaged together
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "ethanol.xyz").write_text(from_smiles("OCCO").to_xyz())
    assert main(["forward", str(bundle), str(xyz), str(tmp_path / "b" / "ethanol.xyz"),
                 "--out", str(tmp_path / "x.nc")]) == 0
    with xr.open_dataset(tmp_path / "x.nc", engine="h5netcdf") as f:
        assert list(f["structure"].values) == ["ethanol", "ethanol (2)"]
        assert list(f["label"].values) == ["ethanol#2", "ethanol (2)#0", "ethanol (2)#3"]
        assert list(f["structure_n_sites"].values) == [1, 2]
    capsys.readouterr()
    assert main(["forward", str(bundle), "--smiles", "CC", "--out", str(out)]) == 2
    assert "'CC' has no 'O' atom to absorb" in capsys.readouterr().err
    assert main(["forward", str(bundle), "--smiles", "C1C", "--out", str(out)]) == 2
    assert "cannot parse SMILES 'C1C'" in capsys.readouterr().err
    smi.write_text("CC ethane\n")
    assert main(["forward", str(bundle), str(smi), "--out", str(out)]) == 1
    assert "screen.smi: none of its 1 molecules has a 'O' atom" in capsys.readouterr().err
    assert main(["forward", str(bundle), "--out", str(out)]) == 2
    assert "give structure files or --smiles" in capsys.readouterr().err


def test_forward_finds_and_spreads_peaks_at_the_calibrated_prominence(tmp_path):
    from xasml.learn import find_predicted_peaks

    s, y = _toy(6)
    model = StructureSpectrumRegressor(n_models=3, max_epochs=2, hidden_channels=8, n_rbf=4,
                                       random_state=3, device="cpu").fit(s, y)
    calibrated = {"prominence": 0.3, "threshold": None}
    bundle = save_bundle(model, tmp_path / "o.bundle", energy=model.energy_,
                         extras={"element": "O", "peak_height_trust": calibrated})
    xyz = tmp_path / "water.xyz"
    xyz.write_text(H2O)
    assert main(["forward", str(bundle), str(xyz), "--out", str(tmp_path / "p.nc")]) == 0
    with xr.open_dataset(tmp_path / "p.nc", engine="h5netcdf") as f:
        pred = f.load()
    members = model.predict_members(read_structure_file(xyz, element="O"))
    mean = members.mean(axis=0)
    # the peaks listed and the members' spread of them use the calibration's prominence
    np.testing.assert_array_equal(pred["n_peaks"].values, find_predicted_peaks(
        model.energy_, mean, prominence=0.3).counts())
    want = peak_position_spread(model.energy_, members, prominence=0.3)
    assert not np.allclose(want, peak_position_spread(model.energy_, members))  # can fail
    np.testing.assert_allclose(pred["peak_spread"].values, want)
    np.testing.assert_allclose(pred["structure_peak_spread"].values, want)  # one site


def _tddft_campaign(tmp_path, name, molecules, basis="6-31g"):
    argv = ["simulate", "tddft", "--element", "O", "--site", "per-site", "--basis", basis,
            "--shift", "14", "--out", str(tmp_path / name), "--workers", "0", "--no-progress"]
    for mol in molecules:
        path = tmp_path / f"{mol}.xyz"
        path.write_text({"water": H2O, "formaldehyde": H2CO, "methanol": CH3OH}[mol])
        argv += ["--xyz", str(path)]
    assert main(argv) == 0
    return tmp_path / name


def test_train_forward_calibration_holds_out_molecules_and_flags_trust(tmp_path, capsys):
    pytest.importorskip("pyscf")
    data = _tddft_campaign(tmp_path, "mol.zarr", ["water", "formaldehyde", "methanol"])
    bundle = tmp_path / "cal.bundle"
    assert main(["train-forward", str(data), "--out", str(bundle), "--n-models", "2",
                 "--max-epochs", "2", "--hidden", "8", "--calibrate-fraction", "0.3",
                 "--confidence", "0"]) == 0
    # one of three molecules held out; a handful of peaks cannot set a 95 % threshold
    said = capsys.readouterr().out
    assert "no relative_std threshold reached 95% precision on 1 held-out" in said
    assert "no relative height reached 95% precision on 1 held-out" in said
    manifest = json.loads((bundle / "manifest.json").read_text())
    trust = manifest["extras"]["peak_trust"]
    heights = manifest["extras"]["peak_height_trust"]
    assert heights["signal"] == "relative_height" and heights["threshold"] is None
    assert heights["n_calibration"] == 1 and heights["n_calibration_molecules"] == 1
    assert manifest["extras"]["n_train"] == 2 and len(load_bundle(bundle).model.library_) == 2
    assert trust["n_calibration"] == 1 and trust["n_calibration_molecules"] == 1
    assert trust["threshold"] is None and trust["signal"] == "relative_std"
    whole = manifest["extras"]["structure_peak_height_trust"]
    assert whole["threshold"] is None and whole["n_calibration"] == 1  # one held-out molecule
    assert "no relative height reached 95% precision on 1 held-out structures" in said
    held = set(load_bundle(bundle).model.library_labels_) ^ {"water#0", "formaldehyde#1",
                                                               "methanol#1"}
    assert len(held) == 1
    assert heights["confidence"] is None and trust["confidence"] is None  # --confidence 0
    assert heights["bound"] is None
    # the held-out scores are the peak metric of the bundle's predictions of that molecule
    structures, spectra = load_structure_datasets([data])
    rows = [i for i, st in enumerate(structures) if st.label in held]
    pred = load_bundle(bundle).model.predict([structures[i] for i in rows])
    ref = spectral_metrics(spectra["energy"].values, spectra.values[rows], pred)
    sites = manifest["extras"]["held_out_scores"]["sites"]
    assert sites["n"] == 1 and sites["n_true_peaks"] == ref.n_true_peaks
    assert sites["mse"] == pytest.approx(ref.mse, rel=1e-6)
    assert sites["n_predicted_peaks"] == ref.n_pred_peaks
    if ref.n_pred_peaks:
        assert sites["precision"] == pytest.approx(ref.precision)
        assert sum(sites["peak_errors"].values()) == pytest.approx(1.0)
    else:
        assert sites["precision"] is None
    assert manifest["extras"]["held_out_scores"]["structures"]["n"] == 1
    assert "held-out sites (1): " in said and "held-out structures (1): " in said
    # by default a 90 % lower bound of the precision must meet the target; every flag
    # records it, and the report says so
    bounded = tmp_path / "bounded.bundle"
    assert main(["train-forward", str(data), "--out", str(bounded), "--n-models", "2",
                 "--max-epochs", "2", "--hidden", "8", "--calibrate-fraction", "0.3"]) == 0
    assert "no relative height reached 95% precision (its 90% lower bound) on 1" in (
        capsys.readouterr().out)
    extras = json.loads((bounded / "manifest.json").read_text())["extras"]
    assert [extras[k]["confidence"] for k in ("peak_height_trust", "structure_peak_height_trust",
                                              "peak_trust")] == [0.9, 0.9, 0.9]
    # ... and how it was computed (a molecule's peaks correlated), absent in old bundles
    from xasml.learn.peak_trust import BOUND

    assert {extras[k]["bound"] for k in ("peak_height_trust", "peak_trust")} == {BOUND}
    assert main(["train-forward", str(data), "--out", str(tmp_path / "x.bundle"),
                 "--confidence", "1.5"]) == 2
    assert "--confidence: must be in [0, 1); found 1.5" in capsys.readouterr().err
    xyz = tmp_path / "water.xyz"
    out = tmp_path / "pred.nc"
    assert main(["forward", str(bundle), str(xyz), str(tmp_path / "methanol.xyz"),
                 "--out", str(out)]) == 0
    with xr.open_dataset(out, engine="h5netcdf") as f:
        pred = f.load()
    assert pred["peak_trusted"].dtype == bool and not pred["peak_trusted"].any()
    assert "no prediction is trusted" in pred["peak_trusted"].attrs["description"]
    assert pred["peak_energy_trusted"].dtype == bool and not pred["peak_energy_trusted"].any()
    assert "no peak is trusted" in pred["peak_energy_trusted"].attrs["description"]
    assert not pred["structure_peak_energy_trusted"].any()
    # the listed peaks are those of the written mean spectra
    energy = pred["energy"].values
    for j in range(2):
        want, top = find_spectrum_peaks(energy, pred["intensity"].values[j])
        n = int(pred["n_peaks"][j])
        assert n == want.size
        np.testing.assert_allclose(pred["peak_energy"].values[j, :n], want)
        y = pred["intensity"].values[j]
        np.testing.assert_allclose(pred["peak_relative_height"].values[j, :n],
                                   (top - y.min()) / np.ptp(y))
        assert np.isnan(pred["peak_energy"].values[j, n:]).all()
    # a recorded threshold between the two samples' relative_std trusts the lower one only
    rs = pred["relative_std"].values
    trust.update(threshold=float(rs.mean()), precision=0.97, coverage=0.5)
    # and a relative height of 0.5 trusts the peaks at least half as tall as the tallest
    heights.update(threshold=0.5, precision=0.96, coverage=0.6)
    whole.update(threshold=0.5, precision=0.97, coverage=0.6, confidence=0.9, bound=None)
    rel = pred["peak_relative_height"].values
    (bundle / "manifest.json").write_text(json.dumps(manifest))
    table, whole_table = tmp_path / "peaks.csv", tmp_path / "structure_peaks.csv"
    assert main(["forward", str(bundle), str(xyz), str(tmp_path / "methanol.xyz"),
                 "--out", str(out), "--peaks", str(table),
                 "--structure-peaks", str(whole_table)]) == 0
    with xr.open_dataset(out, engine="h5netcdf") as f:
        pred = f.load()
    said = capsys.readouterr().out
    assert (f"{int(pred['n_peaks'].sum())} peaks, "
            f"{int(pred['peak_energy_trusted'].sum())} of them trusted; the structures' "
            f"spectra {int(pred['structure_n_peaks'].sum())} peaks, "
            f"{int(pred['structure_peak_energy_trusted'].sum())} trusted") in said
    # the table lists the same peaks, one row each, with both flags
    rows = pd.read_csv(table)
    assert list(rows.columns) == ["label", "energy_eV", "relative_height", "trusted",
                                  "spectrum_trusted"]
    listed = ~np.isnan(pred["peak_energy"].values)
    assert len(rows) == listed.sum() == pred["n_peaks"].sum()
    np.testing.assert_allclose(rows["energy_eV"], pred["peak_energy"].values[listed])
    np.testing.assert_array_equal(rows["trusted"], pred["peak_energy_trusted"].values[listed])
    sample = np.nonzero(listed)[0]
    np.testing.assert_array_equal(rows["label"], pred["label"].values[sample])
    np.testing.assert_array_equal(rows["spectrum_trusted"], pred["peak_trusted"].values[sample])
    assert not list(tmp_path.glob(".peaks.csv*"))
    # the structures' peaks: those of structure_intensity, flagged by their own threshold
    for j in range(2):
        y = pred["structure_intensity"].values[j]
        want, top = find_spectrum_peaks(energy, y)
        n = int(pred["structure_n_peaks"][j])
        np.testing.assert_allclose(pred["structure_peak_energy"].values[j, :n], want)
        np.testing.assert_allclose(pred["structure_peak_relative_height"].values[j, :n],
                                   (top - y.min()) / np.ptp(y))
    srel = pred["structure_peak_relative_height"].values
    np.testing.assert_array_equal(pred["structure_peak_energy_trusted"].values,
                                  np.nan_to_num(srel, nan=-1.0) >= 0.5)
    flag = pred["structure_peak_energy_trusted"].attrs
    assert "97.0% of such" in flag["description"] and flag["confidence"] == 0.9
    assert "the 90% lower bound of that precision" in flag["description"]
    # a bundle from before the grouped bound says how its bound counted the peaks
    assert "peaks counted as independent" in flag["description"]
    assert "lower bound" not in pred["peak_energy_trusted"].attrs["description"]
    assert "confidence" not in pred["peak_energy_trusted"].attrs
    rows = pd.read_csv(whole_table)
    assert list(rows.columns) == ["structure", "energy_eV", "relative_height", "trusted"]
    listed = ~np.isnan(pred["structure_peak_energy"].values)
    assert len(rows) == listed.sum() == pred["structure_n_peaks"].sum()
    np.testing.assert_allclose(rows["energy_eV"], pred["structure_peak_energy"].values[listed])
    np.testing.assert_array_equal(rows["structure"],
                                  pred["structure"].values[np.nonzero(listed)[0]])
    np.testing.assert_array_equal(rows["trusted"],
                                  pred["structure_peak_energy_trusted"].values[listed])
    assert main(["forward", str(bundle), str(xyz), "--out", str(out),
                 "--peaks", str(tmp_path / "peaks.txt")]) == 2
    assert "must end in .csv; found 'peaks.txt'" in capsys.readouterr().err
    assert main(["forward", str(bundle), str(xyz), "--out", str(out),
                 "--structure-peaks", str(tmp_path / "peaks.tsv")]) == 2
    assert "--structure-peaks" in capsys.readouterr().err
    np.testing.assert_array_equal(pred["peak_trusted"].values, rs <= rs.mean())
    assert "97.0% of these predictions' peaks" in pred["peak_trusted"].attrs["description"]
    np.testing.assert_array_equal(pred["peak_energy_trusted"].values,
                                  np.nan_to_num(rel, nan=-1.0) >= 0.5)
    assert pred["peak_energy_trusted"].values.any()  # the tallest peak of each, at least
    assert "96.0% of such predicted peaks" in pred["peak_energy_trusted"].attrs["description"]
    assert not list(tmp_path.glob(".pred.nc*"))  # the temporary file was renamed into place
    capsys.readouterr()
    # one model has no spread to rank spectra by, but its peaks have heights
    one = tmp_path / "one.bundle"
    assert main(["train-forward", str(data), "--out", str(one), "--n-models", "1",
                 "--max-epochs", "2", "--hidden", "8", "--calibrate-fraction", "0.3"]) == 0
    extras = json.loads((one / "manifest.json").read_text())["extras"]
    assert "peak_height_trust" in extras and "peak_trust" not in extras
    assert main(["forward", str(one), str(xyz), "--out", str(out)]) == 0
    with xr.open_dataset(out, engine="h5netcdf") as f:
        assert "peak_energy_trusted" in f and "peak_trusted" not in f
    assert main(["train-forward", str(data), "--out", str(tmp_path / "x.bundle"),
                 "--calibrate-fraction", "0.8"]) == 2
    assert "--calibrate-fraction" in capsys.readouterr().err


def test_datasets_pool_without_duplicates_and_refuse_other_setups(tmp_path):
    pytest.importorskip("pyscf")
    a = _tddft_campaign(tmp_path, "a.zarr", ["water", "formaldehyde"])
    b = _tddft_campaign(tmp_path, "b.zarr", ["methanol", "water"])
    with pytest.warns(XasmlWarning, match="1 site"):
        structures, spectra = load_structure_datasets([a, b])
    assert [s.label for s in structures] == ["water#0", "formaldehyde#1", "methanol#1"]
    assert list(spectra["label"].values) == [s.label for s in structures]
    assert list(spectra["dataset"].values) == [str(a), str(a), str(b)]
    _, sb = load_structure_dataset(b)
    np.testing.assert_array_equal(spectra.values[2], sb.values[0])  # methanol, unchanged
    c = _tddft_campaign(tmp_path, "c.zarr", ["methanol"], basis="sto-3g")
    with pytest.raises(FormatError, match=r"c\.zarr.*engine_settings"):
        load_structure_datasets([a, c])
    bundle = tmp_path / "pooled.bundle"
    with pytest.warns(XasmlWarning, match="1 site"):
        assert main(["train-forward", str(a), str(b), "--out", str(bundle), "--n-models", "1",
                     "--max-epochs", "1", "--hidden", "8"]) == 0
    manifest = load_bundle(bundle).manifest
    assert manifest.extras["n_train"] == 3 and str(b) in manifest.preprocessing["dataset"]


def test_qm9_campaign_structures_are_the_qm9_geometries(tmp_path):
    pytest.importorskip("pyscf")
    if importlib.util.find_spec("qm9pack") is None:  # its data files are read, not imported
        pytest.skip("qm9pack (QM9 data) is not installed")
    from xasml.simulate.molecules import qm9_molecule

    out = tmp_path / "qm9.zarr"
    # QM9 6 (H2CO) before 3 (H2O): the loader must not rely on index order
    assert main(["simulate", "tddft", "--qm9", "6,3", "--element", "O", "--site", "per-site",
                 "--basis", "6-31g", "--shift", "14", "--out", str(out), "--workers", "0",
                 "--no-progress"]) == 0
    structures, spectra = load_structure_dataset(out)
    by_label = {s.label: s for s in structures}
    assert sorted(by_label) == ["qm9:3#0", "qm9:6#1"]
    for index, atom in ((3, 0), (6, 1)):
        mol = qm9_molecule(index)
        s = by_label[f"qm9:{index}#{atom}"]
        np.testing.assert_array_equal(s.positions, mol.coords)
        assert s.absorber == atom and mol.symbols[atom] == "O"
    assert list(spectra["label"].values) == [s.label for s in structures]


def test_feff_tree_structures_and_common_grid(shared_data):
    tree = shared_data / "formats" / "feff" / "mp-1021507"
    structures, spectra = load_structure_dataset(tree)
    assert [s.label for s in structures] == ["mp-1021507_3", "mp-1021507_4", "mp-1021507_5"]
    assert all(s.numbers[s.absorber] == 29 for s in structures)  # Cu absorbers
    assert spectra.sizes["sample"] == 3 and np.all(np.isfinite(spectra.values))
    # The default grid lies inside every site's FEFF range.
    from xasml.io._feff import read_xmu

    for s, row in zip(structures, spectra.values, strict=True):
        folder = tree / "FEFF-XANES" / f"{int(s.label.rsplit('_', 1)[1]):03d}_Cu"
        mu = read_xmu(folder / "xmu.dat")
        e = spectra["energy"].values
        assert mu["energy"].values[0] <= e[0] and e[-1] <= mu["energy"].values[-1]
        np.testing.assert_allclose(row, np.interp(e, mu["energy"].values, mu.values))


def _assert_rock_salt_shells(s: Structure, a: float) -> None:
    """Absorber-centred rock salt cut at 10 Å: 6 anions at a/2, 12 cations at a/√2."""
    r = np.linalg.norm(s.positions - s.positions[s.absorber], axis=1)
    assert r.max() <= 10.0 + 1e-9 and np.sum(r < 1e-9) == 1
    z = s.numbers[s.absorber]
    assert np.sum(np.isclose(r, a / 2, atol=1e-6) & (s.numbers != z)) == 6
    assert np.sum(np.isclose(r, a / np.sqrt(2), atol=1e-6) & (s.numbers == z)) == 12


def test_read_structure_file_crystals_by_inequivalent_site(tmp_path):
    pytest.importorskip("pymatgen")
    from pymatgen.io.cif import CifWriter
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    from xasml.errors import ParameterError
    from xasml.simulate.structures import PROTOTYPES

    nio = PROTOTYPES["rocksalt"]("Ni", 4.17)
    conventional = SpacegroupAnalyzer(nio).get_conventional_standard_structure()
    cif = tmp_path / "NiO.cif"
    CifWriter(conventional).write_file(cif)
    (s,) = read_structure_file(cif, element="Ni")  # 4 Ni in the cubic cell, one class
    assert s.numbers[s.absorber] == 28 and s.label.startswith("NiO#")
    assert s.weight == 4  # the site stands for all four
    _assert_rock_salt_shells(s, 4.17)
    (o,) = read_structure_file(cif, element="O")
    assert o.numbers[o.absorber] == 8
    mol = tmp_path / "water.json"
    from pymatgen.core import Molecule

    mol.write_text(Molecule(["O", "H", "H"], [[0, 0, 0.1173], [0, 0.7572, -0.4692],
                                               [0, -0.7572, -0.4692]]).to_json())
    (w,) = read_structure_file(mol, element="O")
    assert w.label == "water#0" and len(w.numbers) == 3
    with pytest.raises(ParameterError, match=r"NiO\.cif.*absorbing element"):
        read_structure_file(cif)
    with pytest.raises(FormatError, match="no 'Cu' atom"):
        read_structure_file(cif, element="Cu")


def test_forward_averages_crystal_sites_by_multiplicity(tmp_path, capsys):
    pytest.importorskip("pymatgen")
    from pymatgen.io.cif import CifWriter

    from xasml.simulate.structures import PROTOTYPES

    # Fe3O4 as a normal spinel: 8 tetrahedral and 16 octahedral Fe in the cubic cell
    cif = tmp_path / "Fe3O4.cif"
    CifWriter(PROTOTYPES["spinel_normal"]("Fe", "Fe", 8.39, 0.2549)).write_file(cif)
    sites = read_structure_file(cif, element="Fe")
    assert sorted(s.weight for s in sites) == [8, 16]
    s, y = _toy(4)
    model = StructureSpectrumRegressor(n_models=2, max_epochs=2, hidden_channels=8, n_rbf=4,
                                       random_state=0, device="cpu").fit(s, y)
    bundle = save_bundle(model, tmp_path / "fe.bundle", energy=model.energy_)
    out = tmp_path / "fe.nc"
    assert main(["forward", str(bundle), str(cif), "--element", "Fe", "--out", str(out)]) == 0
    assert "2 predicted spectra of 1 structures" in capsys.readouterr().out
    with xr.open_dataset(out, engine="h5netcdf") as f:
        pred = f.load()
    w = np.array([st.weight for st in sites])
    assert not np.allclose(*pred["intensity"].values)  # tetrahedral and octahedral differ
    expected = (w[:, None] * pred["intensity"].values).sum(0) / w.sum()
    np.testing.assert_allclose(pred["structure_intensity"].values[0], expected, rtol=1e-12)
    assert list(pred["structure"].values) == ["Fe3O4"]
    assert int(pred["structure_n_sites"][0]) == 2 and float(pred["structure_weight"][0]) == 24


def test_feff_campaign_structures_molecule_whole_crystal_as_sphere(tmp_path):
    pytest.importorskip("feff10")
    pytest.importorskip("pymatgen")
    import shutil

    from xasml.simulate.structures import PROTOTYPES

    xyz = tmp_path / "methanol.xyz"
    xyz.write_text(CH3OH)
    mno = tmp_path / "MnO.json"
    mno.write_text(PROTOTYPES["rocksalt"]("Mn", 4.445).to_json())
    tiny = ["--scf-radius", "0", "--fms-radius", "3", "--workers", "0", "--no-progress"]
    mol_out, xtal_out = tmp_path / "mol.zarr", tmp_path / "xtal.zarr"
    assert main(["simulate", "feff", str(xyz), "-e", "O", "--e-min", "-20", "--e-max", "30",
                 "-o", str(mol_out), *tiny]) == 0
    assert main(["simulate", "feff", str(mno), "-e", "Mn", "-o", str(xtal_out), *tiny]) == 0

    structures, spectra = load_structure_dataset(mol_out)
    (s,) = structures
    # the whole molecule, in the file's atom order, centred on its one O
    assert s.label == "methanol-O#1" and s.absorber == 1
    np.testing.assert_array_equal(s.numbers, [6, 8, 1, 1, 1, 1])
    np.testing.assert_allclose(s.positions[0], [-0.0465, 0.6649, 0])
    assert spectra.sizes["sample"] == 1 and np.isfinite(spectra.values).all()
    # a site that is not an atom of the stored structure is named, not indexed past the end
    import zarr

    bad = tmp_path / "bad.zarr"
    shutil.copytree(mol_out, bad)
    zarr.open_group(str(bad), mode="r+")["site"][:] = 6.0
    with pytest.raises(FormatError, match=r"site 6\.0 is not an atom of methanol-O \(6 atoms\)"):
        load_structure_dataset(bad)

    (c,) = load_structure_dataset(xtal_out)[0]  # one inequivalent Mn site
    assert c.numbers[c.absorber] == 25
    _assert_rock_salt_shells(c, 4.445)
    # predicting from the crystal file reads the same cluster as training did
    (f,) = read_structure_file(mno, element="Mn")
    np.testing.assert_array_equal(np.sort(f.numbers), np.sort(c.numbers))

    # a moved dataset finds its structures beside it; without them the file is named
    moved = tmp_path / "elsewhere"
    moved.mkdir()
    shutil.move(mol_out, moved / "mol.zarr")
    shutil.move(tmp_path / "mol.structures", moved / "mol.structures")
    assert load_structure_dataset(moved / "mol.zarr")[0][0].label == "methanol-O#1"
    shutil.rmtree(moved / "mol.structures")
    with pytest.raises(FormatError, match=r"methanol-O\.json"):
        load_structure_dataset(moved / "mol.zarr")


def test_feff_campaign_structure_given_as_json_is_read_like_the_engine_reads_it(tmp_path):
    # campaign_params without a folder stores the structure JSON itself in the parameter
    pytest.importorskip("pymatgen")
    from pymatgen.core import Molecule

    from xasml.learn.structure_data import _from_structure_campaign

    water = Molecule(["O", "H", "H"], [[0, 0, 0.1173], [0, 0.7572, -0.4692],
                                        [0, -0.7572, -0.4692]]).to_json()
    ds = xr.Dataset({"intensity": (("sample", "energy"), np.ones((1, 4)))},
                    coords={"energy": np.arange(4.0), "structure": ("sample", [water]),
                            "site": ("sample", [0.0])})
    (s,), spectra = _from_structure_campaign(tmp_path / "x.zarr", ds)
    np.testing.assert_array_equal(s.numbers, [8, 1, 1])
    assert s.absorber == 0 and s.label == "structure0#0"
    assert list(spectra["label"].values) == ["structure0#0"]


def test_train_forward_defaults_are_the_estimators():
    """The CLI trains what the benchmarks measured: its defaults are the estimator's."""
    import inspect

    from xasml.cli.train_forward import train_forward_cmd

    est = StructureSpectrumRegressor().get_params()
    cli = {name: p.default.default
           for name, p in inspect.signature(train_forward_cmd).parameters.items()}
    pairs = {"max_epochs": "max_epochs", "patience": "patience", "cutoff": "cutoff",
             "cluster_radius": "cluster_radius", "hidden": "hidden_channels",
             "interactions": "n_interactions", "learning_rate": "learning_rate",
             "bonds": "bonds", "head": "head", "n_peaks": "n_peaks"}
    assert {k: cli[k] for k in pairs} == {k: est[v] for k, v in pairs.items()}


def test_forward_cli_benchmark_writes_the_campaign_geometry_as_xyz(tmp_path):
    """The CLI benchmark's xyz files read back as the site's molecule, atom for atom."""
    from benchmarks.forward_cli import _xyz

    from xasml.learn.structure_data import read_structure_file

    s = Structure(np.array([6, 8, 1, 1]), np.array([[0.0, 0.0, 0.0], [0.0, 0.0, 1.21],
                                                   [0.94, 0.0, -0.59], [-0.94, 0.0, -0.59]]),
                  absorber=1, label="qm9:3#1")
    path = tmp_path / "qm9:3.xyz"
    path.write_text(_xyz(s))
    (back,) = read_structure_file(path, element="O")
    assert back.label == s.label and back.absorber == s.absorber
    np.testing.assert_array_equal(back.numbers, s.numbers)
    np.testing.assert_allclose(back.positions, s.positions, atol=1e-8)


def test_height_flag_says_how_its_bound_counted_the_peaks() -> None:
    from xasml.cli.forward import _height_trust
    from xasml.learn.peak_heights import PredictedPeaks
    from xasml.learn.peak_trust import BOUND

    peaks = PredictedPeaks(spectrum=np.array([0, 0]), energy=np.array([1.0, 2.0]),
                           relative_height=np.array([1.0, 0.2]), n_spectra=1, prominence=0.05)
    cal = {"threshold": 0.5, "precision": 0.96, "tolerance": 1.0, "target_precision": 0.95,
           "coverage": 0.5, "n_calibration": 10, "confidence": 0.9}
    text = {}
    for bound in (None, BOUND):
        ds = xr.Dataset()
        ok = _height_trust(ds, peaks, {**cal, "bound": bound}, "flag", ("s", "p"), "n")
        assert ok.tolist() == [True, False]
        text[bound] = ds["flag"].attrs["description"]
    assert "a molecule's peaks counted as correlated" in text[BOUND]
    assert "the peaks counted as independent" in text[None]


def test_benchmark_pools_the_draws_after_3_up_to_the_first_missing(tmp_path, monkeypatch):
    """Draws 0-3 are always listed (a missing one is reported by name); later finished
    draws join the pool while they are contiguous, so a new campaign enlarges the
    benchmark once it is consolidated, and one still running is left out."""
    import benchmarks.qm9_forward as qf

    monkeypatch.setattr(qf, "CACHE", tmp_path)
    assert [p.name for p in qf.default_datasets("O")] == [
        f"qm9-o-rand600-seed{s}.zarr" for s in range(4)]
    for name in ("rand600-seed4", "rand600-seed5", "rand600-seed7", "feff-rand600-seed4"):
        (tmp_path / f"qm9-o-{name}.zarr").mkdir()
        (tmp_path / f"qm9-o-{name}.zarr" / ".zmetadata").touch()
    (tmp_path / "qm9-o-rand600-seed6.zarr" / "parts").mkdir(parents=True)  # still running
    assert [p.name for p in qf.default_datasets("O")][4:] == [
        "qm9-o-rand600-seed4.zarr", "qm9-o-rand600-seed5.zarr"]  # not 7, after 6
    assert len(qf.default_datasets("N")) == 4
    assert [p.name for p in qf.default_datasets("O", "feff")][4:] == [
        "qm9-o-feff-rand600-seed4.zarr"]
