"""Running one FEFF10 pipeline in a child process and reading ``xmu.dat``.

The pipeline runs in a child Python process that we start (feff10-rs itself
starts one more process per stage), because that is the only way to

* give FEFF the allocator settings that halve the ``pot`` stage
  (``MALLOC_*`` below; measured in ENGINES.md, identical output),
* capture FEFF's stdout, where its real error messages are (the exception
  only names the failed stage), and
* kill the whole process group on a timeout (killing a parent leaves the
  stage worker running).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import EngineError

__all__ = ["FeffRun", "read_xmu", "run_feff"]

FEFF_ENV = {
    "MALLOC_ARENA_MAX": "1",
    "MALLOC_MMAP_MAX_": "0",
    "MALLOC_TRIM_THRESHOLD_": "4294967295",
    "MALLOC_TOP_PAD_": "268435456",
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
}
LOG_NAME = "feff.log"
_RESULT = "xasml_result.json"
_CHILD = r"""
import json, sys, feff10
wd, timeout = sys.argv[1], float(sys.argv[2])
try:
    inp = feff10.FeffInput.parse(open(wd + "/feff.inp").read())
    cfg = feff10.FeffConfig(wd, inp, stage_timeout=timeout if timeout > 0 else None)
    res = feff10.FeffPipeline(cfg).run()
    out = {"ok": True, "stages": {str(s.stage).rsplit(".", 1)[-1]: s.duration_secs
                                  for s in res.stages}}
except feff10.FeffError as exc:
    out = {"ok": False, "error": type(exc).__name__ + ": " + str(exc)}
sys.stdout.flush()
with open(wd + "/xasml_result.json", "w") as fh:
    json.dump(out, fh)
"""
_STAGE = re.compile(r"stage '(\w+)' failed")
_NOISE = (
    "Launching FEFF", "Traceback", "File ", "feff10.", "_feff10.", ".feff.error",
    "If this message", "nishes running", "essful termination", "worker exited",
)


@dataclass(frozen=True)
class FeffRun:
    """Outcome of one pipeline run."""

    ok: bool
    stages: dict[str, float]
    error: str
    stage: str
    message: str
    log: str

    @property
    def scf_converged(self) -> bool:
        """True when FEFF printed "Convergence reached" (SCF runs only)."""
        return "Convergence reached" in self.log


def _feff_message(log: str, n: int = 6) -> str:
    """FEFF's last meaningful stdout lines (its error message on failure)."""
    lines = [ln.strip() for ln in log.splitlines() if ln.strip()]
    lines = [ln for ln in lines if not ln.startswith(_NOISE) and not ln.isdigit()]
    return " | ".join(lines[-n:])


def run_feff(work_dir: Path, timeout: float | None) -> FeffRun:
    """Run FEFF on ``work_dir/feff.inp``; never raises for FEFF failures.

    Parameters
    ----------
    work_dir
        Folder holding ``feff.inp``; FEFF writes its files there.
    timeout
        Seconds for the whole pipeline (``None``: no limit); also passed to
        feff10 as the per-stage limit.
    """
    env = {**os.environ, **FEFF_ENV}
    log_path = work_dir / LOG_NAME
    arg = "0" if timeout is None else f"{timeout:g}"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-c", _CHILD, str(work_dir), arg],
            cwd=work_dir,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # own process group: a timeout kills the stage worker too
        )
        try:
            code = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            text = log_path.read_text(errors="replace")
            return FeffRun(False, {}, f"timed out after {timeout:g} s", "", _feff_message(text),
                           text)
    text = log_path.read_text(errors="replace")
    result_path = work_dir / _RESULT
    if not result_path.is_file():
        return FeffRun(False, {}, f"FEFF child process exited with code {code}", "",
                       _feff_message(text), text)
    res = json.loads(result_path.read_text())
    if res["ok"]:
        return FeffRun(True, res["stages"], "", "", "", text)
    error = res["error"].strip().splitlines()[0]  # the rest is FEFF's stale .feff.error banner
    m = _STAGE.search(error)
    return FeffRun(False, {}, error, m.group(1) if m else "", _feff_message(text), text)


def read_xmu(path: Path) -> tuple[np.ndarray, np.ndarray, float]:
    """Absolute energy ``omega`` (eV), ``mu`` and the absolute Fermi energy (eV).

    FEFF's ``xmu.dat`` columns are ``omega e k mu mu0 chi``; ``e − Mu`` (the
    header's ``Mu=``) is E − E_F, so the Fermi level on the ``omega`` scale
    is ``omega − (e − Mu)``. ``mu`` is normalised by FEFF to the atomic
    cross-section 50 eV above the edge.
    """
    if not path.is_file():
        raise EngineError(f"FEFF finished but wrote no {path.name} in {path.parent}")
    text = path.read_text(errors="replace")
    m = re.search(r"Mu=\s*([-+0-9.Ee]+)\s*eV", text)
    try:
        data = np.loadtxt(path, comments="#", ndmin=2)
    except ValueError as exc:
        raise EngineError(f"cannot parse FEFF output {path}: {exc}") from None
    if m is None or data.shape[0] < 2 or data.shape[1] < 4:
        raise EngineError(f"FEFF output {path} has no Mu= header or fewer than 2 rows of 4 columns")
    omega, e, mu = data[:, 0], data[:, 1], data[:, 3]
    fermi = float(omega[0] - (e[0] - float(m.group(1))))
    if not (np.all(np.isfinite(mu)) and np.all(np.diff(omega) > 0)):
        raise EngineError(f"FEFF output {path} holds non-finite mu or non-increasing energies")
    return omega, mu, fermi
