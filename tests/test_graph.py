"""Graph construction: exact edges and distances, cutoffs, features, real FEFF clusters."""

from __future__ import annotations

import tarfile
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("torch_geometric")

from xasml.errors import InputError, ParameterError
from xasml.learn.graph import (
    ELEMENTS,
    Structure,
    bond_features,
    build_graph,
    gaussian_rbf,
    n_node_features,
    node_features,
)


def _edges(g) -> dict[tuple[int, int], float]:
    src, tgt = g.edge_index.numpy()
    return {(int(s), int(t)): float(d) for s, t, d in zip(src, tgt, g.edge_length.numpy(),
                                                          strict=True)}


def test_three_atom_cluster_edges_and_distances_exact() -> None:
    # Cu at origin, O at 1.9 Å on x, O at 2.5 Å on y: O–O distance sqrt(1.9² + 2.5²) = 3.14 Å
    s = Structure.from_symbols(["Cu", "O", "O"], [[0, 0, 0], [1.9, 0, 0], [0, 2.5, 0]])
    g = build_graph(s, cutoff=3.0, cluster_radius=None, n_rbf=8)
    assert _edges(g) == pytest.approx({(1, 0): 1.9, (0, 1): 1.9, (2, 0): 2.5, (0, 2): 2.5})
    g2 = build_graph(s, cutoff=3.2, cluster_radius=None, n_rbf=8)
    e2 = _edges(g2)
    assert len(e2) == 6
    assert e2[(1, 2)] == pytest.approx(np.hypot(1.9, 2.5), abs=1e-6)
    assert g.edge_attr.shape == (4, 8)
    assert g.x.shape == (3, n_node_features())


def test_cutoff_respected_and_absorber_first() -> None:
    rng = np.random.default_rng(1)
    xyz = rng.uniform(-4, 4, size=(30, 3))
    s = Structure(np.full(30, 8), xyz, absorber=7)
    g = build_graph(s, cutoff=2.5, cluster_radius=5.0)
    kept = g.atom_index.numpy()
    assert kept[0] == 7
    assert np.all(np.linalg.norm(xyz[kept] - xyz[7], axis=1) <= 5.0)
    assert len(kept) == np.sum(np.linalg.norm(xyz - xyz[7], axis=1) <= 5.0)
    d = np.linalg.norm(xyz[kept][:, None] - xyz[kept][None], axis=-1)
    expected = {(j, i) for i in range(len(kept)) for j in range(len(kept))
                if i != j and d[i, j] < 2.5}
    assert set(_edges(g)) == expected
    assert np.allclose(g.pos.numpy()[0], 0.0)
    assert g.x[0, -1] == 1 and g.x[1:, -1].sum() == 0


def test_rbf_peaks_at_centre_and_vanishes_at_cutoff() -> None:
    import torch

    d = torch.tensor([0.0, 2.5, 5.0, 6.0], dtype=torch.float64)
    phi = gaussian_rbf(d, cutoff=5.0, n_rbf=11).numpy()
    assert np.argmax(phi[1]) == 5  # 2.5 Å is the 6th of 11 centres on [0, 5]
    assert np.all(phi[2:] == 0.0)
    assert phi[0, 0] == pytest.approx(1.0)


def test_node_features_one_hot_period_group() -> None:
    f = node_features(np.array([29, 8, 92]), absorber=0)
    n = len(ELEMENTS)
    assert f[:, : n + 1].sum(axis=1).tolist() == [1, 1, 1]
    assert f[0, ELEMENTS.index(29)] == 1 and f[2, n] == 1  # U goes to "other"
    assert f[0, n + 1] * 7 == pytest.approx(4) and f[0, n + 2] * 18 == pytest.approx(11)
    assert f[1, n + 1] * 7 == pytest.approx(2) and f[1, n + 2] * 18 == pytest.approx(16)
    assert f[:, -1].tolist() == [1, 0, 0]


# methanol (C, O, then H on C x3, H on O), geometry of tests/test_forward_bundle.py
METHANOL = Structure.from_symbols(
    ["C", "O", "H", "H", "H", "H"],
    [[-0.0465, 0.6649, 0], [-0.0465, -0.7593, 0], [-1.0853, 0.9876, 0],
     [0.4379, 1.0739, 0.8897], [0.4379, 1.0739, -0.8897], [0.8686, -1.0813, 0]],
    absorber=1,
)


def test_bond_features_of_methanol_are_its_lewis_structure() -> None:
    adj, counts = bond_features(METHANOL.numbers, METHANOL.positions)
    # bonds: C-O, C-H x3, O-H; the H...H and O...H(C) contacts (1.7-2.1 Å) are not bonds
    expected = {(0, 1), (0, 2), (0, 3), (0, 4), (1, 5)}
    assert {(int(i), int(j)) for i, j in zip(*np.nonzero(np.triu(adj)), strict=True)} == expected
    assert np.array_equal(adj, adj.T)
    # (bonded atoms, bonded H) / 4: C 4 and 3, O 2 and 1, each H 1 and 0
    np.testing.assert_allclose(counts * 4, [[4, 3], [2, 1], [1, 0], [1, 0], [1, 0], [1, 0]])


def test_bonds_add_a_flag_to_exactly_the_bonded_edges() -> None:
    g0 = build_graph(METHANOL, cutoff=4.0, cluster_radius=None, n_rbf=8)
    g = build_graph(METHANOL, cutoff=4.0, cluster_radius=None, n_rbf=8, bonds=True)
    assert g.x.shape == (6, n_node_features(bonds=True)) == (6, n_node_features() + 2)
    assert g.edge_attr.shape == (g0.edge_attr.shape[0], 9)
    # the distance-only features are unchanged, the extra columns come last
    assert np.array_equal(g.x[:, : n_node_features()].numpy(), g0.x.numpy())
    assert np.array_equal(g.edge_attr[:, :8].numpy(), g0.edge_attr.numpy())
    order = g.atom_index.numpy()  # node k is atom order[k]; the absorber O is node 0
    np.testing.assert_allclose(g.x[:, -2:].numpy() * 4,
                               [[2, 1], [4, 3], [1, 0], [1, 0], [1, 0], [1, 0]])
    assert order.tolist() == [1, 0, 2, 3, 4, 5]
    src, tgt = g.edge_index.numpy()
    bonded = {(0, 1), (0, 2), (0, 3), (0, 4), (1, 5)}
    for s_, t_, flag in zip(order[src], order[tgt], g.edge_attr[:, -1].numpy(), strict=True):
        assert flag == float((min(s_, t_), max(s_, t_)) in bonded)


def test_bonds_are_found_before_the_cluster_is_cut() -> None:
    # the C of methanol's O is 1.42 Å away; with a 1.5 Å cluster only O, C and the
    # hydroxyl H remain, but C still counts its three H (outside the cluster) as bonded
    g = build_graph(METHANOL, cutoff=4.0, cluster_radius=1.5, n_rbf=8, bonds=True)
    assert g.atom_index.numpy().tolist() == [1, 0, 5]
    np.testing.assert_allclose(g.x[:, -2:].numpy() * 4, [[2, 1], [4, 3], [1, 0]])


def test_bad_inputs_raise() -> None:
    with pytest.raises(InputError, match="positions"):
        Structure(np.array([29, 8]), np.zeros((3, 3)))
    with pytest.raises(InputError, match="absorber"):
        Structure(np.array([29, 8]), np.zeros((2, 3)), absorber=2)
    with pytest.raises(InputError, match="Xx"):
        Structure.from_symbols(["Cu", "Xx"], np.zeros((2, 3)))
    with pytest.raises(ParameterError, match="cutoff"):
        build_graph(Structure(np.array([29]), np.zeros((1, 3))), cutoff=0.0)
    with pytest.raises(ParameterError, match="bonds"):
        build_graph(Structure(np.array([29]), np.zeros((1, 3))), bonds="yes")


def test_real_feff_clusters_neighbour_counts(shared_data: Path, tmp_path: Path) -> None:
    from xasml.io import read_feff_inp

    tarball = shared_data / "feff-cu-omnixas.tar.gz"
    if not tarball.is_file():
        pytest.skip("feff-cu-omnixas.tar.gz is not present")
    found: list[Path] = []
    with tarfile.open(tarball, "r|gz") as tar:  # stream: the first sites come early
        for member in tar:
            if member.name.endswith("/feff.inp"):
                tar.extract(member, tmp_path, filter="data")
                found.append(tmp_path / member.name)
                if len(found) == 3:
                    break
    assert len(found) == 3
    for path in found:
        inp = read_feff_inp(path)
        s = Structure.from_feff_input(inp)
        assert s.numbers[s.absorber] == 29
        g = build_graph(s, cutoff=4.0, cluster_radius=6.0)
        expected_nodes = int(np.sum(inp.distance <= 6.0))
        assert g.num_nodes == expected_nodes
        into_absorber = int(np.sum(g.edge_index[1].numpy() == 0))
        assert into_absorber == int(np.sum((inp.distance > 0) & (inp.distance < 4.0)))
        assert np.allclose(np.sort(g.edge_length.numpy()[g.edge_index[1].numpy() == 0]),
                           np.sort(inp.distance[(inp.distance > 0) & (inp.distance < 4.0)]),
                           atol=1e-5)
