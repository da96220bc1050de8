"""Record a private real daemon through the recording proxy, stop it, replay the cassette to the
docker CLI and the docker SDK: they must see what they saw live.

Needs the real daemons (`bash scripts/install-daemons.sh`): skipped when they are missing,
failed instead when the CI env var is set.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, Iterator

import pytest

from pytest_dockerimages._cassettes.cassette import Cassette
from pytest_dockerimages._cassettes.record import RecordingBackend
from pytest_dockerimages._cassettes.replay import ReplayBackend
from pytest_dockerimages._core.wire import Request
from pytest_dockerimages._http.server import Server
from pytest_dockerimages._real.fixture import skip_or_fail, started_real_daemon
from pytest_dockerimages._real.harness import RealDaemon
from pytest_dockerimages._real.matrix import CLI_COMMANDS, SDK_CALLS, standard_matrix

pytestmark = [pytest.mark.realdaemon, pytest.mark.dockercli]

VARIANTS = ("docker-20.10", "docker-26.1", "docker-26.1-containerd")


@pytest.fixture(params=VARIANTS)
def daemon(request: pytest.FixtureRequest) -> Iterator[RealDaemon]:
    yield from started_real_daemon(request.param)


def docker_sdk() -> Any:
    """The docker SDK for Python: skipped when missing, a failure under CI."""
    try:
        import docker
    except ImportError:
        skip_or_fail("the docker SDK for Python is not installed (pip install -e .[test])")
    return docker


def cli(docker_host: str, config: Path) -> list[list[str]]:
    from pytest_dockerimages._real.harness import find_docker_cli

    binary = find_docker_cli()
    if binary is None:
        skip_or_fail("the docker CLI is not installed")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
    env.update(DOCKER_HOST=docker_host, DOCKER_CONFIG=str(config), DOCKER_CLI_HINTS="false")
    outputs = []
    for args in CLI_COMMANDS:
        proc = subprocess.run([str(binary), *args], env=env, capture_output=True, text=True, timeout=60,
                              stdin=subprocess.DEVNULL)
        assert proc.returncode == 0, f"docker {' '.join(args)}: {proc.stderr}"
        outputs.append(sorted(proc.stdout.splitlines()))  # equal Created seconds come in any order
    return outputs


def sdk(docker_host: str) -> list[Any]:
    import docker

    client = docker.APIClient(base_url=docker_host, version="auto", timeout=60)
    try:
        results = []
        for name, kwargs in SDK_CALLS:
            result = getattr(client, name)(**kwargs)
            results.append(sorted(result, key=lambda e: e if isinstance(e, str) else e["Id"]))
        return results
    finally:
        client.close()


def test_record_stop_replay_same_output(daemon: RealDaemon, tmp_path: Path) -> None:
    docker_sdk()
    live_cli = cli(daemon.docker_host, tmp_path)
    live_sdk = sdk(daemon.docker_host)

    path = tmp_path / "cassettes" / "real.yaml"
    cassette = Cassette(path=path)
    backend = RecordingBackend(daemon.docker_host, cassette)
    assert cassette.metadata["daemon"]["Version"] == daemon.version["Version"]
    assert cassette.metadata["daemon"]["image_store"] == daemon.store
    assert cassette.metadata["profile"] == daemon.variant.name
    with Server(backend) as proxy:
        assert cli(proxy.docker_host, tmp_path) == live_cli  # recording is transparent
        assert sdk(proxy.docker_host) == live_sdk
    assert backend.errors == []
    cassette.save()

    socket_path = daemon.socket_path
    daemon.stop()
    assert not socket_path.exists()

    replay = ReplayBackend.from_file(path)
    with Server(replay) as server:
        assert cli(server.docker_host, tmp_path) == live_cli
        assert sdk(server.docker_host) == live_sdk
    assert replay.misses == []


def test_dockerimages_record_command(daemon: RealDaemon, tmp_path: Path) -> None:
    out = tmp_path / "matrix.yaml"
    proc = subprocess.run([sys.executable, "-m", "pytest_dockerimages", "record", "--docker-host", daemon.docker_host,
                           "-o", str(out)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""  # not a TTY: no progress display
    assert f"{out}:" in proc.stdout and daemon.version["Version"] in proc.stdout
    recorded = Cassette.load(out)
    api = daemon.version["ApiVersion"]
    targets = {i.target for i in recorded.interactions}
    assert {t for _, t in standard_matrix(api)} <= targets
    listing = json.loads(daemon.get("/images/json?all=1")[2])
    assert {f"/v{api}/images/{e['Id']}/json" for e in listing} <= targets
    check = subprocess.run([sys.executable, "-m", "pytest_dockerimages", "validate", str(out)], capture_output=True,
                           text=True, timeout=120)
    assert check.returncode == 0 and "ok" in check.stdout


@pytest.mark.parametrize("daemon", ["docker-26.1-containerd"], indirect=True)
def test_dockerimages_record_include_prune(daemon: RealDaemon, tmp_path: Path) -> None:
    """A private daemon: the warning first, the prunes last, and the daemon lost what they deleted."""
    out = tmp_path / "pruned.yaml"
    before = {e["Id"] for e in json.loads(daemon.get("/images/json?all=1")[2])}
    proc = subprocess.run([sys.executable, "-m", "pytest_dockerimages", "record", "--docker-host", daemon.docker_host,
                           "-o", str(out), "--include-prune", "--no-plugins"], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == f"warning: --include-prune sends POST /images/prune to {daemon.docker_host}: " \
                          "images on that daemon will be DELETED\n"
    after = {e["Id"] for e in json.loads(daemon.get("/images/json?all=1")[2])}
    assert after < before
    interactions = Cassette.load(out).interactions
    first_prune = next(n for n, i in enumerate(interactions) if i.method == "POST")
    assert all(i.target.split("?")[0].endswith(("/images/prune", "/images/json")) for i in interactions[first_prune:])
    replay = ReplayBackend.from_file(out)
    assert replay.handle(Request("GET", f"/v{daemon.version['ApiVersion']}/images/json?all=1")).status == 200
    for interaction in interactions[first_prune:]:
        replay.handle(Request(interaction.method, interaction.target))
    last = replay.handle(Request("GET", f"/v{daemon.version['ApiVersion']}/images/json?all=1"))
    assert {e["Id"] for e in json.loads(last.body)} == after and replay.misses == []


@pytest.mark.parametrize("daemon", ["docker-26.1"], indirect=True)
def test_pytest_record_once_then_replay_without_daemon(daemon: RealDaemon, pytester: pytest.Pytester) -> None:
    docker_sdk()
    pytester.makepyfile(test_casreal=textwrap.dedent("""
        import json, pytest

        def test_listing(dockerimages_cassette):
            import docker
            client = docker.APIClient(base_url=dockerimages_cassette.docker_host, version="auto")
            images = client.images(all=True)
            tagged = client.images(filters={"dangling": False})
            print("SEEN", json.dumps(sorted(e["Id"] for e in images + tagged)))
    """))
    # subprocesses: an inline run imports the docker SDK after pytester's sys.modules snapshot, and
    # its restore would leave this process with two copies of http.cookiejar (see test_replay_clients)
    first = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-s", "--dockerimages-record-mode=once",
                                          f"--dockerimages-docker-host={daemon.docker_host}")
    first.assert_outcomes(passed=1)
    cassette = pytester.path / "cassettes" / "test_casreal" / "test_listing.yaml"
    assert cassette.is_file()
    daemon.stop()
    second = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-s",
                                           f"--dockerimages-docker-host={daemon.docker_host}")
    second.assert_outcomes(passed=1)
    seen = [line.partition("SEEN ")[2] for line in first.stdout.lines if "SEEN " in line]
    assert seen and seen == [line.partition("SEEN ")[2] for line in second.stdout.lines if "SEEN " in line]
