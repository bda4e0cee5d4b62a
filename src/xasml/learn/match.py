"""Parameter read-out robust to an energy shift and an unknown resolution.

Simulated spectra are sharp and sit on an absolute energy scale that a
measured spectrum does not share: it is shifted by an unknown calibration
offset and broadened by an unknown instrument resolution. A nearest-neighbour
read-out (:class:`~xasml.learn.ParameterEstimator`) then mistakes shift and
width for changes of the parameters. :class:`MatchedEstimator` removes both
before matching, in three steps:

1. **Nuisance match.** The measured spectrum is compared with every training
   spectrum broadened by each of a set of extra Gaussian widths and under
   each of a set of rigid shifts (a brute-force search of the kind of the
   cross-correlation alignment in Suzuki et al. [1]_); the best (shift, width)
   is refined by a parabola through its neighbours on the search grid.
2. **Common resolution.** The training set is broadened once to a common,
   coarser resolution (``common_fwhm``); the measured spectrum is shifted
   back and broadened by the Gaussian that brings it to the same resolution
   (widths add in quadrature). Both then meet in spectrum space and in the
   embedding of the wrapped :class:`~xasml.learn.ParameterEstimator`.
3. **Local interpolation.** Spectra change smoothly with a continuous
   parameter, so the read-out of each value label is the projection of the
   measured point onto the segment between the nearest training point of
   the predicted class and its neighbour along that label (in spectrum space
   and in the embedding), rather than a mean of grid values.

References
----------
.. [1] Y. Suzuki, H. Hino, M. Kotsugi, K. Ono, "Automated estimation of
   materials parameter from X-ray absorption and electron energy-loss
   spectra with similarity measures", npj Comput. Mater. 5, 39 (2019).
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr
from numpy.typing import NDArray
from sklearn.base import BaseEstimator, clone
from sklearn.utils.validation import check_is_fitted

from ..datamodel import ENERGY, SAMPLE, spectrum
from ..errors import ParameterError, XasmlWarning
from ..preprocess._broaden import broaden_rows
from .estimate import EstimationResult, ParameterEstimator, SpaceEstimate, ValueEstimate

__all__ = ["MatchedEstimator", "MatchedResult", "gaussian_broaden_rows", "interpolate_value"]

_FWHM_PER_SIGMA = 2.0 * np.sqrt(2.0 * np.log(2.0))
_EXTRA_FWHM = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6)


@dataclass(frozen=True)
class MatchedResult:
    """A :class:`~xasml.learn.EstimationResult` plus the matched nuisances.

    Attributes
    ----------
    result
        Class and value estimates on the common resolution; value labels are
        interpolated between neighbouring training spectra (see
        :func:`interpolate_value`).
    shift
        Energy shift (eV) of the measured spectrum relative to the training
        set: measured(E) ≈ simulated(E − shift).
    extra_fwhm
        Gaussian FWHM (eV) by which the measured spectrum is broader than the
        training spectra.
    best_index
        Training spectrum closest to the measured one after the nuisance match.
    """

    result: EstimationResult
    shift: float
    extra_fwhm: float
    best_index: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable dictionary."""
        return {"shift": self.shift, "extra_fwhm": self.extra_fwhm,
                "best_index": self.best_index, "result": self.result.to_dict()}

    def to_markdown(self) -> str:
        """Markdown report: the nuisances, then the estimate."""
        head = (f"Matched shift {self.shift:+.3f} eV, extra Gaussian broadening "
                f"{self.extra_fwhm:.3f} eV FWHM.\n\n")
        return head + self.result.to_markdown()


class MatchedEstimator(BaseEstimator):
    """Shift- and resolution-matched parameter read-out from simulations.

    Parameters
    ----------
    estimator
        The :class:`~xasml.learn.ParameterEstimator` applied at the common
        resolution (cloned; ``None``: default settings).
    max_shift
        Largest shift searched (eV), both directions.
    shift_step
        Step of the shift search (eV); the optimum is refined between steps.
    extra_fwhm
        Extra Gaussian widths (FWHM, eV, ascending, starting at 0) tried on
        the training spectra.
    common_fwhm
        Extra Gaussian width (FWHM, eV) of the common resolution at which the
        wrapped estimator compares spectra; ``None``: ``max(extra_fwhm)``. It
        should be at least the largest expected extra width of the data.
    interpolate
        Read value labels by local interpolation (:func:`interpolate_value`);
        ``False`` keeps the wrapped estimator's neighbour means.

    Attributes
    ----------
    estimator_ : ParameterEstimator
        Fitted on the training set at the common resolution.
    energy_ : ndarray of shape (n_energy,)
    bank_ : ndarray of shape (n_width, n_sample, n_energy)
        Area-normalised training spectra broadened by each ``extra_fwhm``.
    """

    def __init__(
        self,
        *,
        estimator: ParameterEstimator | None = None,
        max_shift: float = 1.0,
        shift_step: float = 0.02,
        extra_fwhm: Sequence[float] = _EXTRA_FWHM,
        common_fwhm: float | None = None,
        interpolate: bool = True,
    ) -> None:
        self.estimator = estimator
        self.max_shift = max_shift
        self.shift_step = shift_step
        self.extra_fwhm = extra_fwhm
        self.common_fwhm = common_fwhm
        self.interpolate = interpolate

    def fit(self, X: xr.DataArray, y: Any = None) -> MatchedEstimator:
        """Build the broadened bank and fit the wrapped estimator.

        Parameters
        ----------
        X
            Labelled stack ``(sample, energy)`` of (sharp) simulated spectra.
        y
            Ignored.
        """
        widths = np.asarray(self.extra_fwhm, dtype=float)
        if widths.ndim != 1 or widths.size < 1 or widths[0] != 0 or np.any(np.diff(widths) <= 0):
            raise ParameterError(
                f"extra_fwhm must be ascending widths (eV) starting at 0; found {self.extra_fwhm!r}"
            )
        for name in ("max_shift", "shift_step"):
            val = getattr(self, name)
            if not np.isfinite(val) or val <= 0:
                raise ParameterError(f"{name} must be a positive number of eV; found {val!r}")
        common = float(widths[-1] if self.common_fwhm is None else self.common_fwhm)
        if not np.isfinite(common) or common < 0:
            raise ParameterError(f"common_fwhm must be ≥ 0 eV; found {self.common_fwhm!r}")
        base = ParameterEstimator() if self.estimator is None else self.estimator
        # Validates X and stores the normalised sharp spectra we broaden below.
        sharp = clone(base).set_params(embedding=None).fit(X)
        e = sharp.energy_
        self.energy_ = e
        self.widths_ = widths
        self.common_fwhm_ = common
        self.bank_ = np.stack([_area(gaussian_broaden_rows(e, sharp.X_fit_, w), e) for w in widths])
        Xs = X.transpose(SAMPLE, ENERGY)
        coarse = Xs.copy(data=gaussian_broaden_rows(e, np.asarray(Xs.values, float), common))
        self.estimator_ = clone(base).fit(coarse)
        return self

    def match(self, measured: xr.DataArray) -> tuple[float, float, int]:
        """Shift (eV), extra FWHM (eV) and index of the best-matching training spectrum."""
        check_is_fitted(self, "bank_")
        y = _area(self.estimator_.prepare(measured)[None, :], self.energy_)[0]
        shifts = np.arange(-self.max_shift, self.max_shift + 0.5 * self.shift_step, self.shift_step)
        Y = _area(_shift_rows(self.energy_, y, shifts), self.energy_)  # (n_shift, m)
        B = self.bank_.reshape(-1, self.bank_.shape[-1])
        d2 = (Y**2).sum(1)[:, None] + (B**2).sum(1)[None, :] - 2.0 * Y @ B.T
        d2 = d2.reshape(shifts.size, self.widths_.size, -1)  # (shift, width, sample)
        k, j, i = (int(v) for v in np.unravel_index(int(np.argmin(d2)), d2.shape))
        shift = _parabola_min(shifts, d2[:, j, i], k)
        width = _parabola_min(self.widths_, d2[k, :, i], j)
        return float(shift), float(max(width, 0.0)), int(i)

    def estimate(self, measured: xr.DataArray) -> MatchedResult:
        """Estimate class and values of one measured spectrum.

        Parameters
        ----------
        measured
            Spectrum ``(energy,)`` covering the training energy range.
        """
        shift, width, best = self.match(measured)
        e = self.energy_
        y = self.estimator_.prepare(measured)
        y = _shift_rows(e, y, np.array([shift]))[0]
        if width > self.common_fwhm_ + 0.5 * (self.widths_[1] if self.widths_.size > 1 else 0.1):
            warnings.warn(
                f"the measured spectrum is {width:.2f} eV (FWHM) broader than the simulations, "
                f"more than common_fwhm={self.common_fwhm_:g} eV; the read-out compares it "
                "with sharper training spectra",
                XasmlWarning, stacklevel=2,
            )
        extra = float(np.sqrt(max(self.common_fwhm_**2 - width**2, 0.0)))
        y = gaussian_broaden_rows(e, y[None, :], extra)[0]
        name = None if measured.name is None else str(measured.name)
        corrected = spectrum(e, y, check=False, name=name, **self.estimator_.attrs_)
        result = self.estimator_.estimate(corrected)
        if self.interpolate:
            result = self._interpolated(result, corrected)
        return MatchedResult(result=result, shift=shift, extra_fwhm=width, best_index=best)

    def _interpolated(self, result: EstimationResult, corrected: xr.DataArray) -> EstimationResult:
        est = self.estimator_
        spaces: dict[str, tuple[SpaceEstimate, NDArray[np.float64], NDArray[np.float64]]] = {
            "spectrum": (result.spectrum, est.X_fit_, est.prepare(corrected)),
        }
        if result.embedding is not None and est.embedding_ is not None and result.position:
            spaces["embedding"] = (result.embedding, est.embedding_.embedding_,
                                   np.asarray(result.position, dtype=float))
        new: dict[str, SpaceEstimate] = {}
        for key, (space, points, query) in spaces.items():
            values = dict(space.values)
            mask = np.ones(points.shape[0], dtype=bool)
            if est.class_label is not None and est.value_within_class:
                mask = est.labels_[est.class_label] == space.predicted_class
            for name in est.value_labels:
                others = {k: est.labels_[k] for k in est.value_labels if k != name}
                mean, std = interpolate_value(
                    query, points, np.asarray(est.labels_[name], float), mask=mask, others=others
                )
                values[name] = ValueEstimate(name, mean, std, 2)
            new[key] = dataclasses.replace(space, values=values)
        return dataclasses.replace(result, spectrum=new["spectrum"],
                                   embedding=new.get("embedding", result.embedding))


def interpolate_value(
    query: NDArray[np.float64],
    points: NDArray[np.float64],
    values: NDArray[np.float64],
    *,
    mask: NDArray[np.bool_] | None = None,
    others: dict[str, NDArray[Any]] | None = None,
) -> tuple[float, float]:
    """Value at ``query`` by projection onto the segment to a grid neighbour.

    The nearest point ``i`` (among ``mask``) and its neighbours along
    ``values`` (the next lower and higher value with all ``others`` labels
    equal) span at most two segments; ``query`` is projected onto each,
    clipped to the segment, and the closer projection gives the value
    ``v_i + t (v_j − v_i)``.

    Parameters
    ----------
    query
        Point to read, shape ``(d,)`` (a spectrum or embedding coordinates).
    points
        Training points, shape ``(n, d)``.
    values
        Value label of the training points, shape ``(n,)``.
    mask
        Training points allowed (e.g. those of the predicted class), ``(n,)``.
    others
        Other labels that must match ``i``'s along a segment, each ``(n,)``.

    Returns
    -------
    value, std
        The interpolated value and its standard error from the residual
        (noise propagated through the projection; model error not included).
        Without a neighbour the nearest value and a std of 0 are returned.
    """
    n = points.shape[0]
    ok = np.ones(n, dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
    if not ok.any():
        raise ParameterError("interpolate_value: mask selects no training point")
    d = np.linalg.norm(points - query, axis=1)
    i = int(np.flatnonzero(ok)[np.argmin(d[ok])])
    same = ok.copy()
    for arr in (others or {}).values():
        same &= arr == arr[i]
    best = (float(d[i]), float(values[i]), 0.0)
    for side in (values < values[i], values > values[i]):
        cand = np.flatnonzero(same & side)
        if cand.size == 0:
            continue
        j = int(cand[np.argmin(np.abs(values[cand] - values[i]))])
        seg = points[j] - points[i]
        L2 = float(seg @ seg)
        if L2 <= 0:
            continue
        t = float(np.clip((query - points[i]) @ seg / L2, 0.0, 1.0))
        resid = query - (points[i] + t * seg)
        dist = float(np.linalg.norm(resid))
        if dist < best[0]:
            sigma2 = float(resid @ resid) / max(query.size - 1, 1)
            std = float(np.sqrt(sigma2 / L2)) * abs(float(values[j] - values[i]))
            best = (dist, float(values[i] + t * (values[j] - values[i])), std)
    return best[1], best[2]


def gaussian_broaden_rows(
    energy: NDArray[np.float64], Y: NDArray[np.float64], fwhm: float
) -> NDArray[np.float64]:
    """Rows ``(n, m)`` convolved with a Gaussian of ``fwhm`` eV (area kept; 0: copy)."""
    if fwhm <= 0:
        return np.array(Y, dtype=float, copy=True)
    sigma = np.full(energy.shape, fwhm / _FWHM_PER_SIGMA)
    return np.asarray(broaden_rows(energy, np.atleast_2d(Y), sigma, np.zeros_like(sigma)))


def _area(Y: NDArray[np.float64], e: NDArray[np.float64]) -> NDArray[np.float64]:
    from scipy.integrate import trapezoid

    a = trapezoid(Y, e, axis=1)
    return Y / np.where(np.abs(a) > 0, a, 1.0)[:, None]


def _shift_rows(e: NDArray[np.float64], y: NDArray[np.float64],
                shifts: NDArray[np.float64]) -> NDArray[np.float64]:
    """``y(E + s)`` for each shift ``s`` (undoes a shift by ``s``); ends held constant."""
    return np.stack([np.interp(e + s, e, y) for s in shifts])


def _parabola_min(x: NDArray[np.float64], f: NDArray[np.float64], k: int) -> float:
    """Vertex of the parabola through the grid minimum ``k`` and its neighbours."""
    if k == 0 or k == x.size - 1:
        return float(x[k])
    x0, x1, x2 = x[k - 1 : k + 2]
    f0, f1, f2 = f[k - 1 : k + 2]
    den = (x0 - x1) * (x0 - x2) * (x1 - x2)
    a = (x2 * (f1 - f0) + x1 * (f0 - f2) + x0 * (f2 - f1)) / den
    b = (x2**2 * (f0 - f1) + x1**2 * (f2 - f0) + x0**2 * (f1 - f2)) / den
    if a <= 0:
        return float(x[k])
    return float(np.clip(-b / (2 * a), x0, x2))
