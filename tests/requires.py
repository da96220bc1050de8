"""A test's third-party library: imported, or the test skips, and fails under DOCKERIMAGES_STRICT=1.

`pytest.importorskip` would skip even where the project's CI must run everything (`.ci/run` installs
the test extra and sets the switch), so a missing install could pass unnoticed.
"""
from __future__ import annotations

import importlib
import json
from types import ModuleType
from typing import Any, Iterator

import pytest

from pytest_dockerimages._http import unixhttp
from pytest_dockerimages._real.fixture import skip_or_fail, started_real_daemon
from pytest_dockerimages._real.harness import RealDaemon, get_variant, install_hint, missing_requirements


def require_module(name: str, reason: str | None = None) -> ModuleType:
    try:
        return importlib.import_module(name)
    except ImportError:
        skip_or_fail(reason or f"needs {name} (pip install -e '.[test]')")


#: One real daemon per release (graphdriver store), for what does not depend on the store: the HTTP layer.
EACH_RELEASE: list[Any] = [pytest.param(v, marks=pytest.mark.realdaemon)
                           for v in ("docker-20.10", "docker-26.1", "docker-28.1", "docker-28.5", "docker-29.7")]


def unseeded_real_daemon(variant: str) -> Iterator[RealDaemon]:
    """A private real daemon of `variant` with no images, stopped afterwards; skips (or fails, strict)
    when its binaries are missing, naming the env variable that points at one."""
    missing = missing_requirements(variant, seed=False)
    if missing:
        skip_or_fail(f"{variant}: missing {', '.join(missing)}; {install_hint(variant)}")
    with RealDaemon(get_variant(variant)) as daemon:
        yield daemon


def private_daemon_with_a_container(variant: str) -> Iterator[RealDaemon]:
    """A private real daemon of `variant` (a prune deletes images: never a shared one) seeded with the
    project's image set plus a container on example/tiny:latest, stopped afterwards; skips (or fails,
    strict) when its binaries are missing."""
    for daemon in started_real_daemon(variant):
        body = json.dumps({"Image": "example/tiny:latest", "Cmd": ["/hello.txt"]}).encode()
        status, _, answer = unixhttp.request(daemon.docker_host, "POST", "/containers/create",
                                             headers=[("Content-Type", "application/json")], body=body)
        assert status == 201, answer
        yield daemon
