"""Small HDF5 helpers shared by the HDF5-based readers (hspy, NeXus, flexpes, store).

They turn h5py's many failure modes (truncated files, missing objects, odd
string encodings) into :class:`~xasml.errors.FormatError` so that readers
raise only xasml errors on bad input.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from ..errors import FormatError

__all__ = ["HDF5_MAGIC", "is_hdf5", "is_hdf5_file", "open_h5", "peek_h5", "as_str", "as_float"]

HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
# The superblock sits at 0 or, after a user block, at 512, 1024, 2048 ... bytes
# (PolLux NXstxm files carry a 32 KiB XMP user block starting with "\x89HMP").
_MAGIC_OFFSETS = (0, 512, 1024, 2048)
_MAX_USER_BLOCK = 1 << 30

T = TypeVar("T")

# Errors h5py raises on damaged or unexpected content; caught only around h5py calls.
H5_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    KeyError,
    ValueError,
    TypeError,
    RuntimeError,
    AttributeError,
)


def is_hdf5(head: bytes) -> bool:
    """Whether ``head`` (the first bytes of a file) carries the HDF5 signature."""
    return any(head[o : o + 8] == HDF5_MAGIC for o in _MAGIC_OFFSETS)


def is_hdf5_file(path: Path, head: bytes) -> bool:
    """Like :func:`is_hdf5`, also looking past ``head`` at larger user-block offsets."""
    if is_hdf5(head):
        return True
    if len(head) < 8:
        return False
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            offset = 4096
            while offset + 8 <= min(size, _MAX_USER_BLOCK):
                fh.seek(offset)
                if fh.read(8) == HDF5_MAGIC:
                    return True
                offset *= 2
    except OSError:
        return False
    return False


@contextmanager
def open_h5(path: Path, what: str = "HDF5") -> Iterator[Any]:
    """Open ``path`` read-only with h5py; failures become :class:`FormatError`."""
    import h5py

    try:
        fh = h5py.File(path, "r")
    except H5_ERRORS as exc:
        raise FormatError(
            path, f"cannot open as {what} (expected a complete HDF5 file): {exc}"
        ) from None
    try:
        yield fh
    finally:
        fh.close()


def peek_h5(path: Path, head: bytes, test: Callable[[Any], T], default: T) -> T:
    """Run ``test(file)`` on an HDF5 file for sniffing; any failure returns ``default``."""
    if not is_hdf5_file(path, head):
        return default
    import h5py

    try:
        with h5py.File(path, "r") as fh:
            return test(fh)
    except H5_ERRORS:
        return default


def as_str(value: Any, default: str = "") -> str:
    """Decode an HDF5 string value: ``bytes``, 1-element byte arrays, numpy strings.

    Undecodable bytes (e.g. latin-1 ``µ`` written as ``b"\\xb5m"``) are read as latin-1.
    """
    if value is None:
        return default
    if isinstance(value, np.ndarray):
        if value.size != 1:
            return default
        value = value.reshape(-1)[0]
    if isinstance(value, bytes | np.bytes_):
        raw = bytes(value)
        try:
            return raw.decode("utf-8").strip()
        except UnicodeDecodeError:
            return raw.decode("latin-1").strip()
    if isinstance(value, str | np.str_):
        return str(value).strip()
    return default


def as_float(value: Any) -> float | None:
    """A finite float from a scalar or 1-element array, else ``None`` (garbage limits)."""
    try:
        arr = np.asarray(value, dtype=float).reshape(-1)
    except (TypeError, ValueError):
        return None
    if arr.size != 1 or not np.isfinite(arr[0]):
        return None
    return float(arr[0])
