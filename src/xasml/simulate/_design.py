"""Designs: ordered, de-duplicated lists of parameter sets with stable keys.

A :class:`Design` is what a campaign maps an engine over. Each parameter set
is canonicalised (numbers as Python floats, rounded to 12 significant digits,
strings kept) and keyed by the SHA-256 of its canonical JSON, so a rerun of
the same or an overlapping design recognises what already exists.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import ParameterError

__all__ = ["Design", "grid", "latin_hypercube", "param_key", "parse_axis"]

Value = float | str
Params = dict[str, Value]

_RANGE = re.compile(r"^\s*([^:]+):([^:]+):([^:]+)\s*$")
# Range values are rounded to this many decimals so that 0:2.5:0.1 gives 0.3,
# not 0.30000000000000004 (and the same key on every machine).
_RANGE_DECIMALS = 10


def _canonical_value(name: str, value: Any) -> Value:
    if isinstance(value, (bool, np.bool_)):
        raise ParameterError(f"parameter {name!r}: booleans are not allowed; found {value!r}")
    if isinstance(value, (int, float, np.integer, np.floating)):
        v = float(value)
        if not math.isfinite(v):
            raise ParameterError(f"parameter {name!r} must be finite; found {value!r}")
        # 12 significant digits: equal for 1, 1.0 and 0.1+0.2-ish round-off; 0.0 == -0.0.
        return float(f"{v:.12g}") + 0.0
    if isinstance(value, (str, np.str_)):
        return str(value)
    raise ParameterError(
        f"parameter {name!r} must be a number or a string; found {type(value).__name__} {value!r}"
    )


def canonical(params: Mapping[str, Any]) -> Params:
    """Return ``params`` with sorted names and canonical values (see module docstring)."""
    if not params:
        raise ParameterError("a parameter set must have at least one parameter; found none")
    out: Params = {}
    for name in sorted(params):
        if not isinstance(name, str) or not name.isidentifier():
            raise ParameterError(f"parameter names must be identifiers; found {name!r}")
        out[name] = _canonical_value(name, params[name])
    return out


def param_key(params: Mapping[str, Any]) -> str:
    """Stable key of one parameter set: first 20 hex digits of SHA-256 of canonical JSON.

    ``{"tendq": 1}`` and ``{"tendq": 1.0}`` have the same key; the order of
    names does not matter.
    """
    text = json.dumps(canonical(params), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:20]


@dataclass(frozen=True)
class Design:
    """An ordered, duplicate-free list of parameter sets.

    Parameters
    ----------
    params
        Parameter sets (mappings of name to number or string). Duplicates
        (same key) are dropped, first occurrence kept.
    description
        JSON-serialisable description (kind, axes or bounds, seed) stored in
        the dataset's provenance.
    """

    params: tuple[Params, ...]
    description: dict[str, Any] = field(default_factory=dict)
    keys: tuple[str, ...] = field(init=False, repr=False)

    def __init__(
        self, params: Sequence[Mapping[str, Any]], description: Mapping[str, Any] | None = None
    ) -> None:
        seen: dict[str, Params] = {}
        for p in params:
            c = canonical(p)
            seen.setdefault(param_key(c), c)
        object.__setattr__(self, "params", tuple(seen.values()))
        object.__setattr__(self, "keys", tuple(seen))
        desc = dict(description) if description is not None else {"kind": "list"}
        object.__setattr__(self, "description", desc)

    def __len__(self) -> int:
        return len(self.params)

    def __iter__(self) -> Iterator[Params]:
        return iter(self.params)

    def __add__(self, other: Design) -> Design:
        """Union of two designs, ``self`` first."""
        return Design(
            self.params + other.params,
            {"kind": "union", "parts": [self.description, other.description]},
        )

    @property
    def names(self) -> list[str]:
        """Sorted union of the parameter names."""
        return sorted({n for p in self.params for n in p})

    @property
    def seed(self) -> int | None:
        """Random seed of the design, when it has one."""
        seed = self.description.get("seed")
        return None if seed is None else int(seed)


def _number(text: str, name: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ParameterError(
            f"axis {name!r}: expected a number in the range 'start:stop:step'; found {text!r}"
        ) from None


def parse_axis(name: str, spec: Any) -> list[Value]:
    """Turn one axis specification into its list of values.

    Parameters
    ----------
    name
        Parameter name (for error messages).
    spec
        ``"start:stop:step"`` (inclusive of ``stop`` within rounding, e.g.
        ``"0:2.5:0.1"`` gives 26 values), a comma-separated string
        (``"0.5,1.0"`` or ``"Mn2+,Mn3+"``; numeric items become floats), a
        single number or string, or a sequence of numbers and strings.

    Raises
    ------
    ParameterError
        Malformed range (non-numeric part, step ≤ 0, stop < start) or an empty axis.
    """
    if isinstance(spec, str):
        m = _RANGE.match(spec)
        if m:
            start, stop, step = (_number(g, name) for g in m.groups())
            if not step > 0:
                raise ParameterError(f"axis {name!r}: step must be > 0; found {spec!r}")
            if stop < start:
                raise ParameterError(f"axis {name!r}: stop must be >= start; found {spec!r}")
            n = math.floor((stop - start) / step + 1e-9) + 1
            values = np.round(start + step * np.arange(n), _RANGE_DECIMALS)
            return [float(v) for v in values]
        if ":" in spec:
            raise ParameterError(f"axis {name!r}: expected 'start:stop:step'; found {spec!r}")
        items: list[Any] = [s.strip() for s in spec.split(",") if s.strip()]
        out: list[Value] = []
        for item in items:
            try:
                out.append(float(item))
            except ValueError:
                out.append(item)
        values_list: list[Any] = out
    elif isinstance(spec, (int, float, np.integer, np.floating)):
        values_list = [spec]
    else:
        try:
            values_list = list(spec)
        except TypeError:
            raise ParameterError(
                f"axis {name!r}: expected a list, a range string or a scalar; found {spec!r}"
            ) from None
    if not values_list:
        raise ParameterError(f"axis {name!r} is empty")
    return [_canonical_value(name, v) for v in values_list]


def grid(**axes: Any) -> Design:
    """Cartesian product of parameter axes.

    Parameters
    ----------
    **axes
        One axis per parameter, in any form :func:`parse_axis` accepts.

    Returns
    -------
    Design
        ``prod(len(axis))`` parameter sets, the last axis varying fastest.

    Examples
    --------
    >>> len(grid(ion=["Mn2+", "Mn3+", "Mn4+"], tendq="0:2.5:0.1"))
    78
    """
    if not axes:
        raise ParameterError("grid needs at least one axis")
    values = {name: parse_axis(name, spec) for name, spec in axes.items()}
    names = list(values)
    mesh = np.meshgrid(*[np.arange(len(values[n])) for n in names], indexing="ij")
    idx = np.stack([m.ravel() for m in mesh], axis=1)
    params = [{n: values[n][i] for n, i in zip(names, row, strict=True)} for row in idx]
    return Design(params, {"kind": "grid", "axes": values})


def latin_hypercube(
    n: int,
    bounds: Mapping[str, tuple[float, float]],
    categorical: Mapping[str, Sequence[Any]] | None = None,
    *,
    seed: int | None = None,
) -> Design:
    """Latin-hypercube sample of continuous parameters, with optional categories.

    Uses :class:`scipy.stats.qmc.LatinHypercube` (McKay, Beckman & Conover,
    Technometrics 21, 239 (1979)). Each categorical parameter takes one extra
    dimension of the hypercube, cut into equal strata, so categories are
    balanced as well.

    Parameters
    ----------
    n
        Number of parameter sets (≥ 1).
    bounds
        ``{name: (lo, hi)}`` with ``lo <= hi``; values uniform in ``[lo, hi)``.
    categorical
        ``{name: [choices...]}``.
    seed
        Seed of the sampler; stored in the design description.
    """
    from scipy.stats import qmc

    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
        raise ParameterError(f"latin_hypercube: n must be an integer >= 1; found {n!r}")
    cats = {k: list(v) for k, v in (categorical or {}).items()}
    if not bounds and not cats:
        raise ParameterError("latin_hypercube needs at least one bound or categorical parameter")
    lohi: dict[str, tuple[float, float]] = {}
    for name, b in bounds.items():
        try:
            lo, hi = (float(x) for x in b)
        except (TypeError, ValueError):
            raise ParameterError(f"bounds[{name!r}] must be (lo, hi); found {b!r}") from None
        if not (math.isfinite(lo) and math.isfinite(hi)) or hi < lo:
            raise ParameterError(f"bounds[{name!r}] must be finite with lo <= hi; found {b!r}")
        lohi[name] = (lo, hi)
    for name, choices in cats.items():
        if not choices:
            raise ParameterError(f"categorical[{name!r}] is empty")
    dims = len(lohi) + len(cats)
    u = qmc.LatinHypercube(d=dims, seed=np.random.default_rng(seed)).random(int(n))
    params: list[dict[str, Any]] = [{} for _ in range(int(n))]
    for j, (name, (lo, hi)) in enumerate(lohi.items()):
        for p, x in zip(params, lo + (hi - lo) * u[:, j], strict=True):
            p[name] = x
    for j, (name, choices) in enumerate(cats.items(), start=len(lohi)):
        idx = np.minimum((u[:, j] * len(choices)).astype(int), len(choices) - 1)
        for p, i in zip(params, idx, strict=True):
            p[name] = choices[i]
    desc = {
        "kind": "latin_hypercube",
        "n": int(n),
        "bounds": {k: list(v) for k, v in lohi.items()},
        "categorical": cats,
        "seed": seed,
    }
    return Design(params, desc)
