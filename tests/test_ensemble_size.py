"""Sub-ensemble precision read from saved predictions (benchmarks.ensemble_size)."""

from __future__ import annotations

import numpy as np
import pytest
from benchmarks import ensemble_size as es

from xasml.errors import InputError

E = np.linspace(525.0, 550.0, 251)


def _peaks(*centres: float) -> np.ndarray:
    return sum(np.exp(-0.5 * ((E - c) / 0.4) ** 2) for c in centres)


def _saved(tmp_path, members):
    truth = np.stack([_peaks(530.0, 538.0), _peaks(531.0, 540.0), _peaks(533.0)])
    molecule = np.array(["a", "a", "b"])
    path = tmp_path / "pred.npz"
    np.savez(path, energy=E, truth=truth, members=members(truth), molecule=molecule)
    return path, truth, molecule


def test_members_equal_to_the_truth_score_every_peak(tmp_path):
    path, truth, molecule = _saved(tmp_path, lambda t: np.stack([t] * 4))
    d = np.load(path)
    res = es.subensemble_precision(E, truth, d["members"], molecule, [1, 2, 4], draws=3)
    assert {s: (len(r["site"]), len(r["molecule"])) for s, r in res.items()} == {
        1: (3, 3), 2: (3, 3), 4: (1, 1)}
    assert all(v == 1.0 for r in res.values() for vals in r.values() for v in vals)


def test_averaging_removes_a_peak_only_one_member_invents(tmp_path):
    # member 0 adds a small spurious peak at 545 eV (8 % of a true one) to every site
    def members(t):
        m = np.stack([t] * 4)
        m[0] += 0.08 * _peaks(545.0)
        return m

    path, truth, molecule = _saved(tmp_path, members)
    res = es.subensemble_precision(E, truth, np.load(path)["members"], molecule, [1, 4],
                                   draws=40)
    # member 0 alone: 2 of 3, 2 of 3 and 1 of 2 site peaks right (5 of 8)
    one = np.array(res[1]["site"])
    assert set(np.round(one, 3)) == {1.0, 0.625}  # draws with and without member 0
    # in the mean of four it is 2 % of a site's range (4 % of molecule a's): no peak
    assert res[4]["site"] == [1.0] and res[4]["molecule"] == [1.0]


def test_sizes_beyond_the_saved_members_are_an_input_error(tmp_path):
    path, truth, molecule = _saved(tmp_path, lambda t: np.stack([t] * 2))
    with pytest.raises(InputError, match=r"--sizes must lie in 1..2.*\[3\]"):
        es.subensemble_precision(E, truth, np.load(path)["members"], molecule, [1, 3])


def test_main_prints_every_size_and_the_first_members(tmp_path, capsys):
    path, _, _ = _saved(tmp_path, lambda t: np.stack([t] * 3))
    assert es.main([str(path), "--sizes", "1", "3", "5", "--draws", "2"]) == 0
    out = capsys.readouterr().out
    assert "3 members, 3 test sites of 2 molecules" in out
    rows = [line.split() for line in out.splitlines() if line.strip()[:1].isdigit()]
    assert [r[0] for r in rows] == ["1", "3"]  # 5 > the saved members: skipped
    assert "first   1: per molecule 100.0 %, per site 100.0 %" in out


def test_blurring_merges_a_split_peak_into_the_true_one():
    truth = _peaks(535.0)[None]
    # two predicted peaks 0.7 eV either side of one true peak (widths 0.4 eV)
    split = (_peaks(534.3) + _peaks(535.7))[None]
    (s0, p0, f0, _), (s1, p1, f1, _) = es.smoothed_scores(E, truth, split, [0.0, 0.8])
    assert (s0, p0, f0) == (0.0, 0.5, 1.0)  # the second peak near a matched one is a miss
    # blurred to a width of 0.9 eV, the two merge (1.4 eV apart < twice the width)
    assert (s1, p1, f1) == (0.8, 1.0, 1.0)
