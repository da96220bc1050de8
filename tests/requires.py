"""A test's third-party library: imported, or the test skips, and fails under DOCKERIMAGES_STRICT=1.

`pytest.importorskip` would skip even where the project's CI must run everything (`.ci/run` installs
the test extra and sets the switch), so a missing install could pass unnoticed.
"""
from __future__ import annotations

import importlib
from types import ModuleType
from typing import Iterator

from pytest_dockerimages._real.fixture import skip_or_fail
from pytest_dockerimages._real.harness import RealDaemon, get_variant, install_hint, missing_requirements


def require_module(name: str, reason: str | None = None) -> ModuleType:
    try:
        return importlib.import_module(name)
    except ImportError:
        skip_or_fail(reason or f"needs {name} (pip install -e '.[test]')")


def unseeded_real_daemon(variant: str) -> Iterator[RealDaemon]:
    """A private real daemon of `variant` with no images, stopped afterwards; skips (or fails, strict)
    when its binaries are missing, naming the env variable that points at one."""
    missing = missing_requirements(variant, seed=False)
    if missing:
        skip_or_fail(f"{variant}: missing {', '.join(missing)}; {install_hint(variant)}")
    with RealDaemon(get_variant(variant)) as daemon:
        yield daemon
