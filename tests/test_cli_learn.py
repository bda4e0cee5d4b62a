"""``xasml train`` / ``xasml predict`` through :func:`xasml.cli.main`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from xasml.cli import main
from xasml.datamodel import stack
from xasml.io import save

E = np.linspace(8970.0, 9030.0, 121)  # eV


def _dataset(n: int, seed: int = 0) -> object:
    rng = np.random.default_rng(seed)
    cn = rng.choice([4, 6], n)
    tendq = rng.uniform(0.5, 1.5, n)
    mu = 1 / (1 + np.exp(-(E[None] - 8980.0 - 2.0 * cn[:, None]) / 1.5))
    mu = mu + tendq[:, None] * np.exp(-0.5 * ((E[None] - 9000.0) / 3) ** 2)
    mu = mu + rng.normal(0.0, 0.01, mu.shape)
    return stack(E, mu, labels={"cn": cn, "tendq": tendq,
                                "material_id": [f"m{i // 2}" for i in range(n)]},
                 element="Cu", edge="K")


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("cli")
    data = save(_dataset(300), tmp / "train.nc")
    out = tmp / "model"
    rc = main(["train", str(data), "--target", "cn", "--target", "tendq", "--model", "knn",
               "--out", str(out), "--groups", "material_id", "--seed", "1"])
    assert rc == 0
    return data, out


def test_train_writes_a_bundle_and_prints_a_summary(bundle, capsys) -> None:
    _, out = bundle
    assert (out / "workflow.json").is_file()
    doc = json.loads((out / "workflow.json").read_text())
    assert [t["name"] for t in doc["targets"]] == ["cn", "tendq"]
    assert doc["report"]["targets"][0]["metrics"]["accuracy"] > 0.9


def test_predict_writes_csv_and_json(bundle, tmp_path: Path) -> None:
    _, out = bundle
    new = save(_dataset(7, seed=5), tmp_path / "new.nc")
    assert main(["predict", str(out), str(new), "--out", str(tmp_path / "p.csv")]) == 0
    table = pd.read_csv(tmp_path / "p.csv")
    assert len(table) == 7
    for col in ("cn", "cn_set", "tendq_lo", "tendq_hi", "ood", "nearest_1_id"):
        assert col in table.columns
    assert main(["predict", str(out), str(new), str(new), "--out",
                 str(tmp_path / "p.json")]) == 0
    records = json.loads((tmp_path / "p.json").read_text())
    assert len(records) == 14 and isinstance(records[0]["cn_set"], list)


def test_predict_prints_a_table(bundle, tmp_path: Path, capsys) -> None:
    _, out = bundle
    new = save(_dataset(3, seed=9), tmp_path / "x.nc")
    assert main(["predict", str(out), str(new)]) == 0
    text = capsys.readouterr().out
    assert "x.nc:0" in text and "ood_score" in text


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["train", "{data}", "--target", "nope", "--out", "{tmp}/b"], "not found"),
        (["train", "{data}", "--target", "cn", "--model", "svm", "--out", "{tmp}/b"],
         "model must be one of"),
        (["train", "{data}", "--target", "cn", "--task", "cn=maybe", "--out", "{tmp}/b"],
         "--task must be"),
        (["predict", "{tmp}", "{data}"], "workflow.json is missing"),
        (["predict", "{model}", "{tmp}/missing.nc"], "no such file"),
        (["predict", "{model}", "{data}", "--out", "{tmp}/p.txt"], ".csv or .json"),
    ],
)
def test_errors_are_one_line(bundle, tmp_path: Path, capsys, args, expected) -> None:
    data, out = bundle
    argv = [a.format(data=data, tmp=tmp_path, model=out) for a in args]
    assert main(argv) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("xasml: error:") and "\n" not in err and expected in err
