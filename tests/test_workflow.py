"""train → bundle → predict: round trips, coverage, one-line errors, and real FEFF Cu data."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from xasml.apply import load_predictor, predict
from xasml.datamodel import stack
from xasml.errors import InputError, ModelError, SpectrumError
from xasml.learn.workflow import infer_task, resample, train

ROOT = Path(__file__).resolve().parents[1]
E = np.linspace(8970.0, 9030.0, 121)  # eV


def labelled_stack(n: int, seed: int = 0, noise: float = 0.02, per_material: int = 3,
                   element: str = "Cu") -> xr.DataArray:
    """Edge position set by a 3-class label ``cn``, white-line height by a value ``tendq``."""
    rng = np.random.default_rng(seed)
    cn = rng.choice([4, 5, 6], n)
    tendq = rng.uniform(0.5, 1.5, n)
    edge = 8980.0 + 2.0 * cn
    mu = 1 / (1 + np.exp(-(E[None] - edge[:, None]) / 1.5))
    mu = mu + tendq[:, None] * np.exp(-0.5 * ((E[None] - edge[:, None] - 6) / 3) ** 2)
    mu = mu + rng.normal(0.0, noise, mu.shape)
    mid = np.array([f"mp-{i // per_material}" for i in range(n)])
    return stack(E, mu, labels={"cn": cn, "tendq": tendq, "material_id": mid},
                 element=element, edge="K")


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object, xr.DataArray]:
    da = labelled_stack(400)
    out = tmp_path_factory.mktemp("wf") / "bundle"
    path, report = train(da, targets=["cn", "tendq"], out=out, model="rf",
                         model_params={"n_estimators": 50}, random_state=0)
    return path, report, da


def test_round_trip_predictions_match_the_bundled_models(trained) -> None:
    path, report, da = trained
    assert sum(report.split_sizes) == 400 and 300 < report.split_sizes[0] < 340
    assert report.groups == "material_id"
    assert report["cn"].task == "classification" and report["tendq"].task == "regression"
    assert report["cn"].metrics.accuracy > 0.95
    assert report["tendq"].metrics.r2[0] > 0.9
    pred = load_predictor(path)
    df = predict(pred, da)
    assert len(df) == da.sizes["sample"]
    proba = df[["cn_p_4", "cn_p_5", "cn_p_6"]].to_numpy()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert set(df["cn"]) <= {4, 5, 6}
    assert (df["tendq_lo"] <= df["tendq"]).all() and (df["tendq"] <= df["tendq_hi"]).all()
    # A training spectrum's nearest training sample is itself, at distance 0.
    first_train = pred.training_ids[0]
    row = df.loc[first_train]
    assert row["nearest_1_id"] == first_train and row["nearest_1_distance"] == pytest.approx(0)
    # The same spectra on a finer grid covering the model's give nearly the same answer.
    fine = np.linspace(8965.0, 9035.0, 701)
    da_fine = xr.DataArray(
        np.stack([np.interp(fine, E, r) for r in da.values[:20]]),
        dims=("sample", "energy"), coords={"energy": fine}, attrs=dict(da.attrs))
    df_fine = predict(pred, da_fine)
    np.testing.assert_allclose(df_fine["tendq"], df["tendq"].iloc[:20], atol=0.1)
    # A bare predict gives the same predictions without trust columns.
    bare = predict(pred, da.isel(sample=slice(0, 5)), trust=False)
    assert "ood" not in bare.columns and list(bare["cn"]) == list(df["cn"].iloc[:5])


def test_bundle_manifest_holds_trust_state(trained) -> None:
    path, report, _ = trained
    doc = json.loads((path / "workflow.json").read_text())
    assert doc["element"] == "Cu" and doc["ood"]["kind"] == "OODDetector"
    assert len(doc["training_ids"]) == report.split_sizes[0]
    sub = json.loads((path / "targets" / "cn" / "manifest.json").read_text())
    assert sub["extras"]["conformal"]["kind"] == "ConformalClassifier"
    assert sub["extras"]["coverage"]["nominal"] == 0.9
    assert set(sub["extras"]["failure_analysis"]["counts"]) == {"ok", "novel", "ambiguous",
                                                                "other"}
    assert not list(path.rglob("*.pkl"))


def test_tampered_training_spectra_are_refused(trained, tmp_path: Path) -> None:
    import shutil

    path, _, _ = trained
    copy = tmp_path / "b"
    shutil.copytree(path, copy)
    data = bytearray((copy / "training.safetensors").read_bytes())
    data[-1] ^= 0xFF
    (copy / "training.safetensors").write_bytes(bytes(data))
    with pytest.raises(ModelError, match="sha256"):
        load_predictor(copy)


def test_ood_flags_another_edge_shape(trained) -> None:
    path, _, da = trained
    rng = np.random.default_rng(3)
    lines = (0.3 * (E > 9000) + 1.5 * np.exp(-0.5 * ((E - 9000) / 1.0) ** 2)
             + 0.005 * rng.standard_normal((10, E.size)))
    other = stack(E, lines, element="Cu", edge="K")
    df = predict(path, other)
    assert df["ood"].all()
    assert predict(path, da.isel(sample=slice(0, 100)))["ood"].mean() < 0.2


def test_coverage_near_nominal_on_a_large_test_split(tmp_path: Path) -> None:
    da = labelled_stack(3000, seed=1, noise=0.05)
    _, report = train(da, targets=["tendq"], out=tmp_path / "b", model="ridge",
                      ratios=(0.4, 0.3, 0.3), confidence=0.8, random_state=1)
    cov = report["tendq"].coverage
    assert cov.n_samples > 800
    assert abs(cov.coverage[0] - 0.8) < 0.04


def test_task_inference_and_override(tmp_path: Path) -> None:
    assert infer_task(np.array([1, 2, 3])) == "classification"
    assert infer_task(np.array(["a", "b"])) == "classification"
    assert infer_task(np.arange(100)) == "regression"
    assert infer_task(np.array([0.5, 1.5])) == "regression"
    da = labelled_stack(200)
    _, report = train(da, targets=["cn"], out=tmp_path / "b", model="knn",
                      task={"cn": "regression"})
    assert report["cn"].task == "regression"


def test_augmented_mlp_and_grid_search(tmp_path: Path) -> None:
    da = labelled_stack(240)
    _, report = train(da, targets=["cn"], out=tmp_path / "b", model="mlp", augment=1,
                      grid={"hidden_layer_sizes": [(32,), (64,)]}, n_splits=3,
                      model_params={"max_epochs": 40, "dropout": 0.0})
    assert report["cn"].cv is not None and len(report["cn"].cv.candidates) == 2
    assert report["cn"].metrics.accuracy > 0.8


# ------------------------------------------------------------------ bad input


def _one_line(exc: pytest.ExceptionInfo[BaseException]) -> str:
    msg = str(exc.value)
    assert "\n" not in msg
    return msg


def test_nan_labels_are_refused(tmp_path: Path) -> None:
    da = labelled_stack(90)
    t = da["tendq"].values.copy()
    t[[3, 7]] = np.nan
    with pytest.raises(InputError, match="2 NaN") as exc:
        train(da.assign_coords(tendq=("sample", t)), targets=["tendq"], out=tmp_path / "b")
    _one_line(exc)


def test_single_class_is_refused(tmp_path: Path) -> None:
    da = labelled_stack(90).assign_coords(cn=("sample", np.full(90, 4)))
    with pytest.raises(InputError, match="single class") as exc:
        train(da, targets=["cn"], out=tmp_path / "b", model="rf")
    _one_line(exc)


def test_too_few_samples_for_folds(tmp_path: Path) -> None:
    da = labelled_stack(60, per_material=10)  # 6 materials, ~4 in training
    with pytest.raises(InputError, match="n_splits=5") as exc:
        train(da, targets=["tendq"], out=tmp_path / "b", model="knn",
              grid="small", ood_quantile=0.5)
    _one_line(exc)


def test_spectrum_not_covering_the_grid(trained) -> None:
    path, _, _ = trained
    e = np.linspace(8990.0, 9100.0, 50)
    short = stack(e, np.ones((2, e.size)), element="Cu", edge="K")
    with pytest.raises(SpectrumError, match=r"8990\.\.9100 eV.*8970\.\.9030 eV") as exc:
        predict(path, short)
    _one_line(exc)


def test_bundle_of_another_element(trained) -> None:
    path, _, _ = trained
    fe = labelled_stack(5, element="Fe")
    with pytest.raises(SpectrumError, match=r"element 'Fe'.*Cu") as exc:
        predict(path, fe)
    _one_line(exc)


def test_resample_refuses_to_extrapolate() -> None:
    sp = stack(E, np.ones((1, E.size)))
    with pytest.raises(SpectrumError, match="cover"):
        resample(sp, np.linspace(8960.0, 9000.0, 10))
    out = resample(sp, np.linspace(8980.0, 9000.0, 10))
    np.testing.assert_allclose(out.values, 1.0)


# ------------------------------------------------------------------ real FEFF Cu data


def _cu_module():
    spec = importlib.util.spec_from_file_location("_bench_cu_cn", ROOT / "benchmarks" / "cu_cn.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


def test_rf_learns_cu_coordination_from_feff_sites(shared_data: Path, tmp_path: Path) -> None:
    cu = _cu_module()
    archive = shared_data / "feff-cu-omnixas.tar.gz"
    if not archive.is_file():
        pytest.skip("feff-cu-omnixas.tar.gz not present")
    root = cu.extract(archive, tmp_path, max_materials=150)
    da = cu.load_sites(root)
    assert da.sizes["sample"] > 200
    cn = da["cn"].values
    majority = np.unique(cn, return_counts=True)[1].max() / cn.size
    _, report = train(da, targets=["cn"], out=tmp_path / "b", model="rf", groups="material_id",
                      model_params={"n_estimators": 100}, ood_quantile=0.9, random_state=0)
    acc = report["cn"].metrics.accuracy
    assert acc > majority + 0.1, (acc, majority)
