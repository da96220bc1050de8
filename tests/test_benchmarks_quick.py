"""The benchmarks keep working: `python benchmarks/run.py --quick` runs every one of them with tiny
sizes (no time targets) and must exit 0. The real-daemon benchmark skips without dockerd, except
under CI, where a missing daemon is a failure."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_benchmarks_run_in_quick_mode() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "run.py"), "--quick"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    for number in range(1, 9):
        assert f"### {number}. " in proc.stdout, proc.stdout
