import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest

sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture
def served() -> Iterator[list["subprocess.Popen[str]"]]:
    """Kills (by pid) any `dockerimages serve` process a failing test left running (modules with a
    `served` fixture of their own override it)."""
    procs: list[subprocess.Popen[str]] = []
    yield procs
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
