"""Model bundles: a trained model as a self-describing, tamper-evident directory.

Layout of a bundle directory::

    manifest.json      format version, package versions, energy grid (eV),
                       preprocessing description, targets and units, class
                       labels, training-data hash, metrics, CV results,
                       ``extras`` (OOD threshold, conformal calibration ...),
                       and the sha256 of every weight file
    weights.safetensors  torch networks: state_dict + scalers (architecture
                       hyperparameters live in the manifest); for a
                       StructureSpectrumRegressor one state_dict per
                       ensemble member (``member<i>.*``) and the energy grid
    model.skops        scikit-learn models (or the preprocessing steps of a
                       Pipeline that ends in a torch network)

Loading never unpickles: safetensors holds plain tensors and skops objects
are loaded with an explicit allow-list of types (:data:`TRUSTED_MODULES`,
:data:`TRUSTED_TYPES`). Every file is checked against its recorded sha256
before it is read; a bundle written by a newer format version is refused.
Writing is atomic: the bundle is built in a temporary sibling directory and
renamed into place.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ModelError, ParameterError, SpectrumError

__all__ = [
    "FORMAT_VERSION",
    "TRUSTED_MODULES",
    "TRUSTED_TYPES",
    "Bundle",
    "Manifest",
    "Target",
    "hash_training_data",
    "load_bundle",
    "save_bundle",
]

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
_WEIGHTS = "weights.safetensors"
_SKOPS = "model.skops"

#: skops types are trusted when their module starts with one of these.
TRUSTED_MODULES: tuple[str, ...] = ("sklearn.", "xasml.")
#: Further individually trusted types (numpy scalars and dtypes, builtins).
TRUSTED_TYPES: frozenset[str] = frozenset(
    {
        "numpy.dtype", "numpy.ndarray", "numpy.float64", "numpy.float32", "numpy.int64",
        "numpy.int32", "numpy.bool_", "numpy.str_", "numpy.random.mtrand.RandomState",
        "numpy.random._mt19937.MT19937", "numpy.dtypes.Float64DType",
        "numpy.dtypes.Float32DType", "numpy.dtypes.Int64DType", "numpy.dtypes.Int32DType",
        "numpy.dtypes.ObjectDType", "numpy.dtypes.StrDType", "numpy.dtypes.BoolDType",
        "builtins.slice", "collections.OrderedDict", "collections.defaultdict",
    }
)
_PACKAGES = ("xasml", "numpy", "scipy", "scikit-learn", "torch", "safetensors", "skops", "xarray")


@dataclass(frozen=True)
class Target:
    """One predicted quantity: its name and unit (``""`` when dimensionless)."""

    name: str
    unit: str = ""


@dataclass(frozen=True)
class Manifest:
    """Contents of ``manifest.json`` (see module docs)."""

    format_version: int
    created: str
    packages: dict[str, str]
    model: dict[str, Any]
    energy: list[float]
    preprocessing: Any
    targets: list[Target]
    classes: list[Any] | None
    training_data_sha256: str | None
    metrics: dict[str, Any]
    cv_results: dict[str, Any]
    extras: dict[str, Any]
    files: dict[str, str]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        out = dict(self.__dict__)
        out["targets"] = [t.__dict__ for t in self.targets]
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Manifest:
        """Parse a manifest dict; raises :class:`ModelError` on missing fields."""
        try:
            kw = {k: d[k] for k in cls.__dataclass_fields__}
        except KeyError as exc:
            raise ModelError(f"{MANIFEST} lacks the field {exc.args[0]!r}") from None
        try:
            kw["targets"] = [Target(**t) for t in d["targets"]]
        except TypeError as exc:
            raise ModelError(f"{MANIFEST}: malformed targets: {exc}") from None
        return cls(**kw)


@dataclass(frozen=True)
class Bundle:
    """A loaded model bundle.

    Attributes
    ----------
    model
        The fitted estimator (or Pipeline), ready for ``predict``.
    energy
        Energy grid the model expects, shape ``(n_energy,)``, eV.
    manifest
        Everything else recorded at save time.
    path
        Directory the bundle was read from.
    """

    model: Any
    energy: np.ndarray
    manifest: Manifest
    path: Path = field(default_factory=Path)

    def predict(self, X: Any) -> np.ndarray:
        """Predict after checking that a DataArray ``X`` is on the bundle's energy grid."""
        energy = X.coords.get("energy") if hasattr(X, "coords") else None
        if energy is not None:
            e = np.asarray(energy.values, dtype=float)
            if e.shape != self.energy.shape or not np.allclose(e, self.energy, atol=1e-6):
                raise SpectrumError(
                    f"spectra are on a different energy grid ({e.size} points, "
                    f"{e[0]:g}..{e[-1]:g} eV) than the model in {self.path} "
                    f"({self.energy.size} points, {self.energy[0]:g}..{self.energy[-1]:g} eV); "
                    "resample them first"
                )
        return np.asarray(self.model.predict(X))


def hash_training_data(X: Any, y: Any = None) -> str:
    """sha256 over the shapes, dtypes and bytes of ``X`` (and ``y``) for provenance."""
    h = hashlib.sha256()
    for arr in (X, y):
        if arr is None:
            continue
        a = np.asarray(arr)
        if a.dtype.kind in "OUS":
            a = a.astype(str).astype("U")
        a = np.ascontiguousarray(a)
        h.update(f"{a.shape}|{a.dtype.str}|".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for pkg in _PACKAGES:
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            continue
    return out


def _jsonable(obj: Any) -> Any:
    """Convert results (objects with ``to_dict``, numpy values) to plain JSON."""
    if hasattr(obj, "to_dict"):
        return _jsonable(obj.to_dict())
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    return obj


def _encode_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """Hyperparameters to JSON, keeping tuples and non-string dict keys."""

    def enc(v: Any) -> Any:
        if isinstance(v, tuple):
            return {"__tuple__": [enc(x) for x in v]}
        if isinstance(v, dict):
            return {"__items__": [[enc(k), enc(x)] for k, x in v.items()]}
        if isinstance(v, np.generic):
            return v.item()
        if v is None or isinstance(v, str | int | float | bool):
            return v
        raise ParameterError(f"hyperparameter value {v!r} cannot be stored in a bundle")

    return {k: enc(v) for k, v in params.items()}


def _decode_params(params: Mapping[str, Any]) -> dict[str, Any]:
    def dec(v: Any) -> Any:
        if isinstance(v, dict) and "__tuple__" in v:
            return tuple(dec(x) for x in v["__tuple__"])
        if isinstance(v, dict) and "__items__" in v:
            return {dec(k): dec(x) for k, x in v["__items__"]}
        return v

    return {k: dec(v) for k, v in params.items()}


def _torch_classes() -> dict[str, type]:
    """The only torch estimator classes a bundle may name (no arbitrary imports)."""
    from .cnn import SpectrumCNNClassifier, SpectrumCNNRegressor
    from .gnn import StructureSpectrumRegressor
    from .mlp import SpectrumMLPClassifier, SpectrumMLPRegressor

    classes = (SpectrumMLPRegressor, SpectrumMLPClassifier, SpectrumCNNRegressor,
               SpectrumCNNClassifier, StructureSpectrumRegressor)
    return {c.__name__: c for c in classes}


def _split_model(model: Any) -> tuple[Any, Any, str | None]:
    """Return (sklearn part or None, torch estimator or None, final step name)."""
    from sklearn.pipeline import Pipeline

    from ._torch_base import _TorchSpectrumEstimator
    from .gnn import StructureSpectrumRegressor

    if isinstance(model, _TorchSpectrumEstimator | StructureSpectrumRegressor):
        return None, model, None
    if isinstance(model, Pipeline) and isinstance(model.steps[-1][1], _TorchSpectrumEstimator):
        name, est = model.steps[-1]
        return Pipeline(model.steps[:-1]), est, name
    return model, None, None


def save_bundle(
    model: Any,
    path: str | Path,
    *,
    energy: Any,
    targets: Sequence[str | Target | tuple[str, str]] = (),
    preprocessing: Any = None,
    training_data_sha256: str | None = None,
    metrics: Any = None,
    cv_results: Any = None,
    extras: Mapping[str, Any] | None = None,
    overwrite: bool = False,
) -> Path:
    """Write a fitted model as a bundle directory.

    Parameters
    ----------
    model
        A fitted spectrum network, scikit-learn estimator/Pipeline, or a
        Pipeline whose last step is a spectrum network.
    path
        Bundle directory to create.
    energy
        Energy grid (eV) of the model's input spectra, shape ``(n_energy,)``
        (a DataArray's ``energy`` coordinate works).
    targets
        Names of the predicted quantities, as strings, ``(name, unit)`` pairs or
        :class:`Target`.
    preprocessing
        JSON-able description of the preprocessing applied before the model.
    training_data_sha256
        Hash of the training data (:func:`hash_training_data`).
    metrics, cv_results
        Result objects (anything with ``to_dict()``) or dicts.
    extras
        Free slots for later additions (OOD threshold, conformal calibration).
    overwrite
        Replace an existing bundle at ``path`` (default: refuse).

    Returns
    -------
    pathlib.Path
        The bundle directory.
    """
    from sklearn.utils.validation import check_is_fitted

    path = Path(path)
    if path.exists() and not overwrite:
        raise ModelError(f"{path} already exists; pass overwrite=True to replace it")
    try:
        check_is_fitted(model)
    except (TypeError, ValueError, AttributeError) as exc:
        raise ModelError(f"cannot save an unfitted model: {exc}") from None
    e = np.asarray(getattr(energy, "values", energy), dtype=float)
    if e.ndim != 1 or e.size < 1:
        raise ParameterError(f"energy must be a 1-D grid in eV; found shape {e.shape}")
    sk_part, torch_est, step = _split_model(model)
    tgt = [t if isinstance(t, Target) else Target(t) if isinstance(t, str) else Target(*t)
           for t in targets]
    classes = getattr(model, "classes_", None)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.tmp-", dir=path.parent))
    try:
        model_info: dict[str, Any] = {"kind": "sklearn", "class": type(model).__name__}
        if torch_est is not None:
            from safetensors.numpy import save_file

            arrays, meta = torch_est._export_state()
            save_file({k: np.ascontiguousarray(v) for k, v in arrays.items()},
                      str(tmp / _WEIGHTS))
            model_info = {
                "kind": "torch" if sk_part is None else "pipeline+torch",
                "class": type(torch_est).__name__,
                "params": _encode_params(torch_est.get_params(deep=False)),
                "state": meta,
                "final_step": step,
            }
        if sk_part is not None:
            import skops.io as sio

            sio.dump(sk_part, tmp / _SKOPS)
        files = {p.name: _sha256(p) for p in sorted(tmp.iterdir())}
        manifest = Manifest(
            format_version=FORMAT_VERSION,
            created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            packages=_versions(),
            model=model_info,
            energy=e.tolist(),
            preprocessing=_jsonable(preprocessing),
            targets=tgt,
            classes=None if classes is None else _jsonable(np.asarray(classes)),
            training_data_sha256=training_data_sha256,
            metrics=_jsonable(metrics) or {},
            cv_results=_jsonable(cv_results) or {},
            extras=_jsonable(dict(extras or {})),
            files=files,
        )
        (tmp / MANIFEST).write_text(json.dumps(manifest.to_dict(), indent=2, allow_nan=False))
        _replace_dir(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


def _replace_dir(src: Path, dst: Path) -> None:
    """Move the finished temp dir into place; an old bundle is removed only afterwards."""
    if not dst.exists():
        os.replace(src, dst)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{dst.name}.old-", dir=dst.parent))
    os.replace(dst, old / "bundle")
    os.replace(src, dst)
    shutil.rmtree(old, ignore_errors=True)


def _read_manifest(path: Path) -> Manifest:
    mpath = path / MANIFEST
    if not mpath.is_file():
        raise ModelError(f"{path} is not a model bundle: {MANIFEST} is missing")
    try:
        raw = json.loads(mpath.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelError(f"{mpath} is not valid JSON: {exc}") from None
    version = raw.get("format_version") if isinstance(raw, dict) else None
    if not isinstance(version, int):
        raise ModelError(f"{mpath} has no integer format_version; found {version!r}")
    if version > FORMAT_VERSION:
        raise ModelError(
            f"{path} was written with bundle format version {version}, newer than this "
            f"xasml supports ({FORMAT_VERSION}); upgrade xasml to load it"
        )
    return Manifest.from_dict(raw)


def _verify_files(path: Path, manifest: Manifest) -> None:
    for name, digest in manifest.files.items():
        fpath = path / name
        if Path(name).name != name or not fpath.is_file():
            raise ModelError(f"bundle file {fpath} listed in {MANIFEST} is missing")
        if _sha256(fpath) != digest:
            raise ModelError(
                f"bundle file {fpath} does not match its sha256 in {MANIFEST}; "
                "it was modified or corrupted, refusing to load it"
            )


def _load_skops(fpath: Path, trusted: Sequence[str]) -> Any:
    import skops.io as sio

    untrusted = sio.get_untrusted_types(file=fpath)
    allowed = set(TRUSTED_TYPES) | set(trusted)
    bad = [t for t in untrusted if t not in allowed and not t.startswith(TRUSTED_MODULES)]
    if bad:
        raise ModelError(
            f"{fpath} contains types outside the allow-list: {', '.join(sorted(bad))}; "
            "pass them in trusted=[...] only if you trust the bundle's author"
        )
    return sio.load(fpath, trusted=list(untrusted))


def load_bundle(
    path: str | Path, *, trusted: Sequence[str] = (), device: str | None = None
) -> Bundle:
    """Load a bundle written by :func:`save_bundle`.

    Parameters
    ----------
    path
        Bundle directory.
    trusted
        Extra fully qualified type names to accept in a skops file beyond the
        built-in allow-list.
    device
        Override the networks' ``device`` (e.g. ``"cpu"``); by default the
        saved setting is kept, and a CUDA-trained network falls back to the
        CPU where CUDA is unavailable.

    Raises
    ------
    ModelError
        Missing or invalid manifest, newer format version, a file whose sha256
        does not match (named), disallowed skops types, unknown model class.
    """
    path = Path(path)
    manifest = _read_manifest(path)
    _verify_files(path, manifest)
    info = manifest.model
    sk_part = _load_skops(path / _SKOPS, trusted) if _SKOPS in manifest.files else None
    model = sk_part
    if info.get("kind") in ("torch", "pipeline+torch"):
        from safetensors.numpy import load_file

        classes = _torch_classes()
        if info.get("class") not in classes:
            raise ModelError(
                f"{path}: unknown network class {info.get('class')!r}; "
                f"expected one of {sorted(classes)}"
            )
        if _WEIGHTS not in manifest.files:
            raise ModelError(f"{path}: {MANIFEST} does not list {_WEIGHTS} with its sha256")
        params = _decode_params(info.get("params", {}))
        if device is not None:
            params["device"] = device
        try:
            est = classes[info["class"]](**params)
            est._import_state(load_file(str(path / _WEIGHTS)), info["state"])
        except (TypeError, KeyError, RuntimeError) as exc:
            raise ModelError(
                f"{path}: the weights do not fit the {info['class']} recorded in "
                f"{MANIFEST}: {exc}"
            ) from None
        model = est
        if info["kind"] == "pipeline+torch":
            from sklearn.pipeline import Pipeline

            if sk_part is None:
                raise ModelError(f"{path}: the preprocessing steps ({_SKOPS}) are missing")
            model = Pipeline([*sk_part.steps, (info["final_step"], est)])
    if model is None:
        raise ModelError(f"{path}: the manifest names no model file")
    return Bundle(model=model, energy=np.asarray(manifest.energy, dtype=float),
                  manifest=manifest, path=path)
