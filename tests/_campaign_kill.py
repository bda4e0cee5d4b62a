"""A campaign run in a subprocess and SIGKILLed once some batches are written."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"


def kill_campaign_midway(out: Path, min_parts: int, delay: float = 0.05) -> int:
    """Run the 30-set analytic campaign (batches of 2) into ``out``, SIGKILL it once
    ``min_parts`` part files exist; the number of part files left."""
    script = (
        "from xasml.simulate import grid, run_campaign\n"
        "d = grid(white_line_height='0:1.4:0.1', fwhm=[1.0, 2.5])\n"
        f"run_campaign('analytic', d, {str(out)!r}, engine_settings={{'delay': {delay}}},"
        " n_workers=0, batch_size=2, progress=False)\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC),
                                                        os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, "-c", script], env=env)
    try:
        deadline = time.monotonic() + 60
        while len(list((out / "parts").glob("part-*.npz"))) < min_parts:
            assert proc.poll() is None, "campaign ended before it could be killed"
            assert time.monotonic() < deadline, "no part files appeared"
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    return len(list((out / "parts").glob("part-*.npz")))
