"""Per-element classification table (Torrisi et al. 2020 layout)."""

from __future__ import annotations

import pytest


def test_classification_table_rows_by_element() -> None:
    import pandas as pd

    from xasml.learn.metrics import classification_table

    y_true = [4, 6, 6, 6, 4, 5, 6, 6]
    y_pred = [4, 6, 6, 4, 4, 6, 6, 6]
    by = ["Mn", "Mn", "Mn", "Mn", "Fe", "Fe", "Fe", "Fe"]
    t = classification_table(y_true, y_pred, by, labels=[4, 5, 6])
    assert list(t.index) == ["Fe", "Mn", "mean", "all"]
    assert t.loc["Mn", "accuracy"] == pytest.approx(0.75)
    assert t.loc["Fe", "accuracy"] == pytest.approx(0.75)
    # Mn has no CN 5 anywhere: no F1 for it, and the macro F1 skips it
    assert pd.isna(t.loc["Mn", "F1[5]"])
    f1_4, f1_6 = 2 / 3, 0.8  # Mn: CN4 p=1/2 r=1; CN6 p=1 r=2/3
    assert t.loc["Mn", "F1[4]"] == pytest.approx(f1_4)
    assert t.loc["Mn", "F1[6]"] == pytest.approx(f1_6)
    assert t.loc["Mn", "macro_f1"] == pytest.approx((f1_4 + f1_6) / 2)
    # Fe: CN5 true but never predicted -> F1 0, present
    assert t.loc["Fe", "F1[5]"] == 0.0
    assert t.loc["mean", "accuracy"] == pytest.approx(0.75)
    assert t.loc["all", "n"] == 8 and t.loc["all", "accuracy"] == pytest.approx(6 / 8)


def test_classification_table_needs_equal_lengths() -> None:
    from xasml.errors import InputError
    from xasml.learn.metrics import classification_table

    with pytest.raises(InputError, match="equal length"):
        classification_table([1, 2], [1, 2], ["a"])
