"""Let pyscf's bundled OpenBLAS use the CPU's vector units.

pyscf's PyPI wheels ship their own OpenBLAS 0.3.3 (2018). It does not recognise
current Xeon/EPYC models and falls back to a generic kernel: on the development
machine (Xeon with AVX-512) its matrix products ran at 12 GFLOPS on one core, 34
with ``OPENBLAS_CORETYPE=SkylakeX`` (numpy's own, newer OpenBLAS: 74), and the
B3LYP/def2-SVP SCF of a 9-heavy-atom QM9 molecule took 19.3 instead of 12.9 CPU-s
(``benchmarks/tddft_speed.py``). OpenBLAS reads ``OPENBLAS_CORETYPE`` once, when
the library is loaded at the first pyscf import, so :func:`prepare_pyscf_blas`
runs before every pyscf import in xasml. A value the user set is kept; numpy's
OpenBLAS is loaded long before and is not affected.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

__all__ = ["blas_coretype", "prepare_pyscf_blas"]


def _cpu_flags() -> set[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    for line in text.splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


def blas_coretype(flags: set[str] | None = None) -> str | None:
    """OpenBLAS core type for these CPU flags: SkylakeX (AVX-512), Haswell (AVX2+FMA)."""
    f = _cpu_flags() if flags is None else flags
    if {"avx512f", "avx512bw", "avx512vl", "avx512dq"} <= f:
        return "SkylakeX"
    if {"avx2", "fma"} <= f:
        return "Haswell"
    return None


def prepare_pyscf_blas() -> None:
    """Set ``OPENBLAS_CORETYPE`` for pyscf's OpenBLAS if pyscf is not loaded yet."""
    if "pyscf" in sys.modules or "OPENBLAS_CORETYPE" in os.environ:
        return
    core = blas_coretype()
    if core is not None:
        os.environ["OPENBLAS_CORETYPE"] = core
