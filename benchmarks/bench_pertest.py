"""3. Per-test overhead: N tests that each use `dockerimages_fake` (seeding a few images with the
marker) against N empty tests, each set run by pytest in a subprocess.

Both runs load the plugin the same way (PYTEST_DISABLE_PLUGIN_AUTOLOAD=1, -p dockerimages), so
the difference divided by N is what the fixture costs a test: reset the shared daemon with the
marker's images before the test, reset it again after.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from common import Check, Result, fmt_s, interleaved

_FIXTURE_TESTS = '''\
import pytest

IMAGES = [
    {"tags": ["example/app:1", "example/app:latest"], "created": 1700000000, "labels": {"tier": "app"},
     "layers": [{"digest": "sha256:%(a)s", "size": 1000}]},
    {"tags": ["example/base:1"], "created": 1690000000, "layers": [{"digest": "sha256:%(b)s", "size": 5000}]},
    {"digests": ["localhost:5000/example/pinned@sha256:%(c)s"], "created": 0},
]

''' % {"a": "a" * 64, "b": "b" * 64, "c": "c" * 64}  # noqa: UP031 - the template holds {}

_FIXTURE_TEST = '''
@pytest.mark.dockerimages(images=IMAGES)
def test_{n}(dockerimages_fake):
    pass
'''

_EMPTY_TEST = '''
def test_{n}():
    pass
'''

PER_FILE = 100


def _write(folder: Path, count: int, head: str, body: str) -> None:
    folder.mkdir()
    (folder / "pytest.ini").write_text("[pytest]\n")
    for f in range(0, count, PER_FILE):
        tests = "".join(body.format(n=n) for n in range(f, min(count, f + PER_FILE)))
        (folder / f"test_file{f // PER_FILE:03d}.py").write_text(head + tests)


def _pytest(folder: Path, count: int) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env.update(PYTEST_DISABLE_PLUGIN_AUTOLOAD="1", PYTHONDONTWRITEBYTECODE="1")
    cmd = [sys.executable, "-m", "pytest", "-p", "dockerimages", "-p", "no:cacheprovider", "-q", str(folder)]
    proc = subprocess.run(cmd, cwd=folder, env=env, capture_output=True, text=True, timeout=600)
    if proc.returncode != 0 or f"{count} passed" not in proc.stdout:
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}")


def run(quick: bool) -> Result:
    count = 20 if quick else 1_000
    rounds = 1 if quick else 5
    result = Result(f"3. Per-test overhead of `dockerimages_fake` ({count:,} tests, pytest in a subprocess)",
                    ["run", "median wall time", "per test"])
    with tempfile.TemporaryDirectory(prefix="bench-pertest-") as tmp:
        fixture_dir, empty_dir = Path(tmp, "fixture"), Path(tmp, "empty")
        _write(fixture_dir, count, _FIXTURE_TESTS, _FIXTURE_TEST)
        _write(empty_dir, count, "", _EMPTY_TEST)
        times = interleaved({"fixture": lambda: _pytest(fixture_dir, count),
                             "empty": lambda: _pytest(empty_dir, count)}, rounds=rounds)
    extra = (times["fixture"] - times["empty"]) / count
    result.rows.append([f"{count:,} tests using dockerimages_fake + marker images", fmt_s(times["fixture"]),
                        fmt_s(times["fixture"] / count)])
    result.rows.append([f"{count:,} empty tests", fmt_s(times["empty"]), fmt_s(times["empty"] / count)])
    result.rows.append(["difference", fmt_s(times["fixture"] - times["empty"]), fmt_s(extra)])
    if not quick:
        result.checks.append(Check("per-test overhead of the fixture", extra * 1000, 1.0, " ms"))
    return result
