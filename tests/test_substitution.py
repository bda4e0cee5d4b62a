"""Element substitution on the oxide prototypes: cells against measured ones, coverage."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pytest

pytest.importorskip("pymatgen")

from xasml.errors import ParameterError
from xasml.simulate.structures import compounds, oxide_prototypes
from xasml.simulate.structures.prototypes import _COMPOUNDS
from xasml.simulate.structures.substitution import (
    LENGTHS,
    ROLES,
    shannon_radius,
    substitute,
    substituted,
)


def _measured_pairs() -> list[tuple[float, str]]:
    """Relative cell-length error of substituting one measured compound into another."""
    out = []
    for a in _COMPOUNDS:
        for b in _COMPOUNDS:
            if a is b or a.prototype != b.prototype:
                continue
            for role in ROLES[a.prototype]:
                differ = [i for i, (x, y) in enumerate(zip(a.args, b.args, strict=True))
                          if isinstance(x, str) and x != y]
                same_ox = role.oxidation(a.args) == role.oxidation(b.args)
                if differ != [role.arg] or not same_ox:
                    continue
                sub = substitute(a, role, b.args[role.arg])
                assert sub is not None, (a.formula, b.formula)
                for i in LENGTHS[a.prototype]:
                    out.append((sub[0][i] / b.args[i] - 1.0, f"{a.formula}->{b.formula}"))
    return out


def test_scaled_cells_match_measured_cells() -> None:
    # Every pair of measured compounds of one prototype that differ by one
    # cation: the Shannon-radius estimate from one reproduces the other.
    pairs = _measured_pairs()
    err = np.abs([e for e, _ in pairs])
    assert len(pairs) > 80
    assert np.median(err) < 0.01
    assert err.max() < 0.05, max(pairs, key=lambda p: abs(p[0]))
    rocksalt = [abs(e) for e, name in pairs if name.endswith("O") and len(name) == 8]
    assert rocksalt and max(rocksalt) < 0.007  # MnO/FeO/CoO/NiO


def test_shannon_lookup_and_fallbacks() -> None:
    assert shannon_radius("Mn", 2, "VI") == pytest.approx(0.83)  # high spin
    assert shannon_radius("Cu", 2, "IVSQ") == pytest.approx(0.57)
    assert shannon_radius("Co", 3, "V") is None
    assert shannon_radius("Zn", 6, "IV") is None  # no Zn6+
    # Sr2Fe2O5 -> Sr2Co2O5: Co3+ has no five-fold radius, so both take six-fold ones
    (sp,) = [c for c in _COMPOUNDS if c.formula == "Sr2Fe2O5"]
    args, scale = substitute(sp, ROLES["square_pyramidal"][0], "Co")
    r = {el: shannon_radius(el, 3, "VI") for el in ("Fe", "Co")}
    assert scale == pytest.approx((r["Co"] + 1.40) / (r["Fe"] + 1.40))
    assert args[1] == "Co" and args[2] == pytest.approx(3.90 * scale, abs=1e-4)


def test_substituted_compounds_are_new_and_labelled_by_geometry() -> None:
    table = compounds(substitute=True)
    measured = compounds()
    new = [c for c in table if c.parent]
    assert len(table) == len(measured) + len(new) and len(new) > 60
    keys = [(c.prototype, c.formula) for c in table]
    assert len(set(keys)) == len(keys)
    assert all(c.absorbers[0] not in c.parent for c in new)
    assert all(0.85 < c.scale < 1.15 for c in new)
    # ZnMn2O4 (hetaerolite) from the spinel table: Mn3+ octahedral
    (e,) = [e for e in oxide_prototypes(elements=["Mn"], prototypes=["spinel_normal"],
                                        substitute=True) if e.name == "spinel_normal-ZnMn2O4-Mn"]
    assert e.settings["parent"] in {"ZnFe2O4", "ZnCr2O4"}
    assert [(lab.cn, lab.geometry, lab.oxidation_state) for lab in e.labels] == [
        (6, "octahedral", 3.0)]
    assert all(1.9 < lab.mean_nn_distance < 2.1 for lab in e.labels)


def test_substitution_gives_several_materials_per_class() -> None:
    # The reason for substitution: a material-grouped split needs each
    # (element, CN) class in more than one material.
    materials: dict[tuple[str, int], set[str]] = defaultdict(set)
    for el in ("Mn", "Fe", "Cu"):
        for e in oxide_prototypes(elements=[el], substitute=True):
            for lab in e.labels:
                materials[(el, lab.cn)].add(e.name)
    for el in ("Mn", "Fe", "Cu"):
        assert len(materials[(el, 4)]) >= 3 and len(materials[(el, 6)]) >= 3, el


def test_bad_element_is_named() -> None:
    with pytest.raises(ParameterError, match="Sr"):
        substituted(_COMPOUNDS, ["Sr"])
