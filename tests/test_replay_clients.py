"""Replay the shipped cassettes to real clients with no daemon running: the docker CLI and the
docker SDK for Python see exactly the recorded answers, and an unrecorded request fails the test
with a message that says what to do."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import textwrap
from pathlib import Path
from typing import Any, Iterator

import pytest

from pytest_dockerimages._cassettes.cassette import load
from pytest_dockerimages._cassettes.format import Interaction
from pytest_dockerimages._cassettes.replay import ReplayBackend
from pytest_dockerimages._files.resources import data_dir
from pytest_dockerimages._http.server import Server
from pytest_dockerimages._real.fixture import skip_or_fail
from pytest_dockerimages._real.matrix import CLI_COMMANDS, SDK_CALLS, images_json

NAMES = ("docker-20.10", "docker-26.1", "docker-26.1-containerd")
FMT = "{{.ID}} {{.Repository}}:{{.Tag}} {{.Digest}}"

#: what each CLI command of matrix.CLI_COMMANDS asks the daemon, in the CLI's own form
CLI_EQUIVALENT: dict[tuple[str, ...], dict[str, Any]] = {
    ("images", "--no-trunc", "--format", FMT): {},
    ("images", "-a", "--no-trunc", "--format", FMT): {"all": 1},
    ("images", "-q", "--no-trunc"): {},
    ("images", "-q", "--no-trunc", "--filter", "dangling=true"): {"filters": {"dangling": {"true": True}}},
    ("images", "-q", "--no-trunc", "--filter", "label=org.example.kind=built"):
        {"filters": {"label": {"org.example.kind=built": True}}},
    ("images", "-q", "--no-trunc", "--filter", "reference=example/*"): {"filters": {"reference": {"example/*": True}}},
    ("images", "-q", "--no-trunc", "--filter", "before=example/tiny:1.0"):
        {"filters": {"before": {"example/tiny:1.0": True}}},
    ("images", "-q", "--no-trunc", "example/loaded"): {"filters": {"reference": {"example/loaded": True}}},
}

SDK_EQUIVALENT: dict[str, dict[str, Any]] = {
    "{}": {},
    '{"all": true}': {"all": 1},
    '{"quiet": true}': {},
    '{"filters": {"dangling": true}}': {"filters": {"dangling": {"true": True}}},
    '{"filters": {"label": "org.example.kind=built"}}': {"filters": {"label": {"org.example.kind=built": True}}},
    '{"name": "example/loaded"}': {"filters": {"reference": {"example/loaded": True}}},
}


def docker_sdk() -> Any:
    """The docker SDK for Python: skipped when missing, a failure under CI."""
    try:
        import docker
    except ImportError:
        skip_or_fail("the docker SDK for Python is not installed (pip install -e .[test])")
    return docker


def installed_clis() -> list[str]:
    """/usr/local/bin/docker first, then Debian's /usr/bin/docker (each was recorded into the cassettes)."""
    found: dict[str, str] = {}
    for candidate in ("/usr/local/bin/docker", "/usr/bin/docker", shutil.which("docker")):
        if candidate and os.access(candidate, os.X_OK):
            found.setdefault(os.path.realpath(candidate), candidate)
    return list(found.values())


def docker_cli() -> str:
    clis = installed_clis()
    if not clis:
        skip_or_fail("the docker CLI is not installed (/usr/local/bin/docker or docker on PATH)")
    return clis[0]


@pytest.fixture(params=NAMES)
def replay(request: pytest.FixtureRequest) -> Iterator[tuple[ReplayBackend, Server]]:
    backend = ReplayBackend.from_file(data_dir("cassettes") / f"{request.param}.yaml")
    with Server(backend) as server:
        yield backend, server
    assert not server.errors


def recorded(backend: ReplayBackend, api: str | None = None, **params: Any) -> Interaction:
    """The interaction the cassette holds for the CLI form of a request (first of its key)."""
    api = api or backend.cassette.api_version
    target = images_json(f"/v{api}", **params)
    found = backend.cassette.index().get(backend.cassette.key_of("GET", target))
    assert found, f"cassette lacks {target}"
    return found[0]


def cli_env(docker_host: str, config: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
    env.update(DOCKER_HOST=docker_host, DOCKER_CONFIG=str(config), DOCKER_CLI_HINTS="false")
    return env


def test_cli_commands_are_all_covered() -> None:
    assert set(CLI_EQUIVALENT) == set(CLI_COMMANDS)
    assert set(SDK_EQUIVALENT) == {json.dumps(kwargs) for _, kwargs in SDK_CALLS}


@pytest.mark.dockercli
@pytest.mark.parametrize("args", CLI_COMMANDS, ids=lambda a: " ".join(a[1:]).replace(FMT, "FMT"))
def test_docker_cli_sees_recorded_bodies(replay: tuple[ReplayBackend, Server], args: tuple[str, ...],
                                         tmp_path: Path) -> None:
    backend, server = replay
    docker_cli()  # skip (or fail under CI) without any
    for cli in installed_clis():
        server.backend = fresh = ReplayBackend(backend.cassette)
        proc = subprocess.run([cli, *args], env=cli_env(server.docker_host, tmp_path), capture_output=True,
                              text=True, timeout=60, stdin=subprocess.DEVNULL)
        assert proc.returncode == 0, f"{cli}: {proc.stderr}"
        assert fresh.misses == []
        api = fresh.played[-1].target.split("/")[1][1:]  # the version this CLI negotiated
        check_cli_output(fresh, api, args, proc.stdout)


def check_cli_output(backend: ReplayBackend, api: str, args: tuple[str, ...], stdout: str) -> None:
    body = json.loads(recorded(backend, api, **CLI_EQUIVALENT[args]).body)
    lines = stdout.splitlines()
    assert {line.split()[0] for line in lines} == {entry["Id"] for entry in body}
    if "--format" in args:
        shown = {line.split()[1] for line in lines}
        for entry in body:
            for tag in entry.get("RepoTags") or []:
                if tag != "<none>:<none>" and "@" not in tag:  # containerd lists digest-only refs as tags
                    assert tag in shown


def test_docker_sdk_sees_recorded_bodies(replay: tuple[ReplayBackend, Server]) -> None:
    docker = docker_sdk()
    backend, server = replay
    for name, kwargs in SDK_CALLS:
        client = docker.APIClient(base_url=server.docker_host, version="auto", timeout=30)
        fresh = ReplayBackend(backend.cassette)  # first answer of each key, as `recorded` reads it
        server.backend = fresh
        try:
            result = getattr(client, name)(**kwargs)
        finally:
            client.close()
        assert fresh.misses == []
        body = json.loads(recorded(fresh, **SDK_EQUIVALENT[json.dumps(kwargs)]).body)
        if kwargs.get("quiet"):
            assert result == [entry["Id"] for entry in body]
        else:
            assert result == body
        assert client.api_version == backend.cassette.api_version


def test_docker_sdk_version_and_ping(replay: tuple[ReplayBackend, Server]) -> None:
    docker = docker_sdk()
    backend, server = replay
    client = docker.APIClient(base_url=server.docker_host, version="auto", timeout=30)
    try:
        assert client.ping() is True
        version = client.version()
    finally:
        client.close()
    assert version["Version"] == backend.cassette.metadata["daemon"]["Version"]
    assert backend.misses == []


def test_inspect_every_image(replay: tuple[ReplayBackend, Server]) -> None:
    docker = docker_sdk()
    backend, server = replay
    listing = json.loads(recorded(backend, all=1).body)
    client = docker.APIClient(base_url=server.docker_host, version="auto", timeout=30)
    try:
        for entry in listing:
            assert client.inspect_image(entry["Id"])["Id"] == entry["Id"]
    finally:
        client.close()
    assert backend.misses == []


@pytest.mark.dockercli
def test_unrecorded_request_fails_the_test_with_a_useful_message(pytester: pytest.Pytester) -> None:
    cli = docker_cli()
    pytester.makepyfile(test_casclients=textwrap.dedent(f"""
        import os, subprocess, pytest

        @pytest.mark.dockerimages_cassette("docker-26.1")
        def test_cli(dockerimages_cassette, tmp_path):
            env = dict(os.environ, DOCKER_HOST=dockerimages_cassette.docker_host, DOCKER_CONFIG=str(tmp_path))
            proc = subprocess.run([{cli!r}, "images", "--filter", "label=never-recorded"], env=env,
                                  capture_output=True, text=True)
            print("CLI said:", proc.stderr)

        @pytest.mark.dockerimages_cassette("docker-26.1")
        def test_sdk(dockerimages_cassette):
            import docker
            client = docker.APIClient(base_url=dockerimages_cassette.docker_host, version="auto")
            client.images(filters={{"label": "never-recorded"}})
    """))
    # A subprocess: in-process, pytester would drop the modules the inner test imports (the docker SDK,
    # requests, http.cookiejar) from sys.modules afterwards, while the `http` package keeps its
    # `cookiejar` attribute; a later import of requests in this process then meets two copies of
    # http.cookiejar ("You can only merge into CookieJar"). Whether this test met that depended on
    # which tests an xdist worker ran before it.
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-rA")
    result.assert_outcomes(failed=2)
    out = result.stdout.str()
    # the request as the client sent it, what it was matched as, the nearest recordings, the fix
    assert "/v1.45/images/json?filters=%7B%22label%22%3A%7B%22never-recorded%22%3Atrue%7D%7D" in out
    assert "/v1.45/images/json?only_ids=0&all=0&filters=" in out
    assert 'matched as: GET /v1.45/images/json all=False filters={"label":["never-recorded"]}' in out
    assert "nearest recorded:" in out and 'filters={"label":["org.example.kind=built"]}' in out
    assert "--dockerimages-record-mode=once" in out and "instead of the built-in 'docker-26.1'" in out
    assert "no recorded interaction in" in out  # what the CLI printed from the 500


def test_cassette_load_is_cached_and_fast() -> None:
    path = data_dir("cassettes") / "docker-26.1.yaml"
    assert load(path) is load(path)
