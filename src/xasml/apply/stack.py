"""Spectromicroscopy stacks: optical density, I0, frame alignment and masking.

A transmission STXM stack holds transmitted counts ``I(y, x, E)``. The sample's
optical density is ``OD = -ln(I / I0)`` with ``I0(E)`` the incident flux, read off
a sample-free region of the same stack or given as a separate spectrum (as in
aXis2000 and MANTiS; Lerotic et al., J. Synchrotron Rad. 21, 1206 (2014)).
Mechanical drift between energies is undone by sub-pixel phase correlation
(Guizar-Sicairos, Thurman & Fienup, Opt. Lett. 33, 156 (2008), as implemented in
:func:`skimage.registration.phase_cross_correlation`). Pixels that cannot carry a
spectrum (non-finite, zero counts, too little signal, outside the frames after
alignment) are masked and counted in a :class:`MaskReport`, never passed on as
silently wrong numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import xarray as xr

from ..datamodel import ENERGY, as_map
from ..errors import ParameterError, SpectrumError

__all__ = [
    "AlignmentResult",
    "MaskReport",
    "PreparedStack",
    "align_frames",
    "i0_from_region",
    "optical_density",
    "prepare_stack",
    "signal_mask",
]

Region = dict[str, slice] | np.ndarray | xr.DataArray


def _region_mask(region: Any, shape: tuple[int, int]) -> np.ndarray:
    """A boolean ``(y, x)`` mask from ``{"y": slice, "x": slice}`` or a boolean array."""
    if isinstance(region, dict):
        unknown = set(region) - {"y", "x"}
        if unknown:
            raise ParameterError(
                f"region keys must be 'y' and/or 'x' (slices); found {sorted(unknown)}"
            )
        mask = np.zeros(shape, dtype=bool)
        mask[region.get("y", slice(None)), region.get("x", slice(None))] = True
    else:
        mask = np.asarray(getattr(region, "values", region))
        if mask.dtype != bool:
            raise ParameterError(
                f"region must be a dict of y/x slices or a boolean (y, x) mask; "
                f"found an array of dtype {mask.dtype}"
            )
        if mask.shape != shape:
            raise ParameterError(
                f"region mask must have the stack's (y, x) shape {shape}; found {mask.shape}"
            )
    if not mask.any():
        raise ParameterError(f"the I0 region selects no pixel of the {shape} stack")
    return mask


def i0_from_region(counts: xr.DataArray, region: Region) -> xr.DataArray:
    """Incident-flux spectrum ``I0(E)``: the mean counts over a sample-free region.

    Parameters
    ----------
    counts
        Transmitted counts, ``(y, x, energy)``.
    region
        ``{"y": slice, "x": slice}`` or a boolean ``(y, x)`` mask of sample-free pixels.

    Returns
    -------
    xarray.DataArray
        ``(energy,)`` counts, attrs ``signal="i0"`` and ``n_pixels``.
    """
    m = as_map(counts)
    mask = _region_mask(region, (m.sizes["y"], m.sizes["x"]))
    vals = m.values[mask]  # (n_pixels, n_energy)
    good = np.isfinite(vals).all(axis=1)
    if not good.any():
        raise SpectrumError("every pixel of the I0 region holds a NaN or inf count")
    i0 = vals[good].mean(axis=0)
    if np.any(i0 <= 0):
        bad = m[ENERGY].values[np.flatnonzero(i0 <= 0)[0]]
        raise SpectrumError(
            f"the I0 region has no positive counts at {bad:g} eV; choose a sample-free "
            "region with beam (I0 must be > 0 at every energy)"
        )
    return xr.DataArray(
        i0, dims=(ENERGY,), coords={ENERGY: m[ENERGY]},
        attrs={"signal": "i0", "n_pixels": int(good.sum())},
    )


def optical_density(
    counts: xr.DataArray,
    *,
    i0: xr.DataArray | np.ndarray | None = None,
    region: Region | None = None,
) -> xr.DataArray:
    """Optical density ``OD = -ln(I / I0)`` of a transmission stack.

    Parameters
    ----------
    counts
        Transmitted counts ``I``, ``(y, x, energy)``.
    i0
        Incident flux, ``(energy,)``: a spectrum on the stack's energies or an array of
        ``n_energy`` values. Give exactly one of ``i0`` and ``region``.
    region
        Sample-free pixels to read ``I0`` from (see :func:`i0_from_region`).

    Returns
    -------
    xarray.DataArray
        ``(y, x, energy)`` OD with the stack's coordinates, attrs ``signal="od"``,
        ``i0`` as a coordinate on ``energy``. Pixels with zero, negative or
        non-finite counts are NaN (count them with :func:`signal_mask`).
    """
    m = as_map(counts)
    if (i0 is None) == (region is None):
        raise ParameterError("give exactly one of i0 (a spectrum) and region (sample-free pixels)")
    if region is not None:
        i0_arr = i0_from_region(m, region).values
    else:
        i0_arr = _check_i0(i0, m)
    with np.errstate(divide="ignore", invalid="ignore"):
        vals = m.values
        od = -np.log(np.where(vals > 0, vals, np.nan) / i0_arr)
    attrs = dict(m.attrs, signal="od")
    out = xr.DataArray(od, dims=m.dims, coords=m.coords, attrs=attrs)
    return out.assign_coords(i0=(ENERGY, i0_arr))


def _check_i0(i0: Any, m: xr.DataArray) -> np.ndarray:
    e = m[ENERGY].values
    if isinstance(i0, xr.DataArray):
        if i0.dims != (ENERGY,):
            raise SpectrumError(f"i0 must be a spectrum with dims ('energy',); found {i0.dims}")
        ie = np.asarray(i0[ENERGY].values, dtype=float)
        if ie.shape != e.shape or not np.allclose(ie, e, rtol=0, atol=1e-6):
            raise SpectrumError(
                f"i0 is on {ie.size} energies ({ie[0]:g}..{ie[-1]:g} eV) but the stack has "
                f"{e.size} ({e[0]:g}..{e[-1]:g} eV); give I0 at the stack's energies"
            )
        arr = np.asarray(i0.values, dtype=float)
    else:
        arr = np.asarray(i0, dtype=float)
        if arr.shape != e.shape:
            raise SpectrumError(
                f"i0 must have one value per stack energy, shape ({e.size},); found {arr.shape}"
            )
    if not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise SpectrumError("i0 must be finite and > 0 at every energy")
    return arr


@dataclass(frozen=True)
class AlignmentResult:
    """Frames registered onto a reference frame.

    Attributes
    ----------
    aligned
        The registered stack ``(y, x, energy)``; pixels that left the field of view
        of some frame are NaN.
    shifts
        ``(n_energy, 2)`` shift ``(dy, dx)`` in pixels applied to each frame.
    errors
        ``(n_energy,)`` normalised RMS registration error per frame (skimage).
    reference
        Index of the reference frame.
    """

    aligned: xr.DataArray
    shifts: np.ndarray
    errors: np.ndarray
    reference: int

    @property
    def max_shift(self) -> float:
        """Largest shift magnitude in pixels."""
        return float(np.max(np.hypot(self.shifts[:, 0], self.shifts[:, 1])))


def align_frames(
    stack: xr.DataArray,
    *,
    reference: int | Literal["contrast"] = "contrast",
    upsample_factor: int = 20,
    max_shift: float | None = None,
    method: Literal["gradient", "intensity"] = "gradient",
    sigma: float = 1.0,
) -> AlignmentResult:
    """Register every energy frame on a reference frame by phase correlation.

    Parameters
    ----------
    stack
        ``(y, x, energy)``; optical density aligns best (counts work too).
    reference
        Index of the reference frame, or ``"contrast"`` for the frame with the
        largest spatial standard deviation.
    upsample_factor
        Sub-pixel precision ``1 / upsample_factor`` px (Guizar-Sicairos et al. 2008).
    max_shift
        Refuse shifts larger than this many pixels (a sign of failed registration).
    method
        What is registered. ``"gradient"`` (default): the Gaussian gradient magnitude
        of each frame, which keeps domain edges and thickness texture but not their
        sign — across an absorption edge one domain turns from darker to brighter than
        its neighbour, and the raw frames then correlate weakly or negatively
        (MANTiS likewise offers edge enhancement before registration). ``"intensity"``:
        the frames themselves.
    sigma
        Gaussian smoothing in pixels for ``"gradient"`` (suppresses shot noise).

    Returns
    -------
    AlignmentResult

    Notes
    -----
    Frames are mean-subtracted and tapered with a Tukey window before the FFT, so
    the frame border (which does not move with the sample) does not pull the
    shifts towards zero.
    """
    from scipy import ndimage
    from skimage.registration import phase_cross_correlation

    m = as_map(stack)
    vals = m.values
    n_e = vals.shape[2]
    if min(vals.shape[:2]) < 4:
        raise SpectrumError(f"frames of {vals.shape[:2]} pixels are too small to align")
    # NaN pixels would poison the FFT; fill them with the frame median for registration only.
    frames = np.moveaxis(vals, 2, 0).copy()
    for f in frames:
        bad = ~np.isfinite(f)
        if bad.all():
            raise SpectrumError("a frame of the stack holds no finite value; cannot align it")
        f[bad] = np.median(f[~bad])
    if reference == "contrast":
        ref = int(np.argmax(frames.reshape(n_e, -1).std(axis=1)))
    elif isinstance(reference, int | np.integer) and 0 <= int(reference) < n_e:
        ref = int(reference)
    else:
        raise ParameterError(
            f"reference must be 'contrast' or a frame index in [0, {n_e}); found {reference!r}"
        )
    if method not in ("gradient", "intensity"):
        raise ParameterError(f"method must be 'gradient' or 'intensity'; found {method!r}")
    from skimage.filters import window

    taper = window(("tukey", 0.3), frames.shape[1:])

    def features(f: np.ndarray) -> np.ndarray:
        if method == "gradient":
            f = ndimage.gaussian_gradient_magnitude(f, sigma)
        return (f - f.mean()) * taper

    ref_feat = features(frames[ref])
    shifts = np.zeros((n_e, 2))
    errors = np.zeros(n_e)
    out = np.empty_like(vals)
    for k in range(n_e):
        if k != ref:
            shift, err, _ = phase_cross_correlation(
                ref_feat, features(frames[k]), upsample_factor=upsample_factor
            )
            shifts[k], errors[k] = shift, err
        if max_shift is not None and np.hypot(*shifts[k]) > max_shift:
            raise SpectrumError(
                f"frame {k} ({m[ENERGY].values[k]:g} eV) needs a shift of "
                f"{np.hypot(*shifts[k]):.2f} px, more than max_shift={max_shift:g}; "
                "registration probably failed (too little contrast?)"
            )
        # Linear interpolation; pixels brought in from outside the frame become NaN.
        out[:, :, k] = ndimage.shift(vals[:, :, k], shifts[k], order=1, mode="constant",
                                     cval=np.nan)
    aligned = xr.DataArray(out, dims=m.dims, coords=m.coords,
                           attrs=dict(m.attrs, aligned=1))
    return AlignmentResult(aligned=aligned, shifts=shifts, errors=errors, reference=ref)


@dataclass(frozen=True)
class MaskReport:
    """Which pixels carry a usable spectrum, and why the others do not.

    Attributes
    ----------
    mask
        ``(y, x)`` boolean DataArray, ``True`` where the pixel is used.
    n_pixels
        All pixels.
    n_nonfinite
        Pixels with a NaN/inf value at some energy (zero counts, outside the
        aligned field of view, detector glitches).
    n_low_signal
        Finite pixels rejected by the OD/count thresholds.
    n_excluded
        Pixels excluded by the user's region (e.g. the I0 area).
    """

    mask: xr.DataArray
    n_pixels: int
    n_nonfinite: int
    n_low_signal: int
    n_excluded: int = 0

    @property
    def n_valid(self) -> int:
        """Pixels kept."""
        return int(self.mask.values.sum())

    def to_dict(self) -> dict[str, int]:
        """Counts as a JSON-ready dict."""
        return {"n_pixels": self.n_pixels, "n_valid": self.n_valid,
                "n_nonfinite": self.n_nonfinite, "n_low_signal": self.n_low_signal,
                "n_excluded": self.n_excluded}

    def __str__(self) -> str:
        return (f"{self.n_valid} of {self.n_pixels} pixels used; masked: {self.n_nonfinite} "
                f"non-finite, {self.n_low_signal} low signal, {self.n_excluded} excluded")


def signal_mask(
    stack: xr.DataArray,
    *,
    min_signal: float | None = None,
    max_signal: float | None = None,
    exclude: Region | None = None,
) -> MaskReport:
    """Mask pixels without a usable spectrum.

    Parameters
    ----------
    stack
        ``(y, x, energy)`` OD or counts.
    min_signal
        Minimum of the pixel's mean over energy (e.g. OD 0.05: thinner areas give
        spectra dominated by noise; or a count threshold for counts).
    max_signal
        Maximum of the pixel's mean (e.g. OD 4: saturated, thick areas).
    exclude
        Pixels to leave out regardless (e.g. the I0 region).

    Returns
    -------
    MaskReport
    """
    m = as_map(stack)
    vals = m.values
    finite = np.isfinite(vals).all(axis=2)
    mean = np.where(finite, np.nanmean(np.where(np.isfinite(vals), vals, 0.0), axis=2), np.nan)
    ok = finite.copy()
    if min_signal is not None:
        ok &= ~(mean < min_signal)
    if max_signal is not None:
        ok &= ~(mean > max_signal)
    n_low = int((finite & ~ok).sum())
    n_excl = 0
    if exclude is not None:
        ex = _region_mask(exclude, finite.shape)
        n_excl = int((ok & ex).sum())
        ok &= ~ex
    mask = xr.DataArray(ok, dims=("y", "x"), coords={d: m[d] for d in ("y", "x")},
                        name="mask")
    return MaskReport(mask=mask, n_pixels=int(finite.size), n_nonfinite=int((~finite).sum()),
                      n_low_signal=n_low, n_excluded=n_excl)


@dataclass(frozen=True)
class PreparedStack:
    """A stack ready for pixel models: OD, alignment and mask (see :func:`prepare_stack`)."""

    od: xr.DataArray
    mask: MaskReport
    alignment: AlignmentResult | None
    i0: xr.DataArray | None


def prepare_stack(
    stack: xr.DataArray,
    *,
    i0: xr.DataArray | np.ndarray | None = None,
    i0_region: Region | None = None,
    align: bool = True,
    reference: int | Literal["contrast"] = "contrast",
    min_signal: float | None = None,
    max_signal: float | None = None,
    max_shift: float | None = None,
) -> PreparedStack:
    """Counts → OD → aligned OD → mask, in the order that keeps each step valid.

    OD is computed before alignment so that ``I0`` comes from the unshifted
    region the user chose. A stack whose ``signal`` attribute is already
    ``"od"``, ``"mu"`` or ``"norm"`` skips the OD step (and needs no I0).

    Parameters
    ----------
    stack
        ``(y, x, energy)`` counts (or OD).
    i0, i0_region
        See :func:`optical_density`; ``i0_region`` pixels are also excluded from the mask.
    align
        Register the frames (:func:`align_frames`).
    reference, max_shift
        Passed to :func:`align_frames`.
    min_signal, max_signal
        Mean-OD thresholds of :func:`signal_mask`.

    Returns
    -------
    PreparedStack
    """
    m = as_map(stack)
    i0_used = None
    if m.attrs.get("signal") in ("od", "mu", "norm"):
        if i0 is not None or i0_region is not None:
            raise ParameterError(
                f"the stack already holds {m.attrs['signal']!r}; do not give i0 or i0_region"
            )
        od = m
    else:
        if i0 is None and i0_region is None:
            raise ParameterError(
                "the stack holds transmitted counts; give i0 (a spectrum) or i0_region "
                "(sample-free pixels) to convert it to optical density"
            )
        od = optical_density(m, i0=i0, region=i0_region)
        i0_used = xr.DataArray(od["i0"].values, dims=(ENERGY,), coords={ENERGY: od[ENERGY]},
                               attrs={"signal": "i0"})
    alignment = None
    if align:
        alignment = align_frames(od, reference=reference, max_shift=max_shift)
        od = alignment.aligned
    report = signal_mask(od, min_signal=min_signal, max_signal=max_signal, exclude=i0_region)
    return PreparedStack(od=od, mask=report, alignment=alignment, i0=i0_used)
