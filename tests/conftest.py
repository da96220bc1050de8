import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest

sys.path.insert(0, str(Path(__file__).parent))

#: Tests with these markers start real daemons (seconds each) or build and install the wheel: they
#: are `slow` too, so `pytest -m "not slow"` is a quick local loop.
SLOW_TOO = ("realdaemon", "packaging")


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if any(item.get_closest_marker(name) for name in SLOW_TOO):
            item.add_marker(pytest.mark.slow)


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
