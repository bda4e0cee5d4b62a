"""Train / validation / test splits that keep each material in one split.

Spectra of sites in one material (or one molecule) are strongly correlated;
if they straddle splits the test score measures memorisation. Pass the
material id as ``groups`` and every group lands in exactly one split
(:class:`sklearn.model_selection.GroupShuffleSplit`, or
:class:`~sklearn.model_selection.StratifiedGroupKFold` when class labels are
given for stratification).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import InputError, ParameterError, XasmlWarning

__all__ = ["DataSplit", "train_val_test_split"]


@dataclass(frozen=True)
class DataSplit:
    """Integer row indices of the three splits (sorted, disjoint, covering all rows)."""

    train: np.ndarray
    validation: np.ndarray
    test: np.ndarray

    def to_dict(self) -> dict[str, list[int]]:
        """Plain lists, e.g. for a bundle manifest."""
        return {k: getattr(self, k).tolist() for k in ("train", "validation", "test")}

    def sizes(self) -> tuple[int, int, int]:
        """Number of rows in train, validation and test."""
        return len(self.train), len(self.validation), len(self.test)


def _check_ratios(ratios: Any) -> tuple[float, float, float]:
    r = np.asarray(ratios, dtype=float)
    if r.shape != (3,) or np.any(r < 0) or r[0] <= 0 or r.sum() <= 0:
        raise ParameterError(
            f"ratios must be three non-negative numbers (train, validation, test) with "
            f"train > 0; found {ratios!r}"
        )
    r = r / r.sum()
    return float(r[0]), float(r[1]), float(r[2])


def _one_split(
    n: int, test: float, groups: np.ndarray | None, strat: np.ndarray | None,
    rng: np.random.RandomState, rows: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Split ``rows`` into (rest, held-out) with ``test`` the held-out fraction."""
    from sklearn import model_selection as ms

    if test <= 0:
        return rows, rows[:0]
    X = np.zeros(len(rows))
    if strat is not None and groups is not None:
        k = max(2, round(1 / test))
        splitter: Any = ms.StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=rng)
        rest, held = next(splitter.split(X, strat[rows], groups[rows]))
    elif groups is not None:
        splitter = ms.GroupShuffleSplit(n_splits=1, test_size=test, random_state=rng)
        rest, held = next(splitter.split(X, groups=groups[rows]))
    elif strat is not None:
        splitter = ms.StratifiedShuffleSplit(n_splits=1, test_size=test, random_state=rng)
        rest, held = next(splitter.split(X, strat[rows]))
    else:
        splitter = ms.ShuffleSplit(n_splits=1, test_size=test, random_state=rng)
        rest, held = next(splitter.split(X))
    return rows[rest], rows[held]


def train_val_test_split(
    X: Any,
    *,
    groups: Any = None,
    stratify: Any = None,
    ratios: tuple[float, float, float] = (0.8, 0.1, 0.1),
    random_state: int | None = None,
) -> DataSplit:
    """Split rows into train / validation / test, grouped and optionally stratified.

    Parameters
    ----------
    X
        The data (only its length is used) or an int number of samples.
    groups
        Group id per sample (material or molecule id), shape ``(n_samples,)``;
        no group is ever split across train/validation/test.
    stratify
        Class labels per sample to keep class proportions similar in every
        split. With ``groups`` the held-out fractions are realised as one fold
        of a :class:`~sklearn.model_selection.StratifiedGroupKFold`, i.e.
        rounded to ``1/k`` (exact for 8:1:1).
    ratios
        Relative sizes of (train, validation, test), default 8:1:1. With groups
        the ratios hold for the number of groups, so sample counts are
        approximate when groups differ in size.
    random_state
        Seed.

    Returns
    -------
    DataSplit
    """
    n = int(X) if isinstance(X, int | np.integer) else len(X)
    r_train, r_val, r_test = _check_ratios(ratios)
    g = None if groups is None else np.asarray(groups)
    s = None if stratify is None else np.asarray(stratify)
    for name, arr in (("groups", g), ("stratify", s)):
        if arr is not None and arr.shape != (n,):
            raise InputError(f"{name} must have one entry per sample ({n}); found {arr.shape}")
    n_units = n if g is None else np.unique(g).size
    needed = 1 + (r_val > 0) + (r_test > 0)
    if n_units < needed:
        what = "groups" if g is not None else "samples"
        raise InputError(
            f"cannot split {n_units} {what} into {needed} non-empty splits; need at least "
            f"{needed}"
        )
    if s is not None:
        _, counts = np.unique(s, return_counts=True)
        if counts.min() < 3:
            warnings.warn(
                "a class has fewer than 3 samples; splitting without stratification",
                XasmlWarning, stacklevel=2,
            )
            s = None
    rng = np.random.RandomState(random_state)
    rows = np.arange(n)
    rest, test = _one_split(n, r_test, g, s, rng, rows)
    val_frac = r_val / (r_train + r_val)
    train, val = _one_split(len(rest), val_frac, g, s, rng, rest)
    return DataSplit(np.sort(train), np.sort(val), np.sort(test))
