"""The `dockerimages_real_daemon` fixture: a seeded real dockerd for the whole session.

Why a separate module: it is a pytest plugin of its own (plugin.py lists it in `pytest_plugins`),
with its option and fixture, while the daemon machinery in `harness` stays free of pytest imports.
This module imports `harness` only when a real daemon is asked for, so registering the options
keeps plugin start-up cheap.

Which daemon: command-line option `--dockerimages-real-daemon=NAME`, else ini
`dockerimages_real_daemon`, else env var DOCKERIMAGES_REAL_DAEMON, else "docker-26.1".
Known names: docker-20.10, docker-26.1, docker-26.1-containerd, docker-28.1, docker-28.1-containerd,
docker-28.5, docker-28.5-containerd, docker-29.7, docker-29.7-containerd.

When a binary is missing the fixture skips with the install hint (which env var points at your
own dockerd, e.g. DOCKERIMAGES_DOCKERD_28_5); when DOCKERIMAGES_STRICT=1 is set
it fails instead, so the project's own CI can never pass by silently skipping every real-daemon
test.  The generic CI variable is deliberately not the switch: a downstream build on a CI service
without a daemon must skip, as README says.
"""
from __future__ import annotations

import os
from typing import TYPE_CHECKING, Iterator, NoReturn

import pytest

from .._options import ini, option, option_group

if TYPE_CHECKING:  # pragma: no cover
    from .harness import RealDaemon

__all__ = [
    "OPTION_NAME",
    "selected_variant",
    "STRICT_ENV",
    "strict",
    "skip_or_fail",
    "dockerimages_real_daemon",
    "started_real_daemon",
]

OPTION_NAME = "dockerimages_real_daemon"
#: `harness.VARIANTS` and `harness.DEFAULT_VARIANT`, repeated here so the options can be
#: registered without importing `harness` (a test keeps them equal).
VARIANT_NAMES = (
    "docker-20.10", "docker-26.1", "docker-26.1-containerd", "docker-28.1", "docker-28.1-containerd",
    "docker-28.5", "docker-28.5-containerd", "docker-29.7", "docker-29.7-containerd",
)
DEFAULT_VARIANT = "docker-26.1"


def pytest_addoption(parser: pytest.Parser) -> None:
    choices = ", ".join(VARIANT_NAMES)
    option_group(parser).addoption(
        "--dockerimages-real-daemon", dest=OPTION_NAME, default=None, metavar="NAME",
        help=f"real daemon for the dockerimages_real_daemon fixture ({choices}; default {DEFAULT_VARIANT})",
    )
    parser.addini(OPTION_NAME, f"real daemon for the dockerimages_real_daemon fixture ({choices})", default="")


def selected_variant(config: pytest.Config) -> str:
    """Option, then ini, then env var, then the default. Tolerates the option or ini key not being
    registered (this module's hooks not loaded)."""
    value = option(config, OPTION_NAME) or ini(config, OPTION_NAME)
    from .harness import get_variant

    name = str(value or os.environ.get("DOCKERIMAGES_REAL_DAEMON") or DEFAULT_VARIANT).strip()
    return get_variant(name).name  # unknown names raise ValueError listing the known ones


#: The project's own switch that turns "skip: something is not installed" into a failure.
STRICT_ENV = "DOCKERIMAGES_STRICT"


def strict() -> bool:
    """DOCKERIMAGES_STRICT set to anything but "" / "0" / "false" / "no" (never the generic CI)."""
    return os.environ.get(STRICT_ENV, "").strip().lower() not in ("", "0", "false", "no")


def skip_or_fail(reason: str) -> NoReturn:
    """Skip, or fail when DOCKERIMAGES_STRICT=1 asks that nothing be skipped for lack of a tool."""
    if strict():
        pytest.fail(f"{STRICT_ENV} is set, so not skipping: {reason}", pytrace=False)
    pytest.skip(reason)


def started_real_daemon(variant: str) -> Iterator[RealDaemon]:
    """Start and seed `variant`, yield it, stop it; skip (fail when strict) when it is not installed."""
    from .harness import MissingDaemonError, dockerimages_real_daemon_factory

    try:
        factory = dockerimages_real_daemon_factory(variant)
        daemon = factory.__enter__()
    except MissingDaemonError as exc:
        skip_or_fail(str(exc))
    try:
        yield daemon
    finally:
        factory.__exit__(None, None, None)


@pytest.fixture(scope="session")
def dockerimages_real_daemon(request: pytest.FixtureRequest) -> Iterator[RealDaemon]:
    """A seeded real dockerd for the session (`RealDaemon`: .docker_host, .version, .store, ...).

    Choose it with --dockerimages-real-daemon / ini dockerimages_real_daemon / env
    DOCKERIMAGES_REAL_DAEMON.  Skips when the binaries are missing (fails under DOCKERIMAGES_STRICT=1).
    """
    yield from started_real_daemon(selected_variant(request.config))
