"""A test's third-party library: imported, or the test skips, and fails under DOCKERIMAGES_STRICT=1.

`pytest.importorskip` would skip even where the project's CI must run everything (`.ci/run` installs
the test extra and sets the switch), so a missing install could pass unnoticed.
"""
from __future__ import annotations

import importlib
from types import ModuleType

from pytest_dockerimages._real.fixture import skip_or_fail


def require_module(name: str, reason: str | None = None) -> ModuleType:
    try:
        return importlib.import_module(name)
    except ImportError:
        skip_or_fail(reason or f"needs {name} (pip install -e '.[test]')")
