"""Oxide prototype generator: coverage, geometry, reproducibility, campaign form."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pymatgen")

from xasml.errors import ParameterError
from xasml.simulate.structures import (
    campaign_params,
    compounds,
    oxide_prototypes,
    parse_structure,
)


@pytest.fixture(scope="module")
def mn_entries() -> list:
    return oxide_prototypes(elements=["Mn"])


def test_mn_set_covers_cn_and_oxidation_states(mn_entries: list) -> None:
    labels = [lab for e in mn_entries for lab in e.labels]
    assert {lab.cn for lab in labels} == {4, 5, 6}
    assert {lab.oxidation_state for lab in labels} == {2, 3, 4, 6}
    geom = {(lab.cn, lab.geometry) for lab in labels}
    assert geom == {(4, "tetrahedral"), (5, "square_pyramidal"), (6, "octahedral")}
    # every Mn–O bond is chemically sensible (1.5–2.4 Å)
    assert all(1.5 < lab.mean_nn_distance < 2.4 for lab in labels)


def test_table_covers_all_targets() -> None:
    table = compounds()
    protos = {c.prototype for c in table}
    assert {"rocksalt", "wurtzite", "spinel_normal", "spinel_inverse", "corundum", "rutile",
            "perovskite", "ilmenite", "olivine", "layered_rocksalt", "square_pyramidal",
            "oxoanion", "tenorite"} <= protos
    absorbers = {a for c in table for a in c.absorbers}
    assert {"Ti", "V", "Cr", "Mn", "Fe", "Co", "Ni", "Cu", "Zn"} <= absorbers


def test_v5_from_vanadate_and_inverse_spinel() -> None:
    (vo4,) = oxide_prototypes(prototypes=["oxoanion"], elements=["V"])
    assert vo4.labels[0].oxidation_state == 5
    fe = oxide_prototypes(prototypes=["spinel_inverse"], elements=["Fe"])[0]
    assert {(lab.cn, lab.oxidation_state) for lab in fe.labels} == {(4, 3), (6, 3)}


def test_strain_and_distortion_are_reproducible() -> None:
    kw = dict(prototypes=["rocksalt"], elements=["Ni"], strains=(0.0, 0.02), distortion=0.05,
              n_distorted=1, seed=3)
    a, b = oxide_prototypes(**kw), oxide_prototypes(**kw)
    assert [e.structure for e in a] == [e.structure for e in b]
    assert [e.name for e in a] == [
        "rocksalt-NiO-Ni", "rocksalt-NiO-Ni-d1", "rocksalt-NiO-Ni-s+0.020",
        "rocksalt-NiO-Ni-s+0.020-d1",
    ]
    d0, d2 = a[0].labels[0].mean_nn_distance, a[2].labels[0].mean_nn_distance
    assert d2 == pytest.approx(1.02 * d0)
    c = oxide_prototypes(**{**kw, "seed": 4})
    assert c[1].structure != a[1].structure and c[0].structure == a[0].structure
    # a distorted copy keeps the stoichiometry, moves atoms, and is no longer ideal
    s0, s1 = parse_structure(a[0].structure), parse_structure(a[1].structure)
    assert s0.composition == s1.composition
    assert not np.allclose(s0.cart_coords, s1.cart_coords)
    assert a[1].labels[0].geometry_score < 1.0


def test_campaign_params(tmp_path: Path) -> None:
    entries = oxide_prototypes(prototypes=["spinel_normal"], elements=["Co"])
    params = campaign_params(entries, folder=tmp_path)
    assert len(params) == 2 and sum(p["label_weight"] for p in params) == pytest.approx(1.0)
    assert {p["label_cn"] for p in params} == {4, 6}
    s = parse_structure(params[0]["structure"])
    assert s == parse_structure(entries[0].structure)
    json.dumps(params)  # JSON-serialisable for the campaign store


def test_bad_arguments() -> None:
    with pytest.raises(ParameterError, match="unknown prototype"):
        oxide_prototypes(prototypes=["fluorite"])
    with pytest.raises(ParameterError, match="n_distorted"):
        oxide_prototypes(n_distorted=2, distortion=0.0)
