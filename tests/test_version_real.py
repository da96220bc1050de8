"""/version as the real daemon of each Debian-packaged profile sends it, every field and key order.

For these three the fake's rows hold what the packaged daemon reports (its commit, Go, build time
and components) and the kernel is the host's, as for any daemon; the moby-built daemons differ in
the fields their local build sets (Go, build time, components), so only the rest is compared there.
"""
from __future__ import annotations

import json
from typing import Iterator

import pytest
from requires import unseeded_real_daemon

from pytest_dockerimages._core.daemon import version_document
from pytest_dockerimages._core.profiles import get_profile
from pytest_dockerimages._http.unixhttp import request
from pytest_dockerimages._real.harness import RealDaemon

BUILD_FIELDS = ("GoVersion", "BuildTime")  # set by the build, not the release, on a local build of a tag


@pytest.fixture(scope="module", params=[pytest.param(v, marks=pytest.mark.realdaemon) for v in (
    "docker-20.10", "docker-26.1", "docker-28.5", "docker-28.1", "docker-29.7")])
def real(request: pytest.FixtureRequest) -> Iterator[RealDaemon]:
    yield from unseeded_real_daemon(request.param)


def test_version_document_is_the_daemons(real: RealDaemon) -> None:
    status, _, body = request(real.docker_host, "GET", "/version")
    theirs = json.loads(body)
    mine = version_document(get_profile(real.variant.name))
    assert status == 200 and list(mine) == list(theirs)  # the top-level key order of that release
    engine_mine, engine_theirs = mine["Components"][0], theirs["Components"][0]
    if real.variant.name in ("docker-20.10", "docker-26.1", "docker-28.5"):  # Debian's packages
        assert mine == theirs
    else:  # built here from the tag: the build's own Go, time and components are not the release's
        for key in ("Version", "ApiVersion", "MinAPIVersion", "GitCommit", "Os", "Arch", "KernelVersion"):
            assert mine[key] == theirs[key], key
        assert list(engine_mine["Details"]) == list(engine_theirs["Details"])
        assert {k: v for k, v in engine_mine["Details"].items() if k not in BUILD_FIELDS} == {
            k: v for k, v in engine_theirs["Details"].items() if k not in BUILD_FIELDS}
